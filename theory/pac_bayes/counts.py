r"""Parameter counts of a factorised layer and the ranks they set (claims P1, P2, T3.8, F4).

A rank-r factorisation :math:`W = A B^\top` of an m x n layer has :math:`r(m + n)` stochastic
scalars against :math:`mn` for the dense layer; the McAllester bound (claim T3.8,
:func:`theory.pac_bayes.bounds.mcallester_bound`) sees that count through the KL. Every function
validates its arguments (see :mod:`theory._validation`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from theory._validation import (
    as_float_array,
    broadcast_arrays,
    check_int_array,
    check_interval,
    scalar_or_array,
)
from theory.pac_bayes.bounds import mcallester_bound

__all__ = ["complexity_ratio", "critical_rank", "crossover_rank", "param_counts"]


def _shape_and_rank(m: Any, n: Any, r: Any) -> tuple[NDArray[np.int64], ...]:
    ma = check_int_array(m, "m")
    na = check_int_array(n, "n")
    ra = check_int_array(r, "r")
    ma, na, ra = broadcast_arrays(m=ma, n=na, r=ra)
    top = np.minimum(ma, na)
    bad = ra > top
    if bad.any():
        i = np.flatnonzero(bad.reshape(-1))[0]
        raise ValueError(
            f"`r` must be an int in [1, min(m, n)] = [1, {top.reshape(-1)[i]}]; "
            f"got {ra.reshape(-1)[i]}"
        )
    return ma, na, ra


def _int_or_array(x: NDArray[np.int64], *inputs: Any) -> Any:
    if all(np.ndim(v) == 0 for v in inputs):
        return int(x)
    return x


def param_counts(m: Any, n: Any, r: Any) -> dict[str, Any]:
    r"""Variational parameters and stochastic scalars of one m x n layer (claim P1).

    .. math::

        \text{mean field: } 2mn, \quad \text{low rank: } 2r(m+n), \quad
        D_{full} = mn, \quad D_{LR} = r(m+n)

    Parameters
    ----------
    m, n : int or integer array
        Layer shape, :math:`\ge 1`.
    r : int or integer array
        Rank in :math:`[1, \min(m, n)]`.

    Returns
    -------
    dict
        ``mean_field``, ``low_rank``, ``d_full``, ``d_low_rank`` (ints for scalar input).

    References
    ----------
    Claims P1 and P2.

    Examples
    --------
    >>> param_counts(784, 1200, 25)["low_rank"]
    99200
    """
    ma, na, ra = _shape_and_rank(m, n, r)
    d_full = ma * na
    d_lr = ra * (ma + na)
    return {
        "mean_field": _int_or_array(2 * d_full, m, n, r),
        "low_rank": _int_or_array(2 * d_lr, m, n, r),
        "d_full": _int_or_array(d_full, m, n, r),
        "d_low_rank": _int_or_array(d_lr, m, n, r),
    }


def complexity_ratio(m: Any, n: Any, r: Any) -> Any:
    r"""Ratio of the low-rank to the full-rank complexity term of claim T3.8.

    .. math:: \sqrt{\frac{r (m + n)}{m n}} = \sqrt{r \Big(\frac1m + \frac1n\Big)}

    Parameters
    ----------
    m, n : int or integer array
        Layer shape, :math:`\ge 1`.
    r : int or integer array
        Rank in :math:`[1, \min(m, n)]`.

    References
    ----------
    Claim T3.8.

    Examples
    --------
    >>> round(complexity_ratio(100, 100, 2), 6)
    0.2
    """
    ma, na, ra = _shape_and_rank(m, n, r)
    value = np.sqrt(ra * (ma + na) / (ma * na).astype(np.float64))
    return scalar_or_array(value, m, n, r)


def _layer_dims(m: Any, n: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    ma = check_int_array(m, "m").reshape(-1)
    na = check_int_array(n, "n").reshape(-1)
    if ma.shape != na.shape:
        raise ValueError(
            f"`m` and `n` must list the same number of layers; got {ma.size} and {na.size}"
        )
    return ma, na


def crossover_rank(m: Any, n: Any) -> float:
    r"""The rank at which the low-rank and full-rank stochastic dimensions are equal.

    .. math:: r^\times = \frac{\sum_l m_l n_l}{\sum_l (m_l + n_l)},
        \qquad r\,(m + n) = m n \text{ for one layer}

    Below it the factorisation has fewer stochastic scalars (claim P2); with equal per-coordinate
    KLs the two T3.8 bounds meet there.

    Parameters
    ----------
    m, n : int or 1-D integer array
        Output and input widths of each layer (equal lengths).

    References
    ----------
    Claims P2, T3.8 and F4.

    Examples
    --------
    >>> crossover_rank(100, 100)
    50.0
    """
    ma, na = _layer_dims(m, n)
    return float(np.sum(ma * na) / np.sum(ma + na))


def critical_rank(
    m: Any, n: Any, *, c_max: Any, n_samples: Any, delta: Any, emp_risk: Any = 0.0
) -> int:
    r"""The largest common rank whose low-rank McAllester bound (T3.8) stays below 1.

    .. math::

        r^\ast = \max\Big\{ r \in [1, \min_l \min(m_l, n_l)] :
            \hat L + \sqrt{\frac{C_{max}\, r \sum_l (m_l + n_l) + \ln(2\sqrt N/\delta)}{2N}} < 1
        \Big\}

    and 0 when even rank 1 is vacuous.

    Parameters
    ----------
    m, n : int or 1-D integer array
        Output and input widths of each factorised layer (all take the same rank).
    c_max : float
        Per-coordinate KL :math:`C_{max} \ge 0` (nats per stochastic scalar).
    n_samples : int
        Training-set size :math:`N \ge 1`.
    delta : float
        Confidence in :math:`(0, 1)`.
    emp_risk : float, optional
        Empirical risk :math:`\hat L \in [0, 1]`.

    References
    ----------
    Claims T3.8 and F4.

    Examples
    --------
    >>> critical_rank(100, 100, c_max=1.0, n_samples=10000, delta=0.05)
    99
    """
    ma, na = _layer_dims(m, n)
    c = float(check_interval(as_float_array(c_max, "c_max"), "c_max", 0.0, np.inf))
    ranks = np.arange(1, int(np.min(np.minimum(ma, na))) + 1)
    bounds = mcallester_bound(emp_risk, c * ranks * float(np.sum(ma + na)), n_samples, delta)
    ok = np.flatnonzero(np.asarray(bounds) < 1.0)
    return int(ranks[ok[-1]]) if ok.size else 0
