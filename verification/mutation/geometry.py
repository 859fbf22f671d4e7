"""Mutants of the geometry claims (see :mod:`verification.mutation.core`).

Most of these claims hold by construction (D3.1 is a definition, L3.2 is elementary, L3.5, B3,
B1 are identities), so most mutants are aimed at the toolkit's code that the checks exercise:
the samplers, the moment formulas, the Jacobian, the minors, the initialisers and the
factorisations. Where the check has a statistical threshold, the mutant is the smallest
perturbation it catches at the quick budget, and the description says how small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from verification.mutation._geometry_bugs import (
    b3_lhs_wrong_pairing,
    b3_product_of_covariances,
    b_column_copied,
    b_std_scaled,
    balanced_smallest_triplets,
    balanced_truncated_early,
    balanced_with_exponent,
    basis_drops_last_pivot,
    blocks_merged,
    cross_covariances_dropped,
    fresh_b_per_row,
    gaussian_init,
    jacobian_a_column_major,
    jacobian_b_block_dropped,
    jittered,
    l35_mean_product_kept,
    mean_field_row_noise,
    mean_field_sampler,
    noise_shared_by_a_and_b,
    padded_with_ones,
    permanent,
    sa2sb2_scaled,
    silent_truncation,
    stated_without_sa2sb2,
    uniform_init,
)
from verification.mutation.core import Aim, Mutant, Patch, replace, wrap

__all__ = ["MUTANTS"]

_CHK = "verification.claims"
_NUM = f"{_CHK}.geometry.numeric"
_JAC = f"{_CHK}.geometry.jacobian"
_SYM = f"{_CHK}.geometry.symbolic"
_MOM = f"{_CHK}.geometry.symbolic_moments"
_STAT = f"{_CHK}.geometry.statistical"
_IND = f"{_CHK}.geometry.independence"
_INIT = f"{_CHK}.geometry.init"
_FAC = f"{_CHK}.geometry.factorisation"
_UNI = f"{_CHK}.geometry.init_uniform"


def _everywhere(make: Callable[[Any], Any], *targets: str) -> tuple[Patch, ...]:
    """One bug of a toolkit function, seen by every module that looks the name up.

    The check modules are patched first: a check module first imported while ``theory`` is
    already patched would bind the mutant at import and keep it after the mutant is undone.
    """
    ordered = sorted(targets, key=lambda t: t.startswith("theory."))
    return tuple(wrap(t, make) for t in ordered)


_SAMPLE_FACTORS = ("theory.geometry:sample_factors", f"{_NUM}:sample_factors")
_WEIGHT_MOMENTS = (
    "theory.factor_posterior:weight_moments",
    "theory.geometry:weight_moments",
    f"{_SYM}:weight_moments",
)
_JACOBIAN = ("theory.geometry:factor_jacobian", f"{_JAC}:factor_jacobian")
_VM_INIT = (f"{_INIT}:variance_matching_init", f"{_MOM}:variance_matching_init")
_BALANCED = ("theory.initialisation:balanced_factors", f"{_INIT}:balanced_factors")
_BY = "holds by construction; the mutant is aimed at the toolkit's"


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "D3.1",
        "sample_factors_b_variance_1.1",
        Aim.IMPLEMENTATION,
        f"D3.1 is a definition ({_BY} sampler): sample_factors draws B with its variance 10 "
        "percent too large (std x sqrt(1.1)); the moment test of the factor draws (20,000 "
        "per shape) has power for that",
        _everywhere(b_std_scaled(float(np.sqrt(1.1))), *_SAMPLE_FACTORS),
    ),
    Mutant(
        "D3.1",
        "sample_weights_mean_field",
        Aim.IMPLEMENTATION,
        f"D3.1 is a definition ({_BY} sampler): sample_weights draws independent Gaussian "
        "entries with the mean and variances of q_W (a mean-field law, not the push-forward); "
        "the draw-for-draw comparison with A B^T and the covariance test catch it",
        (wrap(f"{_NUM}:sample_weights", mean_field_sampler),),
    ),
    Mutant(
        "L3.2",
        "sample_weights_fresh_b_per_row",
        Aim.IMPLEMENTATION,
        f"L3.2 is elementary ({_BY} sampler): a broadcasting bug gives every row of W its own "
        "draw of B, so W = A B^T no longer holds and samples reach rank min(m, n)",
        (wrap(f"{_NUM}:sample_weights", fresh_b_per_row),),
    ),
    Mutant(
        "L3.2",
        "sample_weights_jitter_1e-12",
        Aim.IMPLEMENTATION,
        f"L3.2 is elementary ({_BY} sampler): the sampler adds a dense N(0, (1e-12 max abs "
        "W)^2) term (a jitter or mean-field residual); the rank threshold, 10 eps max(m, n) "
        "sigma_1, sees a full-rank perturbation of relative size 1e-12",
        (wrap(f"{_NUM}:sample_weights", jittered(1e-12)),),
    ),
    Mutant(
        "L3.3",
        "det_as_permanent",
        Aim.IMPLEMENTATION,
        f"L3.3 rests on an identity (Cauchy-Binet; {_BY} exact minor expansion): the "
        "determinant expanded with every cofactor sign +, i.e. the permanent, which does not "
        "vanish on rank-deficient A B^T",
        (replace("theory.symbolic.geometry:_det", permanent),),
    ),
    Mutant(
        "T3.4",
        "sample_weights_jitter_1e-12",
        Aim.IMPLEMENTATION,
        "the sampler adds a dense N(0, (1e-12 max abs W)^2) term, so q_W gains a Lebesgue "
        "density and no longer charges R_r; the check sees relative perturbations of 1e-12",
        (wrap(f"{_NUM}:sample_weights", jittered(1e-12)),),
    ),
    Mutant(
        "G1",
        "factor_jacobian_b_block_dropped",
        Aim.IMPLEMENTATION,
        "factor_jacobian (and so jacobian_rank) with the dW/dB block left at zero: rank m r "
        "instead of r (m + n - r)",
        _everywhere(jacobian_b_block_dropped, *_JACOBIAN),
    ),
    Mutant(
        "G1",
        "factor_jacobian_a_column_major",
        Aim.IMPLEMENTATION,
        "factor_jacobian with the columns of the A block in column-major order (a layout bug "
        "that leaves the rank unchanged): only the entry-by-entry twin can see it",
        _everywhere(jacobian_a_column_major, *_JACOBIAN),
    ),
    Mutant(
        "G1",
        "manifold_dimension_without_gauge",
        Aim.STATEMENT,
        "the dimension of the rank-r manifold stated as r (m + n), the factor-space dimension "
        "(no r^2 gauge gap), through the toolkit's manifold_dimension",
        (replace(f"{_JAC}:manifold_dimension", lambda m, n, r: r * (m + n)),),
    ),
    Mutant(
        "G2",
        "factor_jacobian_b_block_dropped",
        Aim.IMPLEMENTATION,
        "factor_jacobian (and so jacobian_rank) with the dW/dB block left at zero: rank "
        "m min(r, n) instead of m n at r >= min(m, n)",
        _everywhere(jacobian_b_block_dropped, *_JACOBIAN),
    ),
    Mutant(
        "G2",
        "sample_weights_b_column_copied",
        Aim.IMPLEMENTATION,
        "the sampler copies B's first column into its last (an indexing bug, r >= 2): samples "
        "at r = min(m, n) have rank r - 1 and fall on the null set R_(r-1)",
        (wrap(f"{_JAC}:sample_weights", b_column_copied),),
    ),
    Mutant(
        "L3.5",
        "mean_product_not_subtracted",
        Aim.STATEMENT,
        "L3.5 stated as sum_k E[A_ik A_i'k] E[B_jk B_j'k] (a second moment: the product of "
        "the four means is not subtracted)",
        (wrap(f"{_SYM}:l35_covariance", l35_mean_product_kept),),
    ),
    Mutant(
        "L3.5",
        "expectation_ignores_independence",
        Aim.IMPLEMENTATION,
        f"L3.5 is an identity ({_BY} expectation operator): it puts every factor entry in one "
        "block, so it no longer factorises E[W_ij W_i'j'] over independent entries",
        (wrap("theory.symbolic.weight_moments:expectation", blocks_merged),),
    ),
    Mutant(
        "L3.5a",
        "weight_moments_sa2sb2_0.9",
        Aim.IMPLEMENTATION,
        "weight_moments with the sA^2 sB^2 term of every variance 10 percent too small; the "
        "lambdified sympy derivation is compared to rounding, so any relative error above "
        "about 1e-14 is seen",
        _everywhere(sa2sb2_scaled(0.9), *_WEIGHT_MOMENTS),
    ),
    Mutant(
        "L3.5a",
        "stated_without_sa2sb2",
        Aim.STATEMENT,
        "L3.5a stated without the d(i,i') d(j,j') sA^2 sB^2 term (the delta-method covariance)",
        (wrap(f"{_SYM}:l35a_weight_moments", stated_without_sa2sb2),),
    ),
    Mutant(
        "L3.5a",
        "monte_carlo_b_variance_1.1",
        Aim.MEASUREMENT,
        "the Monte Carlo twin's draws of W use B with its variance 10 percent too large "
        "(std x sqrt(1.1)): the moment test at 20,000 draws per shape has power for that",
        (wrap(f"{_STAT}:sample_weights", b_std_scaled(float(np.sqrt(1.1)))),),
    ),
    Mutant(
        "L3.5b",
        "mean_field_row_correlation_0.05",
        Aim.IMPLEMENTATION,
        "the mean-field sampler gives entries of one row a shared noise term (correlation "
        "0.05): the mean-field covariance is no longer diagonal; sqrt(20,000) x 0.05 = 7 is "
        "above the threshold",
        (wrap(f"{_IND}:sample_mean_field", mean_field_row_noise(0.05)),),
    ),
    Mutant(
        "L3.5b",
        "noise_shared_by_a_and_b",
        Aim.IMPLEMENTATION,
        "the low-rank sampler uses one noise array for both factors (B's noise is A's first "
        "rows), so entries that share no index are dependent",
        (wrap(f"{_IND}:sample_weights", noise_shared_by_a_and_b),),
    ),
    Mutant(
        "L3.5b",
        "weight_moments_cross_covariances_dropped",
        Aim.IMPLEMENTATION,
        "weight_moments keeps only the variances (no row or column covariances): the toolkit "
        "would call shared-index entries uncorrelated; the moment test of the samples sees it",
        _everywhere(
            cross_covariances_dropped,
            "theory.factor_posterior:weight_moments",
            "theory.geometry:weight_moments",
        ),
    ),
    Mutant(
        "B3",
        "product_of_covariances",
        Aim.STATEMENT,
        "Lemma B.3 mis-stated as Cov(XY, UV) = Cov(X, U) Cov(Y, V) (a common slip; false "
        "unless means vanish)",
        (wrap(f"{_MOM}:b3_sides", b3_product_of_covariances),),
    ),
    Mutant(
        "B3",
        "b3_sides_lhs_wrong_pairing",
        Aim.IMPLEMENTATION,
        f"B.3 is an identity ({_BY} b3_sides): the left side computed as E[XYUV] - E[XU] E[YV] "
        "instead of E[XYUV] - E[XY] E[UV]",
        (wrap(f"{_MOM}:b3_sides", b3_lhs_wrong_pairing),),
    ),
    Mutant(
        "F1",
        "init_exponent_one_half",
        Aim.IMPLEMENTATION,
        "variance_matching_init with mean std (s_W^2/r)^(1/2) instead of (s_W^2/r)^(1/4), so "
        "Var(mean W_ij) = s_W^4 / r",
        _everywhere(gaussian_init(lambda s2, r: (s2 / r) ** 0.5), *_VM_INIT),
    ),
    Mutant(
        "F1",
        "init_variance_1.1",
        Aim.IMPLEMENTATION,
        "variance_matching_init with Var(mean W_ij) 10 percent too large (mean std x "
        "1.1^(1/4)); the Monte Carlo twins at the quick budget reject about 8 percent with "
        "probability 1/2 per test",
        _everywhere(gaussian_init(lambda s2, r: 1.1**0.25 * (s2 / r) ** 0.25), *_VM_INIT),
    ),
    Mutant(
        "F1",
        "stated_variance_without_r",
        Aim.STATEMENT,
        "F1 stated as Var(mean W_ij) = vA vB (the rank factor r forgotten)",
        (wrap(f"{_MOM}:f1_stated_covariance", lambda f: lambda m, n, r: f(m, n, r) / r),),
    ),
    Mutant(
        "F2",
        "balanced_exponents_0.55_0.45",
        Aim.IMPLEMENTATION,
        "balanced_factors as U_r S_r^0.55, V_r S_r^0.45: the product is still W_r but the "
        "factors are not balanced, so spec(mu_A)^2 = sigma_1 fails",
        _everywhere(balanced_with_exponent(0.55), *_BALANCED),
    ),
    Mutant(
        "F2",
        "warm_start_smallest_triplets",
        Aim.IMPLEMENTATION,
        "balanced_factors (the SVD warm start) takes the r smallest singular triplets (SVD "
        "order read as ascending): mu_A mu_B^T is not W_r",
        _everywhere(balanced_smallest_triplets, *_BALANCED),
    ),
    Mutant(
        "B1",
        "zero_padding_with_ones",
        Aim.IMPLEMENTATION,
        f"Thm B.1 {_BY} construction: rank-k factors padded with columns of ones instead of "
        "zeros, so A B^T = W + (r - k) 1 1^T when k < r",
        (wrap(f"{_FAC}:zero_pad", padded_with_ones),),
    ),
    Mutant(
        "B1",
        "basis_drops_last_pivot",
        Aim.IMPLEMENTATION,
        f"Thm B.1 {_BY} construction: the column basis truncated to k - 1 pivot columns (an "
        "off-by-one), so A B^T misses a rank-one part of W",
        (wrap(f"{_FAC}:rank_factors", basis_drops_last_pivot),),
    ),
    Mutant(
        "B1",
        "silent_truncation_above_r",
        Aim.IMPLEMENTATION,
        f"Thm B.1 {_BY} construction: a W of rank > r is truncated to r basis columns instead "
        "of refused; the sharpness control (rank r + 1) must notice the false factorisation",
        (wrap(f"{_FAC}:exact_factors", silent_truncation),),
    ),
    Mutant(
        "B1",
        "float_factors_truncated_at_r_minus_1",
        Aim.IMPLEMENTATION,
        f"Thm B.1 {_BY} floating-point factoriser: balanced_factors keeps r - 1 singular "
        "triplets (an off-by-one); for rank(W) = r the product misses sigma_r",
        (wrap(f"{_FAC}:balanced_factors", balanced_truncated_early),),
    ),
    Mutant(
        "B1",
        "rank_bound_r_plus_one",
        Aim.STATEMENT,
        "Thm B.1 overstated: rank(W) <= r + 1 implies W = A B^T with r columns; the check must "
        "refute it with a nonzero (r+1)-minor",
        (replace(f"{_FAC}:claimed_rank_bound", lambda r: r + 1),),
    ),
    Mutant(
        "F3u",
        "constant_sqrt2",
        Aim.STATEMENT,
        "App. F's half-width stated with sqrt(2) instead of sqrt(3): Var(mean W_ij) = (4/9) s_W^2",
        (replace(f"{_UNI}:F3U_CONSTANT", sp.sqrt(2)),),
    ),
    Mutant(
        "F3u",
        "exponent_one_half",
        Aim.STATEMENT,
        "App. F's half-width stated with exponent 1/2 instead of 1/4: Var(mean W_ij) = s_W^4 / r",
        (replace(f"{_UNI}:F3U_EXPONENT", sp.Rational(1, 2)),),
    ),
    Mutant(
        "F3u",
        "uniform_init_bound_sqrt2",
        Aim.IMPLEMENTATION,
        "theory.initialisation.uniform_init_bound computing sqrt(2) (s_W^2/r)^(1/4)",
        _everywhere(
            lambda f: lambda s2, r: np.sqrt(2.0 / 3.0) * f(s2, r),
            "theory.initialisation:uniform_init_bound",
            f"{_UNI}:uniform_init_bound",
        ),
    ),
    Mutant(
        "F3u",
        "init_variance_0.9",
        Aim.IMPLEMENTATION,
        "uniform_variance_matching_init drawing U(-c a, c a), c = 0.9^(1/4): Var(mean W_ij) "
        "10 percent too small, inside the support check; only the Monte Carlo test (power "
        "about 5 percent) can see it",
        (wrap(f"{_UNI}:uniform_variance_matching_init", uniform_init(0.9**0.25)),),
    ),
    Mutant(
        "F3u",
        "init_half_interval",
        Aim.IMPLEMENTATION,
        "uniform_variance_matching_init drawing U(0, a) instead of U(-a, a): the same "
        "E[X^2] = a^2/3 (and, at r = 1, the same E[mean W^2]) but E[mean W] = r a^2/4, so "
        "Var(mean W_ij) is not s_W^2; at r = 1 only the test of E[mean W] = 0 can see it",
        (wrap(f"{_UNI}:uniform_variance_matching_init", uniform_init(low_zero=True)),),
    ),
)
