"""The empirical Bernstein bound (Maurer and Pontil 2009, Thm 4): an independent scalar twin,
its coverage by simulation (with a stated false-failure probability and a mutant it rejects),
and its refusals."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from theory.pac_bayes import empirical_bernstein_bound, sample_convergence_bound


def _twin(mean: float, var: float, n: int, delta: float) -> float:
    log = math.log(2.0 / delta)
    return min(1.0, mean + math.sqrt(2.0 * var * log / n) + 7.0 * log / (3.0 * (n - 1)))


def test_matches_a_scalar_twin_and_broadcasts() -> None:
    grid = [
        (m, v, n, d)
        for m in (0.0, 0.1, 0.5)
        for v in (0.0, 1e-4, 0.05)
        for n in (2, 50, 2000)
        for d in (0.01, 0.2)
    ]
    for m, v, n, d in grid:
        assert empirical_bernstein_bound(m, v, n, d) == pytest.approx(_twin(m, v, n, d), rel=1e-14)
    out = empirical_bernstein_bound(np.array([0.1, 0.2]), 0.01, np.array([100, 1000]), 0.05)
    assert out.shape == (2,) and out[0] == pytest.approx(_twin(0.1, 0.01, 100, 0.05), rel=1e-14)


def _failure_count(
    bound: Callable[[np.ndarray, np.ndarray, int, float], np.ndarray],
    draw: Callable[[np.random.Generator, int, int], np.ndarray],
    true_mean: float,
    n: int,
    delta: float,
    trials: int,
    rng: np.random.Generator,
) -> int:
    x = draw(rng, trials, n)
    return int(np.sum(bound(x.mean(axis=1), x.var(axis=1, ddof=1), n, delta) < true_mean))


DRAWS = {
    # per-network risks of a posterior whose networks disagree a lot (Bernoulli) ...
    "bernoulli(0.5), n=400": (lambda g, t, n: g.binomial(1, 0.5, (t, n)).astype(float), 0.5, 400),
    # ... or a little: binomial(50, p_j) / 50 with p_j ~ Beta(20, 60), mean 0.25
    "beta-binomial, n=40": (
        lambda g, t, n: g.binomial(50, g.beta(20.0, 60.0, (t, n))) / 50.0,
        0.25,
        40,
    ),
}
TRIALS, DELTA = 4000, 0.05
#: a valid bound fails in each trial with probability <= DELTA, so the count of failures is
#: stochastically below Binomial(TRIALS, DELTA): exceeding its 1 - 1e-6 quantile has probability
#: <= 1e-6 for a valid bound (the test's false-failure probability)
LIMIT = int(stats.binom.ppf(1.0 - 1e-6, TRIALS, DELTA))


@pytest.mark.parametrize("case", list(DRAWS))
def test_coverage_by_simulation(case: str) -> None:
    draw, true_mean, n = DRAWS[case]
    rng = np.random.default_rng(11)
    fails = _failure_count(empirical_bernstein_bound, draw, true_mean, n, DELTA, TRIALS, rng)
    assert fails <= LIMIT, f"{fails} failures in {TRIALS} trials (limit {LIMIT})"


def test_coverage_check_rejects_a_bound_without_its_variance_term() -> None:
    """Power: dropping the variance term leaves only 7 ln(2/delta) / (3(n - 1)) = 0.022 at
    n = 400, under one standard deviation of the mean of Bernoulli(0.5) draws (0.025): it fails
    in about a fifth of the trials and the coverage check sees it."""

    def mutant(m: np.ndarray, v: np.ndarray, n: int, d: float) -> np.ndarray:
        return m + 7.0 * math.log(2.0 / d) / (3.0 * (n - 1))

    draw, true_mean, n = DRAWS["bernoulli(0.5), n=400"]
    fails = _failure_count(mutant, draw, true_mean, n, DELTA, TRIALS, np.random.default_rng(11))
    assert fails > LIMIT


def test_tighter_than_sample_convergence_when_networks_agree() -> None:
    assert (
        empirical_bernstein_bound(0.39, 1e-4, 2000, 0.01)
        < sample_convergence_bound(0.39, 2000, 0.01) - 0.025
    )


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0.1, 0.01, 1, 0.05), "`n_samples` must be >= 2"),
        ((0.1, 0.3, 10, 0.05), "`variance` must be at most"),
        ((0.1, -0.01, 10, 0.05), "`variance`"),
        ((1.5, 0.01, 10, 0.05), "`mean`"),
        ((0.1, 0.01, 10, 1.0), "`delta`"),
        ((0.1, float("nan"), 10, 0.05), "`variance`"),
    ],
)
def test_refusals_name_the_argument(args: tuple[float, float, int, float], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        empirical_bernstein_bound(*args)
