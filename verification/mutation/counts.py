"""Mutants of the parameter-count claims (see :mod:`verification.mutation.core`).

P1 and P2 hold by construction of the toolkit's formulas, so their mutants state a formula wrongly
(the statement) or break the code that the check compares (the implementation). P3, P4 and P5
recompute printed numbers, so their mutants move a printed target by the smallest step the
check must notice (one unit of the last digit), change a stated constant of the model, or break
one of the two twins that every count is made by.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from verification.claims.counts.specs import Printed
from verification.mutation.core import Aim, Mutant, replace, wrap

__all__ = ["MUTANTS"]

_CHK = "verification.claims"
_P = f"{_CHK}.counts.layer_counts"
_P4 = f"{_CHK}.counts.reported"
_SWAG = f"{_CHK}.counts.swag"
_P5 = f"{_CHK}.counts.lstm"


def _counts_with(**changes: Any) -> Any:
    """param_counts with some keys computed wrongly (each change maps (m, n, r) to a value)."""

    def make(f: Any) -> Any:
        def counts(m: Any, n: Any, r: Any) -> dict[str, Any]:
            return {**f(m, n, r), **{k: g(m, n, r) for k, g in changes.items()}}

        return counts

    return make


def _printed(key: str, text: str, value: str, unit: int = 1, decimals: int | None = None) -> Any:
    """A paper table (dict of Printed) with one entry replaced."""
    return lambda table: {**table, key: Printed(text, Fraction(value), unit, decimals)}


def _bayesian_bias_layer(cls: Any) -> Any:
    def build(*args: Any, **kw: Any) -> Any:
        return cls(*args, **{**kw, "bayesian_bias": True})

    return build


MUTANTS: tuple[Mutant, ...] = (
    # --- P1 ---------------------------------------------------------------------------------
    Mutant(
        "P1",
        "mean_field_counts_means_only",
        Aim.STATEMENT,
        "the mean-field count stated as mn (the means only, the scales forgotten) instead of 2mn: "
        "the layers hold 2mn trainable scalars, so the check must refute it at m = n = 1",
        (wrap(f"{_P}:param_counts", _counts_with(mean_field=lambda m, n, r: m * n)),),
    ),
    Mutant(
        "P1",
        "low_rank_counts_manifold_dimension",
        Aim.STATEMENT,
        "the low-rank count stated as 2r(m+n-r) (the dimension of the rank-r manifold, G1) "
        "instead of 2r(m+n): it is off by 2r^2 for every layer, so the check must refute it",
        (wrap(f"{_P}:param_counts", _counts_with(low_rank=lambda m, n, r: 2 * r * (m + n - r))),),
    ),
    Mutant(
        "P1",
        "stochastic_count_includes_scales",
        Aim.IMPLEMENTATION,
        "holds by construction: stochastic_parameter_count counting the mean and the scale of "
        "each stochastic scalar (2mn instead of mn), so the module twin disagrees with D",
        (
            wrap(
                f"{_P}:stochastic_parameter_count",
                lambda f: lambda model: sum(p.numel() for p in model.parameters()),
            ),
        ),
    ),
    # --- P2 ---------------------------------------------------------------------------------
    Mutant(
        "P2",
        "threshold_non_strict",
        Aim.STATEMENT,
        "the iff stated with r <= mn/(m+n) instead of r < mn/(m+n): wrong only at the ties "
        "mn = r(m+n) (e.g. m = n = 2, r = 1), the smallest change of the statement",
        (replace(f"{_P}:claimed_reduces", lambda m, n, r: r <= Fraction(m * n, m + n)),),
    ),
    Mutant(
        "P2",
        "threshold_half_min",
        Aim.STATEMENT,
        "the threshold stated as min(m, n)/2 (the square-layer value) instead of mn/(m+n): "
        "wrong for every non-square layer with r between the two (e.g. m = 2, n = 3, r = 1)",
        (replace(f"{_P}:claimed_reduces", lambda m, n, r: 2 * r < min(m, n)),),
    ),
    Mutant(
        "P2",
        "d_low_rank_plus_one",
        Aim.IMPLEMENTATION,
        "holds by construction: param_counts' D_LR off by one (r(m+n) + 1), so its float "
        "reduction factor no longer equals the exact fraction mn/(r(m+n))",
        (wrap(f"{_P}:param_counts", _counts_with(d_low_rank=lambda m, n, r: r * (m + n) + 1)),),
    ),
    # --- P3 ---------------------------------------------------------------------------------
    Mutant(
        "P3",
        "mnist_low_rank_target_plus_one",
        Aim.TARGET,
        "the paper's 245,810 read as 245,811: the recomputed count must no longer reproduce it",
        (replace(f"{_P}:_PAPER_MNIST_LOW_RANK", 245_811),),
    ),
    Mutant(
        "P3",
        "mnist_mean_field_target_plus_one",
        Aim.TARGET,
        "the paper's 4,788,010 read as 4,788,011 (one unit in the last digit)",
        (replace(f"{_P}:_PAPER_MNIST_MEAN_FIELD", 4_788_011),),
    ),
    Mutant(
        "P3",
        "mnist_factor_truncated",
        Aim.TARGET,
        "the printed factor 19.5x read as 19.4x (19.48 truncated instead of rounded): one unit "
        "in the last printed digit",
        (replace(f"{_P}:_PAPER_MNIST_FACTOR", Fraction("19.4")),),
    ),
    Mutant(
        "P3",
        "mnist_bayesian_biases",
        Aim.IMPLEMENTATION,
        "the low-rank MNIST layers built with Bayesian biases (mean and scale, +2,410): the "
        "module count no longer equals the paper's deterministic-bias convention",
        (wrap(f"{_P}:LowRankBayesLinear", _bayesian_bias_layer),),
    ),
    # --- P4 ---------------------------------------------------------------------------------
    Mutant(
        "P4",
        "mimic_low_rank_target_plus_one",
        Aim.TARGET,
        "MIMIC's 13,610 read as 13,611: no convention gives it (13,612, the rank-1 head, is "
        "reproduced by design, so the step of one shows the check's resolution)",
        (wrap(f"{_P4}:_PAPER", _printed("mimic_low_rank", "13,611", "13611")),),
    ),
    Mutant(
        "P4",
        "toy_low_rank_target_plus_one",
        Aim.TARGET,
        "the toy regression's 7,202 read as 7,203 (one unit in the last digit)",
        (wrap(f"{_P4}:_PAPER", _printed("toy_low_rank", "7,203", "7203")),),
    ),
    Mutant(
        "P4",
        "mnist_rank1_target_plus_one",
        Aim.TARGET,
        "MNIST rank-1 2,406,398 read as 2,406,399 (one unit in the last digit)",
        (wrap(f"{_P4}:_PAPER", _printed("mnist_rank1", "2,406,399", "2406399")),),
    ),
    Mutant(
        "P4",
        "swag_mimic_target_last_digit",
        Aim.TARGET,
        "MIMIC SWAG 470.42K read as 470.43K (one unit in the last printed digit): no (K, c) "
        "and no MIMIC base model may give it",
        (wrap(f"{_SWAG}:_PAPER_SWAG", _printed("mimic", "470.43K", "470.43", 1000, 2)),),
    ),
    Mutant(
        "P4",
        "percent_vs_mean_field_71",
        Aim.TARGET,
        "'70% fewer than full-rank BBB' read as 71% (the exact 69.62% rounds to 70)",
        (wrap(f"{_P4}:_PAPER_PERCENT", lambda d: {**d, "vs_mean_field": 71}),),
    ),
    Mutant(
        "P4",
        "ensemble_of_four",
        Aim.STATEMENT,
        "the deep ensemble taken as 4 members instead of the stated 5: 4 x 22,401 = 89,604 "
        "must no longer reproduce 112,005",
        (replace(f"{_P4}:ENSEMBLE_SIZE", 4),),
    ),
    Mutant(
        "P4",
        "param_counts_manifold_dimension",
        Aim.IMPLEMENTATION,
        "param_counts' low-rank count as 2r(m+n-r): the formula twin disagrees with the module "
        "twin on every low-rank layer, so no low-rank size may count as reproduced",
        (
            wrap(
                f"{_CHK}.counts.specs:param_counts",
                _counts_with(
                    low_rank=lambda m, n, r: 2 * r * (m + n - r),
                    d_low_rank=lambda m, n, r: r * (m + n - r),
                ),
            ),
        ),
    ),
    # --- P5 ---------------------------------------------------------------------------------
    Mutant(
        "P5",
        "table2_as_app_g_gives_it",
        Aim.TARGET,
        "Table 2 printed as the stated architecture gives it (43K low rank, 108K mean-field, "
        "54K deterministic, 268K ensemble; rank-1 66K kept): every size then has a convention, "
        "so the verdict must turn to reproduced",
        (
            wrap(
                f"{_P5}:_PAPER_TABLE2",
                lambda d: {
                    **d,
                    "low_rank": Printed("43K", Fraction(43), 1000, 0),
                    "mean_field": Printed("108K", Fraction(108), 1000, 0),
                    "deterministic": Printed("54K", Fraction(54), 1000, 0),
                    "ensemble": Printed("268K", Fraction(268), 1000, 0),
                },
            ),
        ),
    ),
)
