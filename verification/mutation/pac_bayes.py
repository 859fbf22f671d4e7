"""Mutants of the PAC-Bayes claims (see :mod:`verification.mutation.core`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from theory.symbolic.symbols import C_LR, C_full, d_in, d_out, r
from verification.mutation.core import Aim, Mutant, replace, wrap

__all__ = ["MUTANTS"]

_COV = "verification.claims.pac_bayes.coverage"
_GC4 = "verification.claims.pac_bayes.lstm_gc"


def _shrunk_width(factor: float) -> Callable[[Any], Any]:
    """``BOUNDS`` with McAllester's width (bound minus empirical risk) times ``factor``."""

    def make(bounds: dict[str, Any]) -> dict[str, Any]:
        f = bounds["mcallester"]
        return {**bounds, "mcallester": lambda e, k, n, d: e + factor * (f(e, k, n, d) - e)}

    return make


def _doubled_mean_term(f: Any) -> Any:
    """gaussian_kl with the mean term (mu_q - mu_p)^2 / (2 s_p^2) counted twice."""

    def kl(mu_q: Any, sigma_q: Any, mu_p: Any, sigma_p: Any) -> Any:
        extra = 0.5 * np.sum((np.asarray(mu_q) - mu_p) ** 2 / np.asarray(sigma_p) ** 2)
        return f(mu_q, sigma_q, mu_p, sigma_p) + extra

    return kl


def _minor_with_too_many_columns(_original: Any) -> Any:
    """(r+1)-minors of A B^T with r + 1 factor columns: the wrong rank for the claim."""

    def vanishes(rank: int) -> bool:
        a = sp.Matrix(rank + 1, rank + 1, lambda i, k: sp.Symbol(f"a{i}{k}"))
        b = sp.Matrix(rank + 1, rank + 1, lambda j, k: sp.Symbol(f"b{j}{k}"))
        return bool(sp.expand((a * b.T).det()) == 0)

    return vanishes


def _typo_ratio(_original: Any) -> Any:
    return lambda: sp.sqrt(r / d_in + 1 / d_out)


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "D2",
        "mcallester_width_0.8",
        Aim.STATEMENT,
        "McAllester's width sqrt((KL + ln(2 sqrt N/delta))/2N) shrunk to 0.8x (the audit's "
        "mutant): a bound that does not hold must be refuted",
        (wrap(f"{_COV}:BOUNDS", _shrunk_width(0.8)),),
    ),
    Mutant(
        "D2",
        "mcallester_width_0.95",
        Aim.STATEMENT,
        "McAllester's width shrunk to 0.95x: the near-worst-case design has power for a 5% "
        "narrower bound",
        (wrap(f"{_COV}:BOUNDS", _shrunk_width(0.95)),),
    ),
    Mutant(
        "D3",
        "gaussian_kl_mean_term_doubled",
        Aim.IMPLEMENTATION,
        "holds by construction (KL of a product is the sum): gaussian_kl with its mean term "
        "counted twice must disagree with the full-covariance twin",
        (wrap("verification.claims.pac_bayes.product_kl:gaussian_kl", _doubled_mean_term),),
    ),
    Mutant(
        "T3.8",
        "printed_ratio_typo",
        Aim.STATEMENT,
        "the printed ratio read as sqrt(r/d_in + 1/d_out) instead of sqrt(r (1/d_in + 1/d_out)): "
        "the sympy derivation from the two bounds must not simplify to it",
        (wrap("theory.symbolic.rank_bounds:complexity_ratio_target", _typo_ratio),),
    ),
    Mutant(
        "T3.8c",
        "count_d_in_d_out_over_2",
        Aim.STATEMENT,
        "the low-rank count r (d_in + d_out) replaced by r d_in d_out / 2 in the condition: the "
        "sympy identity (B_full - B_LR)(sqrt a + sqrt b) = margin / 2N must fail",
        (
            wrap(
                "theory.symbolic.rank_bounds:t38c_condition_expr",
                lambda f: lambda: C_full * d_in * d_out - C_LR * r * d_in * d_out / 2,
            ),
        ),
    ),
    Mutant(
        "T3.8c",
        "manifold_dimension_count",
        Aim.STATEMENT,
        "r (d_in + d_out) replaced by r (d_in + d_out - r), the dimension of the rank-r "
        "manifold: the margin moves by only C_LR r^2, and the identity must fail",
        (
            wrap(
                "theory.symbolic.rank_bounds:t38c_condition_expr",
                lambda f: lambda: C_full * d_in * d_out - C_LR * r * (d_in + d_out - r),
            ),
        ),
    ),
    Mutant(
        "KLF",
        "minor_with_r_plus_1_columns",
        Aim.IMPLEMENTATION,
        "the (r+1)-minors taken with r + 1 factor columns (factors of the wrong width): they no "
        "longer vanish, so q_W(|det| <= t) = 1 fails and singularity must not be reported",
        (wrap("verification.claims.pac_bayes.klf:minor_vanishes", _minor_with_too_many_columns),),
    ),
    Mutant(
        "KLF",
        "pushforward_of_a_narrower_prior",
        Aim.STATEMENT,
        "data processing against the push-forward of a prior with a 5% smaller std than P: "
        "KL(q_W || T#P') <= KL(Q || P) is false (at Q = P already), and must be refuted",
        (
            wrap(
                "verification.claims.pac_bayes.klf:product_kl",
                lambda f: (
                    lambda ma, sa, mb, sb, prior_std: f(ma, sa, mb, sb, prior_std=0.95 * prior_std)
                ),
            ),
        ),
    ),
    Mutant(
        "F4",
        "used_bound_is_ours",
        Aim.TARGET,
        "the paper's 1.309 at (14, 20) replaced by our 1.236: every number then follows from "
        "one fitted constant and the verdict must become reproduced",
        (wrap("verification.claims.pac_bayes.lstm_f4:_F4_PAPER", lambda d: {**d, "used": 1.236}),),
    ),
    Mutant(
        "F4",
        "stated_ranks_14_24",
        Aim.TARGET,
        "the stated ranks read as (14, 24), where the fitted curve gives 1.309: the check must "
        "use the ranks it is given",
        (replace("verification.claims.pac_bayes.lstm_f4:F4_STATED_RANKS", (14, 24)),),
    ),
    Mutant(
        "T3.8p",
        "paper_prior_only",
        Aim.STATEMENT,
        "the premise claimed under the paper's own prior only (0.5 N(0, 1) + 0.5 N(0, s2^2), "
        "both readings of e^-6), where it holds at the quick budget: the Gaussian and "
        "data-dependent settings that refute it are dropped, so the verdict must become verified",
        (
            wrap(
                "verification.claims.trained.kl:prior_settings",
                lambda f: lambda budget: tuple(s for s in f(budget) if s.family == "mixture"),
            ),
        ),
    ),
    Mutant(
        "T3.8p",
        "band_x100",
        Aim.STATEMENT,
        "'comparable' read as within a factor 100 instead of 2 (the largest measured ratio at "
        "the quick budget is 91): every setting then passes and the verdict must become verified",
        (replace("verification.claims.trained.premise:PREMISE_BAND", 100.0),),
    ),
    Mutant(
        "F4g",
        "plotted_target_minus_one_unit",
        Aim.TARGET,
        "the plotted 28.88 read as 28.87 (one unit of the last printed digit): the output-layer "
        "reading at the named C_0 = sqrt(pi/2) gives 28.865, so the verdict must turn to "
        "reproduced",
        (wrap(f"{_GC4}:_PAPER_F4G", lambda d: {**d, "plotted": 28.87}),),
    ),
    Mutant(
        "F4g",
        "plotted_target_at_unit_c0",
        Aim.TARGET,
        "the plotted 28.88 read as 26.85, what C_0 = C_i = 1 gives under the gate-matrix chain: "
        "the natural constant must then reproduce it",
        (wrap(f"{_GC4}:_PAPER_F4G", lambda d: {**d, "plotted": 26.85}),),
    ),
)
