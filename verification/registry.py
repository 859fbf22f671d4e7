r"""The one explicit registry of the paper's claims.

Every claim id of ``CLAIMS.md`` (sections 1 to 6 and the second pass of section 8, the empirical
claims X1-X6 included) has exactly one :class:`Claim` in :data:`CLAIMS`: its
statement, its kind, the function that checks it (``None`` while it is not implemented, giving
the verdict ``pending``), the budget of that check under each profile, and the command that
reproduces it. Generic tests run over this tuple, so a claim gets its tests by being registered.
The claims are written in one table per area (:mod:`verification.claim_table`); this module puts
them in the spec's order.
"""

from __future__ import annotations

from verification.claim_table import (
    counts,
    empirical,
    eym,
    gaussian_complexity,
    geometry,
    pac_bayes,
)
from verification.claim_types import (
    Budget,
    CheckFn,
    Claim,
    FigureSpec,
    Kind,
    Outcome,
    Profile,
    Verdict,
    claim_rng,
)

__all__ = [
    "CLAIMS",
    "SECOND_PASS_ORDER",
    "Budget",
    "CheckFn",
    "Claim",
    "FigureSpec",
    "Kind",
    "Outcome",
    "Profile",
    "Verdict",
    "claim_by_id",
    "claim_rng",
]

_TABLES = (counts, geometry, eym, pac_bayes, gaussian_complexity, empirical)
#: The order of section 8 of ``CLAIMS.md`` (the claims added in the second pass).
SECOND_PASS_ORDER = (
    "T3.8p",
    "P4",
    "P5",
    "B1",
    "E36",
    "E22",
    "F3u",
    "F4g",
    "X1",
    "X2",
    "X3",
    "X4",
    "X5",
    "X6",
)

_second = {c.id: c for table in _TABLES for c in table.SECOND_PASS}
if set(_second) - set(SECOND_PASS_ORDER):  # pragma: no cover - a table names an unknown id
    raise RuntimeError(
        f"second-pass claims outside the spec: {set(_second) - set(SECOND_PASS_ORDER)}"
    )

CLAIMS: tuple[Claim, ...] = tuple(c for table in _TABLES for c in table.CLAIMS) + tuple(
    _second[i] for i in SECOND_PASS_ORDER if i in _second
)

_BY_ID = {c.id: c for c in CLAIMS}
if len(_BY_ID) != len(CLAIMS):  # pragma: no cover - guards against a copy-paste slip
    raise RuntimeError("duplicate claim id in the registry")


def claim_by_id(claim_id: str) -> Claim:
    """The registered claim with this id; ``KeyError`` naming the known ids otherwise."""
    try:
        return _BY_ID[claim_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise KeyError(f"unknown claim id {claim_id!r}; known ids: {known}") from None
