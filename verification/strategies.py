"""Hypothesis strategies for the toolkit's inputs, built valid by construction (no filtering).

Plural nouns, as in Hypothesis itself: ``probabilities()`` draws one probability. Every
counterexample ever found goes into the tests as an ``@example``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "catoni_grids",
    "confidences",
    "gaussian_params",
    "kl_budgets",
    "kl_ceilings",
    "kl_values",
    "layer_shapes",
    "probabilities",
    "product_factor_params",
    "sample_sizes",
    "scales",
    "small_kl_budget_pairs",
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
