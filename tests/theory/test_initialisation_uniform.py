"""theory.initialisation's uniform App. F rule (claim F3u): the half-width formula, its
broadcasting and validation, and the initialiser against a Monte Carlo twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from theory.initialisation import (
    target_variance,
    uniform_init_bound,
    uniform_variance_matching_init,
    variance_matching_init,
)
from verification.testing.strategies import layer_shapes

_EPS = float(np.finfo(np.float64).eps)
#: False-failure probability of each Monte Carlo assertion (Bonferroni inside the test).
ALPHA = 1e-6


@pytest.mark.claim("F3u")
@given(
    s2=st.floats(1e-8, 1e4, allow_nan=False, allow_infinity=False),
    r=st.integers(1, 4096),
)
def test_uniform_init_bound_gives_the_target_variance(s2: float, r: int) -> None:
    """F3u: r (a^2/3)^2 = s_W^2, the variance of a sum of r products of U(-a, a) entries."""
    a = uniform_init_bound(s2, r)
    assert isinstance(a, float)
    # a^4 rounds in 4 multiplications of a value with relative error <= 4 eps (observed: 2).
    assert r * (a * a / 3.0) ** 2 == pytest.approx(s2, rel=24 * _EPS)


@pytest.mark.claim("F3u")
def test_uniform_init_bound_glorot_form_and_values() -> None:
    """F3u: at s_W^2 = 2/(m+n), a = sqrt(3) (2/(r(n+m)))^(1/4), the form printed in App. F."""
    for m, n, r in ((300, 100, 4), (10, 10, 1), (784, 1200, 25)):
        printed = math.sqrt(3.0) * (2.0 / (r * (n + m))) ** 0.25
        got = uniform_init_bound(target_variance(m, n, "glorot"), r)
        assert got == pytest.approx(printed, rel=4 * _EPS)
    assert uniform_init_bound(9.0, 1) == pytest.approx(3.0, rel=2 * _EPS)


def test_uniform_init_bound_broadcasts_like_numpy() -> None:
    got = uniform_init_bound(np.array([[0.5], [2.0]]), np.array([1, 2, 8]))
    assert isinstance(got, np.ndarray) and got.shape == (2, 3)
    expected = math.sqrt(3.0) * (2.0 / 8) ** 0.25
    assert got[1, 2] == pytest.approx(expected, rel=2 * _EPS)


@pytest.mark.parametrize(
    ("s2", "r", "error", "match"),
    [
        (0.0, 1, ValueError, "`sigma_w2` must be"),
        (-1.0, 1, ValueError, "`sigma_w2` must be"),
        (float("nan"), 1, ValueError, "`sigma_w2`"),
        (float("inf"), 1, ValueError, "`sigma_w2`"),
        (1.0, 0, ValueError, "`r` must be an int >= 1; got 0"),
        (1.0, 2.0, TypeError, "`r` must be an int"),
        (1.0, True, TypeError, "`r` must be an int"),
    ],
)
def test_uniform_init_bound_rejects_bad_input(
    s2: float, r: object, error: type, match: str
) -> None:
    with pytest.raises(error, match=match):
        uniform_init_bound(s2, r)


@pytest.mark.claim("F3u")
@given(shape=layer_shapes(max_dim=40), seed=st.integers(0, 2**32 - 1))
def test_uniform_init_draws_in_the_support_with_app_f_scales(
    shape: tuple[int, int, int], seed: int
) -> None:
    m, n, r = shape
    post = uniform_variance_matching_init(
        m, n, r, target="he", eta=0.3, rng=np.random.default_rng(seed)
    )
    a = uniform_init_bound(target_variance(m, n, "he"), r)
    assert post.mu_a.shape == (m, r) and post.mu_b.shape == (n, r)
    assert np.abs(post.mu_a).max() <= a and np.abs(post.mu_b).max() <= a
    gaussian = variance_matching_init(m, n, r, target="he", eta=0.3, rng=np.random.default_rng(0))
    # The posterior scales eta (s_W^2/r)^(1/4) are those of the Gaussian rule.
    assert np.array_equal(post.sigma_a, gaussian.sigma_a)
    assert np.array_equal(post.sigma_b, gaussian.sigma_b)


@pytest.mark.claim("F3u")
@pytest.mark.parametrize("target", ["glorot", "he"])
def test_uniform_init_matches_the_dense_variance_by_monte_carlo(target: str) -> None:
    """F3u: Var((mu_A mu_B^T)_ij) = s_W^2 and its mean 0, z-tests with the exact
    Var(W^2) = s_W^4 (2 + 6/(25 r)) at false-failure probability ALPHA."""
    m, n, r = 20, 12, 3
    s2 = target_variance(m, n, target)
    rng = np.random.default_rng(11)
    draws = []
    for _ in range(2000):
        post = uniform_variance_matching_init(m, n, r, target=target, eta=0.5, rng=rng)
        draws.append(np.einsum("ik,ik->i", post.mu_a[:n], post.mu_b[:n]))
    w = np.concatenate(draws)
    z_crit = stats.norm.isf(ALPHA / 4)
    z_var = (np.mean(w * w) - s2) / (s2 * math.sqrt((2 + 6 / (25 * r)) / w.size))
    z_mean = np.mean(w) / math.sqrt(s2 / w.size)
    assert abs(z_var) < z_crit and abs(z_mean) < z_crit


def test_uniform_init_is_reproducible_and_validates() -> None:
    first = uniform_variance_matching_init(
        6, 4, 2, target="glorot", eta=0.1, rng=np.random.default_rng(3)
    )
    again = uniform_variance_matching_init(
        6, 4, 2, target="glorot", eta=0.1, rng=np.random.default_rng(3)
    )
    assert np.array_equal(first.mu_a, again.mu_a) and np.array_equal(first.mu_b, again.mu_b)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"`r` must be an int in \[1, 4\]; got 5"):
        uniform_variance_matching_init(6, 4, 5, target="glorot", eta=0.1, rng=rng)
    with pytest.raises(ValueError, match="`eta`"):
        uniform_variance_matching_init(6, 4, 2, target="glorot", eta=1.0, rng=rng)
    with pytest.raises(ValueError, match="`target` must be one of"):
        uniform_variance_matching_init(6, 4, 2, target="lecun", eta=0.1, rng=rng)
    with pytest.raises(TypeError, match=r"`rng` must be a numpy\.random\.Generator"):
        uniform_variance_matching_init(6, 4, 2, target="he", eta=0.1, rng=0)  # type: ignore[arg-type]
