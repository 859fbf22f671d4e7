"""Entropies, mutual information and OOD scores (lrbnn_core.metrics.uncertainty) against direct
entropies, a brute-force pairwise AUROC and a threshold-by-threshold average precision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import mutual_information, ood_aupr, ood_auroc, predictive_entropy
from tests.lrbnn_core.metrics.twins import RTOL, Array, _probs, _twin_mean

#: Absolute slack for entropy-type quantities (sums of C <= 10 terms of size <= ln 10, and the
#: twin's H[mean] - mean H cancels two such sums): a few hundred ulps.
ENTROPY_ATOL = 1e-13


def _twin_entropy(q: list[float] | Array) -> float:
    return -sum(float(v) * math.log(float(v)) for v in q if v > 0)


def _twin_mutual_information(p: Array) -> list[float]:
    s_count, n_examples, _ = p.shape
    out = []
    for n in range(n_examples):
        expected = sum(_twin_entropy(p[s, n]) for s in range(s_count)) / s_count
        out.append(_twin_entropy(_twin_mean(p, n)) - expected)
    return out


def _twin_auroc(s_in: Array, s_ood: Array) -> float:
    """Fraction of (OOD, in) pairs in which the OOD input scores higher; ties count 1/2."""
    wins = 0.0
    for a in s_ood:
        for b in s_in:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(s_ood) * len(s_in))


def _twin_average_precision(s_in: Array, s_ood: Array) -> float:
    """sum_k (R_k - R_{k-1}) P_k over distinct thresholds, from the highest down."""
    scores = np.concatenate([s_in, s_ood])
    is_ood = np.concatenate([np.zeros(len(s_in)), np.ones(len(s_ood))])
    ap, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        flagged = scores >= t
        true_pos = float(is_ood[flagged].sum())
        precision, recall = true_pos / int(flagged.sum()), true_pos / len(s_ood)
        ap += (recall - previous_recall) * precision
        previous_recall = recall
    return ap


@pytest.mark.parametrize("alpha", [0.02, 1.0, 50.0])
def test_mutual_information_matches_entropy_twin_and_is_nonnegative(
    rng: np.random.Generator, alpha: float
) -> None:
    """alpha = 0.02 puts exact zeros in the probabilities (0 ln 0 = 0); 50 makes samples agree."""
    p = _probs(rng, (7, 30, 6), alpha=alpha)
    mi = mutual_information(torch.from_numpy(p))
    assert mi.dtype == torch.float64 and mi.shape == (30,)
    np.testing.assert_allclose(mi.numpy(), _twin_mutual_information(p), rtol=0, atol=ENTROPY_ATOL)
    assert bool((mi >= -ENTROPY_ATOL).all())
    assert bool((mi <= math.log(6) + ENTROPY_ATOL).all())  # <= min(ln S, ln C) = ln 6


def test_mutual_information_zero_when_samples_agree(rng: np.random.Generator) -> None:
    one = _probs(rng, (1, 20, 5), alpha=0.3)
    mi = mutual_information(torch.from_numpy(np.repeat(one, 6, axis=0)))
    assert float(mi.abs().max()) <= ENTROPY_ATOL
    assert mutual_information(torch.from_numpy(one)).tolist() == [0.0] * 20  # S = 1: exactly 0


def test_predictive_entropy_matches_twin(rng: np.random.Generator) -> None:
    p = _probs(rng, (4, 25, 3), alpha=0.05)
    h = predictive_entropy(torch.from_numpy(p))
    expected = [_twin_entropy(_twin_mean(p, n)) for n in range(25)]
    np.testing.assert_allclose(h.numpy(), expected, rtol=0, atol=ENTROPY_ATOL)
    uniform = torch.full((3, 4), 0.25, dtype=torch.float64)
    assert predictive_entropy(uniform).tolist() == [math.log(4)] * 3


def test_ood_auroc_aupr_perfect_separation() -> None:
    s_in, s_ood = torch.tensor([0.1, 0.3, 0.2]), torch.tensor([0.5, 0.9])
    assert ood_auroc(s_in, s_ood) == 1.0 and ood_aupr(s_in, s_ood) == 1.0
    assert ood_auroc(s_ood, s_in) == 0.0  # OOD is the positive class: swapping inverts


def test_ood_auroc_matches_pairwise_twin_with_ties(rng: np.random.Generator) -> None:
    s_in = rng.integers(0, 6, size=40).astype(np.float64)
    s_ood = rng.integers(2, 8, size=25).astype(np.float64)
    assert ood_auroc(s_in, s_ood) == pytest.approx(_twin_auroc(s_in, s_ood), rel=RTOL, abs=0)


@pytest.mark.parametrize("ties", [True, False])
def test_ood_aupr_matches_threshold_twin(rng: np.random.Generator, ties: bool) -> None:
    s_in: Array
    s_ood: Array
    if ties:
        s_in, s_ood = rng.integers(0, 6, size=50), rng.integers(1, 7, size=20)
    else:
        s_in, s_ood = rng.normal(size=50), rng.normal(0.5, size=20)
    assert ood_aupr(s_in, s_ood) == pytest.approx(
        _twin_average_precision(s_in, s_ood), rel=RTOL, abs=0
    )


def test_ood_aupr_all_tied_is_the_ood_fraction() -> None:
    assert ood_aupr(np.zeros(6), np.zeros(2)) == 0.25
    assert ood_auroc(np.zeros(6), np.zeros(2)) == 0.5
