r"""Geometry of the induced posterior :math:`q_W`, the law of :math:`W = A B^\top`.

Factor posterior: :math:`A \in \mathbb R^{m \times r}` with independent entries
:math:`N(\mu^A_{ik}, \sigma^{A\,2}_{ik})` and :math:`B \in \mathbb R^{n \times r}` with independent
entries :math:`N(\mu^B_{jk}, \sigma^{B\,2}_{jk})`, :math:`1 \le r \le \min(m, n)`. This module gives
the moments of :math:`W` (claim L3.5a), the dimension and Jacobian of the factorisation (G1, G2),
sampling (D3.1, L3.2, T3.4), the mean and total variance of a layer output in
:math:`O(r(m+n))` memory, and the GL(r) gauge. The factor posterior and the moments of W are
defined in :mod:`theory.factor_posterior`, the App. F initialisation rules (F1, F2) in
:mod:`theory.initialisation`; both are re-exported here.

References: ``CLAIMS.md`` sections 2 and 3.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_matrix,
    check_positive,
    check_rank,
    check_rng,
)
from theory.factor_posterior import FactorPosterior, _factors, weight_moments, weight_variance
from theory.initialisation import (
    InitTarget,
    balanced_factors,
    svd_warm_start,
    target_variance,
    variance_matching_init,
)

__all__ = [
    "FactorPosterior",
    "InitTarget",
    "balanced_factors",
    "factor_jacobian",
    "gauge_transform",
    "jacobian_rank",
    "manifold_dimension",
    "output_moments",
    "sample_factors",
    "sample_mean_field",
    "sample_weights",
    "svd_warm_start",
    "target_variance",
    "variance_matching_init",
    "weight_moments",
    "weight_variance",
]


def manifold_dimension(m: int, n: int, r: int) -> int:
    r"""Dimension :math:`r(m + n - r)` of the manifold of rank-exactly-r matrices (claim G1).

    Examples
    --------
    >>> manifold_dimension(4, 3, 2)
    10
    """
    mm, nn = check_int(m, "m"), check_int(n, "n")
    rr = check_rank(r, mm, nn)
    return rr * (mm + nn - rr)


def factor_jacobian(a: Any, b: Any) -> FloatArray:
    r"""Jacobian of :math:`(A, B) \mapsto A B^\top` at a point, shape :math:`(mn, r(m+n))`.

    Rows index ``W.reshape(-1)``; columns ``A.reshape(-1)`` then ``B.reshape(-1)``. Any
    :math:`r \ge 1` is accepted, including :math:`r > \min(m, n)` (an over-parameterised
    factorisation, used by claim G2's checks):

    .. math:: \frac{\partial W_{ij}}{\partial A_{i'k}} = \delta_{ii'} B_{jk}, \qquad
        \frac{\partial W_{ij}}{\partial B_{j'k}} = \delta_{jj'} A_{ik}

    References
    ----------
    Claims G1 and G2.

    Examples
    --------
    >>> factor_jacobian([[1.0], [2.0]], [[3.0]]).tolist()
    [[3.0, 0.0, 1.0], [0.0, 3.0, 2.0]]
    """
    am, bm = check_matrix(a, "a"), check_matrix(b, "b")
    if am.shape[1] != bm.shape[1]:
        raise ValueError(
            f"`a` (m x r) and `b` (n x r) must have the same number of columns; "
            f"got shapes {am.shape} and {bm.shape}"
        )
    m, r = am.shape
    n = bm.shape[0]
    d_a = np.einsum("il,jk->ijlk", np.eye(m), bm).reshape(m * n, m * r)
    d_b = np.einsum("jl,ik->ijlk", np.eye(n), am).reshape(m * n, n * r)
    return np.concatenate([d_a, d_b], axis=1)


def jacobian_rank(a: Any, b: Any) -> int:
    r"""Numerical rank of :func:`factor_jacobian` at ``(a, b)`` (claims G1, G2).

    Singular values below :math:`\max(\text{shape}) \cdot \varepsilon \cdot \sigma_{max}` count
    as zero (numpy's ``matrix_rank`` default). At generic points the rank is
    :math:`r(m + n - r)`, the gap :math:`r^2` being the GL(r) gauge.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> jacobian_rank(rng.normal(size=(5, 2)), rng.normal(size=(4, 2)))
    14
    """
    return int(np.linalg.matrix_rank(factor_jacobian(a, b)))


def sample_factors(
    mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Draws ``(A, B)`` of shapes ``(S, m, r)`` and ``(S, n, r)``; A is drawn first, then B."""
    ma, sa, mb, sb = _factors(mu_a, sigma_a, mu_b, sigma_b)
    s = check_int(n_samples, "n_samples")
    g = check_rng(rng)
    a = ma + sa * g.standard_normal((s, *ma.shape))
    b = mb + sb * g.standard_normal((s, *mb.shape))
    return a, b


def sample_weights(
    mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: np.random.Generator
) -> FloatArray:
    r"""Samples of :math:`W = A B^\top` (the push-forward :math:`q_W`, claim D3.1).

    Returns
    -------
    ndarray, shape (n_samples, m, n)
        ``A @ B^T`` for the draws of :func:`sample_factors` with the same ``rng`` state.

    Examples
    --------
    >>> w = sample_weights(np.zeros((4, 1)), np.ones((4, 1)), np.zeros((3, 1)), np.ones((3, 1)),
    ...                    n_samples=2, rng=np.random.default_rng(0))
    >>> w.shape, [int(np.linalg.matrix_rank(x)) for x in w]
    ((2, 4, 3), [1, 1])
    """
    a, b = sample_factors(mu_a, sigma_a, mu_b, sigma_b, n_samples=n_samples, rng=rng)
    out: FloatArray = a @ np.swapaxes(b, 1, 2)
    return out


def sample_mean_field(
    mu_w: Any, sigma_w: Any, *, n_samples: int, rng: np.random.Generator
) -> FloatArray:
    """Samples of a mean-field posterior, independent ``N(mu_w, sigma_w^2)`` on every entry."""
    mw = check_matrix(mu_w, "mu_w")
    sw = check_matrix(sigma_w, "sigma_w")
    if sw.shape != mw.shape:
        raise ValueError(f"`sigma_w` must have the shape of `mu_w` {mw.shape}; got {sw.shape}")
    check_positive(sw, "sigma_w")
    s = check_int(n_samples, "n_samples")
    out: FloatArray = mw + sw * check_rng(rng).standard_normal((s, *mw.shape))
    return out


def output_moments(
    mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, x: Any
) -> tuple[FloatArray, Any]:
    r"""Mean and total variance of the layer output :math:`z = W x`, in :math:`O(r(m+n))` memory.

    With :math:`u = B^\top x`, whose entries are independent with mean
    :math:`\nu_k = \sum_j \mu^B_{jk} x_j` and variance :math:`\tau_k^2 = \sum_j
    \sigma^{B\,2}_{jk} x_j^2`, the terms :math:`A_{ik} u_k` are uncorrelated across ``k``, so

    .. math::

        E[z] = \mu^A \nu, \qquad
        E\|z - E z\|^2 = \sum_{ik} \big[\mu^{A\,2}_{ik} \tau_k^2
            + \sigma^{A\,2}_{ik} (\nu_k^2 + \tau_k^2)\big].

    Parameters
    ----------
    mu_a, sigma_a, mu_b, sigma_b
        The factor posterior, as in :func:`weight_moments`.
    x : array_like, shape (n,) or (batch, n)
        Inputs.

    Returns
    -------
    mean : ndarray, shape (m,) or (batch, m)
    total_variance : float or ndarray of shape (batch,)

    References
    ----------
    Claims L3.5a and C8 (the variance terms of the random-weight loss gap).

    Examples
    --------
    >>> mean, var = output_moments([[1.0]], [[0.5]], [[2.0]], [[1.0]], [1.0])
    >>> mean.tolist(), var
    ([2.0], 2.25)
    """
    ma, sa, mb, sb = _factors(mu_a, sigma_a, mu_b, sigma_b)
    xa = as_float_array(x, "x")
    n = mb.shape[0]
    if xa.ndim not in (1, 2) or xa.shape[-1] != n:
        raise ValueError(f"`x` must have shape ({n},) or (batch, {n}); got {xa.shape}")
    nu = xa @ mb
    tau2 = (xa * xa) @ (sb * sb)
    mean = nu @ ma.T
    var = tau2 @ np.sum(ma * ma, axis=0) + (nu * nu + tau2) @ np.sum(sa * sa, axis=0)
    return mean, (float(var) if xa.ndim == 1 else var)


def gauge_transform(a: Any, b: Any, g: Any) -> tuple[FloatArray, FloatArray]:
    r"""The GL(r) gauge action :math:`(A, B) \mapsto (A G, B G^{-\top})`, leaving :math:`AB^\top`.

    Parameters
    ----------
    a : array_like, shape (m, r) or (..., m, r)
    b : array_like, shape (n, r) or (..., n, r)
    g : array_like, shape (r, r)
        Invertible (condition number below 1/eps).

    References
    ----------
    Claim G1 (the :math:`r^2` gauge directions).

    Examples
    --------
    >>> a, b = np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])
    >>> a2, b2 = gauge_transform(a, b, [[2.0, 1.0], [0.0, 1.0]])
    >>> float((a2 @ b2.T)[0, 0]), float((a @ b.T)[0, 0])
    (11.0, 11.0)
    """
    am, bm = as_float_array(a, "a"), as_float_array(b, "b")
    for name, arr in (("a", am), ("b", bm)):
        if arr.ndim < 2:
            raise ValueError(
                f"`{name}` must be a matrix (or a batch of them); got shape {arr.shape}"
            )
    gm = check_matrix(g, "g")
    r = gm.shape[0]
    if gm.shape != (r, r) or am.shape[-1] != r or bm.shape[-1] != r:
        raise ValueError(
            f"`g` must be r x r with r the columns of `a` and `b`; got shapes {gm.shape}, "
            f"{am.shape}, {bm.shape}"
        )
    cond = float(np.linalg.cond(gm))
    if not cond < 1.0 / np.finfo(np.float64).eps:
        raise ValueError(f"`g` must be invertible; got condition number {cond:g}")
    # B G^{-T} = (G^{-1} B^T)^T, by a solve rather than an explicit inverse.
    b_new = np.swapaxes(np.linalg.solve(gm, np.swapaxes(bm, -1, -2)), -1, -2)
    return am @ gm, b_new
