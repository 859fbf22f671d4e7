"""Symbolic geometry and moments of W = A B^T against independent twins (L3.3, L3.5, L3.5a, B3, F1).

Twins: sympy.stats and Gauss-Hermite quadrature for the Gaussian moment rules and the
expectation operator; sympy's own determinant and exact integer minors for the minor expansion;
exact enumeration of discrete laws (rational arithmetic) for the generic-moment covariance;
theory.geometry for the lambdified L3.5a moments; Monte Carlo for F1.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sympy.stats import Normal, moment

from theory.geometry import weight_moments, weight_variance
from theory.symbolic import (
    FactorDependence,
    Moment,
    b3_sides,
    expectation,
    f1_entry_moments,
    f1_mean_weight_moments,
    f1_stated_covariance,
    factor_symbols,
    gaussian_moment_expr,
    gaussian_moments,
    gaussian_weight_moments,
    general_weight_covariance,
    generic_minor_terms,
    generic_moment,
    l35_covariance,
    l35a_variance,
    l35a_weight_moments,
    v_A,
    v_B,
    weight_minors,
    weight_moments_function,
)
from theory.symbolic.symbols import mu_q, sigma_q
from verification.claims.geometry.symbolic import moments_rtol, shapes
from verification.claims.geometry.symbolic_moments import random_polynomial
from verification.testing.strategies import factor_posteriors

#: Two-sided false-failure probability of each Monte Carlo assertion in this file.
MC_ALPHA = 1e-6


def _is_zero(matrix: Any) -> bool:
    return all(sp.expand(x) == 0 for x in matrix)


# --- Gaussian moment rules and the expectation operator ------------------------------------


def test_gaussian_moment_expr_equals_the_listed_rules() -> None:
    mu, s = mu_q, sigma_q
    listed = [1, mu, mu**2 + s**2, mu**3 + 3 * mu * s**2, mu**4 + 6 * mu**2 * s**2 + 3 * s**4]
    assert [sp.expand(gaussian_moment_expr(k) - v) for k, v in enumerate(listed)] == [0] * 5


def test_gaussian_moment_expr_equals_sympy_stats_moments() -> None:
    x = Normal("X", mu_q, sigma_q)
    for k in range(7):
        assert sp.expand(gaussian_moment_expr(k) - moment(x, k)) == 0


#: Rounding slack of the quadrature, relative to sum_nodes w |monomials|: each node value carries
#: <= 2 eps, a monomial of degree <= 6 adds <= 12 + 6 eps, the sum of <= 12 monomials 12 eps,
#: the tensor weights 2 eps and numpy's pairwise sum over 125 nodes <= 7 eps: < 41 eps; 64 eps.
QUAD_RTOL = 64 * float(np.finfo(np.float64).eps)


@settings(max_examples=15)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    means=st.lists(st.floats(-3.0, 3.0), min_size=3, max_size=3),
    stds=st.lists(st.floats(0.1, 3.0), min_size=3, max_size=3),
)
def test_expectation_equals_gauss_hermite_quadrature(
    seed: int, means: list[float], stds: list[float]
) -> None:
    """Tensor Gauss-Hermite with 5 nodes per variable is exact for degree <= 9 per variable.

    The operator runs in exact rationals (the float inputs converted exactly), so the only
    rounding is the quadrature's.
    """
    xs = sp.symbols("x0:3")
    rng = np.random.default_rng(seed)
    poly = sp.expand(
        random_polynomial(xs, rng, max_degree=4, max_terms=4)
        * random_polynomial(xs, rng, max_degree=2, max_terms=2)
    )
    params = {
        x: (sp.Rational(mu), sp.Rational(sd)) for x, mu, sd in zip(xs, means, stds, strict=True)
    }
    value = float(expectation(poly, [[x] for x in xs], gaussian_moments(params)))
    nodes, weights = np.polynomial.hermite_e.hermegauss(5)
    weights = weights / weights.sum()
    grid = [mu + sd * nodes for mu, sd in zip(means, stds, strict=True)]
    pts = np.meshgrid(*grid, indexing="ij")
    w = np.einsum("i,j,k->ijk", weights, weights, weights)
    quad = float(np.sum(w * sp.lambdify(xs, poly, "numpy")(*pts)))
    abs_poly = sum(
        abs(c) * sp.Mul(*(x**e for x, e in zip(xs, pw, strict=True)))
        for pw, c in sp.Poly(poly, *xs).terms()
    )
    scale = float(np.sum(w * sp.lambdify(xs, abs_poly, "numpy")(*(np.abs(p) for p in pts))))
    assert abs(value - quad) <= QUAD_RTOL * scale


def test_expectation_factorises_over_blocks_only() -> None:
    a, b, c = sp.symbols("a b c")
    assert expectation(a * b * c, [[a, b], [c]], generic_moment) == Moment(a * b) * Moment(c)
    assert expectation(a * b * c, [[a], [b], [c]], generic_moment) == (
        Moment(a) * Moment(b) * Moment(c)
    )
    assert expectation(3 * a**2 + 2, [[a]], generic_moment) == 3 * Moment(a**2) + 2


def test_expectation_rejects_bad_input() -> None:
    a, b = sp.symbols("a b")
    with pytest.raises(ValueError, match=r"`blocks` must be disjoint; the symbol a"):
        expectation(a, [[a], [a, b]], generic_moment)
    with pytest.raises(ValueError, match=r"`blocks` must not contain an empty block"):
        expectation(a, [[a], []], generic_moment)
    with pytest.raises(TypeError, match=r"`blocks` must hold sympy Symbols; got 2"):
        expectation(a, [[a, 2]], generic_moment)  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"`expr` must be a polynomial .*got exp\(a\)"):
        expectation(sp.exp(a), [[a]], generic_moment)
    rule = gaussian_moments({a: (0, 1), b: (0, 1)})
    with pytest.raises(ValueError, match=r"`monomial` must be a power of one symbol.*a\*b"):
        expectation(a * b, [[a, b]], rule)
    with pytest.raises(ValueError, match=r"`params` has no \(mean, std\) for the symbol b"):
        expectation(b, [[b]], gaussian_moments({a: (0, 1)}))
    with pytest.raises(ValueError, match=r"`k` must be an int in \[0, inf\]; got -1"):
        gaussian_moment_expr(-1)


# --- L3.3: minors ---------------------------------------------------------------------------


@pytest.mark.claim("L3.3")
def test_weight_minors_vanish_on_every_small_rank_deficient_shape() -> None:
    """L3.3: every (r+1)-minor of A B^T is the zero polynomial, m, n <= 4, r < min(m, n)."""
    for m, n, r in shapes(4, strict=True):
        count = weight_minors(m, n, r, r + 1)
        assert count.checked == math.comb(m, r + 1) * math.comb(n, r + 1)
        assert count.identically_zero == count.cauchy_binet_agree == count.checked


@pytest.mark.claim("L3.3")
def test_weight_minors_of_order_r_are_nonzero_so_the_statement_is_sharp() -> None:
    """L3.3 (sharpness): at every r <= min(m, n), r = min(m, n) included, no r-minor vanishes."""
    for m, n, r in shapes(4):
        count = weight_minors(m, n, r, r)
        assert count.checked == math.comb(m, r) * math.comb(n, r)
        assert count.identically_zero == 0
        assert count.cauchy_binet_agree == count.checked


@pytest.mark.claim("L3.3")
@pytest.mark.parametrize("shape", [(2, 3, 1), (3, 3, 2), (3, 2, 2)])
def test_weight_minors_agree_with_sympy_determinants(shape: tuple[int, int, int]) -> None:
    """L3.3: the ring expansion against sympy's Berkowitz determinant, minor by minor."""
    m, n, r = shape
    w = factor_symbols(m, n, r).weight
    for size in (r, r + 1):
        if size > min(m, n):
            continue
        zeros = sum(
            sp.expand(w.extract(list(i), list(j)).det(method="berkowitz")) == 0
            for i in itertools.combinations(range(m), size)
            for j in itertools.combinations(range(n), size)
        )
        assert weight_minors(m, n, r, size).identically_zero == zeros


@pytest.mark.claim("L3.3")
def test_integer_factor_products_have_exactly_vanishing_minors(rng: np.random.Generator) -> None:
    """L3.3 numeric twin: exact integer A B^T; its (r+1)-minors are 0, some r-minor is not."""
    for m, n, r in shapes(4, strict=True):
        a = rng.integers(-5, 6, size=(m, r))
        b = rng.integers(-5, 6, size=(n, r))
        w = sp.Matrix((a @ b.T).tolist())
        big = [
            w.extract(list(i), list(j)).det()
            for i in itertools.combinations(range(m), r + 1)
            for j in itertools.combinations(range(n), r + 1)
        ]
        small = [
            w.extract(list(i), list(j)).det()
            for i in itertools.combinations(range(m), r)
            for j in itertools.combinations(range(n), r)
        ]
        assert big == [0] * len(big)
        assert any(d != 0 for d in small)


def test_generic_minor_terms_count_the_permutations() -> None:
    assert [generic_minor_terms(s) for s in range(1, 6)] == [1, 2, 6, 24, 120]


def test_weight_minors_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"`r` must be an int in \[1, min\(m, n\)\] = \[1, 3\]"):
        weight_minors(3, 4, 4, 2)
    with pytest.raises(ValueError, match=r"`size` must be an int in \[1, min\(m, n\)\] = \[1, 2\]"):
        weight_minors(2, 4, 1, 3)
    with pytest.raises(TypeError, match=r"`m` must be an int; got 2.0"):
        factor_symbols(2.0, 2, 1)  # type: ignore[arg-type]


# --- L3.5a: Gaussian moments --------------------------------------------------------------


@pytest.mark.claim("L3.5a")
def test_gaussian_weight_moments_equal_the_stated_formulas() -> None:
    """L3.5a: derived E[W], Cov and Var equal the typed formulas on every m, n <= 3."""
    for m, n, r in shapes(3):
        mean_d, cov_d = gaussian_weight_moments(m, n, r)
        mean_t, cov_t = l35a_weight_moments(m, n, r)
        assert cov_d.shape == (m * n, m * n)
        assert _is_zero(mean_d - mean_t)
        assert _is_zero(cov_d - cov_t)
        assert _is_zero(sp.Matrix(m, n, list(cov_d.diagonal())) - l35a_variance(m, n, r))


@pytest.mark.claim("L3.5a")
def test_stated_formula_differs_from_a_wrong_one() -> None:
    """L3.5a: the comparison can fail: dropping the sA^2 sB^2 term leaves a nonzero residual."""
    fs = factor_symbols(1, 1, 1)
    wrong = l35a_variance(1, 1, 1)[0, 0] - fs.sigma_a[0, 0] ** 2 * fs.sigma_b[0, 0] ** 2
    residual = sp.expand(gaussian_weight_moments(1, 1, 1)[1][0, 0] - wrong)
    assert residual == fs.sigma_a[0, 0] ** 2 * fs.sigma_b[0, 0] ** 2


@pytest.mark.claim("L3.5a")
@given(post=factor_posteriors(max_dim=3))
def test_lambdified_moments_equal_theory_geometry(
    post: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """L3.5a: the lambdified derivation against weight_moments and weight_variance."""
    ma, sa, mb, sb = post
    r = ma.shape[1]
    mean_s, cov_s = weight_moments_function(ma.shape[0], mb.shape[0], r)(ma, sa, mb, sb)
    mean_n, cov_n = weight_moments(ma, sa, mb, sb)
    # Bound on the sum of |monomials| of each entry (see moments_rtol for the rounding count).
    pa = np.abs(ma)[:, None] * np.abs(ma)[None] + np.eye(ma.shape[0])[:, :, None] * sa[:, None] ** 2
    pb = np.abs(mb)[:, None] * np.abs(mb)[None] + np.eye(mb.shape[0])[:, :, None] * sb[:, None] ** 2
    scale = np.einsum("ilk,jpk->ijlp", pa, pb).reshape(cov_n.shape)
    tol = moments_rtol(r)
    assert np.all(np.abs(cov_s - cov_n) <= tol * scale)
    assert np.all(np.abs(mean_s - mean_n) <= tol * (np.abs(ma) @ np.abs(mb).T))
    var = weight_variance(ma, sa, mb, sb).reshape(-1)
    assert np.all(np.abs(np.diag(cov_s) - var) <= tol * np.diag(scale))


def test_weight_moments_function_rejects_wrong_shapes() -> None:
    f = weight_moments_function(2, 1, 1)
    with pytest.raises(ValueError, match=r"`mu_b` must have shape \(1, 1\); got \(2, 1\)"):
        f(np.ones((2, 1)), np.ones((2, 1)), np.ones((2, 1)), np.ones((1, 1)))
    with pytest.raises(ValueError, match=r"`sigma_a` must not be NaN"):
        f(np.ones((2, 1)), np.full((2, 1), np.nan), np.ones((1, 1)), np.ones((1, 1)))


# --- L3.5: generic moments ----------------------------------------------------------------


@pytest.mark.claim("L3.5")
@pytest.mark.parametrize("dependence", [FactorDependence.ENTRIES, FactorDependence.COLUMNS])
def test_generic_covariance_equals_the_stated_sum(dependence: FactorDependence) -> None:
    """L3.5: with generic moments, derived Cov = sum_k (E[AA] E[BB] - EA EA EB EB)."""
    for m, n, r in shapes(3):
        residual = general_weight_covariance(m, n, r, dependence) - l35_covariance(
            m, n, r, dependence
        )
        assert _is_zero(residual), (m, n, r)


@pytest.mark.claim("L3.5")
def test_stated_sum_misses_cross_terms_when_only_the_factors_are_independent() -> None:
    """L3.5 needs independent rank-one components: under A independent of B alone it fails."""
    fs = factor_symbols(2, 2, 2)
    a, b = fs.a, fs.b
    dep = FactorDependence.FACTORS
    residual = general_weight_covariance(2, 2, 2, dep) - l35_covariance(2, 2, 2, dep)
    cross = 2 * Moment(a[0, 0] * a[0, 1]) * Moment(b[0, 0] * b[0, 1]) - 2 * Moment(
        a[0, 0]
    ) * Moment(a[0, 1]) * Moment(b[0, 0]) * Moment(b[0, 1])
    assert sp.expand(residual[0, 0] - cross) == 0
    assert _is_zero(general_weight_covariance(3, 2, 1, dep) - l35_covariance(3, 2, 1, dep))


def _discrete_law(
    rng: np.random.Generator, size: int
) -> list[tuple[tuple[Fraction, ...], Fraction]]:
    """A random joint law of ``size`` variables on 3 atoms (exact rationals)."""
    weights = rng.integers(1, 10, size=3)
    atoms = rng.integers(-4, 5, size=(3, size))
    total = int(weights.sum())
    return [
        (tuple(Fraction(int(x)) for x in atom), Fraction(int(w), total))
        for atom, w in zip(atoms, weights, strict=True)
    ]


@pytest.mark.claim("L3.5")
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generic_covariance_equals_enumeration_of_a_discrete_law(seed: int) -> None:
    """L3.5 twin: columns of A and of B with dependent discrete laws (exact enumeration)."""
    rng = np.random.default_rng(seed)
    m, n, r = 2, 2, 2
    fs = factor_symbols(m, n, r)
    dep = FactorDependence.COLUMNS
    blocks = fs.blocks(dep)
    laws = [_discrete_law(rng, len(block)) for block in blocks]
    cov_sym = general_weight_covariance(m, n, r, dep)

    def moment_of(mono: sp.Expr) -> Fraction:
        """E[mono] under the law of the one block that holds its symbols."""
        powers = mono.as_powers_dict()
        idx = next(i for i, block in enumerate(blocks) if set(powers) <= set(block))
        return sum(
            (
                p
                * math.prod(
                    x ** int(powers.get(s, 0)) for s, x in zip(blocks[idx], atom, strict=True)
                )
                for atom, p in laws[idx]
            ),
            Fraction(0),
        )

    moments = {f: sp.Rational(moment_of(f.args[0])) for f in cov_sym.atoms(Moment)}
    cov_from_moments = cov_sym.subs(moments)
    # Brute force: enumerate the joint law of all blocks (independent across blocks).
    flat = [s for block in blocks for s in block]
    w = fs.weight
    entries = [sp.lambdify(flat, x) for x in w]
    first = [Fraction(0)] * len(entries)
    second = [[Fraction(0)] * len(entries) for _ in entries]
    for combo in itertools.product(*laws):
        prob = math.prod((p for _, p in combo), start=Fraction(1))
        values = [x for atom, _ in combo for x in atom]
        ws = [e(*values) for e in entries]
        for p_, wp in enumerate(ws):
            first[p_] += prob * wp
            for q_, wq in enumerate(ws):
                second[p_][q_] += prob * wp * wq
    brute = sp.Matrix(
        len(entries),
        len(entries),
        lambda p_, q_: sp.Rational(second[p_][q_] - first[p_] * first[q_]),
    )
    assert cov_from_moments == brute


# --- B3 -------------------------------------------------------------------------------------


@pytest.mark.claim("B3")
@settings(max_examples=6)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_b3_holds_for_random_polynomials_under_a_independent_of_b(seed: int) -> None:
    """B3: Cov(XY, UV) = E[XU] E[YV] - E[X] E[U] E[Y] E[V], X, U of A and Y, V of B."""
    rng = np.random.default_rng(seed)
    fs = factor_symbols(2, 2, 2)
    a_vars, b_vars = list(fs.a), list(fs.b)
    x, u = (random_polynomial(a_vars, rng, max_degree=2, max_terms=3) for _ in range(2))
    y, v = (random_polynomial(b_vars, rng, max_degree=2, max_terms=3) for _ in range(2))
    lhs, rhs = b3_sides(x, u, y, v, [a_vars, b_vars], generic_moment)
    assert sp.expand(lhs - rhs) == 0
    lhs, rhs = b3_sides(x, u, y, v, fs.blocks(FactorDependence.ENTRIES), fs.gaussian_rule())
    assert sp.expand(lhs - rhs) == 0


@pytest.mark.claim("B3")
def test_b3_fails_when_a_and_b_are_dependent() -> None:
    """B3 control: with one joint law for (a, b), Var(ab) != E[a^2] E[b^2] - (Ea Eb)^2."""
    a, b = sp.symbols("a b")
    lhs, rhs = b3_sides(a, a, b, b, [[a, b]], generic_moment)
    assert sp.expand(lhs - rhs) == Moment(a**2 * b**2) - Moment(a * b) ** 2 - (
        Moment(a**2) * Moment(b**2) - Moment(a) ** 2 * Moment(b) ** 2
    )


# --- F1 -------------------------------------------------------------------------------------


@pytest.mark.claim("F1")
def test_f1_mean_weight_variance_is_r_va_vb() -> None:
    """F1: Var(mean W_ij) = r vA vB for r <= 6; Cov(vec mean W) = r vA vB I on m, n <= 3."""
    for r in range(1, 7):
        first, second, fourth = f1_entry_moments(r)
        assert first == 0
        assert sp.expand(second - r * v_A * v_B) == 0
        # Independent count: r E[a^4] E[b^4] + 3 r (r - 1) (vA vB)^2 for zero-mean Gaussians.
        assert sp.expand(fourth - (9 * r + 3 * r * (r - 1)) * v_A**2 * v_B**2) == 0
    for m, n, r in shapes(3):
        mean, cov = f1_mean_weight_moments(m, n, r)
        assert _is_zero(mean)
        assert _is_zero(cov - f1_stated_covariance(m, n, r))


@pytest.mark.claim("F1")
@pytest.mark.parametrize(("r", "va", "vb"), [(1, 0.5, 2.0), (3, 1.5, 0.2), (5, 0.1, 7.0)])
def test_f1_matches_monte_carlo(r: int, va: float, vb: float, rng: np.random.Generator) -> None:
    """F1 Monte Carlo twin: two-sided z-test at false-failure probability MC_ALPHA.

    The statistic is the mean of N squared entries; its standard error uses the derived
    E[mean W^4], and it must also be rejected for the wrong claims (r - 1) vA vB, (r + 1) vA vB.
    """
    n_samples = 40_000
    a = math.sqrt(va) * rng.standard_normal((n_samples, r))
    b = math.sqrt(vb) * rng.standard_normal((n_samples, r))
    w2 = np.einsum("sk,sk->s", a, b) ** 2
    _, second, fourth = f1_entry_moments(r)
    subs = {v_A: va, v_B: vb}
    claimed, m4 = float(second.subs(subs)), float(fourth.subs(subs))
    se = math.sqrt((m4 - claimed**2) / n_samples)
    z_crit = float(stats.norm.isf(MC_ALPHA / 2))
    assert abs(w2.mean() - claimed) <= z_crit * se
    for wrong in ((r - 1) * va * vb, (r + 1) * va * vb):
        assert abs(w2.mean() - wrong) > z_crit * se
