"""Check E11 (Monte Carlo averages converge to the predictive mean, which lies in the hull of the
sampled outputs): verdict, power, and the exact means it rests on, against Monte Carlo twins."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import verification.claims.complexity.predictive as gp
from theory.geometry import FactorPosterior, output_moments
from verification.claims.complexity.predictive import (
    Activation,
    check_e11,
    linear_mean,
    linear_output_variance,
    mean_in_hull,
    random_layers,
    relu_rank1_mean,
    sample_network_outputs,
)
from verification.registry import Verdict, claim_rng

QUICK = {
    "sample_sizes": [4, 16, 64, 256, 1024],
    "n_replicates": 200,
    "n_reference": 100_000,
    "hull_sizes": [4, 8, 16, 32, 64, 128, 256],
    "hull_replicates": 5,
}
#: False-failure probability of each Monte Carlo assertion of this file (Bonferroni inside).
ALPHA = 1e-6
#: A small budget for the tests that break something on purpose.
SMALL = {
    "sample_sizes": [16, 1024],
    "n_replicates": 50,
    "n_reference": 20_000,
    "hull_sizes": [8, 64],
    "hull_replicates": 2,
}


def _rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_sampler_draws_a_then_b_and_computes_w_x() -> None:
    """One linear layer: the sampler's outputs are X B A^T of the draws A then B."""
    g = _rng()
    (layer,) = random_layers((3, 2), (2,), g)
    x = g.standard_normal((5, 3))
    out = sample_network_outputs(
        [layer], x, activation=Activation.RELU, n_samples=4, rng=np.random.default_rng(1)
    )
    twin = np.random.default_rng(1)
    a = layer.mu_a + layer.sigma_a * twin.standard_normal((4, 2, 2))
    b = layer.mu_b + layer.sigma_b * twin.standard_normal((4, 3, 2))
    np.testing.assert_allclose(out, np.einsum("md,sdr,skr->smk", x, b, a), rtol=1e-13)


def test_linear_output_variance_is_output_moments_per_coordinate() -> None:
    g = _rng()
    (layer,) = random_layers((4, 3), (2,), g)
    x = g.standard_normal((6, 4))
    var = linear_output_variance(layer, x)
    _, total = output_moments(layer.mu_a, layer.sigma_a, layer.mu_b, layer.sigma_b, x)
    np.testing.assert_allclose(var.sum(axis=1), total, rtol=1e-13)


def test_linear_mean_and_variance_against_monte_carlo() -> None:
    """z-tests (Bonferroni over 2 m k statistics at ALPHA) of the sampled mean and variance."""
    g = _rng()
    (layer,) = random_layers((4, 2), (2,), g)
    x = g.standard_normal((3, 4))
    out = sample_network_outputs([layer], x, activation=Activation.RELU, n_samples=200_000, rng=g)
    z_crit = stats.norm.isf(ALPHA / (2 * 12))
    mean, var = linear_mean(layer, x), linear_output_variance(layer, x)
    assert (np.abs(out.mean(axis=0) - mean) <= z_crit * np.sqrt(var / out.shape[0])).all()
    sq = (out - mean) ** 2
    assert (np.abs(sq.mean(axis=0) - var) <= z_crit * sq.std(axis=0) / np.sqrt(sq.shape[0])).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relu_rank1_mean_against_monte_carlo(seed: int) -> None:
    """The closed form against 200k sampled networks (z-test per coordinate, Bonferroni)."""
    g = np.random.default_rng(seed)
    layers = random_layers((3, 4, 2), (1, 2), g)
    x = g.standard_normal((3, 3))
    out = sample_network_outputs(layers, x, activation=Activation.RELU, n_samples=200_000, rng=g)
    z = (out.mean(axis=0) - relu_rank1_mean(layers, x)) / (
        out.std(axis=0, ddof=1) / np.sqrt(out.shape[0])
    )
    assert np.abs(z).max() <= stats.norm.isf(ALPHA / (2 * z.size))


def test_relu_rank1_mean_refuses_other_architectures() -> None:
    layers = random_layers((3, 4, 2), (2, 2), _rng())
    with pytest.raises(ValueError, match="two layers, the first of rank 1"):
        relu_rank1_mean(layers, np.ones((2, 3)))


def test_mean_in_hull_on_a_square() -> None:
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert mean_in_hull(corners, np.array([0.5, 0.5]))
    assert mean_in_hull(corners, np.array([1.0, 1.0]))
    assert not mean_in_hull(corners, np.array([1.01, 0.5]))
    assert not mean_in_hull(corners[:2], np.array([0.5, 0.5]))


@pytest.mark.claim("E11")
def test_check_e11_quick_budget_verifies() -> None:
    """E11: errors decay like sqrt(V/S) (z within the critical value, slopes near -1/2), and
    every sample set of the largest size contains the mean."""
    outcome = check_e11(QUICK, claim_rng("E11"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    data = outcome.data
    assert data["max_abs_z"] <= data["z_crit"]
    assert all(-0.6 < s < -0.4 for s in data["slopes"])
    assert all(c[-1] == QUICK["hull_replicates"] for c in data["hull"].values())
    assert all(c[0] == 0 for c in data["hull"].values())  # 4 points in R^8: never


@pytest.mark.claim("E11")
def test_check_e11_refutes_a_biased_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    """E11: the check can fail: a target off the true mean by 5% of a standard deviation per
    coordinate is found by the large-S tests."""
    true = gp.linear_mean

    def biased(layer: FactorPosterior, x: np.ndarray) -> np.ndarray:
        return true(layer, x) + 0.05 * np.sqrt(linear_output_variance(layer, x))

    monkeypatch.setattr(gp, "linear_mean", biased)
    outcome = check_e11(SMALL, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert any("1 layer linear, S = 1024" in f for f in outcome.data["failures"])


@pytest.mark.claim("E11")
def test_check_e11_refutes_relu_of_the_mean(monkeypatch: pytest.MonkeyPatch) -> None:
    """E11: E ReLU(z) is not ReLU(E z) (Jensen): that 'mean' is refuted, and it lies outside
    the hull of the sampled outputs."""

    def plug_in(layers, x):
        first, second = layers
        return np.maximum(x @ first.mu_b @ first.mu_a.T, 0.0) @ second.mu_b @ second.mu_a.T

    monkeypatch.setattr(gp, "relu_rank1_mean", plug_in)
    outcome = check_e11(SMALL, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert any(f.startswith("2 layers ReLU r1 = 1") for f in outcome.data["failures"])


@pytest.mark.claim("E11")
def test_check_e11_refutes_a_target_outside_the_hull(monkeypatch: pytest.MonkeyPatch) -> None:
    """E11: the hull part can fail: a point far outside the support is in no sampled hull."""
    monkeypatch.setattr(
        gp, "linear_mean", lambda layer, x: 100.0 + 0 * (x @ layer.mu_b @ layer.mu_a.T)
    )
    outcome = check_e11(SMALL, _rng())
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.data["hull"]["1 layer linear"] == [0, 0]


def test_check_e11_rejects_a_bad_budget() -> None:
    with pytest.raises(ValueError, match=r"`budget\['n_replicates'\]` must be an int in \[2"):
        check_e11({"n_replicates": 1}, _rng())
