"""Claim D2 checked on three designs joined into one row: the exact-risk threshold problem, the
near-worst-case fair-label design and the certificates of trained models. Budgets are nested:
``{"exact": {...}, "worst_case": {...}, "trained": {...}}``.

References: claim D2 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from verification.claims.pac_bayes.coverage import check_d2 as check_d2_exact
from verification.claims.pac_bayes.coverage_worst_case import check_d2_worst_case
from verification.claims.pac_bayes.trained_coverage import check_d2_trained
from verification.claims.shared.outcomes import combine
from verification.registry import Outcome

__all__ = ["check_d2"]


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
