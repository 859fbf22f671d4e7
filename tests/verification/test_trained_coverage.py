"""D2 with trained models: the coverage check of certificates on the teacher-student task."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lrbnn_core.data import Decay, TaskKind, make_teacher_student_task
from verification.claims.pac_bayes import trained_coverage as tc
from verification.claims.pac_bayes.joined import check_d2
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: A small size for CI: 8 repetitions of a tiny problem.
SMALL = {"n_repeats": 8, "n_train": 200, "epochs": 8, "n_mc": 100, "n_fresh": 4000, "n_true_mc": 20}


@pytest.mark.claim("D2")
def test_trained_coverage_small_size_verifies_and_has_power() -> None:
    """Every certificate covers at its confidence, and the naive certificate (training risk,
    no complexity term) is rejected by the same binomial test: the test can fail."""
    outcome = tc.check_d2_trained(SMALL, np.random.default_rng(7))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    rows = outcome.data["rows"]
    k = SMALL["n_repeats"]
    for name in (*tc.BOUNDS, "naive"):
        v = rows[name]["violations"]
        twin = sum(r["true"] > r[name] for r in outcome.data["repetitions"])
        assert v == twin
        expected_p = stats.binom.sf(v - 1, k, tc.DELTA + tc.MC_DELTA) if v else 1.0
        assert rows[name]["p_value"] == pytest.approx(expected_p)
    assert rows["naive"]["p_value"] < tc.ALPHA / len(tc.BOUNDS)
    for rep in outcome.data["repetitions"]:  # the bounds' order: kl-inverse <= McAllester
        assert rep["kl_inverse"] <= rep["mcallester"] + 1e-12
        assert rep["naive"] <= rep["kl_inverse"]


def test_a_certificate_that_is_too_small_is_refuted(monkeypatch) -> None:
    """Power on the real path: if certify's kl-inverse bound were the training risk, the
    check must say refuted."""
    real = tc.coverage_repetition

    def shrunk(task, settings, seed):
        out = real(task, settings, seed)
        out["kl_inverse"] = out["naive"]
        return out

    monkeypatch.setattr(tc, "coverage_repetition", shrunk)
    outcome = tc.check_d2_trained(SMALL, np.random.default_rng(7))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Coverage fails for kl_inverse")


def test_coverage_repetition_true_risk_is_fresh() -> None:
    """The true risk comes from fresh samples of the same teacher (not the training set)."""
    task = make_teacher_student_task(
        5, 3, kind=TaskKind.CLASSIFICATION, decay=Decay.POWER_LAW, seed=1
    )
    settings = tc._settings({**SMALL, "in_features": 5, "n_classes": 3})
    out = tc.coverage_repetition(task, settings, 3)
    assert 0.0 <= out["true"] <= 1.0 and out["true_se"] > 0
    assert out["mcallester"] >= out["kl_inverse"] - 1e-12


def test_d2_budgets_are_nested() -> None:
    for profile in Profile:
        budget = claim_by_id("D2").budget(profile)
        assert set(budget) == {"exact", "worst_case", "trained"}


@pytest.mark.slow
@pytest.mark.claim("D2")
def test_joined_d2_thorough_budget_verifies() -> None:
    budget = claim_by_id("D2").budget(Profile.THOROUGH)
    assert check_d2(budget, claim_rng("D2")).verdict is Verdict.VERIFIED
