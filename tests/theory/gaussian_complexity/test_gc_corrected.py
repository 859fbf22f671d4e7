"""Corrected (ours) Gaussian-complexity bounds: chi mean, one-layer bound, corrected E15 / E17."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from theory.gaussian_complexity import (
    gc_generalisation_bound,
    linear_class_complexity,
    pinto_bound_as_restated,
)
from theory.gaussian_complexity.corrected import (
    chi_mean,
    gc_generalisation_bound_corrected,
    one_layer_complexity_bound,
    pinto_bound_corrected,
)

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6
_EPS = float(np.finfo(np.float64).eps)


@pytest.mark.parametrize("n", [1, 2, 5, 40, 1000])
def test_chi_mean_matches_scipy_chi_distribution(n: int) -> None:
    assert chi_mean(n) == pytest.approx(float(stats.chi(n).mean()), rel=64 * _EPS)


def test_chi_mean_matches_monte_carlo(rng: np.random.Generator) -> None:
    draws = np.linalg.norm(rng.standard_normal((200_000, 3)), axis=1)
    z = stats.norm.isf(ALPHA / 2)
    assert abs(draws.mean() - chi_mean(3)) <= z * draws.std(ddof=1) / np.sqrt(draws.size)


@pytest.mark.claim("E17")
@pytest.mark.parametrize(("m", "d", "k", "r"), [(1, 1, 1, 1), (10, 4, 3, 2), (30, 6, 6, 6)])
def test_one_layer_bound_holds_per_draw_and_in_mean(
    m: int, d: int, k: int, r: int, rng: np.random.Generator
) -> None:
    """E17 (ours): Ky Fan_r(M) <= sqrt(r) ||M||_F for every draw (Cauchy-Schwarz), and
    E||Gamma^T X||_F^2 = k ||X||_F^2 (the Jensen step), a z-test on the squares."""
    X = rng.standard_normal((m, d))
    gamma = rng.standard_normal((20_000, m, k))
    mats = np.einsum("smk,md->skd", gamma, X)
    sv = np.linalg.svd(mats, compute_uv=False)
    fro = np.linalg.norm(mats, axis=(1, 2))
    assert (sv[:, :r].sum(axis=1) <= np.sqrt(r) * fro * (1 + 16 * _EPS)).all()
    sq = fro**2
    z = stats.norm.isf(ALPHA / 2)
    target = k * np.linalg.norm(X) ** 2
    assert abs(sq.mean() - target) <= z * sq.std(ddof=1) / np.sqrt(sq.size)
    est, se = linear_class_complexity(
        X, spectral_bound=1.7, rank=r, out_dim=k, n_draws=4000, rng=rng
    )
    assert est - stats.norm.isf(ALPHA) * se <= one_layer_complexity_bound(
        X, spectral_bound=1.7, rank=r, out_dim=k
    )


def test_one_layer_bound_is_attained_for_rank_one_scalar_outputs_in_the_limit() -> None:
    """k = r = 1, d = 1: the bound C ||x|| / m against the exact C ||x|| sqrt(2/pi) / m."""
    x = np.array([[3.0], [4.0]])
    bound = one_layer_complexity_bound(x, spectral_bound=2.0, rank=1, out_dim=1)
    assert bound == pytest.approx(2.0 * 5.0 / 2.0, rel=4 * _EPS)


@pytest.mark.claim("E17")
def test_pinto_bound_corrected_is_linear_in_c1_and_the_restated_one_quadratic() -> None:
    X = np.arange(12.0).reshape(4, 3)
    kw = {"ranks": [2, 1], "widths": [3, 2], "c0": 1.3}
    for t in (0.01, 7.0):
        base = pinto_bound_corrected(X, spectral_bounds=[1.0, 2.0], **kw)
        scaled = pinto_bound_corrected(X, spectral_bounds=[t, 2.0], **kw)
        restated = pinto_bound_as_restated(X, spectral_bounds=[t, 2.0], **kw)
        restated_1 = pinto_bound_as_restated(X, spectral_bounds=[1.0, 2.0], **kw)
        # the second-layer term does not involve C_1: split it off exactly
        second = np.linalg.norm(X) / 4 * 2.0 * np.sqrt(1 * 2)
        assert scaled - second == pytest.approx(t * (base - second), rel=64 * _EPS)
        assert restated - second == pytest.approx(t**2 * (restated_1 - second), rel=64 * _EPS)


def test_pinto_bound_corrected_at_depth_one_is_the_one_layer_bound() -> None:
    X = np.linspace(-1, 1, 15).reshape(5, 3)
    a = pinto_bound_corrected(X, spectral_bounds=[0.4], ranks=[2], widths=[4], c0=9.0)
    b = one_layer_complexity_bound(X, spectral_bound=0.4, rank=2, out_dim=4)
    assert a == pytest.approx(b, rel=4 * _EPS)


def test_pinto_bound_corrected_matches_a_hand_written_two_layer_sum() -> None:
    X = np.ones((4, 2))  # ||X||_F / m = sqrt(8) / 4
    got = pinto_bound_corrected(X, spectral_bounds=[2.0, 3.0], ranks=[1, 2], widths=[3, 5], c0=0.5)
    want = np.sqrt(8) / 4 * (np.sqrt(1 * 3) * 2.0 * 0.5 * 3.0 + 3.0 * np.sqrt(2 * 5))
    assert got == pytest.approx(want, rel=8 * _EPS)


@pytest.mark.claim("E15")
def test_corrected_e15_equals_the_quoted_one_exactly_at_l_one_half() -> None:
    """sqrt(pi L) = sqrt(2 pi) L iff L = 1/2; above it the quoted form is smaller (not implied)."""
    kw = {"n": 500, "delta": 0.1}
    a = gc_generalisation_bound(0.2, 0.3, lipschitz=0.5, **kw)
    b = gc_generalisation_bound_corrected(0.2, 0.3, lipschitz=0.5, **kw)
    assert a == pytest.approx(b, rel=8 * _EPS)
    assert gc_generalisation_bound(0.2, 0.3, lipschitz=2.0, **kw) < (
        gc_generalisation_bound_corrected(0.2, 0.3, lipschitz=2.0, **kw)
    )
    assert gc_generalisation_bound(0.2, 0.3, lipschitz=0.1, **kw) > (
        gc_generalisation_bound_corrected(0.2, 0.3, lipschitz=0.1, **kw)
    )


def test_gc_corrected_bad_input_names_the_argument() -> None:
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="`rank` must be an int in \\[1, 2\\]; got 3"):
        one_layer_complexity_bound(X, spectral_bound=1.0, rank=3, out_dim=4)
    with pytest.raises(ValueError, match="`spectral_bound` must be a float in \\(0, inf\\)"):
        one_layer_complexity_bound(X, spectral_bound=0.0, rank=1, out_dim=1)
    with pytest.raises(ValueError, match="`X` must be a non-empty 2-D array"):
        one_layer_complexity_bound(np.ones(3), spectral_bound=1.0, rank=1, out_dim=1)
    with pytest.raises(ValueError, match="`widths` must hold one value per layer"):
        pinto_bound_corrected(X, spectral_bounds=[1.0, 1.0], ranks=[1, 1], widths=[1], c0=1.0)
    with pytest.raises(ValueError, match="`spectral_bounds` must not be empty"):
        pinto_bound_corrected(X, spectral_bounds=[], ranks=[], widths=[], c0=1.0)
    with pytest.raises(ValueError, match="`c0` must be a float in \\(0, inf\\)"):
        pinto_bound_corrected(X, spectral_bounds=[1.0], ranks=[1], widths=[1], c0=-1.0)
    with pytest.raises(ValueError, match=r"`delta` must be a float in \(0, 1\); got 1.5"):
        gc_generalisation_bound_corrected(0.1, 0.1, lipschitz=1.0, n=10, delta=1.5)
    with pytest.raises(TypeError, match="`dof` must be an int"):
        chi_mean(2.5)  # type: ignore[arg-type]
