"""Claims checked by two independent parts (symbolic and Monte Carlo, or a formula and its
premise measured on trained models), joined into one row.

The verdict is the more severe of the two (a refutation by either twin wins), and the evidence
keeps both parts, labelled. Budgets are nested: ``{"symbolic": {...}, "monte_carlo": {...}}``.

References: claims L3.5a, F1 and D2 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verification.checks.coverage import check_d2 as check_d2_exact
from verification.checks.coverage_worst_case import check_d2_worst_case
from verification.checks.geometry_init import check_f1_monte_carlo
from verification.checks.geometry_statistical import check_l35a_monte_carlo
from verification.checks.geometry_symbolic import check_l35a as check_l35a_symbolic
from verification.checks.geometry_symbolic_moments import check_f1 as check_f1_symbolic
from verification.checks.trained_coverage import check_d2_trained
from verification.registry import CheckFn, Outcome, Verdict

__all__ = ["check_d2", "check_f1", "check_l35a", "combine"]

#: From most to least severe; a joined verdict is the first one either part has.
_SEVERITY = (
    Verdict.REFUTED,
    Verdict.REFUTED_AS_STATED,
    Verdict.NOT_REPRODUCED,
    Verdict.UNTESTABLE,
    Verdict.PENDING,
    Verdict.REPRODUCED,
    Verdict.VERIFIED,
)


def combine(parts: Mapping[str, Outcome]) -> Outcome:
    """Join labelled outcomes: the most severe verdict, every part's evidence and data."""
    verdict = min((o.verdict for o in parts.values()), key=_SEVERITY.index)
    evidence = " ".join(f"{label}: {o.evidence}" for label, o in parts.items())
    return Outcome(verdict, evidence, {label: o.data for label, o in parts.items()})


def _twins(
    symbolic: CheckFn, monte_carlo: CheckFn, budget: Mapping[str, Any], rng: np.random.Generator
) -> Outcome:
    return combine(
        {
            "Symbolic": symbolic(budget.get("symbolic", {}), rng),
            "Monte Carlo": monte_carlo(budget.get("monte_carlo", {}), rng),
        }
    )


def check_l35a(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    """L3.5a: sympy derivation (against the typed formula and ``weight_moments``) and the Monte
    Carlo moment test of sampled W."""
    return _twins(check_l35a_symbolic, check_l35a_monte_carlo, budget, rng)


def check_f1(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    """F1: sympy derivation of Var(mean W_ij) = r vA vB (with its z-tests) and the Monte Carlo
    test of ``variance_matching_init`` for the Glorot and He targets."""
    return _twins(check_f1_symbolic, check_f1_monte_carlo, budget, rng)


def check_d2(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    """D2: coverage on the exact-risk threshold problem (every posterior of a family, the
    worst case included), on the near-worst-case fair-label design (where a width 0.8x as wide
    is refuted), and coverage of the certificates of trained models."""
    return combine(
        {
            "Exact-risk problem": check_d2_exact(budget.get("exact", {}), rng),
            "Near-worst case": check_d2_worst_case(budget.get("worst_case", {}), rng),
            "Trained models": check_d2_trained(budget.get("trained", {}), rng),
        }
    )
