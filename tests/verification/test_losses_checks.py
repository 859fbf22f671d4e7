"""Checks C9 and CT (loss constants): verdicts, evidence, counterexamples, and that they fail."""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
import pytest

import verification.claims.eym.constants as lc
from theory.losses import Loss, make_loss
from verification.claims.eym.constants import ROUND_RTOL, TWIN_RTOL, audit_loss, check_c9, check_ct
from verification.registry import Outcome, Profile, Verdict, claim_by_id, claim_rng

#: Budgets proposed for the registry under the quick profile (the keys are the contract).
C9_QUICK = {"max_k": 5, "n_random": 500, "n_starts": 3, "n_pairs": 50}
CT_QUICK = {"max_k": 3, "n_random": 300, "n_starts": 2, "n_pairs": 100}
#: A smaller budget for the variants that patch a claim (k = 1, 2 only).
CT_TINY = {"max_k": 2, "n_random": 100, "n_starts": 1, "n_pairs": 50}


def _assert_markdown_safe(outcome: Outcome) -> None:
    assert "|" not in outcome.evidence
    assert "\n" not in outcome.evidence


@pytest.fixture(scope="module")
def c9_quick() -> Outcome:
    return check_c9(C9_QUICK, claim_rng("C9"))


@pytest.fixture(scope="module")
def ct_quick() -> Outcome:
    return check_ct(CT_QUICK, claim_rng("CT"))


@pytest.mark.parametrize(("claim_id", "budget"), [("C9", C9_QUICK), ("CT", CT_QUICK)])
def test_registry_budgets_are_the_ones_these_checks_read(claim_id: str, budget: Any) -> None:
    claim = claim_by_id(claim_id)
    if claim.check is None:
        pytest.skip(f"{claim_id} is not registered yet")
    assert dict(claim.budget(Profile.QUICK)) == budget


@pytest.mark.claim("C9")
def test_check_c9_quick_budget_verifies_sqrt2_tight_not_attained(c9_quick: Outcome) -> None:
    """C9: no point exceeds sqrt 2, the search comes within TWIN_RTOL, sympy agrees."""
    assert c9_quick.verdict is Verdict.VERIFIED, c9_quick.evidence
    data = c9_quick.data
    root2 = math.sqrt(2.0)
    assert data["max_found"] <= root2 * (1 + ROUND_RTOL)
    assert data["min_over_k_of_max_found"] >= root2 * (1 - TWIN_RTOL)
    gaps = list(data["approach_gaps"].values())
    assert all(0 <= b < a for a, b in itertools.pairwise(gaps))
    assert set(data["symbolic_residuals"].values()) == {"0"}
    assert data["symbolic_limit"] == "sqrt(2)"
    assert "counterexample" not in data
    _assert_markdown_safe(c9_quick)


@pytest.mark.claim("C9")
def test_check_c9_is_deterministic_given_the_rng() -> None:
    budget = {"max_k": 3, "n_random": 50, "n_starts": 1, "n_pairs": 20}
    assert check_c9(budget, np.random.default_rng(5)) == check_c9(budget, np.random.default_rng(5))


@pytest.mark.claim("C9")
def test_check_c9_refutes_a_constant_below_sqrt2(monkeypatch: pytest.MonkeyPatch) -> None:
    """C9 with a printed 1.41 (below sqrt 2 = 1.41421...) must be refuted at k = 2."""
    monkeypatch.setattr(lc, "C9_CLAIM", 1.41)
    outcome = check_c9({"max_k": 2, "n_random": 100, "n_starts": 1}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    k, (z, y) = outcome.data["counterexample"]
    assert k == 2
    assert np.linalg.norm(make_loss("softmax_ce", k=2).grad(z, y)) > 1.41
    assert outcome.data["max_found"] > 1.41
    _assert_markdown_safe(outcome)


@pytest.mark.claim("CT")
def test_check_ct_quick_budget_refutes_as_stated_with_smallest_counterexamples(
    ct_quick: Outcome,
) -> None:
    """CT: CE 'Hessian eigenvalues <= 1/4' fails at k = 2 (z = 0); every other printed
    constant, the scalar MAE's L = 1 included, is valid and tight."""
    assert ct_quick.verdict is Verdict.REFUTED_AS_STATED, ct_quick.evidence
    counters = {(c["loss"], c["which"]): c for c in ct_quick.data["counterexamples"]}
    assert set(counters) == {("softmax_ce (k = 2)", "smoothness")}
    ce = counters[("softmax_ce (k = 2)", "smoothness")]
    assert (ce["z"], ce["claimed"], ce["true"]) == ([0.0, 0.0], 0.25, 0.5)
    assert ce["at_point"] == pytest.approx(0.5, rel=ROUND_RTOL)
    assert ce["secant_to"] in ([1.0, -1.0], [-1.0, 1.0])
    assert ce["secant_quotient"] == pytest.approx(1 / (1 + math.exp(-2)) - 0.5, rel=1e-12)
    assert ce["descent_fails"] is True
    rows = ct_quick.data["rows"]
    for row in rows:
        for which in ("lipschitz", "smoothness"):
            c = row[which]
            if c["claimed"] is None:
                continue
            if (row["family"], which) == ("softmax_ce", "smoothness"):
                assert c["valid"] is False, row["loss"]
                continue
            assert (c["valid"], c["tight"]) == (True, True), (row["loss"], which)
    assert {(r["family"], r["k"]) for r in rows} >= {("softmax_ce", 3), ("mse", 3), ("bce", 1)}
    assert "1/4 is the one-logit sigmoid (BCE) curvature" in ct_quick.evidence
    _assert_markdown_safe(ct_quick)


@pytest.mark.claim("CT")
def test_check_ct_reads_mae_as_the_papers_scalar_loss(ct_quick: Outcome) -> None:
    """CT: the paper's MAE is |z - y| on one output, L = 1 valid, tight and attained; the
    k-output MAE is our extension (no claim, never a verdict), reported as ours."""
    rows = ct_quick.data["rows"]
    scalar = [r for r in rows if r["family"] == "mae"]
    assert [r["k"] for r in scalar] == [1]
    lip = scalar[0]["lipschitz"]
    assert (lip["claimed"], lip["true"], lip["valid"], lip["tight"], lip["attained"]) == (
        1.0,
        1.0,
        True,
        True,
        True,
    )
    ours = [r for r in rows if r["name"] == "mae" and r["k"] > 1]
    assert {(r["family"], r["k"]) for r in ours} == {
        (f"mae on k outputs, {red} (ours)", k) for red in ("sum", "mean") for k in (2, 3)
    }
    for r in ours:
        assert r["lipschitz"]["claimed"] is None and r["lipschitz"]["valid"] is None
        scale = 1.0 if "sum" in r["family"] else 1.0 / r["k"]
        assert r["lipschitz"]["true"] == pytest.approx(scale * math.sqrt(r["k"]), rel=ROUND_RTOL)
    assert "mae: L claimed 1, true 1 (1; attained): valid and tight" in ct_quick.evidence
    assert lc.EXTENSION_NOTE in ct_quick.evidence
    assert "mae (k = 2" not in ct_quick.evidence


@pytest.mark.claim("CT")
def test_check_ct_verifies_once_the_table_is_corrected(monkeypatch: pytest.MonkeyPatch) -> None:
    """CT with the corrected CE smoothness (1/2) must be verified: nothing else is wrong."""
    real = lc.ct_cases

    def corrected(max_k: int) -> list[Loss]:
        out = []
        for loss in real(max_k):
            if loss.name == "softmax_ce":
                loss = loss.with_claims(loss.claimed_lipschitz, 0.5)
            out.append(loss)
        return out

    monkeypatch.setattr(lc, "ct_cases", corrected)
    outcome = check_ct(CT_TINY, np.random.default_rng(1))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert lc.EXTENSION_NOTE in outcome.evidence
    _assert_markdown_safe(outcome)


@pytest.mark.claim("CT")
def test_check_ct_refutes_a_scalar_mae_constant_below_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With CE corrected, a printed scalar-MAE L = 0.9 must be refuted at k = 1, z != y."""
    real = lc.ct_cases

    def wrong(max_k: int) -> list[Loss]:
        out = []
        for loss in real(max_k):
            if loss.name == "softmax_ce":
                loss = loss.with_claims(loss.claimed_lipschitz, 0.5)
            if loss.name == "mae" and loss.k == 1:
                loss = loss.with_claims(0.9, None)
            out.append(loss)
        return out

    monkeypatch.setattr(lc, "ct_cases", wrong)
    outcome = check_ct(CT_TINY, np.random.default_rng(3))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED
    (mae,) = outcome.data["counterexamples"]
    assert (mae["loss"], mae["which"], mae["z"], mae["y"]) == (
        "mae (k = 1)",
        "lipschitz",
        [1.0],
        [0.0],
    )
    assert mae["secant_quotient"] == pytest.approx(1.0, rel=1e-12)


@pytest.mark.claim("CT")
@pytest.mark.parametrize(
    ("name", "which", "first"),
    [
        ("mae", "lipschitz", "mae (k = 1)"),
        ("mse", "lipschitz", "mse (k = 1, radius 0.5)"),
        ("mse", "smoothness", "mse (k = 1, radius 0.5)"),
        ("softmax_ce", "lipschitz", "softmax_ce (k = 2)"),
        ("bce", "lipschitz", "bce (k = 1)"),
        ("hinge", "lipschitz", "hinge (k = 1)"),
    ],
)
def test_check_ct_has_power_for_every_printed_constant(
    monkeypatch: pytest.MonkeyPatch, name: str, which: str, first: str
) -> None:
    """CT: with CE's beta corrected (so the table is otherwise right), any one printed constant
    shrunk by a relative 1e-6 is refuted as stated, with its own smallest counterexample. (A
    registered mutant cannot show this: the verdict stays refuted-as-stated.)"""
    real = lc.ct_cases

    def shrunk(max_k: int) -> list[Loss]:
        out = []
        for loss in real(max_k):
            lip, beta = loss.claimed_lipschitz, loss.claimed_smoothness
            if loss.name == "softmax_ce":
                beta = 0.5
            if loss.name == name:
                if which == "lipschitz" and lip is not None:
                    lip *= 1 - 1e-6
                if which == "smoothness" and beta is not None:
                    beta *= 1 - 1e-6
            out.append(loss.with_claims(lip, beta))
        return out

    monkeypatch.setattr(lc, "ct_cases", shrunk)
    outcome = check_ct(CT_TINY, np.random.default_rng(4))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert [(c["loss"], c["which"]) for c in outcome.data["counterexamples"]] == [(first, which)]


@pytest.mark.claim("CT")
def test_check_ct_refutes_a_wrong_mse_smoothness(monkeypatch: pytest.MonkeyPatch) -> None:
    """A printed MSE beta = 0.9 (true 1) must be caught at k = 1 with a counterexample."""
    real = lc.ct_cases

    def wrong(max_k: int) -> list[Loss]:
        return [
            loss.with_claims(loss.claimed_lipschitz, 0.9) if loss.name == "mse" else loss
            for loss in real(max_k)
        ]

    monkeypatch.setattr(lc, "ct_cases", wrong)
    outcome = check_ct(CT_TINY, np.random.default_rng(2))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED
    mse = [c for c in outcome.data["counterexamples"] if c["loss"].startswith("mse")]
    assert len(mse) == 1
    assert (mse[0]["loss"], mse[0]["at_point"], mse[0]["claimed"]) == (
        "mse (k = 1, radius 0.5)",
        1.0,
        0.9,
    )
    assert "mse (k = 1, radius 0.5) beta claimed 0.9, true 1" in outcome.evidence


@pytest.mark.claim("CT")
def test_audit_loss_raises_when_the_twins_disagree() -> None:
    """An analytic constant the search beats is a toolkit bug: the check raises, no verdict."""
    bce = make_loss("bce")
    broken = dataclasses.replace(bce, truth=dataclasses.replace(bce.truth, smoothness=0.2))
    with pytest.raises(
        RuntimeError, match=r"twins disagree for bce \(k = 1\): .*above beta = 0.2$"
    ):
        audit_loss(broken, np.random.default_rng(0), {"n_random": 100, "n_starts": 1})
    hinge = make_loss("hinge")
    smooth = dataclasses.replace(hinge, truth=dataclasses.replace(hinge.truth, smoothness=1.0))
    with pytest.raises(RuntimeError, match="gradient quotient"):
        audit_loss(smooth, np.random.default_rng(0), {"n_random": 100, "n_starts": 1})


@pytest.mark.parametrize("check", [check_c9, check_ct])
def test_loss_checks_reject_bad_budgets(check: Any) -> None:
    with pytest.raises(ValueError, match=r"`budget\['max_k'\]` must be an int in \[2, inf\]"):
        check({"max_k": 1}, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"`budget\['n_random'\]` must be an int"):
        check({"max_k": 2, "n_random": 1.5}, np.random.default_rng(0))
