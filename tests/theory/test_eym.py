"""theory.eym against brute-force twins: the tail identities of Eckart-Young-Mirsky against a
prescribed spectrum, the truncation against an eigh-based projection, random rank-r candidates,
the two bias bounds, the T3.7 decomposition, and bad input (claims C3, T3.6, T3.6s, T3.7)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from theory.eym import (
    BiasNorm,
    RankDecomposition,
    rank_bias_bound,
    rank_decomposition,
    singular_values,
    tail_energy,
    truncated_svd,
)
from verification.testing.strategies import matrices_with_spectrum, spectra

_EPS = float(np.finfo(np.float64).eps)
#: Rounding slack, in units of eps (m + n) sigma_1: the computed SVD is the exact SVD of W + E
#: with ||E||_2 a modest multiple of eps (m + n) ||W||_2 (backward stability; Weyl), and W is
#: built from Q factors orthonormal to the same order.
SLACK = 32.0
#: The name theory.eym gives its matrix argument in messages (the parameter is spelled ``w``;
#: API.md writes ``W``).
W_NAME = "W"


def _slack(w: np.ndarray, s: np.ndarray) -> float:
    m, n = w.shape
    return SLACK * (m + n) * _EPS * float(s[0])


def _truncation_by_eigh(w: np.ndarray, r: int) -> np.ndarray:
    """Twin of the truncated SVD: W projected onto the top-r eigenvectors of W^T W."""
    _, vecs = np.linalg.eigh(w.T @ w)
    top = vecs[:, ::-1][:, :r]
    return (w @ top) @ top.T


@pytest.mark.claim("C3")
@given(case=matrices_with_spectrum())
@example(case=(np.diag([3.0, 2.0, 1.0]), np.array([3.0, 2.0, 1.0])))
@example(case=(np.ones((2, 2)), np.array([2.0, 0.0])))
def test_truncated_svd_tail_identities_hold_for_every_rank(case) -> None:
    """C3: ||W - W_r||_F = sigma_{>r} and ||W - W_r||_2 = sigma_{r+1}, every 0 <= r <= min(m, n),
    against the spectrum W was built with (no SVD on the twin side)."""
    w, s = case
    k = min(w.shape)
    slack = _slack(w, s)
    for r in range(k + 1):
        w_r = truncated_svd(w, r)
        assert w_r.shape == w.shape
        assert np.linalg.matrix_rank(w_r) <= r
        tail = float(np.sqrt(np.sum(s[r:] ** 2)))
        nxt = float(s[r]) if r < k else 0.0
        assert abs(float(np.linalg.norm(w - w_r)) - tail) <= slack
        assert abs(float(np.linalg.norm(w - w_r, 2)) - nxt) <= slack
        assert abs(tail_energy(w, r) - tail) <= slack
    assert np.array_equal(truncated_svd(w, 0), np.zeros_like(w))
    assert tail_energy(w, k) == 0.0
    assert abs(tail_energy(w, 0) - float(np.linalg.norm(w))) <= slack


@pytest.mark.claim("C3")
@given(case=matrices_with_spectrum())
def test_truncated_svd_matches_eigh_projection_when_the_gap_is_clear(case) -> None:
    """C3: where sigma_r > sigma_{r+1} the truncation is unique; an eigh-based projection (a
    different algorithm) gives it, up to rounding amplified by 1 / (sigma_r^2 - sigma_{r+1}^2)
    (Davis-Kahan on W^T W)."""
    w, s = case
    s1 = float(s[0])
    for r in range(1, min(w.shape)):
        gap = float(s[r - 1] ** 2 - s[r] ** 2)
        if gap <= 1e-6 * s1 * s1:
            continue
        tol = 2.0 * _slack(w, s) * (1.0 + s1 * s1 / gap)
        assert np.linalg.norm(truncated_svd(w, r) - _truncation_by_eigh(w, r)) <= tol


@pytest.mark.claim("C3")
@given(
    case=matrices_with_spectrum(max_dim=6),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_no_random_rank_r_candidate_beats_the_truncation(case, seed, scale) -> None:
    """C3: Eckart-Young-Mirsky against random rank-r products A B^T, in both norms."""
    w, s = case
    g = np.random.default_rng(seed)
    slack = _slack(w, s)
    m, n = w.shape
    u, sv, vt = np.linalg.svd(w)
    for r in range(1, min(m, n) + 1):
        w_r = truncated_svd(w, r)
        best_f, best_2 = np.linalg.norm(w - w_r), np.linalg.norm(w - w_r, 2)
        # Factors of W_r (scaled) plus noise of every size: products stay of rank <= r.
        a0, b0 = u[:, :r] * np.sqrt(sv[:r]), vt[:r].T * np.sqrt(sv[:r])
        for _ in range(5):
            shrink, noise = g.uniform(0.0, 1.5), scale * 10.0 ** g.uniform(-8, 0)
            a = shrink * a0 + noise * g.standard_normal((m, r))
            b = b0 + noise * g.standard_normal((n, r))
            cand = a @ b.T
            assert np.linalg.norm(w - cand) >= best_f - slack
            assert np.linalg.norm(w - cand, 2) >= best_2 - slack


def test_singular_values_are_sorted_and_match_the_spectrum() -> None:
    w = np.array([[0.0, 2.0], [3.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(singular_values(w), [3.0, 2.0], rtol=4 * _EPS, atol=0)


@pytest.mark.claim("T3.6")
@pytest.mark.claim("T3.6s")
@given(
    case=matrices_with_spectrum(),
    lip=st.floats(0.0, 1e3),
    radius=st.floats(0.0, 1e3),
)
@example(case=(np.diag([3.0, 2.0, 1.0]), np.array([3.0, 2.0, 1.0])), lip=1.0, radius=2.0)
def test_rank_bias_bounds_are_l_r_times_the_tails(case, lip, radius) -> None:
    """T3.6 / T3.6s: the bounds are L R sigma_{>r} and L R sigma_{r+1}; the spectral one is the
    smaller; both are non-increasing in r and vanish at r = min(m, n)."""
    w, s = case
    k = min(w.shape)
    fro = [rank_bias_bound(w, r, lipschitz=lip, radius=radius) for r in range(k + 1)]
    spec = [
        rank_bias_bound(w, r, lipschitz=lip, radius=radius, norm="spectral") for r in range(k + 1)
    ]
    computed = np.linalg.svd(w, compute_uv=False)
    for r in range(k + 1):
        assert fro[r] == lip * radius * tail_energy(w, r)
        assert spec[r] == lip * radius * (float(computed[r]) if r < k else 0.0)
        assert spec[r] <= fro[r] * (1.0 + 4 * _EPS)
        twin = lip * radius * float(np.sqrt(np.sum(s[r:] ** 2)))
        assert abs(fro[r] - twin) <= lip * radius * _slack(w, s)
        assert (
            rank_bias_bound(w, r, lipschitz=lip, radius=radius, norm=BiasNorm.SPECTRAL) == (spec[r])
        )
    assert all(a >= b for a, b in itertools.pairwise(fro))
    assert all(a >= b for a, b in itertools.pairwise(spec))
    assert fro[k] == 0.0 and spec[k] == 0.0


@pytest.mark.claim("T3.7")
@given(
    case=matrices_with_spectrum(max_dim=8),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_rank_decomposition_triangle_inequality_and_twin(case, seed, data) -> None:
    """T3.7: ||W - W*||_F <= ||W - W*_r||_F + sigma_{>r} for any W; the optimisation term
    against the eigh twin when W*_r is unique."""
    w_star, s = case
    k = min(w_star.shape)
    r = data.draw(st.integers(0, k), label="r")
    g = np.random.default_rng(seed)
    w = g.standard_normal(w_star.shape) * float(s[0] + 1.0)
    d = rank_decomposition(w, w_star, r)
    slack = _slack(w_star, s) + SLACK * sum(w.shape) * _EPS * float(np.linalg.norm(w))
    assert isinstance(d, RankDecomposition) and d.rank == r
    assert d.distance <= d.total + slack
    assert d.total == d.optimisation + d.rank_bias
    assert d.rank_bias == tail_energy(w_star, r)
    assert d.distance == float(np.linalg.norm(w - w_star))
    gap = float(s[r - 1] ** 2 - s[r] ** 2) if 0 < r < k else np.inf
    if gap > 1e-6 * float(s[0]) ** 2:
        twin = float(np.linalg.norm(w - _truncation_by_eigh(w_star, r)))
        assert abs(d.optimisation - twin) <= 2.0 * slack * (1.0 + float(s[0]) ** 2 / gap)


@pytest.mark.claim("T3.7")
@given(case=matrices_with_spectrum(max_dim=8), c=st.floats(0.0, 10.0), data=st.data())
def test_rank_decomposition_is_an_equality_on_the_segment_through_the_truncation(
    case, c, data
) -> None:
    """T3.7: W = W*_r - c (W* - W*_r) makes the triangle inequality an equality:
    distance = (1 + c) sigma_{>r} = optimisation + bias; c = 0 is W = W*_r."""
    w_star, s = case
    r = data.draw(st.integers(0, min(w_star.shape)), label="r")
    w_r = truncated_svd(w_star, r)
    d = rank_decomposition(w_r - c * (w_star - w_r), w_star, r)
    tail = float(np.sqrt(np.sum(s[r:] ** 2)))
    slack = (1.0 + c) * _slack(w_star, s)
    assert abs(d.distance - (1.0 + c) * tail) <= slack
    assert abs(d.optimisation - c * tail) <= slack
    assert abs(d.total - d.distance) <= 2 * slack


def test_rank_decomposition_by_hand() -> None:
    """T3.7 on diag(3, 1) with W = diag(3, 0) + off-diagonal 1: optimisation 1, bias 1,
    distance sqrt(2)."""
    d = rank_decomposition([[3.0, 1.0], [0.0, 0.0]], [[3.0, 0.0], [0.0, 1.0]], 1)
    assert (d.optimisation, d.rank_bias) == (1.0, 1.0)
    assert d.distance == pytest.approx(np.sqrt(2.0), rel=4 * _EPS)
    assert d.total == 2.0


_BAD_MATRICES = [
    (np.ones(3), ValueError, rf"`{W_NAME}` must be a non-empty 2-D array; got shape \(3,\)"),
    (np.ones((2, 2, 2)), ValueError, rf"`{W_NAME}` must be a non-empty 2-D array"),
    (np.ones((0, 3)), ValueError, rf"`{W_NAME}` must be a non-empty 2-D array; got shape \(0, 3\)"),
    ([[1.0, np.nan]], ValueError, rf"`{W_NAME}` must not be NaN"),
    ([[1.0, np.inf]], ValueError, rf"`{W_NAME}` must be finite; got inf"),
    ([["a"]], TypeError, rf"`{W_NAME}` must be a real number or array"),
    ([[True]], TypeError, rf"`{W_NAME}` must be a real number or array"),
]


@pytest.mark.parametrize(("w", "exc", "msg"), _BAD_MATRICES)
def test_eym_functions_reject_bad_matrices(w, exc, msg) -> None:
    for call in (
        lambda: singular_values(w),
        lambda: truncated_svd(w, 0),
        lambda: tail_energy(w, 0),
        lambda: rank_bias_bound(w, 0, lipschitz=1.0, radius=1.0),
    ):
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize(
    ("r", "exc", "msg"),
    [
        (-1, ValueError, r"`r` must be an int in \[0, 2\]; got -1"),
        (3, ValueError, r"`r` must be an int in \[0, 2\]; got 3"),
        (1.0, TypeError, r"`r` must be an int; got 1.0 \(float\)"),
        (True, TypeError, r"`r` must be an int; got True \(bool\)"),
        (None, TypeError, r"`r` must be an int; got None"),
    ],
)
def test_eym_functions_reject_ranks_outside_zero_to_min(r, exc, msg) -> None:
    w = np.ones((2, 5))
    for call in (
        lambda: truncated_svd(w, r),
        lambda: tail_energy(w, r),
        lambda: rank_bias_bound(w, r, lipschitz=1.0, radius=1.0),
        lambda: rank_bias_bound(w, r, lipschitz=1.0, radius=1.0, norm="spectral"),
        lambda: rank_decomposition(w, w, r),
    ):
        with pytest.raises(exc, match=msg):
            call()


@pytest.mark.parametrize(
    ("kwargs", "exc", "msg"),
    [
        ({"lipschitz": -1.0}, ValueError, r"`lipschitz` must be a float in \[0, inf\]; got -1.0"),
        ({"radius": -0.5}, ValueError, r"`radius` must be a float in \[0, inf\]; got -0.5"),
        ({"lipschitz": np.nan}, ValueError, r"`lipschitz` must not be NaN"),
        ({"radius": np.inf}, ValueError, r"`radius` must be finite; got inf"),
        ({"radius": "2"}, TypeError, r"`radius` must be a real number"),
        ({"norm": "nuclear"}, ValueError, r"`norm` must be 'fro' or 'spectral'; got 'nuclear'"),
    ],
)
def test_rank_bias_bound_rejects_bad_constants(kwargs, exc, msg) -> None:
    args = {"lipschitz": 1.0, "radius": 1.0, **kwargs}
    with pytest.raises(exc, match=msg):
        rank_bias_bound(np.eye(2), 1, **args)


def test_rank_decomposition_names_its_arguments() -> None:
    with pytest.raises(ValueError, match=r"`w` must have the shape of `w_star` \(2, 2\); got"):
        rank_decomposition(np.ones((2, 3)), np.eye(2), 1)
    with pytest.raises(ValueError, match=r"`w` must be a non-empty 2-D array; got shape \(2,\)"):
        rank_decomposition(np.ones(2), np.eye(2), 1)
    with pytest.raises(ValueError, match=r"`w_star` must not be NaN"):
        rank_decomposition(np.eye(2), [[np.nan, 0.0], [0.0, 1.0]], 1)
    with pytest.raises(ValueError, match=r"`w_star` must be finite; got inf"):
        rank_decomposition(np.eye(2), [[np.inf, 0.0], [0.0, 1.0]], 1)


@given(data=st.data(), size=st.integers(1, 12))
def test_spectra_strategy_draws_valid_spectra(data, size) -> None:
    """The strategy itself: non-increasing, non-negative, the requested length, finite."""
    s = data.draw(spectra(size))
    assert s.shape == (size,) and np.isfinite(s).all()
    assert (s >= 0.0).all() and (np.diff(s) <= 0.0).all()
    assert 1e-3 <= s[0] <= 1e3 or s[0] == 0.0


@pytest.mark.parametrize("scale", [1e-170, 1e155, 5e-324], ids=["underflow", "overflow", "min"])
def test_tail_energy_is_accurate_at_extreme_scales(scale: float) -> None:
    """sigma_{>0}(scale * diag(3, 4)) = 5 scale; the bound L R sigma_{>r} inherits the error
    (rank_bias_bound([[5e-324]], 0, ...) is 0 while its spectral form is 5e-324)."""
    w = scale * np.diag([3.0, 4.0])
    assert tail_energy(w, 0) == pytest.approx(5.0 * scale, rel=1e-14)
    assert rank_bias_bound(w, 0, lipschitz=1.0, radius=1.0) >= rank_bias_bound(
        w, 0, lipschitz=1.0, radius=1.0, norm="spectral"
    )
