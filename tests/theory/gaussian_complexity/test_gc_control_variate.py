"""The control-variate estimators of theory.gaussian_complexity: exact feature means against
quadrature, the same expectation as the plain estimators (z-tests), the variance they remove, and
the Gram-eigenvalue singular values against LAPACK's SVD."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from theory.gaussian_complexity import _control_variate as cv
from theory.gaussian_complexity import (
    empirical_gaussian_complexity,
    linear_class_complexity,
)
from theory.gaussian_complexity.estimators import _top_singular_sum

#: False-failure probability of each two-sided z-test below.
ALPHA = 1e-6
Z = float(stats.norm.isf(ALPHA / 2))


def _gen(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@given(
    sigma=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=4),
    level=st.floats(-30.0, 30.0),
)
def test_hinge_mean_matches_quadrature(sigma, level) -> None:
    """E sum_f (sigma_f Z - t)_+ by integrating the hinge against the normal density."""

    def one(s: float) -> float:
        if s == 0.0:
            return max(-level, 0.0)
        # the hinge vanishes below z = t / sigma; the normal density is < 1e-300 past |z| = 38
        lo, hi = max(level / s, -38.0), 38.0
        if lo >= hi:
            return 0.0
        value, _ = integrate.quad(
            lambda z: (s * z - level) * stats.norm.pdf(z),
            lo,
            hi,
            points=[0.0] if lo < 0.0 else None,
            limit=200,
            epsabs=1e-13,
        )
        return float(value)

    expected = sum(one(s) for s in sigma)
    got = cv.hinge_mean(np.array(sigma), level)
    assert got == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_hinge_sum_matches_definition() -> None:
    values = _gen(0).standard_normal((7, 5))
    expected = np.clip(values - 0.3, 0.0, None).sum(axis=1)
    np.testing.assert_allclose(cv.hinge_sum(values.copy(), 0.3), expected, rtol=1e-15)


def test_fit_coefficients_recovers_a_linear_relation_and_ignores_constant_features() -> None:
    g = _gen(1)
    feats = np.column_stack([g.standard_normal(200), np.full(200, 3.0)])
    sups = 2.5 * feats[:, 0] + 1.0
    np.testing.assert_allclose(cv.fit_coefficients(sups, feats), [2.5, 0.0], atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 4, 2), (2, 5, 1), (8, 6, 2), (40, 12, 3)])
@pytest.mark.parametrize("sampling", ["direct", "reduced"])
def test_finite_class_control_variate_keeps_the_expectation(shape, sampling) -> None:
    """Unbiased (coefficients from independent pilot draws): agrees with the plain estimate, and
    with the exact value where there is one (one function: 0; two: E max = ||f - g|| / sqrt(2 pi)
    / m), within a z-test at ALPHA."""
    outputs = _gen(2).standard_normal(shape)
    a, sa = empirical_gaussian_complexity(outputs, n_draws=20_000, rng=_gen(3))
    b, sb = empirical_gaussian_complexity(
        outputs, n_draws=20_000, rng=_gen(4), sampling=sampling, control_variate=True
    )
    assert abs(a - b) <= Z * np.hypot(sa, sb)
    m = shape[1]
    if shape[0] <= 2:
        exact = 0.0 if shape[0] == 1 else np.linalg.norm(outputs[0] - outputs[1]) / m
        exact /= np.sqrt(2 * np.pi)
        assert abs(b - exact) <= Z * sb + 1e-15


@pytest.mark.parametrize(("m", "d", "k", "r"), [(6, 4, 2, 2), (50, 8, 5, 3), (3, 10, 4, 4)])
@pytest.mark.parametrize("sampling", ["direct", "reduced"])
def test_linear_class_control_variate_keeps_the_expectation(m, d, k, r, sampling) -> None:
    x = _gen(5).standard_normal((m, d))
    kw = {"spectral_bound": 1.5, "rank": r, "out_dim": k, "n_draws": 20_000}
    a, sa = linear_class_complexity(x, rng=_gen(6), **kw)
    b, sb = linear_class_complexity(x, rng=_gen(7), sampling=sampling, control_variate=True, **kw)
    assert abs(a - b) <= Z * np.hypot(sa, sb)


def test_control_variate_shrinks_the_standard_error() -> None:
    """On random classes the fitted variates explain >= 70 % of the variance (measured 77-94 %),
    so the SE ratio is <= sqrt(0.3) = 0.55; with 20,000 draws each SE is known to ~1 % (the
    relative SE of a sample standard deviation is about sqrt((kurtosis - 1) / 4n)), so the
    threshold 0.6 cannot fail by chance (tens of standard errors away)."""
    outputs = _gen(8).standard_normal((65, 12, 3))
    _, plain = empirical_gaussian_complexity(outputs, n_draws=20_000, rng=_gen(9))
    _, reduced = empirical_gaussian_complexity(
        outputs, n_draws=20_000, rng=_gen(9), control_variate=True
    )
    assert reduced / plain < 0.6
    x = _gen(10).standard_normal((24, 6))
    kw = {"spectral_bound": 1.0, "rank": 3, "out_dim": 4, "n_draws": 20_000}
    _, plain = linear_class_complexity(x, rng=_gen(11), **kw)
    _, reduced = linear_class_complexity(x, rng=_gen(11), control_variate=True, **kw)
    assert reduced / plain < 0.6


def test_control_variate_on_a_zero_class_is_exactly_zero() -> None:
    zero = np.zeros((3, 4, 2))
    for sampling in ("direct", "reduced"):
        got = empirical_gaussian_complexity(
            zero, n_draws=50, rng=_gen(0), sampling=sampling, control_variate=True
        )
        assert got == (0.0, 0.0)


def test_control_variate_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="`control_variate` must be a bool; got 'yes'"):
        empirical_gaussian_complexity(
            np.ones((2, 2, 1)), n_draws=4, rng=_gen(0), control_variate="yes"
        )
    with pytest.raises(TypeError, match="`control_variate` must be a bool; got 1"):
        linear_class_complexity(
            np.eye(2),
            spectral_bound=1.0,
            rank=1,
            out_dim=1,
            n_draws=4,
            rng=_gen(0),
            control_variate=1,
        )


@pytest.mark.parametrize(("k", "p", "r"), [(1, 3, 1), (3, 3, 2), (4, 2, 3), (10, 20, 3), (6, 2, 6)])
def test_gram_singular_values_match_lapack(k, p, r) -> None:
    """The reduced path's eigenvalue route against the SVD (r may exceed p: the zero singular
    values are left out there, not rounded to sqrt(eps))."""
    mats = _gen(12).standard_normal((500, k, p)) * np.logspace(0, -3, p)
    top_svd, norm_svd = _top_singular_sum(mats, r, exact=True)
    top_gram, norm_gram = _top_singular_sum(mats, r, exact=False)
    np.testing.assert_allclose(top_gram, top_svd, rtol=1e-10)
    np.testing.assert_allclose(norm_gram, norm_svd, rtol=1e-12)
