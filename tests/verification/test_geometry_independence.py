"""Claim L3.5b: independence without a shared index, correlation with one, mean-field diagonal."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import theory.factor_posterior as factor_posterior
import theory.geometry as geometry
import verification.claims.geometry.independence as gi
from verification.claims.geometry.independence import check_l35b, entry_pairs, pair_z
from verification.claims.geometry.statistical import random_posterior
from verification.registry import Profile, Verdict, claim_by_id, claim_rng


@pytest.fixture(scope="module")
def quick_outcome() -> Any:
    return check_l35b(claim_by_id("L3.5b").budget(Profile.QUICK), claim_rng("L3.5b"))


@pytest.mark.claim("L3.5b")
def test_check_l35b_quick_budget_verifies(quick_outcome: Any) -> None:
    """L3.5b: no dependence without a shared index (entries and squares), correlation with
    one, diagonal mean-field covariance; power shown on both kinds of dependence."""
    assert quick_outcome.verdict is Verdict.VERIFIED, quick_outcome.evidence
    assert "|" not in quick_outcome.evidence and "\n" not in quick_outcome.evidence
    data = quick_outcome.data
    assert all(v <= data["z_crit"] for v in data["null_max_abs_z"].values())
    assert all(v > data["z_crit"] for v in data["power_min_abs_z"].values())
    assert data["zero_means_offdiag"] == 0.0
    low, high = data["rho_exact_range"]
    assert 0.0 < low <= high < 1.0


@pytest.mark.parametrize(("m", "n"), [(1, 1), (1, 4), (3, 1), (4, 3), (5, 5)])
def test_entry_pairs_partition_every_pair(m: int, n: int) -> None:
    pairs = entry_pairs(m, n)
    every = pairs["neither"] + pairs["row"] + pairs["column"]
    assert sorted(every) == [(p, q) for p in range(m * n) for q in range(p + 1, m * n)]
    assert len(pairs["row"]) == m * n * (n - 1) // 2
    assert len(pairs["column"]) == n * m * (m - 1) // 2
    for p, q in pairs["neither"]:
        assert p // n != q // n and p % n != q % n


def test_pair_z_uses_the_requested_functions(rng: np.random.Generator) -> None:
    x = rng.standard_normal((400, 3))
    z = pair_z(x, [(0, 2)], "x2", "x")
    xs = x[:, 0] ** 2
    rho = np.corrcoef(xs, x[:, 2])[0, 1]
    assert z[0] == pytest.approx(np.sqrt(400) * rho, rel=1e-10)


def _common_shock(real: Any) -> Any:
    """A sampler whose draws share one scalar across all entries: every pair is dependent."""

    def sampler(*args: Any, n_samples: int, rng: np.random.Generator) -> Any:
        w = real(*args, n_samples=n_samples, rng=rng)
        return w + 0.5 * rng.standard_normal((n_samples, 1, 1))

    return sampler


@pytest.mark.claim("L3.5b")
def test_check_l35b_refutes_dependence_without_a_shared_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """L3.5b check can fail: a common shock makes entries sharing no index correlated."""
    monkeypatch.setattr(gi, "sample_weights", _common_shock(geometry.sample_weights))
    outcome = check_l35b({"n_samples": 5000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("Independence rejected (low-rank, no shared index)")


@pytest.mark.claim("L3.5b")
def test_check_l35b_refutes_a_non_diagonal_mean_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """L3.5b check can fail on its mean-field part."""

    def shocked(mu_w: Any, sigma_w: Any, *, n_samples: int, rng: np.random.Generator) -> Any:
        w = geometry.sample_mean_field(mu_w, sigma_w, n_samples=n_samples, rng=rng)
        return w + 0.5 * sigma_w * rng.standard_normal((n_samples, 1, 1))

    monkeypatch.setattr(gi, "sample_mean_field", shocked)
    outcome = check_l35b({"n_samples": 5000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert "mean-field" in outcome.evidence.split(".")[0]


@pytest.mark.claim("L3.5b")
def test_check_l35b_is_untestable_without_power(monkeypatch: pytest.MonkeyPatch) -> None:
    """With zero factor means everywhere no shared-index pair is correlated: the power
    statistics fail, so the verdict cannot be 'verified'."""

    def zero_means(m: int, n: int, r: int, rng: np.random.Generator, **kw: Any) -> Any:
        post = random_posterior(m, n, r, rng, **kw)
        return geometry.FactorPosterior(
            np.zeros((m, r)), post.sigma_a, np.zeros((n, r)), post.sigma_b
        )

    monkeypatch.setattr(gi, "random_posterior", zero_means)
    outcome = check_l35b({"n_samples": 5000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.UNTESTABLE


@pytest.mark.claim("L3.5b")
def test_check_l35b_refutes_the_toolkit_when_weight_moments_disagrees(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """L3.5b: a wrong weight_moments (no cross covariances) refutes the toolkit's account of
    the correlations; the evidence says it is the toolkit's fault, not the paper's."""
    real = geometry.weight_moments

    def diagonal(*args: Any) -> Any:
        mean, cov = real(*args)
        return mean, np.diag(np.diag(cov))

    monkeypatch.setattr(geometry, "weight_moments", diagonal)
    monkeypatch.setattr(factor_posterior, "weight_moments", diagonal)
    outcome = check_l35b({"n_samples": 5000}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("The toolkit's samples of W are inconsistent")
    assert outcome.data["toolkit_error"] == ["moments"]


def test_check_l35b_is_deterministic_and_checks_its_budget() -> None:
    first = check_l35b({"n_samples": 300}, np.random.default_rng(8))
    assert first.evidence == check_l35b({"n_samples": 300}, np.random.default_rng(8)).evidence
    with pytest.raises(TypeError, match=r"`budget\['n_samples'\]` must be an int"):
        check_l35b({"n_samples": 1e4}, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.claim("L3.5b")
def test_check_l35b_thorough_budget_verifies() -> None:
    """L3.5b at the thorough budget."""
    outcome = check_l35b(claim_by_id("L3.5b").budget(Profile.THOROUGH), claim_rng("L3.5b"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
