"""Random probabilities, tolerances and the predictive-mean twin shared by the metrics tests (the
other twins, clear and unoptimised loops, live next to their tests)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: float64 reductions over at most a few thousand terms: relative rounding < 1e3 * 2.2e-16.
RTOL = 1e-12


Array = np.ndarray[Any, Any]


def _probs(rng: np.random.Generator, shape: tuple[int, ...], alpha: float = 1.0) -> Array:
    """Dirichlet(alpha) probability vectors along the last axis (float64)."""
    return rng.dirichlet(np.full(shape[-1], alpha), size=shape[:-1])


def _samples_3d(p: Array) -> Array:
    return p if p.ndim == 3 else p[None]


def _twin_mean(p: Array, n: int) -> list[float]:
    p3 = _samples_3d(p)
    s_count, _, c_count = p3.shape
    return [sum(float(p3[s, n, c]) for s in range(s_count)) / s_count for c in range(c_count)]
