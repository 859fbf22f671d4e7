"""Hypothesis strategies for the toolkit's inputs, built valid by construction (no filtering).

Plural nouns, as in Hypothesis itself: ``probabilities()`` draws one probability. Every
counterexample ever found goes into the tests as an ``@example``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

__all__ = [
    "catoni_grids",
    "confidences",
    "factor_matrices",
    "factor_posteriors",
    "function_class_outputs",
    "gaussian_params",
    "kl_budgets",
    "kl_ceilings",
    "kl_values",
    "layer_shapes",
    "loss_point_pairs",
    "matrices_with_spectrum",
    "probabilities",
    "product_factor_params",
    "sample_sizes",
    "scales",
    "small_kl_budget_pairs",
    "spectra",
]


def probabilities(*, interior: bool = False) -> st.SearchStrategy[float]:
    """Floats in [0, 1] (subnormals included: the kl inverse must handle them), or (0, 1)."""
    return st.floats(
        min_value=0.0,
        max_value=1.0,
        exclude_min=interior,
        exclude_max=interior,
        allow_nan=False,
    )


def kl_budgets(*, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Budgets c >= 0 of the kl inverse, spread over many orders of magnitude."""
    tiny = st.floats(min_value=0.0, max_value=1e-6, allow_nan=False)
    mid = st.floats(min_value=1e-6, max_value=10.0)
    big = st.floats(min_value=10.0, max_value=max_value)
    return st.one_of(st.just(0.0), tiny, mid, big)


def kl_values() -> st.SearchStrategy[float]:
    """Values of KL(Q || P) in nats: 0 up to a million (wide networks)."""
    return st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e6, allow_nan=False))


def sample_sizes(*, max_value: int = 10**7) -> st.SearchStrategy[int]:
    """Training-set sizes n >= 1."""
    return st.integers(min_value=1, max_value=max_value)


def confidences() -> st.SearchStrategy[float]:
    """delta in (0, 1), including very small ones."""
    return st.floats(min_value=1e-12, max_value=1.0, exclude_max=True)


def scales(*, min_value: float = 1e-3, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Standard deviations > 0 in a range where their KLs are representable in float64."""
    return st.floats(min_value=min_value, max_value=max_value)


def gaussian_params(*, max_mean: float = 1e3) -> st.SearchStrategy[tuple[float, float]]:
    """(mean, std) of a one-dimensional Gaussian."""
    return st.tuples(st.floats(min_value=-max_mean, max_value=max_mean), scales())


@st.composite
def layer_shapes(draw: Any, *, max_dim: int = 64) -> tuple[int, int, int]:
    """(m, n, r) with 1 <= r <= min(m, n): draw the shape first, then an admissible rank."""
    m = draw(st.integers(min_value=1, max_value=max_dim))
    n = draw(st.integers(min_value=1, max_value=max_dim))
    r = draw(st.integers(min_value=1, max_value=min(m, n)))
    return m, n, r


def kl_ceilings(*, min_value: float = 1e-3, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Per-coordinate KL ceilings C_max > 0 of claims D3 and T3.8, in nats."""
    return st.floats(min_value=min_value, max_value=max_value)


def catoni_grids(*, max_size: int = 8) -> st.SearchStrategy[list[float]]:
    """Non-empty grids of Catoni's parameter C > 0 (small and large C alike)."""
    return st.lists(st.floats(min_value=1e-3, max_value=50.0), min_size=1, max_size=max_size)


@st.composite
def small_kl_budget_pairs(draw: Any, *, max_scaled: float = 0.1) -> tuple[float, float]:
    """(q, c) with q in [1e-3, 1 - 1e-3] and a budget small against q (1 - q).

    c = u^2 q (1 - q) with u = sqrt(c / (q (1 - q))) in [1e-4, max_scaled]: the regime where the
    small-c series of the upper kl-inverse (in powers of sqrt(c)) converges fast.
    """
    q = draw(st.floats(min_value=1e-3, max_value=1.0 - 1e-3))
    u = draw(st.floats(min_value=1e-4, max_value=max_scaled))
    return q, u * u * q * (1.0 - q)


@st.composite
def product_factor_params(draw: Any) -> tuple[float, float, float, float, float]:
    """(mu_a, sigma_a, mu_b, sigma_b, prior_std) of a product W = a b of two Gaussians (KLF).

    Scales at least 0.3 and |means| at most 2 (std/|mean| >= 0.15): the range in which the
    quadrature of theory.singular_kl resolves the density with its default nodes.
    """
    mean = st.floats(min_value=-2.0, max_value=2.0)
    std = st.floats(min_value=0.3, max_value=2.0)
    prior = st.floats(min_value=0.5, max_value=2.0)
    return (draw(mean), draw(std), draw(mean), draw(std), draw(prior))


@st.composite
def factor_matrices(
    draw: Any, *, max_dim: int = 12, max_abs: float = 1e3
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Factors (A, B) of shapes (m, r) and (n, r), 1 <= r <= min(m, n), with arbitrary entries
    in [-max_abs, max_abs] (zeros, repeats and wildly different scales included: the points
    need not be generic, for properties that hold at every point, such as rank(A B^T) <= r).
    """
    m, n, r = draw(layer_shapes(max_dim=max_dim))
    entries = st.floats(min_value=-max_abs, max_value=max_abs, allow_subnormal=False)
    a = draw(hnp.arrays(np.float64, (m, r), elements=entries))
    b = draw(hnp.arrays(np.float64, (n, r), elements=entries))
    return a, b


@st.composite
def loss_point_pairs(
    draw: Any, *, max_k: int = 4, max_abs: float = 30.0
) -> tuple[Any, NDArray[np.float64], NDArray[np.float64], Any]:
    """(loss, z, z', y): a loss of theory.losses.LOSS_NAMES on R^k and two outputs with one
    target in its domain (C9, CT).

    k is drawn within the loss's range (>= 2 for softmax CE, 1 for BCE and hinge); MSE points
    are drawn in its ball (direction times a radius fraction), the others in [-max_abs,
    max_abs]^k; CE targets are labels or soft rows, BCE targets 0, 1 or soft, hinge targets +-1.
    """
    from theory.losses import LOSS_NAMES, make_loss

    name = draw(st.sampled_from(LOSS_NAMES))
    low, high = {"softmax_ce": (2, max_k), "bce": (1, 1), "hinge": (1, 1)}.get(name, (1, max_k))
    k = draw(st.integers(min_value=low, max_value=high))
    coords = hnp.arrays(np.float64, (k,), elements=st.floats(-max_abs, max_abs))
    params: dict[str, Any] = {}
    if name == "mse":
        params["radius"] = draw(st.floats(min_value=0.1, max_value=10.0))
    elif name == "huber":
        params["delta"] = draw(st.floats(min_value=0.1, max_value=10.0))
    elif name == "mae":
        params["reduction"] = draw(st.sampled_from(["sum", "mean"]))
    loss = make_loss(name, k=k, **params)

    def in_ball() -> NDArray[np.float64]:
        v = draw(hnp.arrays(np.float64, (k,), elements=st.floats(-1.0, 1.0)))
        norm = float(np.linalg.norm(v))
        frac = draw(st.floats(min_value=0.0, max_value=1.0))
        return v * (params["radius"] * frac / norm) if norm > 0.0 else v

    point = in_ball if name == "mse" else lambda: draw(coords)
    y: Any
    if name == "softmax_ce":
        if draw(st.booleans()):
            y = draw(st.integers(min_value=0, max_value=k - 1))
        else:
            w = draw(hnp.arrays(np.float64, (k,), elements=st.floats(0.0, 1.0)))
            w[draw(st.integers(min_value=0, max_value=k - 1))] += 1.0
            y = w / w.sum()
    elif name == "bce":
        y = np.array([draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))])
    elif name == "hinge":
        y = np.array([draw(st.sampled_from([-1.0, 1.0]))])
    else:
        y = point()
    return loss, point(), point(), y


#: The spectrum families of issue 4 (claims C3, T3.6): flat, power law, exactly low rank, any.
SPECTRUM_FAMILIES = ("flat", "power_law", "low_rank", "arbitrary")


@st.composite
def spectra(draw: Any, size: int) -> NDArray[np.float64]:
    """Non-increasing singular values of length ``size`` >= 1, largest in [1e-3, 1e3] or all 0.

    Flat (all equal: the truncation is not unique), power law ``i**-alpha``, exactly low rank
    (fewer than ``size`` non-zeros, possibly none) or arbitrary (sorted draws relative to the
    largest, ties and subnormal ratios included).
    """
    kind = draw(st.sampled_from(SPECTRUM_FAMILIES))
    top = draw(st.floats(min_value=1e-3, max_value=1e3))
    i = np.arange(1, size + 1, dtype=np.float64)
    if kind == "flat":
        return np.full(size, top)
    if kind in ("power_law", "low_rank"):
        s = top * i ** -draw(st.floats(min_value=0.25, max_value=3.0))
        if kind == "low_rank":
            s[draw(st.integers(min_value=0, max_value=size - 1)) :] = 0.0
        return s
    vals = np.sort(draw(hnp.arrays(np.float64, (size,), elements=st.floats(0.0, 1.0))))[::-1]
    # Relative to the largest value, so that sigma_1 = top (or all zero).
    out: NDArray[np.float64] = top * (vals / vals[0]) if vals[0] > 0.0 else vals.copy()
    return out


@st.composite
def matrices_with_spectrum(
    draw: Any, *, max_dim: int = 12
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(W, s)`` with W = U diag(s) V^T, U (m x k) and V (n x k) orthonormal, k = min(m, n).

    1 <= m, n <= ``max_dim``; s from :func:`spectra`; U and V are the Q factors of Gaussian
    matrices from a drawn seed, so W's singular values are s up to rounding.
    """
    m = draw(st.integers(min_value=1, max_value=max_dim))
    n = draw(st.integers(min_value=1, max_value=max_dim))
    k = min(m, n)
    s = draw(spectra(k))
    g = np.random.default_rng(draw(st.integers(min_value=0, max_value=2**32 - 1)))
    u, _ = np.linalg.qr(g.standard_normal((m, k)))
    v, _ = np.linalg.qr(g.standard_normal((n, k)))
    w: NDArray[np.float64] = (u * s) @ v.T
    return w, s


@st.composite
def factor_posteriors(
    draw: Any,
    *,
    max_dim: int = 3,
    max_mean: float = 1e2,
    min_abs_mean: float = 1e-50,
    min_std: float = 1e-3,
    max_std: float = 10.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(mu_a, sigma_a, mu_b, sigma_b)`` of a mean-field Gaussian factor posterior.

    Shapes (m, r), (m, r), (n, r), (n, r) with 1 <= r <= min(m, n) and m, n <= ``max_dim``;
    means exactly 0 (the delta terms of L3.5a matter there) or of magnitude in
    [min_abs_mean, max_mean], standard deviations in [min_std, max_std]. The floor on nonzero
    means keeps every product of four entries out of the subnormal range, where rounding errors
    are absolute rather than relative.
    """
    m, n, r = draw(layer_shapes(max_dim=max_dim))
    magnitudes = st.floats(min_value=min_abs_mean, max_value=max_mean)
    nonzero = st.builds(lambda sign, x: sign * x, st.sampled_from([-1.0, 1.0]), magnitudes)
    means = st.one_of(st.just(0.0), nonzero)
    stds = st.floats(min_value=min_std, max_value=max_std)
    return (
        draw(hnp.arrays(np.float64, (m, r), elements=means)),
        draw(hnp.arrays(np.float64, (m, r), elements=stds)),
        draw(hnp.arrays(np.float64, (n, r), elements=means)),
        draw(hnp.arrays(np.float64, (n, r), elements=stds)),
    )


@st.composite
def function_class_outputs(
    draw: Any,
    *,
    max_functions: int = 6,
    max_points: int = 6,
    max_outputs: int = 3,
    max_abs: float = 1e3,
) -> NDArray[np.float64]:
    """Outputs ``(n_functions, m, k)`` of a finite class of functions on a sample of m points:
    arbitrary entries in [-max_abs, max_abs] (zeros, repeated functions and mixed scales included;
    the estimators of ``theory.gaussian_complexity`` take any finite class)."""
    shape = (
        draw(st.integers(min_value=1, max_value=max_functions)),
        draw(st.integers(min_value=1, max_value=max_points)),
        draw(st.integers(min_value=1, max_value=max_outputs)),
    )
    entries = st.floats(min_value=-max_abs, max_value=max_abs, allow_subnormal=False)
    out: NDArray[np.float64] = draw(hnp.arrays(np.float64, shape, elements=entries))
    return out
