"""theory.gaussian_complexity against independent twins: Python loops over draws (the supremum by
brute force, and by the explicit maximiser C U_r V_r^T), the Ky Fan formula against optimised
factors, closed forms, standard-error calibration, scaling laws, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import optimize, special, stats

from theory.gaussian_complexity import (
    empirical_gaussian_complexity,
    linear_class_complexity,
)
from verification.testing.strategies import function_class_outputs, layer_shapes

_EPS = float(np.finfo(np.float64).eps)
#: False-failure probability of each Monte Carlo assertion here (Bonferroni inside each test).
ALPHA = 1e-6
Z = float(stats.norm.isf(ALPHA / 2))


def _gen(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _loop_finite(outputs: np.ndarray, n_draws: int, seed: int) -> tuple[float, float, float]:
    """The definition typed out: one draw at a time, every function, every point and output.

    Returns the estimate, its standard error and the rounding allowance: the max over draws of
    sum |gamma| |f| / m times 2 (m k + n + 2) eps (two summation orders of each length-mk dot
    product, and of the length-n mean, Higham Thm 3.1)."""
    n_f, m, k = outputs.shape
    rng = _gen(seed)
    sups, scale = [], 0.0
    for _ in range(n_draws):
        gamma = rng.standard_normal((m, k))
        best = -math.inf
        for f in range(n_f):
            total, absolute = 0.0, 0.0
            for j in range(m):
                for i in range(k):
                    total += gamma[j, i] * outputs[f, j, i]
                    absolute += abs(gamma[j, i] * outputs[f, j, i])
            best = max(best, total / m)
            scale = max(scale, absolute / m)
        sups.append(best)
    mean = sum(sups) / n_draws
    var = sum((s - mean) ** 2 for s in sups) / (n_draws - 1)
    return mean, math.sqrt(var / n_draws), 2.0 * (m * k + n_draws + 2) * _EPS * scale


def _loop_linear(
    x: np.ndarray, c: float, r: int, k: int, n_draws: int, seed: int
) -> tuple[float, float]:
    """One draw at a time: build the maximiser W* = C U_r V_r^T of <W, Gamma^T X> and evaluate
    (1/m) sum_j <gamma_j, W* x_j> directly (no sum of singular values)."""
    m = x.shape[0]
    rng = _gen(seed)
    sups = []
    for _ in range(n_draws):
        gamma = rng.standard_normal((m, k))
        u, _, vt = np.linalg.svd(gamma.T @ x)
        w_star = c * u[:, :r] @ vt[:r]
        sups.append(sum(float(gamma[j] @ (w_star @ x[j])) for j in range(m)) / m)
    arr = np.array(sups)
    return float(arr.mean()), float(arr.std(ddof=1) / np.sqrt(n_draws))


def _ky_fan(mat: np.ndarray, r: int) -> float:
    return float(np.linalg.svd(mat, compute_uv=False)[:r].sum())


# ----------------------------------------------------------------------------- twins by loops


@given(outputs=function_class_outputs(), n_draws=st.integers(2, 25), seed=st.integers(0, 2**32))
def test_empirical_gaussian_complexity_matches_a_python_loop_over_draws(
    outputs, n_draws, seed
) -> None:
    """Same seed, same draws: the batched estimate and SE equal the typed-out definition."""
    est, se = empirical_gaussian_complexity(outputs, n_draws=n_draws, rng=_gen(seed))
    loop_est, loop_se, slack = _loop_finite(outputs, n_draws, seed)
    assert abs(est - loop_est) <= slack
    # The SE is a standard deviation of sups each off by <= slack: off by <= 2 slack / sqrt(n).
    assert abs(se - loop_se) <= 2.0 * slack + 1e-12 * loop_se


@given(shape=layer_shapes(max_dim=5), m=st.integers(1, 8), seed=st.integers(0, 2**32))
def test_linear_class_complexity_matches_the_explicit_maximiser_loop(shape, m, seed) -> None:
    """Summed singular values (the module) against <W*, Gamma^T X> with W* built by SVD."""
    k, d, r = shape
    g = _gen(seed)
    x = g.standard_normal((m, d)) * 10.0 ** g.uniform(-2, 2)
    c = float(10.0 ** g.uniform(-2, 2))
    est, se = linear_class_complexity(
        x, spectral_bound=c, rank=r, out_dim=k, n_draws=20, rng=_gen(seed + 1)
    )
    loop_est, loop_se = _loop_linear(x, c, r, k, 20, seed + 1)
    assert est == pytest.approx(loop_est, rel=1e-12, abs=1e-12 * c * np.abs(x).max())
    assert se == pytest.approx(loop_se, rel=1e-9, abs=1e-12 * c * np.abs(x).max())


def _neg_ratio(mat: np.ndarray, r: int):
    """-<A B^T, M> / ||A B^T||_2 and its gradient: the class's objective per unit of C, over
    every rank-r matrix A B^T (scale-invariant, so no constraint is needed)."""
    k, d = mat.shape

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b = theta[: k * r].reshape(k, r), theta[k * r :].reshape(d, r)
        w = a @ b.T
        u, s, vt = np.linalg.svd(w, full_matrices=False)
        inner = float(np.sum(w * mat))
        grad_w = mat / s[0] - inner / s[0] ** 2 * np.outer(u[:, 0], vt[0])
        return -inner / s[0], -np.concatenate([(grad_w @ b).ravel(), (grad_w.T @ a).ravel()])

    return f


def test_ky_fan_supremum_is_reached_and_not_beaten_by_optimised_factors(rng) -> None:
    """sup {<W, M> : ||W||_2 <= C, rank W <= r} = C (sigma_1 + ... + sigma_r) (M = Gamma^T X):
    BFGS over factor matrices from random starts reaches it and never exceeds it, and neither
    do random rank-r matrices scaled to norm C."""
    for _ in range(8):
        k, d = (int(v) for v in rng.integers(1, 6, size=2))
        r = int(rng.integers(1, min(k, d) + 1))
        mat = rng.standard_normal((k, d))
        bound = _ky_fan(mat, r)
        best = -np.inf
        for _ in range(3):
            res = optimize.minimize(
                _neg_ratio(mat, r),
                rng.standard_normal((k + d) * r),
                jac=True,
                method="BFGS",
                options={"maxiter": 2000, "gtol": 1e-12},
            )
            best = max(best, -float(res.fun))
        assert best <= bound * (1.0 + 64 * _EPS)
        # The optimum has r equal singular values (non-smooth); BFGS still gets within 1e-6.
        assert best >= bound * (1.0 - 1e-6)
        w = rng.standard_normal((200, k, r)) @ rng.standard_normal((200, r, d))
        values = np.sum(w * mat, axis=(1, 2)) / np.linalg.norm(w, 2, axis=(1, 2))
        assert values.max() <= bound * (1.0 + 64 * _EPS)


def test_linear_class_on_one_feature_and_output_equals_the_finite_segment_ends() -> None:
    """d = k = 1: the class {x -> w x : |w| <= C} is the segment between -C x and C x; by E9 its
    complexity is that of the two ends, and with common draws both estimators agree."""
    x = _gen(3).standard_normal((7, 1))
    lin, lin_se = linear_class_complexity(
        x, spectral_bound=1.5, rank=1, out_dim=1, n_draws=500, rng=_gen(4)
    )
    ends = np.stack([1.5 * x, -1.5 * x])
    fin, fin_se = empirical_gaussian_complexity(ends, n_draws=500, rng=_gen(4))
    assert lin == pytest.approx(fin, rel=1e-13)
    assert lin_se == pytest.approx(fin_se, rel=1e-10)


def test_batches_do_not_change_the_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """Splitting the draws into batches draws the same normals (standard_normal fills in order):
    results with tiny batches equal those of one batch."""
    import theory.gaussian_complexity.estimators as gc

    g = _gen(5)
    outputs, x = g.standard_normal((4, 6, 3)), g.standard_normal((6, 2))
    one = empirical_gaussian_complexity(outputs, n_draws=101, rng=_gen(6))
    lin = linear_class_complexity(
        x, spectral_bound=1.0, rank=2, out_dim=3, n_draws=101, rng=_gen(6)
    )
    monkeypatch.setattr(gc, "_BATCH_ELEMENTS", 37)
    assert empirical_gaussian_complexity(outputs, n_draws=101, rng=_gen(6)) == pytest.approx(
        one, rel=1e-14
    )
    assert linear_class_complexity(
        x, spectral_bound=1.0, rank=2, out_dim=3, n_draws=101, rng=_gen(6)
    ) == pytest.approx(lin, rel=1e-14)


# ----------------------------------------------------------------------------- closed forms


def test_no_function_varies_zero_complexity_exactly() -> None:
    assert empirical_gaussian_complexity(np.zeros((3, 5, 2)), n_draws=50, rng=_gen(0)) == (
        0.0,
        0.0,
    )


def test_one_function_has_complexity_zero(rng) -> None:
    """G({f}) = E <gamma, f> / m = 0; the estimate is N(0, ||f||^2 / (m^2 n)) exactly."""
    f = rng.standard_normal((1, 9, 3))
    n = 4000
    est, _ = empirical_gaussian_complexity(f, n_draws=n, rng=rng)
    assert abs(est) <= Z * np.linalg.norm(f) / (9 * np.sqrt(n))


def test_symmetric_pair_has_the_half_normal_mean(rng) -> None:
    """G({f, -f}) = E |<gamma, f>| / m = ||f||_F sqrt(2/pi) / m."""
    f = rng.standard_normal((9, 3))
    est, se = empirical_gaussian_complexity(np.stack([f, -f]), n_draws=4000, rng=rng)
    assert abs(est - np.linalg.norm(f) * np.sqrt(2 / np.pi) / 9) <= Z * se


@pytest.mark.parametrize("m", [1, 3, 10])
def test_linear_class_k1_rank1_identity_sample_is_a_chi_mean(m: int, rng) -> None:
    """k = 1, r = 1, X = I_m: sup = C ||gamma|| / m, E||gamma|| = sqrt(2) G((m+1)/2) / G(m/2)."""
    c = 2.5
    est, se = linear_class_complexity(
        np.eye(m), spectral_bound=c, rank=1, out_dim=1, n_draws=4000, rng=rng
    )
    chi_mean = np.sqrt(2) * np.exp(special.gammaln((m + 1) / 2) - special.gammaln(m / 2))
    assert abs(est - c * chi_mean / m) <= Z * se


@pytest.mark.parametrize("k", [1, 2, 5])
def test_linear_class_on_one_feature_is_a_chi_mean(k: int, rng) -> None:
    """d = 1 (rank 1): Gamma^T x ~ N(0, ||x||^2 I_k), so G = C ||x|| E chi_k / m."""
    x = rng.standard_normal((6, 1))
    est, se = linear_class_complexity(
        x, spectral_bound=0.7, rank=1, out_dim=k, n_draws=4000, rng=rng
    )
    chi_mean = np.sqrt(2) * np.exp(special.gammaln((k + 1) / 2) - special.gammaln(k / 2))
    assert abs(est - 0.7 * np.linalg.norm(x) * chi_mean / 6) <= Z * se


def test_standard_error_is_calibrated(rng) -> None:
    """1500 independent estimates of G({f, -f}) (200 draws each): the number with
    |est - truth| > 1.96 se is Binomial(1500, ~0.05) when the SE is right (two-sided test at
    ALPHA); an SE off by a factor 1.3 either way moves the rate to about 0.13 or 0.011."""
    f = rng.standard_normal((5, 2))
    truth = np.linalg.norm(f) * np.sqrt(2 / np.pi) / 5
    outputs = np.stack([f, -f])
    misses = 0
    for _ in range(1500):
        est, se = empirical_gaussian_complexity(outputs, n_draws=200, rng=rng)
        misses += abs(est - truth) > 1.959963984540054 * se
    assert stats.binom.cdf(misses, 1500, 0.05) >= ALPHA / 2
    assert stats.binom.sf(misses - 1, 1500, 0.05) >= ALPHA / 2


def test_linear_standard_error_is_calibrated(rng) -> None:
    """The same calibration for the linear class (k = 1, r = 1, X = I_4, closed form)."""
    truth = np.sqrt(2) * np.exp(special.gammaln(2.5) - special.gammaln(2.0)) / 4
    misses = 0
    for _ in range(1500):
        est, se = linear_class_complexity(
            np.eye(4), spectral_bound=1.0, rank=1, out_dim=1, n_draws=200, rng=rng
        )
        misses += abs(est - truth) > 1.959963984540054 * se
    assert stats.binom.cdf(misses, 1500, 0.05) >= ALPHA / 2
    assert stats.binom.sf(misses - 1, 1500, 0.05) >= ALPHA / 2


# ----------------------------------------------------------------------------- scaling laws


@given(shape=layer_shapes(max_dim=4), seed=st.integers(0, 2**32), lam=st.floats(1e-3, 1e3))
def test_linear_class_is_linear_in_the_spectral_bound(shape, seed, lam) -> None:
    """Common draws: doubling C doubles estimate and SE exactly (a power of two), any factor
    to within a few ulps."""
    k, d, r = shape
    x = _gen(seed).standard_normal((5, d))

    def run(c: float) -> tuple[float, float]:
        return linear_class_complexity(
            x, spectral_bound=c, rank=r, out_dim=k, n_draws=30, rng=_gen(seed)
        )

    base = run(0.8)
    assert run(1.6) == (2 * base[0], 2 * base[1])
    scaled = run(0.8 * lam)
    assert scaled[0] == pytest.approx(lam * base[0], rel=8 * _EPS)
    assert scaled[1] == pytest.approx(lam * base[1], rel=64 * _EPS)


@given(outputs=function_class_outputs(), seed=st.integers(0, 2**32))
def test_finite_class_estimate_is_positively_homogeneous(outputs, seed) -> None:
    # Exact in floating point unless products gamma f(x) underflow to subnormals (outputs near
    # the smallest normal float lose bits there, and doubling them does not commute with that).
    assume(not np.any((outputs != 0) & (np.abs(outputs) < 1e-290)))
    est = empirical_gaussian_complexity(outputs, n_draws=10, rng=_gen(seed))
    assert empirical_gaussian_complexity(2.0 * outputs, n_draws=10, rng=_gen(seed)) == (
        2 * est[0],
        2 * est[1],
    )


def _slack(outputs: np.ndarray, n_draws: int, seed: int) -> float:
    """Rounding allowance of the difference of two estimates on the same draws: each computed
    inner product is off by <= (mk + n_f) eps sum |gamma| |f| (Higham Thm 3.1 and the rounding
    of the combination weights), twice, averaged over draws, over m."""
    n_f, m, k = outputs.shape
    gamma = _gen(seed).standard_normal((n_draws, m * k))
    absolute = np.abs(gamma) @ np.abs(outputs.reshape(n_f, -1)).T
    return float(4.0 * (m * k + n_f) * _EPS * absolute.max(axis=1).mean() / m)


@given(outputs=function_class_outputs(), seed=st.integers(0, 2**32))
def test_adding_convex_combinations_leaves_the_estimate_unchanged(outputs, seed) -> None:
    """E9 with common draws: a convex combination never beats the best vertex on any draw."""
    g = _gen(seed)
    weights = g.dirichlet(np.full(outputs.shape[0], 0.3), size=5)
    hull = np.concatenate([outputs, np.einsum("nf,fmk->nmk", weights, outputs), outputs])
    est = empirical_gaussian_complexity(outputs, n_draws=40, rng=_gen(seed))[0]
    est_hull = empirical_gaussian_complexity(hull, n_draws=40, rng=_gen(seed))[0]
    assert abs(est_hull - est) <= _slack(hull, 40, seed)


def test_adding_a_point_outside_the_hull_raises_the_estimate(rng) -> None:
    """The converse, so that the invariance above is not vacuous."""
    outputs = rng.standard_normal((5, 4, 2))
    seed = 11
    est = empirical_gaussian_complexity(outputs, n_draws=500, rng=_gen(seed))[0]
    more = np.concatenate([outputs, 3.0 * outputs[:1]])
    assert empirical_gaussian_complexity(more, n_draws=500, rng=_gen(seed))[0] > est + _slack(
        more, 500, seed
    )


def test_translation_shifts_the_estimate_by_the_draws_inner_product(rng) -> None:
    """G(F + g) = G(F) + E <gamma, g> / m: with common draws the shift is the mean of
    <gamma_s, g> / m over the very draws used (so this also pins down the draw order)."""
    outputs, shift = rng.standard_normal((6, 5, 3)), rng.standard_normal((5, 3))
    seed, n = 21, 300
    est = empirical_gaussian_complexity(outputs, n_draws=n, rng=_gen(seed))[0]
    moved = empirical_gaussian_complexity(outputs + shift, n_draws=n, rng=_gen(seed))[0]
    gamma = _gen(seed).standard_normal((n, 5, 3))
    expected = float(np.tensordot(gamma, shift, axes=2).mean() / 5)
    assert moved - est == pytest.approx(expected, abs=2 * _slack(outputs + shift, n, seed))


def test_linear_class_is_monotone_in_rank_and_bound_exactly() -> None:
    """Common draws: more singular values (all >= 0) or a larger C never lower the estimate."""
    x = _gen(8).standard_normal((7, 4))
    ests = [
        linear_class_complexity(x, spectral_bound=1.0, rank=r, out_dim=3, n_draws=200, rng=_gen(9))[
            0
        ]
        for r in (1, 2, 3)
    ]
    assert ests[0] < ests[1] < ests[2]
    assert (
        linear_class_complexity(
            x, spectral_bound=1.01, rank=3, out_dim=3, n_draws=200, rng=_gen(9)
        )[0]
        > ests[2]
    )


def test_linear_class_is_invariant_under_rotating_the_features(rng) -> None:
    """Gamma^T X Q has the singular values of Gamma^T X for orthogonal Q: same estimate on the
    same draws, to rounding."""
    x = rng.standard_normal((8, 4))
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    kw = {"spectral_bound": 1.3, "rank": 2, "out_dim": 3, "n_draws": 100}
    a = linear_class_complexity(x, rng=_gen(2), **kw)
    b = linear_class_complexity(x @ q, rng=_gen(2), **kw)
    assert a[0] == pytest.approx(b[0], rel=1e-12)


#: False-failure probability of each reduced-vs-direct comparison below.
REDUCED_ALPHA = 1e-6


@pytest.mark.parametrize("shape", [(8, 6, 2), (40, 12, 3), (5, 30, 4)])
def test_reduced_sampling_has_the_law_of_direct_sampling_finite(shape, rng) -> None:
    """Same law: the two estimates agree within a two-sided z-test at REDUCED_ALPHA."""
    outputs = rng.standard_normal(shape)
    a, sa = empirical_gaussian_complexity(outputs, n_draws=20_000, rng=rng)
    b, sb = empirical_gaussian_complexity(outputs, n_draws=20_000, rng=rng, sampling="reduced")
    assert abs(a - b) <= stats.norm.isf(REDUCED_ALPHA / 2) * np.hypot(sa, sb)
    zero = np.zeros((3, 4, 2))
    assert empirical_gaussian_complexity(zero, n_draws=10, rng=rng, sampling="reduced") == (
        0.0,
        0.0,
    )


@pytest.mark.parametrize(("m", "d", "k", "r"), [(6, 4, 2, 2), (50, 8, 5, 3), (3, 10, 4, 4)])
def test_reduced_sampling_has_the_law_of_direct_sampling_linear(m, d, k, r, rng) -> None:
    x = rng.standard_normal((m, d))
    kw = {"spectral_bound": 1.5, "rank": r, "out_dim": k, "n_draws": 20_000}
    a, sa = linear_class_complexity(x, rng=rng, **kw)
    b, sb = linear_class_complexity(x, rng=rng, sampling="reduced", **kw)
    assert abs(a - b) <= stats.norm.isf(REDUCED_ALPHA / 2) * np.hypot(sa, sb)


def test_sampling_rejects_unknown_methods(rng) -> None:
    with pytest.raises(ValueError, match="`sampling` must be one of 'direct', 'reduced'"):
        empirical_gaussian_complexity(np.ones((2, 2, 1)), n_draws=4, rng=rng, sampling="x")
