"""Mutants of the empirical claims X1-X6 (see :mod:`verification.mutation.core`).

Each claim's verdict is a rule (:mod:`verification.claims.empirical.rules`) applied to the
committed ``lrbnn compare`` summary. So each has two kinds of mutant: a *statement* or *target*
mutant changes a constant of the rule (what "competitive", "33x", "substantially", "often",
"about as much time" mean) the other side of what was measured, and a *measurement* mutant moves
one measured mean (the summary as read) past the rule's line. Both must flip the verdict; they
are written for the committed run, whose numbers ``paper_checks.md`` shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as dc_replace
from typing import Any

from verification.mutation.core import Aim, Mutant, replace, wrap

__all__ = ["MUTANTS"]

_RULES = "verification.claims.empirical.rules"
_READ = "verification.claims.empirical.checks:read_table"


def _shifted(family: str, metric: str, delta: float, factor: float = 1.0) -> Callable[[Any], Any]:
    """``read_table`` whose ``family``'s mean of ``metric`` is multiplied by ``factor`` and
    moved by ``delta`` on every task (the rest of the summary as measured)."""

    def make(read: Any) -> Any:
        def read_table(path: Any = None) -> Any:
            table = read(path)
            if table is None:
                return None
            out = {}
            for (task, fam), stats in table.items():
                row = dict(stats)
                if fam == family and metric in row:
                    row[metric] = dc_replace(row[metric], mean=row[metric].mean * factor + delta)
                out[(task, fam)] = row
            return out

        return read_table

    return make


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "X1",
        "no_accuracy_margin",
        Aim.STATEMENT,
        "'competitive' read as no accuracy lost beyond 2 SE (margin 0 instead of 3 points): on "
        "digits low rank's 0.008 below mean-field exceeds 2 SE = 0.006, so X1 must fail",
        (replace(f"{_RULES}:ACCURACY_MARGIN", 0.0),),
    ),
    Mutant(
        "X1",
        "low_rank_accuracy_minus_0.05",
        Aim.MEASUREMENT,
        "low rank's measured accuracy 5 points lower on every classification task: beyond the "
        "3-point margin and the noise, so X1 must fail",
        (wrap(_READ, _shifted("low_rank", "accuracy", -0.05)),),
    ),
    Mutant(
        "X2",
        "ratios_5x_and_2x",
        Aim.TARGET,
        "the abstract's 33x and 13x replaced by 5x and 2x: MNIST-1D's MLP (6.8x and 2.7x at "
        "competitive accuracy) then meets them, so X2 must be reproduced",
        (replace(f"{_RULES}:DE_RATIO", 5.0), replace(f"{_RULES}:MF_RATIO", 2.0)),
    ),
    Mutant(
        "X2",
        "low_rank_params_divided_by_10",
        Aim.MEASUREMENT,
        "low rank's parameters counted 10x fewer: where it is competitive (MNIST-1D's MLP) the "
        "ratios become 68x and 27x, past 33x and 13x, so X2 must be reproduced",
        (wrap(_READ, _shifted("low_rank", "params", 0.0, factor=0.1)),),
    ),
    Mutant(
        "X3",
        "any_gain_is_substantial",
        Aim.STATEMENT,
        "'substantially better' read as any positive mean gain (no 0.03 floor, no noise): low "
        "rank's AUROC is above the baseline's in 9 of 12 pairs, so X3 must be reproduced",
        (replace(f"{_RULES}:AUROC_GAIN", 0.0), replace(f"{_RULES}:SE_MULTIPLE", 0.0)),
    ),
    Mutant(
        "X3",
        "low_rank_auroc_plus_0.2",
        Aim.MEASUREMENT,
        "low rank's measured OOD AUROC 0.2 higher on every task: a win against every baseline, "
        "so X3 must be reproduced",
        (wrap(_READ, _shifted("low_rank", "ood_auroc", 0.2)),),
    ),
    Mutant(
        "X4",
        "often_means_two_thirds",
        Aim.STATEMENT,
        "'often' read as at least two thirds of the pairs instead of half: low rank is better in "
        "9 of 15 (60 %), so X4 must fail",
        (replace(f"{_RULES}:OFTEN", 2 / 3),),
    ),
    Mutant(
        "X4",
        "low_rank_ece_plus_0.1",
        Aim.MEASUREMENT,
        "low rank's measured ECE 0.1 higher on every task: worse than every baseline's, so X4 "
        "must fail",
        (wrap(_READ, _shifted("low_rank", "ece", 0.1)),),
    ),
    Mutant(
        "X5",
        "ensemble_nll_plus_0.5",
        Aim.MEASUREMENT,
        "the deep ensemble's measured NLL 0.5 nats higher on every task: above low rank's and "
        "mean-field's everywhere, so X5 must fail",
        (wrap(_READ, _shifted("deep_ensemble", "nll", 0.5)),),
    ),
    Mutant(
        "X6",
        "time_ratio_1.3",
        Aim.STATEMENT,
        "'about as much time per epoch' read as at most 1.3x the deterministic model's: the "
        "Transformer's measured 1.40x exceeds it, so X6 must fail",
        (replace(f"{_RULES}:TIME_RATIO", 1.3),),
    ),
    Mutant(
        "X6",
        "low_rank_memory_plus_1mb",
        Aim.MEASUREMENT,
        "low rank's measured peak memory 1 MB higher: above mean-field's on the Transformer "
        "(8.2 + 1 > 8.9 MB), so X6 must fail",
        (wrap(_READ, _shifted("low_rank", "peak_memory_mb", 1.0)),),
    ),
)
