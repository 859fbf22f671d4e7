"""Claims checked by independent parts (symbolic and Monte Carlo, or several designs), joined
into one row.

The verdict is the most severe of the parts (a refutation by any twin wins), and the evidence
keeps every part, labelled.

References: claims L3.5a, F1 and D2 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

from verification.registry import Outcome, Verdict

__all__ = ["SEVERITY", "combine"]

#: From most to least severe; a joined verdict is the first one any part has.
SEVERITY = (
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
    verdict = min((o.verdict for o in parts.values()), key=SEVERITY.index)
    evidence = " ".join(f"{label}: {o.evidence}" for label, o in parts.items())
    return Outcome(verdict, evidence, {label: o.data for label, o in parts.items()})
