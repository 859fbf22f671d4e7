"""The mutation registry: for every claim, named mutants under which its check's verdict must
change (``lrbnn check --mutants``).

The mutants are written in one module per area, beside the claim tables; :data:`MUTANTS` joins
them in registry order.
"""

from __future__ import annotations

from verification.mutation import (
    counts,
    empirical,
    eym,
    gaussian_complexity,
    geometry,
    pac_bayes,
)
from verification.mutation.core import Aim, Mutant, Patch, replace, wrap
from verification.mutation.runner import MutantResult, clear_caches, render_mutants, run_mutants
from verification.registry import CLAIMS

__all__ = [
    "MUTANTS",
    "Aim",
    "Mutant",
    "MutantResult",
    "Patch",
    "clear_caches",
    "mutants_for",
    "render_mutants",
    "replace",
    "run_mutants",
    "wrap",
]

_ORDER = {c.id: i for i, c in enumerate(CLAIMS)}
_ALL = (
    *counts.MUTANTS,
    *geometry.MUTANTS,
    *eym.MUTANTS,
    *pac_bayes.MUTANTS,
    *gaussian_complexity.MUTANTS,
    *empirical.MUTANTS,
)
#: Every mutant, in the order of the claims they target (unknown claim ids sort last and fail
#: the registry test).
MUTANTS: tuple[Mutant, ...] = tuple(sorted(_ALL, key=lambda m: _ORDER.get(m.claim, len(_ORDER))))


def mutants_for(claim_id: str) -> tuple[Mutant, ...]:
    """The registered mutants of one claim."""
    return tuple(m for m in MUTANTS if m.claim == claim_id)
