"""Selective prediction and the MI ratio (lrbnn_core.metrics.selective): the tie-sharing weights
against the average over every order of the ties, the scores against loops, refusals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import (
    accuracy,
    mi_ratio,
    regression_mae,
    selective_accuracy,
    selective_mae,
    selective_weights,
)
from tests.lrbnn_core.metrics.twins import RTOL, _probs


def _twin_weights(conf: list[float], retention: float) -> list[float]:
    """Average, over every permutation used to break ties, of 'kept in the top k'."""
    n = len(conf)
    k = math.ceil(round(retention * n, 9))
    kept = [0.0] * n
    perms = list(itertools.permutations(range(n)))
    for perm in perms:
        rank = {i: perm.index(i) for i in range(n)}
        order = sorted(range(n), key=lambda i: (-conf[i], rank[i]))
        for i in order[:k]:
            kept[i] += 1.0 / len(perms)
    return kept


@pytest.mark.parametrize(
    ("conf", "retention"),
    [
        ([0.9, 0.5, 0.5, 0.1, 0.5, 0.7], 0.5),
        ([0.3, 0.3, 0.3, 0.3, 0.3], 0.8),
        ([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], 0.9),
        ([0.2, 0.2, 0.9, 0.9, 0.4], 0.2),
        ([1.0, 0.0, 0.5], 1.0),
    ],
)
def test_selective_weights_are_the_average_over_tie_orders(
    conf: list[float], retention: float
) -> None:
    w = selective_weights(torch.tensor(conf, dtype=torch.float64), retention)
    assert w.tolist() == pytest.approx(_twin_weights(conf, retention), abs=1e-12)
    assert float(w.sum()) == pytest.approx(math.ceil(round(retention * len(conf), 9)))


def test_retention_of_k_over_n_keeps_k() -> None:
    w = selective_weights(torch.arange(10, dtype=torch.float64), 0.9)
    assert float(w.sum()) == 9.0 and w[0].item() == 0.0


def test_selective_accuracy_matches_a_loop() -> None:
    rng = np.random.default_rng(0)
    p = _probs(rng, (4, 50, 3), alpha=0.7)
    y = rng.integers(0, 3, 50)
    pbar = p.mean(0)
    for rho in (0.8, 0.9):
        k = math.ceil(round(rho * 50, 9))
        order = sorted(range(50), key=lambda n: -pbar[n].max())  # no ties for Dirichlet draws
        twin = sum(int(pbar[n].argmax() == y[n]) for n in order[:k]) / k
        assert selective_accuracy(p, y, retention=rho) == pytest.approx(twin, rel=RTOL)
    assert selective_accuracy(p, y, retention=1.0) == pytest.approx(accuracy(p, y), rel=RTOL)


def test_selective_mae_matches_a_loop() -> None:
    rng = np.random.default_rng(1)
    f = rng.normal(size=(6, 40, 2)) * rng.uniform(0.1, 1.0, (1, 40, 1))
    y = rng.normal(size=(40, 2))
    mean, spread = f.mean(0), np.sqrt(((f - f.mean(0)) ** 2).mean(0).mean(1))
    for rho in (0.8, 0.9):
        k = math.ceil(round(rho * 40, 9))
        order = sorted(range(40), key=lambda n: spread[n])
        twin = sum(float(np.abs(y[n] - mean[n]).mean()) for n in order[:k]) / k
        assert selective_mae(f, y, retention=rho) == pytest.approx(twin, rel=RTOL)
    assert selective_mae(f, y, retention=1.0) == pytest.approx(regression_mae(f, y), rel=RTOL)
    # a deterministic regressor (one draw: every std ties) scores its full MAE at every retention
    assert selective_mae(f[:1], y, retention=0.8) == pytest.approx(
        regression_mae(f[:1], y), rel=RTOL
    )


def test_mi_ratio_matches_entropies() -> None:
    rng = np.random.default_rng(2)
    p_in, p_ood = _probs(rng, (5, 20, 4), alpha=5.0), _probs(rng, (3, 12, 4), alpha=0.5)

    def mean_mi(p: np.ndarray) -> float:
        def h(q: np.ndarray) -> float:
            return -sum(float(v * math.log(v)) for v in q if v > 0)

        return float(
            np.mean(
                [
                    h(p[:, n].mean(0)) - np.mean([h(p[s, n]) for s in range(len(p))])
                    for n in range(p.shape[1])
                ]
            )
        )

    assert mi_ratio(p_in, p_ood) == pytest.approx(mean_mi(p_ood) / mean_mi(p_in), rel=1e-10)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: selective_weights(torch.ones(3), 0.0),
            ValueError,
            r"`retention` must be in \(0, 1\]; got 0.0",
        ),
        (
            lambda: selective_weights(torch.ones(3), True),
            TypeError,
            "`retention` must be a real number",
        ),
        (
            lambda: selective_weights(torch.ones(2, 2), 0.5),
            ValueError,
            "`confidence` must be a non-empty 1-D tensor",
        ),
        (
            lambda: selective_weights(torch.tensor([1.0, float("nan")]), 0.5),
            ValueError,
            "`confidence` must be finite",
        ),
        (
            lambda: selective_accuracy(np.full((2, 2), 0.5), np.array([0, 2]), retention=0.5),
            ValueError,
            r"`labels` must be ints in \[0, 1\]",
        ),
        (
            lambda: selective_mae(np.zeros((2, 3, 1)), np.zeros((2, 1)), retention=0.5),
            ValueError,
            "`targets` must have shape",
        ),
        (
            lambda: mi_ratio(np.full((1, 3, 2), 0.5), np.full((2, 3, 2), 0.5)),
            ValueError,
            "`probs_in` has mean mutual information 0.0: the ratio is undefined",
        ),
        (
            lambda: mi_ratio(np.full((2, 3, 2), 0.5), np.full((2, 3, 3), 1 / 3)),
            ValueError,
            r"`probs_ood` must have the classes of `probs_in` \(2\); got 3",
        ),
        (
            lambda: mi_ratio(np.full((3, 2), 0.5), np.full((2, 3, 2), 0.5)),
            ValueError,
            r"`probs_in` must have shape \(S, N, C\)",
        ),
    ],
)
def test_selective_refusals(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
