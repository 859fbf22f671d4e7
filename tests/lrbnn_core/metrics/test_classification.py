"""Accuracy, NLL and Brier score (lrbnn_core.metrics.classification) against numpy loops and
hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import accuracy, brier, ece, nll
from tests.lrbnn_core.metrics.twins import RTOL, Array, _probs, _twin_mean


def _twin_accuracy(p: Array, y: Array) -> float:
    n_examples = len(y)
    hits = 0
    for n in range(n_examples):
        mean = _twin_mean(p, n)
        hits += int(mean.index(max(mean)) == y[n])
    return hits / n_examples


def _twin_nll(p: Array, y: Array) -> float:
    return -sum(math.log(_twin_mean(p, n)[y[n]]) for n in range(len(y))) / len(y)


def _twin_brier(p: Array, y: Array) -> float:
    total = 0.0
    for n in range(len(y)):
        mean = _twin_mean(p, n)
        total += sum((mean[c] - (1.0 if c == y[n] else 0.0)) ** 2 for c in range(len(mean)))
    return total / len(y)


@pytest.mark.parametrize("shape", [(5, 40, 4), (1, 30, 2), (40, 3)])
def test_accuracy_nll_brier_match_numpy_loops(rng: np.random.Generator, shape: tuple) -> None:
    p = _probs(rng, shape, alpha=0.7)
    y = rng.integers(0, shape[-1], size=shape[-2])
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    assert accuracy(pt, yt) == _twin_accuracy(p, y)
    assert nll(pt, yt) == pytest.approx(_twin_nll(p, y), rel=RTOL, abs=0)
    assert brier(pt, yt) == pytest.approx(_twin_brier(p, y), rel=RTOL, abs=0)


def test_metrics_accept_numpy_and_float32_inputs(rng: np.random.Generator) -> None:
    p = _probs(rng, (3, 25, 5)).astype(np.float32)
    y = rng.integers(0, 5, size=25)
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    p.flags.writeable = False  # read-only buffers are copied, not aliased (no torch warning)
    for f in (accuracy, nll, brier, ece):
        assert f(p, y) == f(pt, yt)
    # float32 values are converted exactly to float64, so the float64 twin sees the same numbers
    assert nll(pt, yt) == pytest.approx(_twin_nll(p.astype(np.float64), y), rel=RTOL, abs=0)


def test_accuracy_hand_values() -> None:
    p = torch.tensor([[0.5, 0.5], [0.2, 0.8], [0.6, 0.4]], dtype=torch.float64)
    assert accuracy(p, torch.tensor([0, 1, 1])) == 2 / 3  # the tie goes to class 0
    assert accuracy(p, torch.tensor([1, 0, 1])) == 0.0


def test_brier_hand_values() -> None:
    p = torch.tensor([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert brier(p[:1], torch.tensor([0])) == pytest.approx(0.14, rel=RTOL, abs=0)
    assert brier(p[1:], torch.tensor([1, 0])) == 0.0  # certain and right
    assert brier(p[1:], torch.tensor([0, 1])) == 2.0  # certain and wrong: the maximum


def test_nll_log_probs_equals_probs_where_not_tiny(rng: np.random.Generator) -> None:
    logits = torch.from_numpy(rng.normal(scale=2.0, size=(6, 50, 4)))
    lp = torch.log_softmax(logits, dim=-1)
    y = torch.from_numpy(rng.integers(0, 4, size=50))
    assert lp.exp().min() > 1e-6  # far from underflow: the two forms must agree
    assert nll(lp.exp(), y, log_probs=lp) == pytest.approx(nll(lp.exp(), y), rel=RTOL, abs=0)


def test_nll_log_probs_exact_where_probs_underflow() -> None:
    lp = torch.log_softmax(torch.tensor([[[0.0, -800.0]], [[0.0, -802.0]]]), -1)
    y = torch.tensor([1])
    assert nll(lp.exp(), y) == math.inf  # exp(-800) underflows: the honest value, no floor
    # -ln((e^-800 + e^-802) / 2) = 800 - ln(1 + e^-2) + ln 2
    expected = 800.0 - math.log1p(math.exp(-2.0)) + math.log(2.0)
    assert nll(lp.exp(), y, log_probs=lp) == pytest.approx(expected, rel=RTOL, abs=0)
