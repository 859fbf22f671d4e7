"""The measurement behind T3.8p (per-layer per-coordinate KLs of trained posteriors, against
theory's twins) and T3.8c, which keeps only its exact iff condition."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrbnn_core import MLP, GaussianPrior, ScaleMixturePrior, balance_gauge, model_kl, set_prior
from lrbnn_core.base import bayesian_modules
from theory.pac_bayes import gaussian_kl_elementwise
from verification.claims.pac_bayes.symbolic import check_t38c
from verification.claims.trained.kl import (
    MIXTURE_READINGS,
    PriorFamily,
    layer_coordinate_kls,
    prior_settings,
    trained_layer_table,
)
from verification.claims.trained.mixture_kl import scale_mixture_kl_elementwise
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

TINY = {"ranks": (2,), "epochs": 2, "hidden": 16}


def _net(prior: GaussianPrior | ScaleMixturePrior, kind: str = "low_rank") -> MLP:
    return MLP(
        (5, 4, 3),
        kind,
        rank=2,
        prior=prior,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0),
    )


def test_gaussian_kls_match_theory_and_sum_to_the_model_kl() -> None:
    net = _net(GaussianPrior(0.3))
    kls = [layer_coordinate_kls(layer) for layer in bayesian_modules(net)]
    twin = np.concatenate(
        [
            gaussian_kl_elementwise(m.detach().numpy(), s.detach().numpy(), 0.0, 0.3).ravel()
            for layer in net.layers
            for m, s in layer.factor_posteriors().values()
        ]
    )
    flat = np.concatenate([k for k, _ in kls])
    np.testing.assert_allclose(flat, twin, rtol=1e-12)
    assert flat.sum() == pytest.approx(float(model_kl(net).detach()), rel=1e-12)
    assert all(info == {} for _, info in kls)


def test_data_dependent_kls_use_the_per_entry_centres_and_stds() -> None:
    net, centre = _net(GaussianPrior(1.0), "mean_field"), _net(GaussianPrior(1.0), "mean_field")
    with torch.no_grad():
        for p in centre.parameters():
            p.add_(0.1)
    set_prior(net, GaussianPrior(1.0), centre=centre, centre_std_scale=2.0)
    layer, source = net.layers[0], centre.layers[0]
    kls, _ = layer_coordinate_kls(layer)
    twin = np.concatenate(
        [
            gaussian_kl_elementwise(
                m.detach().numpy(),
                s.detach().numpy(),
                source.factor_posteriors()[name][0].detach().numpy(),
                2.0 * source.factor_posteriors()[name][1].detach().numpy(),
            ).ravel()
            for name, (m, s) in layer.factor_posteriors().items()
        ]
    )
    np.testing.assert_allclose(kls, twin, rtol=1e-12)


def test_mixture_kls_are_exact_with_their_twins() -> None:
    prior = ScaleMixturePrior(0.5, 1.0, math.exp(-3.0))
    layer = _net(prior).layers[0]
    kls, info = layer_coordinate_kls(layer, np.random.default_rng(0))
    twin = np.concatenate(
        [
            scale_mixture_kl_elementwise(
                m.detach().numpy(), s.detach().numpy(), pi=0.5, std1=1.0, std2=math.exp(-3.0)
            ).ravel()
            for m, s in layer.factor_posteriors().values()
        ]
    )
    np.testing.assert_array_equal(kls, twin)
    assert set(info) == {"quadrature_error", "bound_excess", "mc_z"}
    assert info["bound_excess"] <= 0.0 and info["quadrature_error"] < 1e-12
    # the exact KL is below the declared bound that lrbnn_core's layer reports
    assert kls.sum() <= float(layer.kl().detach())


def test_prior_settings_cover_the_claim_and_refuse_unknown_readings() -> None:
    settings = prior_settings({})
    families = [s.family for s in settings]
    assert families.count(PriorFamily.GAUSSIAN) == 3
    assert families.count(PriorFamily.DATA_DEPENDENT) == 1
    mixtures = [s for s in settings if s.family is PriorFamily.MIXTURE]
    assert [s.value for s in mixtures] == [math.exp(-6.0), math.exp(-3.0)]
    assert [s.prior() for s in mixtures][1] == ScaleMixturePrior(0.5, 1.0, math.exp(-3.0))
    assert set(MIXTURE_READINGS) == {"std", "variance"}
    with pytest.raises(ValueError, match="mixture_readings"):
        prior_settings({"mixture_readings": ("e^-6",)})


@pytest.mark.claim("T3.8p")
def test_trained_table_rows_are_per_layer_and_balanced() -> None:
    settings = prior_settings(
        {"gaussian_stds": (0.3,), "mixture_readings": ("std",), "data_std_scales": (1.0,)}
    )
    rows = trained_layer_table(TINY, settings, 0, np.random.default_rng(0))
    assert len(rows) == 3 * 2 * 2  # settings x (mean field, r = 2) x layers
    for row in rows:
        m, n = row["shape"]
        expected = m * n if row["kind"] == "mean_field" else row["layer_rank"] * (m + n)
        assert row["D"] == expected
        assert row["c_mean"] == pytest.approx(row["kl"] / row["D"])
        assert row["c_mean"] <= row["c_max"]
    assert {r["shape"] for r in rows} == {(16, 64), (10, 16)}
    mixture = [r for r in rows if r["setting"].startswith("mixture")]
    assert all("mc_z" in r for r in mixture)
    assert all("mc_z" not in r for r in rows if r not in mixture)


def test_balanced_gauge_is_a_fixed_point_after_training() -> None:
    """What the table measures is balanced: balancing again gains nothing beyond rounding."""
    from verification.claims.trained import kl as trained_kl

    model = trained_kl._trained(
        trained_kl.load_dataset("digits", seed=0),
        prior_settings({"gaussian_stds": (0.3,)})[0],
        "low_rank",
        2,
        hidden=16,
        epochs=2,
        seed=0,
        prior_models={},
    )
    assert (
        trained_kl._balance(model, prior_settings({"gaussian_stds": (0.3,)})[0])[
            "bound_or_closed_form"
        ]
        > 0.0
    )
    assert balance_gauge(model) == pytest.approx(0.0, abs=1e-3)


@pytest.mark.claim("T3.8c")
def test_t38c_is_the_exact_condition_only() -> None:
    """No trained part: the verdict is the iff's (sympy and exact arithmetic) alone."""
    claim = claim_by_id("T3.8c")
    assert claim.check == "verification.claims.pac_bayes.symbolic:check_t38c"
    assert set(claim.budget(Profile.QUICK)) == {"n_cases"}
    outcome = check_t38c({"n_cases": 50}, claim_rng("T3.8c"))
    assert outcome.verdict is Verdict.VERIFIED
    assert outcome.evidence.startswith("sympy shows")
    assert "Trained" not in outcome.evidence and "C_mean" not in outcome.evidence
