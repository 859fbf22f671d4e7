r"""The gauge of a zero-mean isotropic prior in closed form (:func:`isotropic_gauge`), and the
cancellation-free positive root of a quadratic that it and the general search share (notes:
:mod:`lrbnn_core.gauge`)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["isotropic_gauge"]


def _positive_root(p: NDArray[np.float64], q: Any, r: NDArray[np.float64]) -> NDArray[np.float64]:
    """The positive root of ``p u^2 + q u - r = 0`` (``p, r > 0``: the roots have opposite signs),
    in the form that avoids cancellation for either sign of ``q``."""
    q_arr = np.broadcast_to(np.asarray(q, dtype=np.float64), np.broadcast(p, r).shape)
    disc = np.hypot(q_arr, 2.0 * np.sqrt(p) * np.sqrt(r))
    # each form is evaluated only where its denominator is a sum of two non-negative terms
    positive = q_arr > 0.0
    out: NDArray[np.float64] = np.where(
        positive,
        2.0 * r / np.where(positive, q_arr + disc, 1.0),
        (disc - q_arr) / (2.0 * p),
    )
    return out


def _positive_finite(value: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        raise ValueError(
            f"`{name}` must be finite and > 0 entry by entry; got {float(arr[first])!r} at index "
            f"{first}"
        )
    return arr


def _count(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
    return int(value)


def isotropic_gauge(
    second_moment_a: Any, second_moment_b: Any, *, m: int, n: int, prior_std: float
) -> NDArray[np.float64]:
    r"""Optimal column scales :math:`c_k` for a zero-mean isotropic prior :math:`N(0, s^2)`.

    With :math:`S^A_k = \sum_{i=1}^m (\sigma^{A\,2}_{ik} + \mu^{A\,2}_{ik})` and :math:`S^B_k`
    likewise over the :math:`n` rows of :math:`B`, the KL of column :math:`k` after the gauge is,
    up to a constant,

    .. math::

        f(c) = \frac{c^2 S^A}{2 s^2} - m \ln c + \frac{S^B}{2 s^2 c^2} + n \ln c ,

    convex in :math:`t = \ln c`. Setting :math:`c^3 s^2 f'(c) = 0` gives, with :math:`u = c^2`,

    .. math::

        S^A u^2 + (n - m) s^2 u - S^B = 0, \qquad
        u = \frac{-(n - m) s^2 + \sqrt{(n - m)^2 s^4 + 4 S^A S^B}}{2 S^A},

    the only positive root (the product of the roots is :math:`-S^B / S^A < 0`).

    Parameters
    ----------
    second_moment_a, second_moment_b : array_like
        :math:`S^A_k, S^B_k > 0`, same shape (usually ``(r,)``).
    m, n : int
        Rows of :math:`A` (out features) and of :math:`B` (in features), >= 1.
    prior_std : float
        :math:`s > 0`.

    Returns
    -------
    numpy.ndarray
        :math:`c_k = \sqrt{u_k}`, float64, of the shape of the second moments.

    References
    ----------
    ``CLAIMS.md`` G1 (the gauge); issue 7.

    Examples
    --------
    >>> c = isotropic_gauge([4.0], [1.0], m=3, n=3, prior_std=1.0)  # m = n: (S^B/S^A)^(1/4)
    >>> c.shape, round(float(c[0]), 12)
    ((1,), 0.707106781187)
    """
    s_a = _positive_finite(second_moment_a, "second_moment_a")
    s_b = _positive_finite(second_moment_b, "second_moment_b")
    if s_a.shape != s_b.shape:
        raise ValueError(
            "`second_moment_a` and `second_moment_b` must have the same shape; "
            f"got {s_a.shape} and {s_b.shape}"
        )
    rows_a, rows_b = _count(m, "m"), _count(n, "n")
    s = float(_positive_finite(prior_std, "prior_std"))
    u = _positive_root(s_a, (rows_b - rows_a) * s * s, s_b)
    out: NDArray[np.float64] = np.sqrt(u)
    return out
