"""T3.8c measured on trained posteriors: the per-coordinate KLs against theory's Gaussian KL,
and the joined check's verdict and evidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbnn_core import MLP, GaussianPrior, model_kl, set_prior
from theory.pac_bayes import gaussian_kl_elementwise
from verification.checks.combined import check_t38c
from verification.checks.trained_kl import check_t38c_trained, per_coordinate_kls
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

TINY = {"ranks": (2,), "epochs": 2, "hidden": 16, "prior_stds": (0.1, 1.0)}


def test_per_coordinate_kls_match_theory_and_sum_to_the_model_kl() -> None:
    net = MLP(
        (5, 4, 3),
        "low_rank",
        rank=2,
        prior=GaussianPrior(0.3),
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0),
    )
    kls = per_coordinate_kls(net)
    twin = np.concatenate(
        [
            gaussian_kl_elementwise(m.detach().numpy(), s.detach().numpy(), 0.0, 0.3).ravel()
            for layer in net.layers
            for m, s in layer.factor_posteriors().values()
        ]
    )
    np.testing.assert_allclose(kls, twin, rtol=1e-12)
    assert kls.sum() == pytest.approx(float(model_kl(net).detach()), rel=1e-12)


def test_per_coordinate_kls_reject_centred_priors() -> None:
    net = MLP((5, 3), "mean_field", generator=torch.Generator().manual_seed(0))
    set_prior(net, GaussianPrior(1.0), centre=net)
    with pytest.raises(ValueError, match="zero-mean isotropic Gaussian priors"):
        per_coordinate_kls(net)


@pytest.mark.claim("T3.8c")
def test_trained_check_reports_every_rank_and_prior() -> None:
    """The measured part: one row per model and prior, ratios consistent with the rows."""
    outcome = check_t38c_trained(TINY, np.random.default_rng(0))
    assert outcome.verdict is Verdict.VERIFIED
    for key in ("0.1", "1.0"):
        rows = outcome.data["tables"][key]
        assert [r["kind"] for r in rows] == ["mean_field", "low_rank"]
        full, low = rows
        assert low["D"] == 2 * (64 + 16) + 2 * (16 + 10)  # r (m + n) per layer, no bias
        assert full["D"] == 64 * 16 + 16 * 10
        assert low["c_ratio"] == pytest.approx(low["c_mean"] / full["c_mean"])
        assert low["measured_complexity_ratio"] == pytest.approx(np.sqrt(low["kl"] / full["kl"]))
    assert "prior N(0, 0.1^2)" in outcome.evidence and "|" not in outcome.evidence


@pytest.mark.claim("T3.8c")
def test_joined_t38c_budget_and_labels() -> None:
    budget = claim_by_id("T3.8c").budget(Profile.QUICK)
    assert set(budget) == {"formula", "trained"}
    outcome = check_t38c({"formula": {"n_cases": 50}, "trained": TINY}, claim_rng("T3.8c"))
    assert outcome.evidence.startswith("Condition: ")
    assert "Trained posteriors: " in outcome.evidence
