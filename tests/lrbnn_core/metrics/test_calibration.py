"""ECE (lrbnn_core.metrics.calibration) against a per-bin loop, hand values, and Hoeffding-bounded
ECE on synthetic data whose calibration is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import ece
from tests.lrbnn_core.metrics.twins import RTOL, Array, _probs, _twin_mean

#: False-failure probability of each statistical assertion.
DELTA = 1e-6


def _twin_bin(conf: float, n_bins: int) -> int:
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        if lo < conf <= hi or (b == 0 and conf == 0.0):
            return b
    raise AssertionError(f"confidence {conf} in no bin")


def _twin_ece(p: Array, y: Array, n_bins: int) -> float:
    confs, hits = [], []
    for n in range(len(y)):
        mean = _twin_mean(p, n)
        confs.append(max(mean))
        hits.append(float(mean.index(max(mean)) == y[n]))
    total = 0.0
    for b in range(n_bins):
        members = [i for i in range(len(y)) if _twin_bin(confs[i], n_bins) == b]
        if members:
            acc = sum(hits[i] for i in members) / len(members)
            conf = sum(confs[i] for i in members) / len(members)
            total += len(members) / len(y) * abs(acc - conf)
    return total


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_matches_bin_loop(rng: np.random.Generator, n_bins: int) -> None:
    p = _probs(rng, (3, 60, 3), alpha=0.5)
    y = rng.integers(0, 3, size=60)
    assert ece(torch.from_numpy(p), torch.from_numpy(y), n_bins) == pytest.approx(
        _twin_ece(p, y, n_bins), rel=RTOL, abs=1e-15
    )


@pytest.mark.parametrize("n_bins", [5, 10])
def test_ece_confidences_on_bin_edges_match_bin_loop(rng: np.random.Generator, n_bins: int) -> None:
    """Confidences k/10 lie exactly on edges: right-closed bins decide where they go."""
    conf = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.6, 0.8, 1.0, 1.0])
    p = np.stack([conf, 1.0 - conf], axis=1)
    y = rng.integers(0, 2, size=len(conf))
    assert ece(torch.from_numpy(p), torch.from_numpy(y), n_bins) == pytest.approx(
        _twin_ece(p, y, n_bins), rel=RTOL, abs=1e-15
    )


def test_ece_hand_values() -> None:
    p = torch.tensor([[0.5, 0.5], [0.75, 0.25]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    # right-closed: 0.5 in [0, 0.5] (right, gap 0.5), 0.75 in (0.5, 1] (wrong, gap 0.75);
    # left-closed bins would put both in one bin and give |0.5 - 0.625| = 0.125
    assert ece(p, y, 2) == 0.625
    assert ece(p, y, 1) == 0.125  # one bin: |accuracy - mean confidence|
    certain = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert ece(certain, torch.tensor([0, 1])) == 0.0  # confidence 1.0 lands in the last bin
    assert ece(certain, torch.tensor([0, 0])) == 0.5


def _hoeffding_ece_slack(conf: Array, n_bins: int, delta: float) -> float:
    """With probability >= 1 - delta, |ECE - sum_b w_b |mean_b(q - c)|| <= this, where q_n is the
    true probability that example n is right: given the confidences (hence the bins), the
    outcomes are independent, so Hoeffding bounds each bin's mean of (hit - q) by
    sqrt(ln(2 B / delta) / (2 n_b)) with probability 1 - delta / B (union bound over bins)."""
    bins = np.array([_twin_bin(float(c), n_bins) for c in conf])
    counts = np.bincount(bins, minlength=n_bins)
    counts = counts[counts > 0]
    return float(np.sum(np.sqrt(counts * math.log(2 * n_bins / delta) / 2.0)) / len(conf))


@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_ece_on_data_of_known_calibration(rng: np.random.Generator, shift: float) -> None:
    """Confidence c, true accuracy q = c - shift: the population ECE is exactly ``shift``
    (0: perfectly calibrated), and the sample ECE is within the Hoeffding slack (false-failure
    probability DELTA)."""
    n = 20_000
    conf = rng.uniform(0.75, 1.0, size=n)
    pred = rng.integers(0, 2, size=n)
    right = rng.uniform(size=n) < conf - shift
    p = np.where(pred[:, None] == 0, np.stack([conf, 1 - conf], 1), np.stack([1 - conf, conf], 1))
    y = np.where(right, pred, 1 - pred)
    value = ece(torch.from_numpy(p), torch.from_numpy(y))
    slack = _hoeffding_ece_slack(conf, 15, DELTA)
    assert slack < 0.05  # the test has power: 0.25 and 0 are told apart
    assert abs(value - shift) <= slack + 1e-12
