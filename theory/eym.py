r"""Eckart-Young-Mirsky: rank-r truncation, tail energy, rank-induced bias (claims C3, T3.6, T3.7).

For :math:`W \in \mathbb R^{m \times n}` with singular values :math:`\sigma_1 \ge \sigma_2 \ge
\dots`, the truncated SVD :math:`W_r` is the best rank-r approximation in Frobenius and spectral
norm, with :math:`\|W - W_r\|_F = \sigma_{>r} = (\sum_{i > r} \sigma_i^2)^{1/2}` and
:math:`\|W - W_r\|_2 = \sigma_{r+1}`. Rank 0 is allowed here and means "everything is tail".

References: ``CLAIMS.md`` section 4.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from theory._validation import FloatArray, as_float_array, check_int, check_interval, check_matrix

__all__ = [
    "BiasNorm",
    "RankDecomposition",
    "rank_bias_bound",
    "rank_decomposition",
    "singular_values",
    "tail_energy",
    "truncated_svd",
]


def _rank(r: Any, w: FloatArray, *, low: int = 0) -> int:
    return check_int(r, "r", low=low, high=min(w.shape))


def _nonnegative_scalar(x: Any, name: str) -> float:
    arr = check_interval(as_float_array(x, name), name, 0.0, np.inf)
    if arr.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar; got an array of shape {arr.shape}")
    return float(arr)


def singular_values(W: Any) -> FloatArray:
    """Singular values of ``W`` in decreasing order (validated 2-D, finite)."""
    out: FloatArray = np.asarray(
        np.linalg.svd(check_matrix(W, "W"), compute_uv=False), dtype=np.float64
    )
    return out


def truncated_svd(W: Any, r: int) -> FloatArray:
    r"""The rank-r truncation :math:`W_r = U_r \Sigma_r V_r^\top` (claim C3).

    Parameters
    ----------
    W : array_like, shape (m, n)
        Finite matrix.
    r : int
        Rank in :math:`[0, \min(m, n)]` (0 gives the zero matrix).

    Returns
    -------
    ndarray, shape (m, n)

    References
    ----------
    Claim C3 (Eckart-Young-Mirsky).

    Examples
    --------
    >>> np.round(truncated_svd(np.diag([3.0, 2.0, 1.0]), 2), 12).tolist()
    [[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    """
    wm = check_matrix(W, "W")
    rr = _rank(r, wm)
    u, s, vt = np.linalg.svd(wm, full_matrices=False)
    out: FloatArray = (u[:, :rr] * s[:rr]) @ vt[:rr]
    return out


def tail_energy(W: Any, r: int) -> float:
    r"""The tail :math:`\sigma_{>r} = \sqrt{\sum_{i > r} \sigma_i^2} = \|W - W_r\|_F`.

    Parameters
    ----------
    W : array_like, shape (m, n)
    r : int
        Rank in :math:`[0, \min(m, n)]`; ``r = 0`` gives :math:`\|W\|_F`.

    References
    ----------
    Claims C3 and T3.6.

    Examples
    --------
    >>> round(tail_energy(np.diag([3.0, 2.0, 1.0]), 1) ** 2, 12)
    5.0
    """
    wm = check_matrix(W, "W")
    rr = _rank(r, wm)
    tail = np.linalg.svd(wm, compute_uv=False)[rr:]
    if tail.size == 0 or tail[0] == 0.0:
        return 0.0
    # Scale by the largest tail value before squaring (no overflow above 1e154 or underflow
    # below 1e-154), and sum from the smallest term up so that small tails keep their digits.
    top = float(tail[0])
    return top * float(np.sqrt(np.sum(np.sort((tail / top) ** 2))))


class BiasNorm(str, Enum):
    """Which tail the rank-induced bias bound uses."""

    #: :math:`\sigma_{>r}` (Frobenius tail), the paper's claim T3.6
    FRO = "fro"
    #: :math:`\sigma_{r+1}` (spectral tail), the sharper form T3.6s
    SPECTRAL = "spectral"


def rank_bias_bound(
    W: Any, r: int, *, lipschitz: float, radius: float, norm: BiasNorm | str = "fro"
) -> float:
    r"""Bound on the loss change from truncating ``W`` to rank ``r`` (claims T3.6, T3.6s).

    .. math::

        |E\,l(W x, y) - E\,l(W_r x, y)| \le L R \sigma_{>r} \quad (\texttt{norm="fro"}),
        \qquad \le L R \sigma_{r+1} \quad (\texttt{norm="spectral"})

    for an L-Lipschitz loss (in the Euclidean norm of :math:`z = Wx`) and :math:`\|x\| \le R`.

    Parameters
    ----------
    W : array_like, shape (m, n)
    r : int
        Rank in :math:`[0, \min(m, n)]`.
    lipschitz : float
        :math:`L \ge 0`.
    radius : float
        :math:`R \ge 0`.
    norm : {"fro", "spectral"}

    References
    ----------
    Claims T3.6 and T3.6s.

    Examples
    --------
    >>> w = np.diag([3.0, 2.0, 1.0])
    >>> fro = rank_bias_bound(w, 1, lipschitz=1.0, radius=2.0)
    >>> round(fro**2, 12), rank_bias_bound(w, 1, lipschitz=1.0, radius=2.0, norm="spectral")
    (20.0, 4.0)
    """
    wm = check_matrix(W, "W")
    rr = _rank(r, wm)
    lip = _nonnegative_scalar(lipschitz, "lipschitz")
    rad = _nonnegative_scalar(radius, "radius")
    try:
        kind = BiasNorm(norm)
    except ValueError:
        raise ValueError(f"`norm` must be 'fro' or 'spectral'; got {norm!r}") from None
    if kind is BiasNorm.FRO:
        tail = tail_energy(wm, rr)
    else:
        s = np.linalg.svd(wm, compute_uv=False)
        tail = float(s[rr]) if rr < s.size else 0.0
    return lip * rad * tail


@dataclass(frozen=True)
class RankDecomposition:
    r"""The two terms of claim T3.7 for one matrix: :math:`\|W - W^*_r\|_F + \sigma_{>r}(W^*)`."""

    #: the rank r of the comparison
    rank: int
    #: optimisation error :math:`\|W - W^*_r\|_F`
    optimisation: float
    #: rank-induced bias :math:`\sigma_{>r}(W^*)`
    rank_bias: float
    #: the actual distance :math:`\|W - W^*\|_F` (at most the sum of the two terms)
    distance: float

    @property
    def total(self) -> float:
        return self.optimisation + self.rank_bias


def rank_decomposition(w: Any, w_star: Any, r: int) -> RankDecomposition:
    r"""Split :math:`\|W - W^*\|_F` into optimisation error plus rank-induced bias (T3.7).

    .. math:: \|W - W^*\|_F \le \|W - W^*_r\|_F + \|W^*_r - W^*\|_F
        = \|W - W^*_r\|_F + \sigma_{>r}(W^*)

    Parameters
    ----------
    w : array_like, shape (m, n)
        A learned matrix (any rank; for a factorised layer, the product of the factor means).
    w_star : array_like, shape (m, n)
        The reference matrix :math:`W^*`.
    r : int
        Rank in :math:`[0, \min(m, n)]`.

    References
    ----------
    Claim T3.7.

    Examples
    --------
    >>> d = rank_decomposition(np.diag([3.0, 0.0]), np.diag([3.0, 1.0]), 1)
    >>> d.optimisation, d.rank_bias, d.distance
    (0.0, 1.0, 1.0)
    """
    wm, ws = check_matrix(w, "w"), check_matrix(w_star, "w_star")
    if wm.shape != ws.shape:
        raise ValueError(f"`w` must have the shape of `w_star` {ws.shape}; got {wm.shape}")
    rr = _rank(r, ws)
    return RankDecomposition(
        rank=rr,
        optimisation=float(np.linalg.norm(wm - truncated_svd(ws, rr))),
        rank_bias=tail_energy(ws, rr),
        distance=float(np.linalg.norm(wm - ws)),
    )
