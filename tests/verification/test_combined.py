"""Claims joined from a symbolic and a Monte Carlo twin (L3.5a, F1): the joined verdict and
evidence, and the joining rule of ``verification.claims.shared.outcomes``."""

from __future__ import annotations

import numpy as np
import pytest

from verification.claims.geometry import joined as combined
from verification.claims.shared.outcomes import combine
from verification.registry import Outcome, Profile, Verdict, claim_by_id, claim_rng


def test_combine_takes_the_most_severe_verdict_and_keeps_both_evidences() -> None:
    ok = Outcome(Verdict.VERIFIED, "all 12 cases hold", {"n": 12})
    bad = Outcome(Verdict.REFUTED, "counterexample at r = 2", {"r": 2})
    joined = combine({"Symbolic": ok, "Monte Carlo": bad})
    assert joined.verdict is Verdict.REFUTED
    assert joined.evidence == "Symbolic: all 12 cases hold Monte Carlo: counterexample at r = 2"
    assert joined.data == {"Symbolic": {"n": 12}, "Monte Carlo": {"r": 2}}
    assert combine({"a": ok, "b": ok}).verdict is Verdict.VERIFIED


@pytest.mark.parametrize(("claim_id", "fn"), [("L3.5a", "check_l35a"), ("F1", "check_f1")])
def test_joined_checks_verify_with_both_parts(claim_id: str, fn: str) -> None:
    claim = claim_by_id(claim_id)
    assert claim.check_fn() is getattr(combined, fn)
    outcome = getattr(combined, fn)(claim.budget(Profile.QUICK), claim_rng(claim_id))
    assert outcome.verdict is Verdict.VERIFIED
    assert outcome.evidence.startswith("Symbolic: ") and " Monte Carlo: " in outcome.evidence


def test_joined_check_is_refuted_when_one_twin_refutes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuting(budget, rng):  # type: ignore[no-untyped-def]
        return Outcome(Verdict.REFUTED, "the sampled variance is 3.0, not 2.0")

    monkeypatch.setattr(combined, "check_f1_monte_carlo", refuting)
    outcome = combined.check_f1(claim_by_id("F1").budget(Profile.QUICK), np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
