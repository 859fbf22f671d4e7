r"""Mutants of the claims of section 4 (loss approximation via Eckart-Young-Mirsky, loss constants).

Each bound is perturbed where the check evaluates it: the tails of T3.6 / T3.6s in
:func:`theory.eym.rank_bias_bound` *and* in the check's prescribed-spectrum twin
(:func:`verification.claims.eym.loss_gap.spectrum_tail`), since a bound changed in one place only is
a toolkit bug that the check stops on rather than a statement; the right sides of T3.7, C7 and C8
in :func:`~verification.claims.eym.decomposition.decomposition_bound`,
:func:`~verification.claims.eym.smooth.jensen_gap_bound` and
:func:`~verification.claims.eym.random_weights.random_weight_bound`; the printed constants of CT
in :func:`theory.losses.paper_claims` (looked up by :func:`theory.losses.make_loss`). C3 and C4
are theorems, so their mutants perturb the truncation the check exercises or the right side it
compares with. For the refuted C5p and the refuted-as-stated CT, mutants that make the statement
true must turn the verdict to verified. (A second wrong constant in CT leaves its verdict
refuted-as-stated, so the power of CT for each printed constant is shown by a test instead:
``test_check_ct_has_power_for_every_printed_constant``.)

References: claims C3, C4, T3.6, T3.6s, C5p, T3.7, C7, C8, C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from theory.eym import BiasNorm
from verification.mutation.core import Aim, Mutant, Patch, replace, wrap

__all__ = ["MUTANTS"]

_Fn = Callable[..., Any]
#: The smallest shrinkage used on bounds that the checks attain to ~1e-12 relative (adversarial
#: or exact rows): a million times their rounding slack, far below any sampling noise.
_SHRINK = 1.0 - 1e-6

_C3 = "verification.claims.eym.basics"
_T36 = "verification.claims.eym.loss_gap"
_T37 = "verification.claims.eym.decomposition"
_C5P = "verification.claims.eym.pointwise"
_C7 = "verification.claims.eym.smooth"
_C8 = "verification.claims.eym.random_weights"
_LOSSES = "verification.claims.eym.constants"


# --- C3: the truncation -------------------------------------------------------------------


def _wrong_triplet(truncate: _Fn) -> _Fn:
    """W_r with its r-th singular triplet replaced by the (r+1)-th (an off-by-one in the kept
    indices); the correct truncation where there is no (r+1)-th."""

    def mutated(w: Any, r: int) -> Any:
        wm = np.asarray(w, dtype=np.float64)
        if r < 1 or r >= min(wm.shape):
            return truncate(w, r)
        u, s, vt = np.linalg.svd(wm, full_matrices=False)
        keep = [*range(r - 1), r]
        return (u[:, keep] * s[keep]) @ vt[keep]

    return mutated


def _scaled_output(factor: float) -> Callable[[_Fn], _Fn]:
    def make(fn: _Fn) -> _Fn:
        return lambda *args, **kwargs: factor * np.asarray(fn(*args, **kwargs))

    return make


# --- T3.6 / T3.6s: the tail, in rank_bias_bound and in the check's twin --------------------


def _bound_tail(which: BiasNorm, *, factor: float = 1.0, shift: int = 0) -> Callable[[_Fn], _Fn]:
    """rank_bias_bound with the ``which`` tail scaled by ``factor`` and started ``shift`` later."""

    def make(bound: _Fn) -> _Fn:
        def mutated(w: Any, r: int, *, lipschitz: float, radius: float, norm: Any = "fro") -> Any:
            if BiasNorm(norm) is not which:
                return bound(w, r, lipschitz=lipschitz, radius=radius, norm=norm)
            rr = min(r + shift, min(np.shape(w)))
            return factor * bound(w, rr, lipschitz=lipschitz, radius=radius, norm=norm)

        return mutated

    return make


def _twin_tail(which: BiasNorm, *, factor: float = 1.0, shift: int = 0) -> Callable[[_Fn], _Fn]:
    """spectrum_tail perturbed exactly as :func:`_bound_tail` perturbs rank_bias_bound."""

    def make(tail: _Fn) -> _Fn:
        def mutated(s: Any, r: int, norm: BiasNorm) -> float:
            if norm is not which:
                return float(tail(s, r, norm))
            return factor * float(tail(s, min(r + shift, len(s)), norm))

        return mutated

    return make


def _tail(which: BiasNorm, **how: Any) -> tuple[Patch, ...]:
    return (
        wrap(f"{_T36}:rank_bias_bound", _bound_tail(which, **how)),
        wrap(f"{_T36}:spectrum_tail", _twin_tail(which, **how)),
    )


# --- C5p -------------------------------------------------------------------------------------


def _negative_output_norm(_values: _Fn) -> _Fn:
    """Every loss replaced by l(z, y) = -||z||_2 over all outputs (non-increasing in ||z||)."""
    return lambda loss, z, y: -np.linalg.norm(np.asarray(z, dtype=np.float64), axis=-1)


def _full_rank(truncate: _Fn) -> _Fn:
    return lambda w, r: truncate(w, min(np.shape(w)))


# --- C7 / C8: smoothness ------------------------------------------------------------------


def _paper_ce_smoothness(make: _Fn) -> _Fn:
    """smooth_loss with softmax CE's beta taken from the paper's table (1/4) instead of 1/2."""

    def mutated(name: str, k: int) -> Any:
        loss = make(name, k)
        if loss.name != "softmax_ce":
            return loss
        truth = dataclasses.replace(loss.truth, smoothness=loss.claimed_smoothness)
        return dataclasses.replace(loss, truth=truth)

    return mutated


# --- CT: the printed table ----------------------------------------------------------------

_Claims = Callable[..., tuple[float | None, float | None]]


def _table(*, ce_smoothness: float | None = 0.5) -> Callable[[_Claims], _Claims]:
    """paper_claims with softmax CE's printed smoothness replaced by ``ce_smoothness``."""

    def make(claims: _Claims) -> _Claims:
        def mutated(
            name: str, params: Mapping[str, Any], *, k: int
        ) -> tuple[float | None, float | None]:
            lip, beta = claims(name, params, k=k)
            return (lip, ce_smoothness) if name == "softmax_ce" else (lip, beta)

        return mutated

    return make


MUTANTS: tuple[Mutant, ...] = (
    # C3 -----------------------------------------------------------------------------------
    Mutant(
        "C3",
        "truncation_keeps_the_wrong_triplet",
        Aim.IMPLEMENTATION,
        "EYM is a theorem, so the toolkit's truncated_svd is perturbed: it keeps the (r+1)-th "
        "singular triplet instead of the r-th (an off-by-one); ||W - W_r||_F then exceeds "
        "sigma_{>r} and the local searches beat it",
        (wrap(f"{_C3}:truncated_svd", _wrong_triplet),),
    ),
    Mutant(
        "C3",
        "truncation_scaled_1e-9",
        Aim.IMPLEMENTATION,
        "truncated_svd returns (1 + 1e-9) W_r, a relative error a million times the rounding "
        "slack 32 (m + n) eps: the identities at r >= rank W (zero tail) must notice it",
        (wrap(f"{_C3}:truncated_svd", _scaled_output(1.0 + 1e-9)),),
    ),
    # C4 -----------------------------------------------------------------------------------
    Mutant(
        "C4",
        "frobenius_bound_shrunk_1e-9",
        Aim.STATEMENT,
        "||A x|| <= (1 - 1e-9) ||A||_F ||x||: false at every rank-one A with x along its row, "
        "where the check's ratio is 1 to rounding (4 (m + n) eps)",
        (wrap(f"{_C3}:c4_rhs", _scaled_output(1.0 - 1e-9)),),
    ),
    Mutant(
        "C4",
        "x_norm_read_as_max_norm",
        Aim.STATEMENT,
        "||A x||_2 <= ||A||_F ||x||_inf (the wrong norm of x, smaller than ||x||_2 whenever x "
        "has two non-zero entries): false, e.g. for a rank-one A with x its right vector",
        (
            replace(
                f"{_C3}:c4_rhs",
                lambda a, x: float(np.linalg.norm(a) * np.max(np.abs(x))),
            ),
        ),
    ),
    # T3.6 ---------------------------------------------------------------------------------
    Mutant(
        "T3.6",
        "tail_shrunk_1e-6",
        Aim.STATEMENT,
        "L R sigma_{>r} replaced by (1 - 1e-6) L R sigma_{>r} (in rank_bias_bound and in its "
        "twin): the adversarial point masses attain the bound to ~1e-12, so a relative error "
        "of 1e-6 is caught",
        _tail(BiasNorm.FRO, factor=_SHRINK),
    ),
    Mutant(
        "T3.6",
        "tail_starts_one_late",
        Aim.STATEMENT,
        "sigma_{>r} read as sigma_{>r+1} (the tail summed from i = r + 2): false wherever the "
        "tail is sigma_{r+1} alone, as in the adversarial rows",
        _tail(BiasNorm.FRO, shift=1),
    ),
    Mutant(
        "T3.6",
        "truncation_keeps_the_wrong_triplet",
        Aim.IMPLEMENTATION,
        "W*_r built with the (r+1)-th singular triplet instead of the r-th: the measured gap of "
        "that matrix exceeds L R sigma_{>r} and the check must refute",
        (wrap(f"{_T36}:truncated_svd", _wrong_triplet),),
    ),
    # T3.6s --------------------------------------------------------------------------------
    Mutant(
        "T3.6s",
        "sigma_r_plus_2",
        Aim.STATEMENT,
        "sigma_{r+1} replaced by sigma_{r+2} (in rank_bias_bound and in its twin): false where "
        "the tail is sigma_{r+1} alone (the adversarial rows, where the bound becomes 0)",
        _tail(BiasNorm.SPECTRAL, shift=1),
    ),
    Mutant(
        "T3.6s",
        "spectral_tail_shrunk_1e-6",
        Aim.STATEMENT,
        "L R sigma_{r+1} replaced by (1 - 1e-6) L R sigma_{r+1}: attained to ~1e-12 by the "
        "adversarial rows (MAE, hinge, Huber), so a relative error of 1e-6 is caught",
        _tail(BiasNorm.SPECTRAL, factor=_SHRINK),
    ),
    # C5p ----------------------------------------------------------------------------------
    Mutant(
        "C5p",
        "loss_non_increasing_in_the_output_norm",
        Aim.STATEMENT,
        "every loss replaced by l(z, y) = -||z||_2: W*_r x is the projection of W* x on the "
        "top-r left singular space, so ||W*_r x|| <= ||W* x|| and the pointwise inequality "
        "holds; the refutation must go",
        (wrap(f"{_C5P}:loss_values", _negative_output_norm),),
    ),
    Mutant(
        "C5p",
        "rank_read_as_full",
        Aim.IMPLEMENTATION,
        "r read as min(m, n): the 'truncation' is W* itself, the difference is 0 at every "
        "(x, y) and the inequality holds with equality; the refutation must go",
        (wrap(f"{_C5P}:truncated_svd", _full_rank),),
    ),
    # T3.7 ---------------------------------------------------------------------------------
    Mutant(
        "T3.7",
        "rank_bias_dropped",
        Aim.STATEMENT,
        "L R (||W - W*_r||_F + sigma_{>r}) without the rank-induced bias: false at W = W*_r, "
        "where the optimisation term is 0 and the gap is not",
        (
            wrap(
                f"{_T37}:decomposition_bound",
                lambda f: lambda lip, rad, opt, bias: f(lip, rad, opt, 0.0),
            ),
        ),
    ),
    Mutant(
        "T3.7",
        "bound_shrunk_1e-6",
        Aim.STATEMENT,
        "L R (||W - W*_r||_F + sigma_{>r}) scaled by 1 - 1e-6: the triangle-tight W attain the "
        "bound to ~1e-12 (MAE, hinge, Huber), so a relative error of 1e-6 is caught",
        (wrap(f"{_T37}:decomposition_bound", _scaled_output(_SHRINK)),),
    ),
    # C7 -----------------------------------------------------------------------------------
    Mutant(
        "C7",
        "bound_shrunk_1e-6",
        Aim.STATEMENT,
        "(beta/2) E||Z - EZ||^2 scaled by 1 - 1e-6: MSE attains it exactly (E l(Z) - l(EZ) = "
        "Var/2), so the exact rows catch a relative error of 1e-6",
        (wrap(f"{_C7}:jensen_gap_bound", _scaled_output(_SHRINK)),),
    ),
    Mutant(
        "C7",
        "ce_smoothness_as_printed",
        Aim.STATEMENT,
        "softmax CE's beta taken from the paper's table, 1/4, instead of the true 1/2: the "
        "adversarial Gaussian along (1, -1)/sqrt 2 at equal logits has twice that bound",
        (wrap(f"{_C7}:smooth_loss", _paper_ce_smoothness),),
    ),
    # C8 -----------------------------------------------------------------------------------
    Mutant(
        "C8",
        "variance_term_shrunk_1e-6",
        Aim.STATEMENT,
        "(beta/2)(Var(W_full x) + Var(A B^T x)) scaled by 1 - 1e-6: the MSE layer with equal "
        "means and a nearly deterministic low rank attains it to ~1e-12 (exact expectations)",
        (
            wrap(
                f"{_C8}:random_weight_bound",
                lambda f: lambda lip, xn, md, beta, vf, vr: f(lip, xn, md, _SHRINK * beta, vf, vr),
            ),
        ),
    ),
    Mutant(
        "C8",
        "mean_term_dropped",
        Aim.STATEMENT,
        "the Lipschitz term L ||x|| ||mu_f - mu_r||_F left out: false when the means differ "
        "and the posteriors are nearly deterministic (the CE layer along its Lipschitz "
        "direction)",
        (
            wrap(
                f"{_C8}:random_weight_bound",
                lambda f: lambda lip, xn, md, beta, vf, vr: f(lip, xn, 0.0, beta, vf, vr),
            ),
        ),
    ),
    Mutant(
        "C8",
        "ce_smoothness_as_printed",
        Aim.STATEMENT,
        "softmax CE's beta taken from the paper's table, 1/4, instead of the true 1/2: the "
        "low-rank output varying along CE's top Hessian eigenvector exceeds that bound",
        (wrap(f"{_C8}:smooth_loss", _paper_ce_smoothness),),
    ),
    # C9 -----------------------------------------------------------------------------------
    Mutant(
        "C9",
        "sqrt2_shrunk_1e-9",
        Aim.STATEMENT,
        "the constant read as (1 - 1e-9) sqrt 2: the gradient norm approaches sqrt 2 within "
        "e^-40 on the searched box, so a relative error of 1e-9 is caught",
        (replace(f"{_LOSSES}:C9_CLAIM", math.sqrt(2.0) * (1.0 - 1e-9)),),
    ),
    Mutant(
        "C9",
        "constant_1.3",
        Aim.STATEMENT,
        "softmax CE read as 1.3-Lipschitz (between BCE's 1 and the true sqrt 2 = 1.414)",
        (replace(f"{_LOSSES}:C9_CLAIM", 1.3),),
    ),
    # CT -----------------------------------------------------------------------------------
    Mutant(
        "CT",
        "ce_smoothness_read_as_one_half",
        Aim.STATEMENT,
        "the table corrected: softmax CE's 'Hessian eigenvalues <= 1/4' read as <= 1/2 (the "
        "true supremum); every other printed constant is right, so CT must be verified",
        (wrap("theory.losses.loss:paper_claims", _table()),),
    ),
    Mutant(
        "CT",
        "ce_smoothness_read_as_big_o_only",
        Aim.STATEMENT,
        "the table read without its parenthesis: softmax CE's smoothness only 'beta = O(1)' (no "
        "number; the true 1/2 is O(1)), every other constant as printed: CT must be verified",
        (wrap("theory.losses.loss:paper_claims", _table(ce_smoothness=None)),),
    ),
)
