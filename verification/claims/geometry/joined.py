"""Claims L3.5a and F1, each checked by two independent parts joined into one row: a sympy
derivation and a Monte Carlo test. Budgets are nested: ``{"symbolic": {...},
"monte_carlo": {...}}``.

References: claims L3.5a and F1 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verification.claims.geometry.init import check_f1_monte_carlo
from verification.claims.geometry.statistical import check_l35a_monte_carlo
from verification.claims.geometry.symbolic import check_l35a as check_l35a_symbolic
from verification.claims.geometry.symbolic_moments import check_f1 as check_f1_symbolic
from verification.claims.shared.outcomes import combine
from verification.registry import CheckFn, Outcome

__all__ = ["check_f1", "check_l35a"]


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
