r"""Union bounds over a finite grid (of prior scales, of ranks, of any choice made on the data).

A sweep that tries K grid points and reports the best must pay for the choice. With weights
:math:`w_k \ge 0`, :math:`\sum_k w_k \le 1` fixed before seeing the data (uniform :math:`1/K`, or
a prior over ranks), grid point ``k`` is certified at confidence :math:`\delta_k = w_k \delta`;
by the union bound all K statements hold together with probability :math:`\ge 1 - \delta`, so
the minimum over the grid is valid. In a bound whose confidence term is
:math:`\ln(\cdot/\delta)` the price is the additive penalty :math:`\ln(1/w_k)` (:math:`\ln K`
for a uniform grid).

References: ``CLAIMS.md`` section 5 (union bound over a grid of prior scales).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_interval,
    check_open_unit,
)

__all__ = ["UnionBoundSplit", "best_over_grid", "union_bound_split"]

#: Weights may sum to 1 up to this rounding of a float sum (they are then a valid split).
_WEIGHT_SUM_SLACK = 1e-12


@dataclass(frozen=True)
class UnionBoundSplit:
    """How the confidence ``delta`` is split over a grid, and what each point pays."""

    #: the overall confidence
    delta: float
    #: the prior weight of each grid point (sums to at most 1)
    weights: FloatArray
    #: the confidence each grid point is certified at, ``weights * delta``
    deltas: FloatArray
    #: the additive penalty ``ln(1 / weight)`` in nats paid in the bound's log term
    penalties: FloatArray

    @property
    def size(self) -> int:
        return int(self.weights.size)


def union_bound_split(
    delta: float, n_points: int | None = None, *, weights: Any = None
) -> UnionBoundSplit:
    r"""Split ``delta`` over a finite grid, uniformly or by given prior weights.

    .. math:: \delta_k = w_k \delta, \qquad \text{penalty}_k = \ln(1/w_k), \qquad
        \sum_k w_k \le 1

    Parameters
    ----------
    delta : float
        Overall confidence in :math:`(0, 1)`.
    n_points : int, optional
        Grid size K for a uniform split (:math:`w_k = 1/K`).
    weights : array_like, optional
        Non-negative prior weights, summing to at most 1, fixed before seeing the data (for
        example :math:`w_r \propto 1/r^2` over ranks). Exactly one of ``n_points`` and
        ``weights`` must be given.

    References
    ----------
    ``CLAIMS.md`` section 5.

    Examples
    --------
    >>> split = union_bound_split(0.05, 4)
    >>> split.deltas.tolist(), round(float(split.penalties[0]), 6)
    ([0.0125, 0.0125, 0.0125, 0.0125], 1.386294)
    """
    d = float(check_open_unit(delta, "delta"))
    if (n_points is None) == (weights is None):
        raise ValueError("give exactly one of `n_points` and `weights`")
    if n_points is not None:
        k = check_int(n_points, "n_points", low=1)
        w = np.full(k, 1.0 / k)
    else:
        w = as_float_array(weights, "weights").reshape(-1)
        if w.size == 0:
            raise ValueError("`weights` must not be empty")
        check_interval(w, "weights", 0.0, 1.0, low_open=True)
        total = float(np.sum(w))
        if total > 1.0 + _WEIGHT_SUM_SLACK:
            raise ValueError(f"`weights` must sum to at most 1; got sum {total!r}")
    return UnionBoundSplit(delta=d, weights=w, deltas=w * d, penalties=-np.log(w))


def best_over_grid(bounds: Any, split: UnionBoundSplit) -> tuple[float, int]:
    """The minimum of per-grid-point bounds, each computed at its own ``split.deltas[k]``.

    Parameters
    ----------
    bounds : array_like, shape (K,)
        Bound values, the k-th computed with confidence ``split.deltas[k]``.
    split : UnionBoundSplit
        The split the bounds were computed with.

    Returns
    -------
    (float, int)
        The best bound (valid with probability >= 1 - split.delta) and its grid index.

    Examples
    --------
    >>> best_over_grid([0.4, 0.3, 0.5], union_bound_split(0.05, 3))
    (0.3, 1)
    """
    b = as_float_array(bounds, "bounds", allow_inf=True).reshape(-1)
    if b.size != split.size:
        raise ValueError(
            f"`bounds` must have one value per grid point ({split.size}); got {b.size}"
        )
    k = int(np.argmin(b))
    return float(b[k]), k
