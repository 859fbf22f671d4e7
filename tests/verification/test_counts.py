"""Parameter-count checks P1, P2, P3: registry budgets, brute-force twins, the paper's numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given

from lrbnn_core import stochastic_parameter_count
from theory.pac_bayes import param_counts
from verification.claims.counts.layer_counts import (
    MNIST_RANKS,
    MNIST_WIDTHS,
    check_p1,
    check_p2,
    check_p3,
    claimed_reduces,
    layer_module,
    mlp_counts,
    sst2_consistency,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng
from verification.testing.strategies import layer_shapes


def _grid(max_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (m, n, r) with m, n <= max_dim and r <= min(m, n), as flat integer arrays."""
    m, n, r = np.meshgrid(*(np.arange(1, max_dim + 1),) * 3, indexing="ij")
    keep = r <= np.minimum(m, n)
    return m[keep], n[keep], r[keep]


@pytest.mark.claim("P1")
def test_check_p1_quick_budget_verifies_every_triple() -> None:
    """P1: the registry's quick budget verifies, over exactly the triples it claims to try."""
    budget = claim_by_id("P1").budget(Profile.QUICK)
    outcome = check_p1(budget, claim_rng("P1"))
    assert outcome.verdict is Verdict.VERIFIED
    assert outcome.data["cases"] == _grid(budget["max_dim"])[0].size


@pytest.mark.claim("P1")
@given(shape=layer_shapes())
@example(shape=(1, 1, 1))
@example(shape=(784, 1200, 25))
def test_layer_module_sizes_match_param_counts(shape: tuple[int, int, int]) -> None:
    """P1: the lrbnn_core layers hold 2mn / 2r(m+n) trainable scalars, of which mn / r(m+n) are
    stochastic (each has a mean and a scale)."""
    m, n, r = shape
    mf = layer_module(m, n, None)
    lr = layer_module(m, n, r)
    pc = param_counts(m, n, r)
    assert sum(p.numel() for p in mf.parameters()) == pc["mean_field"] == 2 * m * n
    assert sum(p.numel() for p in lr.parameters()) == pc["low_rank"] == 2 * r * (m + n)
    assert stochastic_parameter_count(mf) == pc["d_full"] == m * n
    assert stochastic_parameter_count(lr) == pc["d_low_rank"] == r * (m + n)


def test_layer_module_rejects_rank_above_min() -> None:
    with pytest.raises(ValueError, match=r"`r` must be an int in \[1, 3\]; got 4"):
        layer_module(3, 5, 4)


@pytest.mark.claim("P2")
def test_check_p2_quick_budget_counts_match_integer_twin() -> None:
    """P2: verified, and its tallies equal a vectorised integer recount.

    Ties mn = r(m+n) are counted through the equivalent (m - r)(n - r) = r^2.
    """
    budget = claim_by_id("P2").budget(Profile.QUICK)
    outcome = check_p2(budget, claim_rng("P2"))
    m, n, r = _grid(budget["max_dim"])
    assert outcome.verdict is Verdict.VERIFIED
    assert outcome.data["cases"] == m.size
    assert outcome.data["reduction_gt_1"] == int(np.sum(r * (m + n) < m * n))
    assert outcome.data["reduction_eq_1"] == int(np.sum((m - r) * (n - r) == r * r))


@pytest.mark.claim("P2")
@pytest.mark.parametrize("n", [1, 2, 7, 8, 64])
def test_p2_square_layer_reduces_iff_rank_below_half(n: int) -> None:
    """P2: for m = n the threshold mn/(m+n) is n/2."""
    for r in range(1, n + 1):
        pc = param_counts(n, n, r)
        assert (pc["d_full"] / pc["d_low_rank"] > 1) == (2 * r < n)


@pytest.mark.claim("P2")
def test_claimed_reduces_against_integer_comparison() -> None:
    """P2: the statement's r < mn/(m+n), in Fractions, equals the integer test r(m+n) < mn,
    ties included (m = n = 2r gives equality and no reduction)."""
    m, n, r = _grid(12)
    for a, b, c in zip(m.tolist(), n.tolist(), r.tolist(), strict=True):
        assert claimed_reduces(a, b, c) == (c * (a + b) < a * b)
    assert not claimed_reduces(4, 4, 2)


@pytest.mark.claim("P2")
def test_check_p2_refutes_a_non_strict_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """P2: stated with <=, the iff fails first at a tie (m = n = 2, r = 1)."""
    import verification.claims.counts.layer_counts as counts

    monkeypatch.setattr(counts, "claimed_reduces", lambda a, b, c: c * (a + b) <= a * b)
    outcome = check_p2({"max_dim": 4}, claim_rng("P2"))
    assert outcome.verdict is Verdict.REFUTED
    bad = outcome.data["counterexample"]
    assert (bad["m"], bad["n"], bad["r"]) == (2, 2, 1)


@pytest.mark.claim("P3")
def test_check_p3_reproduces_the_mnist_counts() -> None:
    """P3: 245,810 low-rank and 4,788,010 mean-field parameters, factor 19.48 (printed 19.5)."""
    outcome = check_p3(claim_by_id("P3").budget(Profile.QUICK), claim_rng("P3"))
    assert outcome.verdict is Verdict.REPRODUCED
    assert outcome.data["mnist_low_rank"] == 245_810
    assert outcome.data["mnist_mean_field"] == 4_788_010
    assert round(outcome.data["mnist_factor"], 1) == 19.5
    assert "cannot be rebuilt" in outcome.evidence


@pytest.mark.claim("P3")
def test_mlp_counts_mnist_by_hand() -> None:
    """P3: the paper's MLP, layer by layer, written out."""
    low_rank = (2 * 25 * (784 + 1200) + 1200) + (2 * 25 * 2400 + 1200) + (2 * 10 * 1210 + 10)
    mean_field = (2 * 784 * 1200 + 1200) + (2 * 1200 * 1200 + 1200) + (2 * 1200 * 10 + 10)
    counts = mlp_counts(MNIST_WIDTHS, MNIST_RANKS)
    assert counts["low_rank"] == low_rank == 245_810
    assert counts["mean_field"] == mean_field == 4_788_010


def test_mlp_counts_small_network() -> None:
    counts = mlp_counts((4, 3, 2), (1, 1))
    assert counts == {
        "low_rank": 14 + 3 + 10 + 2,
        "mean_field": 24 + 3 + 12 + 2,
        "deterministic": 12 + 3 + 6 + 2,
    }


def test_mlp_counts_rejects_wrong_number_of_ranks() -> None:
    with pytest.raises(ValueError, match=r"`ranks` must have len\(widths\) - 1 = 3 entries; got 2"):
        mlp_counts(MNIST_WIDTHS, (25, 25))


@pytest.mark.claim("P3")
def test_sst2_numbers_are_consistent_only_with_truncated_factors() -> None:
    """P3: 5 x 19.84 / 2 = 49.6 matches 49.61; 33x is a truncation of 33.6 to 33.9."""
    sst = sst2_consistency()
    assert sst["ensemble_consistent"]
    assert sst["mf_truncates"] and sst["ens_truncates"]
    assert not sst["ens_rounds"]
    lo, hi = sst["ens_ratio_range"]
    assert lo < 49.61 / 1.47 < hi
