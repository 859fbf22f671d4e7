"""theory.geometry against brute-force twins: moments by loops over L3.5a, output variance via
the full covariance, Jacobian by finite differences, sampling, gauge, App. F rules, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from theory.geometry import (
    FactorPosterior,
    InitTarget,
    balanced_factors,
    factor_jacobian,
    gauge_transform,
    jacobian_rank,
    manifold_dimension,
    output_moments,
    sample_factors,
    sample_mean_field,
    sample_weights,
    svd_warm_start,
    target_variance,
    variance_matching_init,
    weight_moments,
    weight_variance,
)
from verification.testing.strategies import layer_shapes

#: Two float64 evaluations of one finite sum in different orders: a few hundred ulps of the
#: largest term at most.
RTOL = 1e-12
#: False-failure probability of each Monte Carlo assertion here (Bonferroni inside each test).
ALPHA = 1e-6


def _posterior(m: int, n: int, r: int, seed: int) -> FactorPosterior:
    g = np.random.default_rng(seed)
    return FactorPosterior(
        g.normal(size=(m, r)),
        g.uniform(0.1, 1.0, (m, r)),
        g.normal(size=(n, r)),
        g.uniform(0.1, 1.0, (n, r)),
    )


def _cov_by_loops(p: FactorPosterior) -> np.ndarray:
    """The L3.5a formula typed entry by entry (the clear, slow twin)."""
    m, n, r = p.m, p.n, p.r
    cov = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            for i2 in range(m):
                for j2 in range(n):
                    cov[i * n + j, i2 * n + j2] = sum(
                        (i == i2) * p.sigma_a[i, k] ** 2 * p.mu_b[j, k] * p.mu_b[j2, k]
                        + (j == j2) * p.sigma_b[j, k] ** 2 * p.mu_a[i, k] * p.mu_a[i2, k]
                        + (i == i2) * (j == j2) * p.sigma_a[i, k] ** 2 * p.sigma_b[j, k] ** 2
                        for k in range(r)
                    )
    return cov


@pytest.mark.claim("L3.5a")
@given(shape=layer_shapes(max_dim=5), seed=st.integers(0, 2**32 - 1))
def test_weight_moments_match_the_formula_typed_by_loops(shape, seed) -> None:
    p = _posterior(*shape, seed)
    mean, cov = p.moments()
    expected = _cov_by_loops(p)
    scale = np.abs(expected).max()
    assert np.allclose(cov, expected, rtol=RTOL, atol=RTOL * scale)
    assert np.allclose(mean, p.mu_a @ p.mu_b.T, rtol=RTOL, atol=0)
    assert np.array_equal(cov, cov.T)
    assert np.allclose(
        np.diag(cov).reshape(p.m, p.n),
        weight_variance(p.mu_a, p.sigma_a, p.mu_b, p.sigma_b),
        rtol=RTOL,
        atol=0,
    )
    assert np.linalg.eigvalsh(cov).min() >= -RTOL * scale * cov.shape[0]


@given(shape=layer_shapes(max_dim=6), seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 3))
def test_output_moments_equal_the_full_covariance_contraction(shape, seed, batch) -> None:
    """Twin: E[Wx] = E[W] x and E||Wx - EWx||^2 = tr((I kron x^T) Cov (I kron x))."""
    p = _posterior(*shape, seed)
    x = np.random.default_rng(seed + 1).normal(size=(batch, p.n))
    mean_w, cov = p.moments()
    mean, var = output_moments(p.mu_a, p.sigma_a, p.mu_b, p.sigma_b, x)
    assert mean.shape == (batch, p.m) and var.shape == (batch,)
    for b in range(batch):
        lift = np.kron(np.eye(p.m), x[b])
        assert np.allclose(mean[b], mean_w @ x[b], rtol=RTOL, atol=RTOL)
        assert np.isclose(var[b], np.trace(lift @ cov @ lift.T), rtol=1e-10, atol=0)
    single_mean, single_var = output_moments(p.mu_a, p.sigma_a, p.mu_b, p.sigma_b, x[0])
    assert isinstance(single_var, float) and np.allclose(single_mean, mean[0])


def test_output_moments_match_monte_carlo(rng: np.random.Generator) -> None:
    """z-test of the sampled total variance at false-failure probability ALPHA."""
    p = _posterior(7, 5, 3, 3)
    x = rng.normal(size=5)
    _, var = output_moments(p.mu_a, p.sigma_a, p.mu_b, p.sigma_b, x)
    w = sample_weights(p.mu_a, p.sigma_a, p.mu_b, p.sigma_b, n_samples=100_000, rng=rng)
    z = w @ x
    sq = np.sum((z - z.mean(axis=0)) ** 2, axis=1)
    se = sq.std(ddof=1) / np.sqrt(sq.size)
    assert abs(sq.mean() - var) <= stats.norm.isf(ALPHA / 2) * se


@pytest.mark.claim("G1")
@given(shape=layer_shapes(max_dim=7), seed=st.integers(0, 2**32 - 1))
def test_factor_jacobian_matches_finite_differences(shape, seed) -> None:
    m, n, r = shape
    g = np.random.default_rng(seed)
    a, b = g.normal(size=(m, r)), g.normal(size=(n, r))
    jac = factor_jacobian(a, b)
    theta = np.concatenate([a.reshape(-1), b.reshape(-1)])

    def f(t: np.ndarray) -> np.ndarray:
        return (t[: m * r].reshape(m, r) @ t[m * r :].reshape(n, r).T).reshape(-1)

    # The map is bilinear, so central differences are exact up to rounding.
    h = 1e-3
    fd = np.stack(
        [(f(theta + h * e) - f(theta - h * e)) / (2 * h) for e in np.eye(theta.size)], axis=1
    )
    assert np.allclose(jac, fd, rtol=1e-9, atol=1e-9)
    expected = m * n if r == min(m, n) else manifold_dimension(m, n, r)
    assert jacobian_rank(a, b) == expected


def test_sample_weights_is_the_product_of_sampled_factors() -> None:
    p = _posterior(5, 4, 2, 0)
    args = (p.mu_a, p.sigma_a, p.mu_b, p.sigma_b)
    w = sample_weights(*args, n_samples=10, rng=np.random.default_rng(7))
    a, b = sample_factors(*args, n_samples=10, rng=np.random.default_rng(7))
    assert np.array_equal(w, a @ np.swapaxes(b, 1, 2))
    assert all(np.linalg.matrix_rank(x) == 2 for x in w)
    mf = sample_mean_field(
        np.zeros((5, 4)), np.ones((5, 4)), n_samples=3, rng=np.random.default_rng(0)
    )
    assert mf.shape == (3, 5, 4) and all(np.linalg.matrix_rank(x) == 4 for x in mf)


@pytest.mark.claim("G1")
@given(shape=layer_shapes(max_dim=8), seed=st.integers(0, 2**32 - 1))
def test_gauge_transform_leaves_the_product_unchanged(shape, seed) -> None:
    m, n, r = shape
    g = np.random.default_rng(seed)
    a, b = g.normal(size=(m, r)), g.normal(size=(n, r))
    gmat = g.normal(size=(r, r)) + 3 * np.eye(r)
    a2, b2 = gauge_transform(a, b, gmat)
    cond = np.linalg.cond(gmat)
    assert np.allclose(
        a2 @ b2.T,
        a @ b.T,
        rtol=0,
        atol=64 * cond * np.finfo(float).eps * np.abs(a).max() * np.abs(b).max() * r,
    )


def test_init_rules() -> None:
    assert target_variance(300, 100, InitTarget.GLOROT) == pytest.approx(2 / 400)
    assert target_variance(300, 100, "he") == pytest.approx(2 / 100)
    post = variance_matching_init(40, 30, 4, target="glorot", eta=0.5, rng=np.random.default_rng(0))
    assert (post.m, post.n, post.r) == (40, 30, 4)
    assert np.all(post.sigma_a == 0.5 * (2 / 70 / 4) ** 0.25)
    w = np.random.default_rng(1).normal(size=(6, 5))
    a, b = balanced_factors(w, 3)
    u, s, vt = np.linalg.svd(w)
    assert np.allclose(a @ b.T, (u[:, :3] * s[:3]) @ vt[:3], rtol=0, atol=1e-12)
    assert np.allclose(a.T @ a, b.T @ b, rtol=0, atol=1e-12)  # balanced: equal Gram matrices
    warm = svd_warm_start(w, 3, eta=0.1, target="he")
    assert np.array_equal(warm.mu_a, a) and np.all(warm.sigma_b == 0.1 * (2 / 5 / 3) ** 0.25)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: weight_moments(
                np.zeros((3, 2)), np.ones((3, 2)), np.zeros((4, 3)), np.ones((4, 3))
            ),
            ValueError,
            "same number of columns r",
        ),
        (
            lambda: weight_moments(
                np.zeros((3, 4)), np.ones((3, 4)), np.zeros((2, 4)), np.ones((2, 4))
            ),
            ValueError,
            r"must be in \[1, min\(m, n\)\] = \[1, 2\]; got 4",
        ),
        (
            lambda: weight_moments(
                np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((2, 1)), np.ones((2, 1))
            ),
            ValueError,
            r"`sigma_a` must be a float in \(0, inf\); got 0.0",
        ),
        (
            lambda: weight_moments(
                np.full((3, 1), np.nan), np.ones((3, 1)), np.zeros((2, 1)), np.ones((2, 1))
            ),
            ValueError,
            "`mu_a` must not be NaN",
        ),
        (
            lambda: weight_moments(np.zeros(3), np.ones(3), np.zeros(2), np.ones(2)),
            ValueError,
            r"`mu_a` must be a non-empty 2-D array; got shape \(3,\)",
        ),
        (lambda: manifold_dimension(3, 2, 3), ValueError, r"`r` must be an int in \[1, 2\]; got 3"),
        (
            lambda: output_moments(
                np.zeros((3, 1)), np.ones((3, 1)), np.zeros((2, 1)), np.ones((2, 1)), np.ones(3)
            ),
            ValueError,
            r"`x` must have shape",
        ),
        (
            lambda: gauge_transform(np.ones((3, 2)), np.ones((2, 2)), np.ones((2, 2))),
            ValueError,
            "`g` must be invertible",
        ),
        (lambda: target_variance(3, 2, "xavier"), ValueError, "`target` must be one of"),
        (
            lambda: variance_matching_init(
                3, 2, 1, target="he", eta=1.5, rng=np.random.default_rng(0)
            ),
            ValueError,
            "`eta`",
        ),
        (
            lambda: sample_weights(
                np.zeros((3, 1)),
                np.ones((3, 1)),
                np.zeros((2, 1)),
                np.ones((2, 1)),
                n_samples=2,
                rng=0,
            ),
            TypeError,
            "`rng`",
        ),
    ],
)
def test_geometry_rejects_bad_input(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()
