"""theory.gaussian_complexity: the bound formulas (E15, E17, E21, E35) and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from theory.gaussian_complexity import (
    empirical_gaussian_complexity,
    gc_generalisation_bound,
    linear_class_complexity,
    one_layer_gaps,
    pinto_bound_as_restated,
    spectral_norm_tail_bound,
)

_EPS = float(np.finfo(np.float64).eps)
#: False-failure probability of each Monte Carlo assertion here (Bonferroni inside each test).
ALPHA = 1e-6
Z = float(stats.norm.isf(ALPHA / 2))


def _gen(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- the other formulas


def _pinto_by_hand(x, cs, rs, hs, c0) -> float:
    """E17 typed from CLAIMS.md: (||X||_F / m) {B_1 sqrt(h_1) prod_{i=1..D} C_0 C_i
    + sum_{j=2..D} C_j sqrt(r_j h_j) prod_{i=j+1..D} C_0 C_i}, B_1 = sqrt(r_1) C_1."""
    depth = len(cs)
    first = math.sqrt(rs[0]) * cs[0] * math.sqrt(hs[0])
    for i in range(depth):
        first *= c0 * cs[i]
    rest = 0.0
    for j in range(1, depth):
        term = cs[j] * math.sqrt(rs[j] * hs[j])
        for i in range(j + 1, depth):
            term *= c0 * cs[i]
        rest += term
    return float(np.sqrt(np.sum(x * x))) / x.shape[0] * (first + rest)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_pinto_bound_as_restated_matches_the_formula_typed_by_hand(depth: int, rng) -> None:
    x = rng.standard_normal((9, 5))
    cs = rng.uniform(0.2, 3.0, depth).tolist()
    hs = rng.integers(1, 20, depth).tolist()
    inputs = [x.shape[1], *hs[:-1]]
    rs = [int(rng.integers(1, min(h, h_in) + 1)) for h, h_in in zip(hs, inputs, strict=True)]
    c0 = float(rng.uniform(0.5, 2.0))
    got = pinto_bound_as_restated(x, spectral_bounds=cs, ranks=rs, widths=hs, c0=c0)
    assert got == pytest.approx(_pinto_by_hand(x, cs, rs, hs, c0), rel=1e-13)


def test_pinto_bound_as_restated_one_layer_scales_like_c1_squared() -> None:
    """As printed, the D = 1 bound is ||X||_F sqrt(r h) C_0 C_1^2 / m: quadratic in C_1, while
    the class it bounds scales linearly (the E17 check's finding, pinned here)."""
    x = np.ones((4, 2))
    kw = {"ranks": [2], "widths": [3], "c0": 1.0}
    one = pinto_bound_as_restated(x, spectral_bounds=[1.0], **kw)
    assert pinto_bound_as_restated(x, spectral_bounds=[2.0], **kw) == pytest.approx(4 * one)


def test_gc_generalisation_bound_and_gaps_match_their_formulas() -> None:
    assert gc_generalisation_bound(0.2, 0.1, lipschitz=2.0, n=50, delta=0.1) == pytest.approx(
        0.2 + math.sqrt(2 * math.pi) * 0.1 + 3 * math.sqrt(math.log(20) / 100), rel=1e-14
    )
    pac, gc = one_layer_gaps(
        c_max=0.3,
        rank=2,
        d_in=7,
        d_out=5,
        n=400,
        delta=0.05,
        lipschitz=1.5,
        x_fro=30.0,
        c0=1.2,
        c1=0.9,
    )
    assert pac == pytest.approx(
        math.sqrt((0.3 * 2 * 12 + math.log(2 * 20 / 0.05)) / 800), rel=1e-14
    )
    assert gc == pytest.approx(
        math.sqrt(1.5 * math.pi) * 30 * 1.2 * 0.81 * math.sqrt(10) / 400
        + 3 * math.sqrt(math.log(40) / 800),
        rel=1e-14,
    )


def test_spectral_norm_tail_bound_level_and_coverage(rng) -> None:
    """The level ||EA|| + c1 s (sqrt h + sqrt r) + c2 s t, and with c1 = 1, c2 = sqrt 2 the
    simulated exceedance rate is at most e^{-t^2} (one-sided binomial test at ALPHA)."""
    h, r, s, t = 12, 3, 0.4, 1.0
    mean = rng.standard_normal((h, r))
    level = spectral_norm_tail_bound(
        float(np.linalg.norm(mean, 2)), std=s, rows=h, cols=r, t=t, c1=1.0, c2=math.sqrt(2)
    )
    assert level == pytest.approx(
        np.linalg.norm(mean, 2) + s * (math.sqrt(h) + math.sqrt(r)) + math.sqrt(2) * s * t
    )
    n = 20000
    norms = np.linalg.norm(mean + s * rng.standard_normal((n, h, r)), 2, axis=(1, 2))
    exceed = int(np.sum(norms > level))
    assert stats.binom.cdf(exceed - 1, n, math.exp(-(t**2))) <= 1 - ALPHA


# ----------------------------------------------------------------------------- bad input

_X = np.ones((4, 3))
_OUT = np.ones((2, 4, 3))


def _emp(**kw):
    args = {"outputs": _OUT, "n_draws": 10, "rng": _gen(0), **kw}
    return empirical_gaussian_complexity(args.pop("outputs"), **args)


def _lin(**kw):
    args = {
        "X": _X,
        "spectral_bound": 1.0,
        "rank": 1,
        "out_dim": 2,
        "n_draws": 10,
        "rng": _gen(0),
        **kw,
    }
    return linear_class_complexity(args.pop("X"), **args)


def _pinto(**kw):
    args = {
        "X": _X,
        "spectral_bounds": [1.0, 2.0],
        "ranks": [1, 2],
        "widths": [3, 4],
        "c0": 1.0,
        **kw,
    }
    return pinto_bound_as_restated(args.pop("X"), **args)


def _tail(**kw):
    args = {
        "mean_norm": 1.0,
        "std": 0.1,
        "rows": 4,
        "cols": 2,
        "t": 1.0,
        "c1": 1.0,
        "c2": 1.0,
        **kw,
    }
    return spectral_norm_tail_bound(args.pop("mean_norm"), **args)


def _gaps(**kw):
    args = {
        "c_max": 0.1,
        "rank": 2,
        "d_in": 5,
        "d_out": 3,
        "n": 100,
        "delta": 0.05,
        "lipschitz": 1.0,
        "x_fro": 10.0,
        "c0": 1.0,
        "c1": 1.0,
        **kw,
    }
    return one_layer_gaps(**args)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: _emp(outputs=np.ones((4, 3))),
            ValueError,
            r"`outputs` must have shape .*\(4, 3\)",
        ),
        (lambda: _emp(outputs=np.ones((0, 4, 3))), ValueError, r"`outputs` .*no empty axis"),
        (
            lambda: _emp(outputs=np.full((1, 2, 2), np.nan)),
            ValueError,
            r"`outputs` must not be NaN",
        ),
        (lambda: _emp(outputs=np.full((1, 2, 2), np.inf)), ValueError, r"`outputs` must be finite"),
        (lambda: _emp(n_draws=1), ValueError, r"`n_draws` must be an int in \[2, inf\]; got 1"),
        (lambda: _emp(n_draws=10.0), TypeError, r"`n_draws` must be an int; got 10.0"),
        (lambda: _emp(rng=0), TypeError, r"`rng` must be a numpy.random.Generator; got int"),
        (
            lambda: _emp(rng=np.random.RandomState(0)),
            TypeError,
            r"`rng` must be a numpy.random.Generator; got RandomState",
        ),
        (
            lambda: _lin(X=np.ones(4)),
            ValueError,
            r"`X` must be a non-empty 2-D array; got shape \(4,\)",
        ),
        (lambda: _lin(X=np.ones((0, 3))), ValueError, r"`X` must be a non-empty 2-D array"),
        (lambda: _lin(spectral_bound=0.0), ValueError, r"`spectral_bound` must be a float in \(0"),
        (lambda: _lin(spectral_bound=-1.0), ValueError, r"`spectral_bound` .*got -1"),
        (lambda: _lin(spectral_bound=np.inf), ValueError, r"`spectral_bound` must be finite"),
        (lambda: _lin(rank=0), ValueError, r"`rank` must be an int in \[1, 2\]; got 0"),
        (lambda: _lin(rank=3), ValueError, r"`rank` must be an int in \[1, 2\]; got 3"),
        (lambda: _lin(out_dim=5, rank=4), ValueError, r"`rank` must be an int in \[1, 3\]; got 4"),
        (lambda: _lin(out_dim=0), ValueError, r"`out_dim` must be an int in \[1, inf\]; got 0"),
        (lambda: _lin(n_draws=1), ValueError, r"`n_draws` must be an int in \[2, inf\]; got 1"),
        (lambda: _lin(rng=None), TypeError, r"`rng` must be a numpy.random.Generator"),
        (
            lambda: _pinto(ranks=[1]),
            ValueError,
            r"`ranks` must be a flat list with one value per layer, as many as `spectral_bounds` "
            r"\(shape \(2,\)\)",
        ),
        (
            lambda: _pinto(widths=[1, 2, 3]),
            ValueError,
            r"`widths` must be a flat list with one value per layer",
        ),
        (lambda: _pinto(spectral_bounds=[]), ValueError, r"`spectral_bounds` must not be empty"),
        (lambda: _pinto(spectral_bounds=[1.0, 0.0]), ValueError, r"`spectral_bounds` .*got 0"),
        (lambda: _pinto(ranks=[0, 1]), ValueError, r"`ranks` must be an int >= 1; got 0"),
        (lambda: _pinto(widths=[1.5, 2]), TypeError, r"`widths` must be an int"),
        (lambda: _pinto(c0=0.0), ValueError, r"`c0` must be a float in \(0, inf\); got 0"),
        (lambda: _pinto(X=np.ones(3)), ValueError, r"`X` must be a non-empty 2-D array"),
        (lambda: _tail(std=0.0), ValueError, r"`std` must be a float in \(0, inf\); got 0"),
        (lambda: _tail(rows=0), ValueError, r"`rows` must be an int in \[1, inf\]; got 0"),
        (lambda: _tail(t=-1.0), ValueError, r"`t` must be a float in \[0, inf\); got -1"),
        (lambda: _tail(mean_norm=-1.0), ValueError, r"`mean_norm` must be a float in \[0"),
        (lambda: _tail(c1=-1.0), ValueError, r"`c1` must be a float in \(0, inf\); got -1"),
        (lambda: _gaps(rank=4), ValueError, r"`rank` must be an int in \[1, 3\]; got 4"),
        (lambda: _gaps(delta=1.0), ValueError, r"`delta` must be a float in \(0, 1\); got 1"),
        (lambda: _gaps(n=0), ValueError, r"`n` must be an int in \[1, inf\]; got 0"),
        (lambda: _gaps(c0=0.0), ValueError, r"`c0` must be a float in \(0, inf\); got 0"),
        (lambda: _gaps(c1=-2.0), ValueError, r"`c1` must be a float in \(0, inf\); got -2"),
        (lambda: _gaps(c_max=-0.1), ValueError, r"`c_max` must be a float in \[0"),
        (
            lambda: gc_generalisation_bound(1.5, 0.1, lipschitz=1.0, n=10, delta=0.1),
            ValueError,
            r"`emp_risk` must be a float in \[0, 1\]; got 1.5",
        ),
        (
            lambda: gc_generalisation_bound(0.1, -0.1, lipschitz=1.0, n=10, delta=0.1),
            ValueError,
            r"`complexity` must be a float in \[0, inf\); got -0.1",
        ),
        (
            lambda: gc_generalisation_bound(0.1, 0.1, lipschitz=-1.0, n=10, delta=0.1),
            ValueError,
            r"`lipschitz` must be a float in \[0",
        ),
        (
            lambda: gc_generalisation_bound(0.1, 0.1, lipschitz=1.0, n=10, delta=0.0),
            ValueError,
            r"`delta` must be a float in \(0, 1\); got 0",
        ),
    ],
)
def test_bad_input_names_the_argument(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_pinto_bound_refuses_a_rank_above_its_layer_width() -> None:
    """r_j <= h_j (and r_1 <= d): a rank outside its range should be a ValueError."""
    with pytest.raises(ValueError, match=r"`ranks`"):
        _pinto(ranks=[5, 2], widths=[3, 4])


def test_linear_class_refuses_an_array_bound_naming_it() -> None:
    with pytest.raises((TypeError, ValueError), match=r"`spectral_bound`"):
        _lin(spectral_bound=np.array([1.0, 2.0]))
