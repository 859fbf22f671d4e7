r"""Mutants of the Gaussian-complexity claims E4-E35, E36, E22 (:mod:`verification.mutation.core`).

Where the checks compare classes draw by draw, the patches are applied where the check modules
look the names up (``verification.claims.complexity.draws:empirical_gaussian_complexity``, not
``theory.gaussian_complexity``). Each description says how small a perturbation the check still
catches.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from theory.gaussian_complexity import gc_confidence_term, one_layer_gaps
from theory.gaussian_complexity.corrected import gc_generalisation_bound_corrected
from theory.geometry import FactorPosterior
from verification.mutation.core import Aim, Mutant, replace, wrap

__all__ = ["MUTANTS"]

_BND = "verification.claims.complexity.bounded"
_HULL = "verification.claims.complexity.hull"
_DRAWS = "verification.claims.complexity.draws"
_PRED = "verification.claims.complexity.predictive"
_GEN = "verification.claims.generalisation.generalisation"
_GAPS = "verification.claims.generalisation.gaps"
_E36 = "verification.claims.generalisation.factor_norms"
_E22 = "verification.claims.generalisation.crossover"

Fn = Callable[..., Any]


def _scaled_clip(factor: float) -> Callable[[Fn], Fn]:
    """``clip_spectral`` that clips the singular values at ``factor`` times the bound."""
    return lambda clip: lambda a, bound: clip(a, factor * bound)


def _frobenius_tail(mean: Any, std: float, level: float) -> float:
    r""":math:`P(\|A\|_F > C)` (noncentral chi-square) in place of the max-entry lower bound on
    :math:`P(\|A\|_2 > C)`: a norm confusion, not a lower bound once r >= 2."""
    nc = float(np.sum(np.square(mean))) / std**2
    return float(stats.ncx2.sf(level**2 / std**2, np.size(mean), nc))


def _tail_log_bound_linear_space(mean: Any, std: float, level: float) -> float:
    """``entry_tail_log_bound`` computed in linear space: underflows to log10(0) = -inf."""
    p = stats.norm.sf((level - mean) / std) + stats.norm.cdf((-level - mean) / std)
    with np.errstate(divide="ignore"):
        return float(np.log10(np.max(p)))


def _inf_complexity(estimate: Fn) -> Fn:
    """The estimator with the supremum over the class replaced by the infimum:
    :math:`E \\min_f \\langle\\Gamma, f\\rangle = -E \\max_f \\langle\\Gamma, -f\\rangle`."""

    def inf_estimate(outputs: Any, **kw: Any) -> tuple[float, float]:
        est, se = estimate(-np.asarray(outputs), **kw)
        return -est, se

    return inf_estimate


def _stds_as_variances(sample: Fn) -> Fn:
    def sample_squared(layers: Any, x: Any, **kw: Any) -> Any:
        squared = [FactorPosterior(la.mu_a, la.sigma_a**2, la.mu_b, la.sigma_b**2) for la in layers]
        return sample(squared, x, **kw)

    return sample_squared


def _restated_linear_first_layer(
    X: Any, *, spectral_bounds: Any, ranks: Any, widths: Any, c0: float
) -> float:
    r"""E17 with :math:`C_1` instead of :math:`C_1^2` in the first-layer term:

    .. math:: \frac{\|X\|_F}{m}\Big\{\sqrt{r_1 h_1}\, C_0 C_1 \prod_{i \ge 2} C_0 C_i
        + \sum_{j \ge 2} C_j \sqrt{r_j h_j} \prod_{i > j} C_0 C_i\Big\}
    """
    x = np.asarray(X, dtype=np.float64)
    cs = np.asarray(spectral_bounds, dtype=np.float64).reshape(-1)
    rs = np.asarray(ranks, dtype=np.float64).reshape(-1)
    hs = np.asarray(widths, dtype=np.float64).reshape(-1)
    total = np.sqrt(rs[0] * hs[0]) * c0 * cs[0] * np.prod(c0 * cs[1:])
    for j in range(1, cs.size):
        total += cs[j] * np.sqrt(rs[j] * hs[j]) * np.prod(c0 * cs[j + 1 :])
    return float(np.linalg.norm(x) / x.shape[0] * total)


def _corrected_gaps(**kw: Any) -> tuple[float, float]:
    """Both E21 gaps with the GC gap in our corrected form (sqrt(2 pi) L, C_1 not C_1^2)."""
    pac, _ = one_layer_gaps(**kw)
    gc = math.sqrt(2.0 * math.pi) * kw["lipschitz"] * kw["x_fro"] * kw["c1"] * math.sqrt(
        kw["rank"] * kw["d_out"]
    ) / kw["n"] + float(gc_confidence_term(kw["n"], kw["delta"]))
    return pac, gc


def _pac_kl_quadratic_in_r(gaps: Fn) -> Fn:
    def quadratic(**kw: Any) -> tuple[float, float]:
        pac, _ = gaps(**{**kw, "c_max": kw["c_max"] * kw["rank"]})
        return pac, gaps(**kw)[1]

    return quadratic


def _pac_over_m(gaps: Fn) -> Fn:
    """Gap_PAC with m in place of 2m under the root (a factor sqrt 2)."""

    def over_m(**kw: Any) -> tuple[float, float]:
        pac, gc = gaps(**kw)
        return math.sqrt(2.0) * pac, gc

    return over_m


def _gc_linear_in_r(gaps: Fn) -> Fn:
    """Gap_GC with its complexity term proportional to r instead of sqrt(r)."""

    def linear(**kw: Any) -> tuple[float, float]:
        pac, gc = gaps(**kw)
        conf = float(gc_confidence_term(kw["n"], kw["delta"]))
        return pac, (gc - conf) * math.sqrt(kw["rank"]) + conf

    return linear


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "E4",
        "clip_leaks_1e-10",
        Aim.IMPLEMENTATION,
        "the spectral clipping that enforces E4 clips at (1 + 1e-10) C, so clipped factors "
        "exceed C by 1e-10 relative: the check must report the failed computable fact (caught "
        "down to 1e-12, ten times the rounding slack 32 (h + r) eps)",
        (wrap(f"{_BND}:clip_spectral", _scaled_clip(1.0 + 1e-10)),),
    ),
    Mutant(
        "E4",
        "frobenius_tail_as_lower_bound",
        Aim.MEASUREMENT,
        "the exact lower bound max_ij P(|A_ij| > C) on P(‖A‖_2 > C) replaced by the exact tail "
        "of the Frobenius norm (noncentral chi-square), which is larger than P(‖A‖_2 > C) "
        "whenever r >= 2: the simulated frequencies must fall significantly below it",
        (replace(f"{_BND}:entry_tail_probability", _frobenius_tail),),
    ),
    Mutant(
        "E4",
        "tail_in_linear_space",
        Aim.IMPLEMENTATION,
        "the far-level tail bound computed as log10 of the probability in linear space: it "
        "underflows to 0 at 100-1000 median norms, i.e. claims Gaussian factors satisfy E4 for "
        "large C: the check must report the lost positivity",
        (replace(f"{_BND}:entry_tail_log_bound", _tail_log_bound_linear_space),),
    ),
    Mutant(
        "E5",
        "bound_shrunk_1e-10",
        Aim.STATEMENT,
        "the bound C^A C^B of E5 shrunk by 1e-10 relative: aligned factors attain C^A C^B "
        "exactly, so the check must find a counterexample (caught down to 1e-12)",
        (wrap(f"{_BND}:e5_bound", lambda f: lambda a, b: (1.0 - 1e-10) * f(a, b)),),
    ),
    Mutant(
        "E5",
        "factors_not_clipped",
        Aim.IMPLEMENTATION,
        "E4 dropped: the Gaussian factors are not projected onto the spectral balls, so "
        "‖AB^T‖_2 <= C^A C^B has no reason to hold and must be refuted",
        (replace(f"{_BND}:clip_spectral", lambda a, bound: a),),
    ),
    Mutant(
        "E8",
        "inclusion_reversed",
        Aim.STATEMENT,
        "the inclusion reversed: the statement tested is G(F') <= G(F) for F ⊂ F' (the subset "
        "and the class swapped), which fails as soon as one dropped function wins a draw",
        (wrap(f"{_HULL}:nested_classes", lambda f: lambda out, rng: f(out, rng)[::-1]),),
    ),
    Mutant(
        "E8",
        "inf_instead_of_sup",
        Aim.IMPLEMENTATION,
        "the estimator's supremum over the class replaced by the infimum (a min/max slip): "
        "E min_f <Gamma, f> decreases under inclusion, so monotonicity must fail",
        (wrap(f"{_DRAWS}:empirical_gaussian_complexity", _inf_complexity),),
    ),
    Mutant(
        "E9",
        "weights_sum_1e-10_above_one",
        Aim.STATEMENT,
        "the added 'hull' points are combinations whose weights sum to 1 + 1e-10, not convex "
        "combinations: a point just beyond a winning vertex must raise some draw's supremum "
        "(caught down to 1e-12, above the rounding slack of the draw-by-draw comparison)",
        (
            wrap(
                f"{_HULL}:convex_combinations",
                lambda f: lambda out, n, rng: (1.0 + 1e-10) * f(out, n, rng),
            ),
        ),
    ),
    Mutant(
        "E10",
        "sequence_misses_its_limit_by_1pct",
        Aim.STATEMENT,
        "the sequence converges to f* + 0.01 d instead of f*: the added point is not a limit "
        "point of the class, and its gain (which no longer vanishes like 1/N) must exceed the "
        "bound at N = 512 (0.1% survives: the quick budget's largest N is 512)",
        (
            wrap(
                f"{_HULL}:limit_sequence",
                lambda f: lambda f_star, d, n: f(f_star, d, n) + 0.01 * d[None],
            ),
        ),
    ),
    Mutant(
        "E11",
        "average_biased_2pct",
        Aim.MEASUREMENT,
        "every sampled network's output scaled by 1.02 (a Monte Carlo average biased by 2%): "
        "the error against the exact means must stop decaying like sqrt(V/S) (1% survives "
        "at the quick budget's 200 replicates of S <= 1024)",
        (wrap(f"{_PRED}:sample_network_outputs", lambda f: lambda *a, **k: 1.02 * f(*a, **k)),),
    ),
    Mutant(
        "E11",
        "stds_read_as_variances",
        Aim.IMPLEMENTATION,
        "the sampler draws the factors with sigma^2 where sigma is the posterior std (the "
        "paper's std/variance ambiguity): the spread and the ReLU means no longer match",
        (wrap(f"{_PRED}:sample_network_outputs", _stds_as_variances),),
    ),
    Mutant(
        "E13",
        "clip_at_1e-10_above_C",
        Aim.IMPLEMENTATION,
        "the spectral clipping of E4 at (1 + 1e-10) C^A and C^B (the chain holds by "
        "construction for projected factors): sampled W leave F_Pinto(C, r) by 2e-10 "
        "relative, which the check must catch (a clipping level 1.1 C is caught a fortiori)",
        (wrap("verification.claims.complexity.chain:clip_spectral", _scaled_clip(1.0 + 1e-10)),),
    ),
    Mutant(
        "E15",
        "constant_sqrt_2pi_L",
        Aim.STATEMENT,
        "the quoted coefficient sqrt(pi L) replaced by our sqrt(2 pi) L: the statement becomes "
        "true, so the refutation must go (verified)",
        (replace(f"{_GEN}:gc_generalisation_bound", gc_generalisation_bound_corrected),),
    ),
    Mutant(
        "E17",
        "first_layer_c1_not_c1_squared",
        Aim.STATEMENT,
        "the restated bound with C_1 instead of C_1^2 in the first-layer term (C0 C_1 "
        "sqrt(r_1 h_1) ‖X‖_F/m at D = 1, above the exact complexity for C0 >= 1): the "
        "refutation must go (verified)",
        (
            replace(
                "verification.claims.complexity.pinto:pinto_bound_as_restated",
                _restated_linear_first_layer,
            ),
        ),
    ),
    Mutant(
        "T3.9",
        "both_links_corrected",
        Aim.STATEMENT,
        "T3.9 with both links in our corrected form (E15 with sqrt(2 pi) L, E17 linear in C_1): "
        "the combined bound becomes true, so the refutation must go (verified)",
        (
            replace(f"{_GEN}:gc_generalisation_bound", gc_generalisation_bound_corrected),
            replace(f"{_GEN}:pinto_bound_as_restated", _restated_linear_first_layer),
        ),
    ),
    Mutant(
        "E21",
        "gc_gap_corrected",
        Aim.STATEMENT,
        "the printed Gap_GC replaced by our corrected gap (sqrt(2 pi) L, C_1 not C_1^2), which "
        "is a valid bound: the refutation-as-stated must go (verified)",
        (replace(f"{_GAPS}:one_layer_gaps", _corrected_gaps),),
    ),
    Mutant(
        "E21",
        "pac_kl_quadratic_in_r",
        Aim.STATEMENT,
        "the PAC-Bayes KL taken as C_max r^2 (d_in + d_out), so Gap_PAC grows linearly in r: "
        "'both scale like sqrt(r)' becomes false and must be refuted",
        (wrap(f"{_GAPS}:one_layer_gaps", _pac_kl_quadratic_in_r),),
    ),
    Mutant(
        "E29",
        "delta_total_as_max",
        Aim.STATEMENT,
        "delta_total = sum_i (delta_i^A + delta_i^B) replaced by max_i delta_i (the union bound "
        "dropped): the simulated failure rate of the good event must exceed it",
        (
            replace(
                "verification.claims.generalisation.truncation:delta_total",
                lambda deltas: max(deltas),
            ),
        ),
    ),
    Mutant(
        "E35",
        "c1_0.7",
        Aim.STATEMENT,
        "the constant c1 = 1 of the level ‖EA‖ + c1 s (sqrt h + sqrt r) + c2 s t lowered to 0.7: "
        "coverage must fail (0.8 survives at the quick budget: the c2 t term covers it)",
        (replace("verification.claims.generalisation.tails:C1", 0.7),),
    ),
    Mutant(
        "E36",
        "product_scale_honest",
        Aim.STATEMENT,
        "the remark's product scale sigma^2 (h_i + r_i) replaced by sigma^2 sqrt((h_i + "
        "r_i)(h_(i-1) + r_i)), the product of the two factors' scales: the statement becomes "
        "true, so the refutation-as-stated must go (verified)",
        (
            replace(
                f"{_E36}:remark_product_scale",
                lambda a, b, r: np.sqrt((np.asarray(a, dtype=float) + r) * (np.asarray(b) + r)),
            ),
        ),
    ),
    Mutant(
        "E36",
        "factor_scale_dimension_free",
        Aim.STATEMENT,
        "the factor part read as C^A = O(sigma) (no dimension): E‖A‖_2/sigma grows like "
        "sqrt(h) along (h, 1), which the check must refute",
        (replace(f"{_E36}:factor_scale", lambda h, r: np.ones_like(np.asarray(h, dtype=float))),),
    ),
    Mutant(
        "E36",
        "entries_variance_1.1",
        Aim.MEASUREMENT,
        "the sampled factor entries have variance 1.1 sigma^2 (norms sqrt(1.1) = 1.049 times "
        "too large): the Monte Carlo twin E chi_h must reject it (a variance 1.05 survives at "
        "the quick budget's 400 draws)",
        (
            wrap(
                f"{_E36}:standard_spectral_norms",
                lambda f: lambda h, r, n, rng: math.sqrt(1.1) * f(h, r, n, rng),
            ),
        ),
    ),
    Mutant(
        "E22",
        "remark_constant_2.5_pi",
        Aim.STATEMENT,
        "the remark's constant pi read as 2.5 pi: the leading-order crossover is 2 pi K d_out, "
        "so the condition is no longer sufficient where the confidence terms are small and the "
        "check must refute (2.1 pi is caught too)",
        (wrap(f"{_E22}:remark_threshold", lambda f: lambda point: 2.5 * f(point)),),
    ),
    Mutant(
        "E22",
        "pac_gap_over_m",
        Aim.MEASUREMENT,
        "the printed Gap_PAC evaluated with m instead of 2m under the root: the sympy crossover "
        "no longer matches the printed gaps, so no corrected form holds and the check must "
        "refute (Gap_PAC off by 1e-8 relative is still caught; 1e-10 is not)",
        (wrap(f"{_E22}:one_layer_gaps", _pac_over_m),),
    ),
    Mutant(
        "E22",
        "gc_gap_linear_in_r",
        Aim.STATEMENT,
        "Gap_GC's complexity term proportional to r, not sqrt(r): 'both scale like sqrt(r)' "
        "fails and must be refuted",
        (wrap(f"{_E22}:one_layer_gaps", _gc_linear_in_r),),
    ),
)
