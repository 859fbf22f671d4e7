"""Regression metrics (lrbnn_core.metrics.regression) against scipy loops: moments, NLL of the
mixture and of the moment-matched Gaussian, PICP and the interval ECE; calibrated draws score as
calibrated; refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from lrbnn_core.metrics import (
    ood_auroc,
    picp,
    predictive_moments,
    predictive_std,
    regression_ece,
    regression_mae,
    regression_nll,
)
from tests.lrbnn_core.metrics.twins import RTOL


def _draws(seed: int = 0, s: int = 7, n: int = 30, d: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((s, n, d)) * rng.uniform(0.1, 2.0, (1, n, d)) + rng.normal(
        size=(1, n, d)
    )
    return f, rng.normal(size=(n, d)) * 1.5


def _twin_moments(f: np.ndarray, nu: float, n: int, d: int) -> tuple[float, float]:
    vals = [float(f[s, n, d]) for s in range(f.shape[0])]
    m = sum(vals) / len(vals)
    return m, (nu**2 + sum((v - m) ** 2 for v in vals) / len(vals)) ** 0.5


def test_moments_mae_and_std_match_loops() -> None:
    f, y = _draws()
    mean, std = predictive_moments(f, noise_std=0.3)
    for n in range(f.shape[1]):
        for d in range(f.shape[2]):
            m, s = _twin_moments(f, 0.3, n, d)
            assert mean[n, d].item() == pytest.approx(m, rel=RTOL)
            assert std[n, d].item() == pytest.approx(s, rel=RTOL)
    mae = sum(abs(y[n, d] - mean[n, d].item()) for n in range(30) for d in range(2)) / 60
    assert regression_mae(f, y) == pytest.approx(mae, rel=RTOL)
    score = predictive_std(f, noise_std=0.3)
    assert score.tolist() == pytest.approx(np.sqrt((std.numpy() ** 2).mean(1)).tolist(), rel=RTOL)


def test_nll_mixture_and_gaussian_match_scipy() -> None:
    f, y = _draws(1)
    s_count, n_count, d_count = f.shape
    mix, gauss = [], []
    for n in range(n_count):
        for d in range(d_count):
            logs = [norm.logpdf(y[n, d], loc=f[s, n, d], scale=0.5) for s in range(s_count)]
            mix.append(-(logsumexp(logs) - np.log(s_count)))
            m, sd = _twin_moments(f, 0.5, n, d)
            gauss.append(-norm.logpdf(y[n, d], loc=m, scale=sd))
    assert regression_nll(f, y, noise_std=0.5) == pytest.approx(np.mean(mix), rel=RTOL)
    got = regression_nll(f, y, noise_std=0.5, form="gaussian")
    assert got == pytest.approx(np.mean(gauss), rel=RTOL)
    # one draw: both forms are the Gaussian likelihood of training
    one = f[:1]
    assert regression_nll(one, y, noise_std=0.5) == pytest.approx(
        regression_nll(one, y, noise_std=0.5, form="gaussian"), rel=RTOL
    )


def _twin_coverage(f: np.ndarray, y: np.ndarray, nu: float, level: float) -> float:
    hits = 0
    for n in range(f.shape[1]):
        for d in range(f.shape[2]):
            m, sd = _twin_moments(f, nu, n, d)
            lo, hi = norm.interval(level, loc=m, scale=sd)
            hits += lo <= y[n, d] <= hi
    return hits / (f.shape[1] * f.shape[2])


@pytest.mark.parametrize("nu", [0.0, 0.4])
def test_picp_and_ece_match_loops(nu: float) -> None:
    f, y = _draws(2)
    assert picp(f, y, noise_std=nu) == pytest.approx(_twin_coverage(f, y, nu, 0.95), abs=1e-15)
    levels = (0.1, 0.5, 0.8, 0.95)
    twin = np.mean([abs(_twin_coverage(f, y, nu, p) - p) for p in levels])
    assert regression_ece(f, y, noise_std=nu, levels=levels) == pytest.approx(twin, rel=RTOL)
    grid = [k / 20 for k in range(1, 20)]
    full = np.mean([abs(_twin_coverage(f, y, nu, p) - p) for p in grid])
    assert regression_ece(f, y, noise_std=nu) == pytest.approx(full, rel=RTOL)


def test_ece_twin_catches_one_sided_quantiles() -> None:
    """The mutant: z = Phi^-1(p) (one-sided) instead of Phi^-1((1 + p) / 2)."""
    f, y = _draws(2)
    mean, std = predictive_moments(f, noise_std=0.4)
    err, sd = (torch.as_tensor(y) - mean).abs(), std
    wrong = np.mean([abs(float((err <= norm.ppf(p) * sd).double().mean()) - p) for p in (0.5, 0.9)])
    assert regression_ece(f, y, noise_std=0.4, levels=(0.5, 0.9)) != pytest.approx(wrong, rel=1e-3)


def test_calibrated_draws_score_as_calibrated() -> None:
    """Targets drawn from the Gaussian predictive itself: each coverage is Binomial(N, p) / N with
    std <= 0.5 / sqrt(N) = 0.0025 at N = 40,000; 6 std (false failure < 2e-9 per level) bounds
    both the PICP error and every term of the ECE."""
    rng = np.random.default_rng(5)
    n = 40_000
    f = rng.normal(size=(5, n, 1))
    mean, std = predictive_moments(f, noise_std=0.7)
    y = mean.numpy() + std.numpy() * rng.standard_normal((n, 1))
    assert abs(picp(f, y, noise_std=0.7) - 0.95) <= 6 * 0.0025
    assert regression_ece(f, y, noise_std=0.7) <= 6 * 0.0025
    # and a model that is over-confident by a factor 2 is not
    assert regression_ece(f, y, noise_std=0.0) > 0.05


def test_deterministic_regressor_has_chance_std_auroc() -> None:
    """One draw: every predictive std is the noise, so OOD detection by std is chance (0.5),
    the paper's deterministic row."""
    f_in, f_ood = np.zeros((1, 20, 1)), np.ones((1, 15, 1))
    assert (
        ood_auroc(predictive_std(f_in, noise_std=1.0), predictive_std(f_ood, noise_std=1.0)) == 0.5
    )


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: regression_mae(np.zeros(3), np.zeros((3, 1))),
            ValueError,
            "`samples` must have shape",
        ),
        (
            lambda: regression_mae(np.zeros((2, 3, 1), dtype=int), np.zeros((3, 1))),
            TypeError,
            "`samples` must be a floating",
        ),
        (
            lambda: regression_mae(np.full((3, 1), np.nan), np.zeros((3, 1))),
            ValueError,
            "`samples` must be finite; got nan",
        ),
        (
            lambda: regression_mae(np.zeros((3, 1)), np.zeros((3,))),
            ValueError,
            r"`targets` must have shape \(N, D\) = \(3, 1\)",
        ),
        (
            lambda: regression_mae(np.zeros((3, 1)), np.full((3, 1), np.inf)),
            ValueError,
            "`targets` must be finite",
        ),
        (
            lambda: regression_nll(np.zeros((3, 1)), np.zeros((3, 1)), noise_std=0.0),
            ValueError,
            "`noise_std` must be a finite number > 0",
        ),
        (
            lambda: picp(np.zeros((3, 1)), np.zeros((3, 1)), noise_std=-1.0),
            ValueError,
            "`noise_std` must be a finite number >= 0",
        ),
        (
            lambda: picp(np.zeros((3, 1)), np.zeros((3, 1)), noise_std=1.0, level=1.0),
            ValueError,
            r"`level` must be in \(0, 1\)",
        ),
        (
            lambda: regression_ece(
                np.zeros((3, 1)), np.zeros((3, 1)), noise_std=1.0, levels=(0.5, 2.0)
            ),
            ValueError,
            r"`levels\[1\]` must be in \(0, 1\)",
        ),
        (
            lambda: regression_ece(np.zeros((3, 1)), np.zeros((3, 1)), noise_std=1.0, levels=()),
            ValueError,
            "`levels` must be a non-empty",
        ),
        (
            lambda: regression_nll(np.zeros((3, 1)), np.zeros((3, 1)), noise_std=1.0, form="mean"),
            ValueError,
            "`form` must be one of 'mixture', 'gaussian'",
        ),
        (
            lambda: predictive_std([1.0], noise_std=1.0),
            TypeError,
            "`samples` must be a torch.Tensor or a numpy array",
        ),
    ],
)
def test_regression_metrics_refuse_bad_input(call: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]
