r"""Monte Carlo estimators of the empirical Gaussian complexity of vector-valued classes.

For functions :math:`f: \mathbb R^d \to \mathbb R^k` and a sample :math:`x_1, \dots, x_m`,

.. math:: \hat G(F) = E_\gamma \sup_{f \in F} \frac1m \sum_{j=1}^m \langle \gamma_j, f(x_j)\rangle,
    \qquad \gamma_j \sim N(0, I_k) \text{ independent.}

Only the expectation over :math:`\gamma` is Monte Carlo here: the supremum is exact (a maximum
over a finite set, or a singular-value sum for the low-rank linear class). All draws are batched.

References: ``CLAIMS.md`` section 6 (E8-E35, T3.9).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_matrix,
    check_positive,
    check_rng,
    scalar,
)
from theory.gaussian_complexity import _control_variate as _cv

__all__ = ["Sampling", "empirical_gaussian_complexity", "linear_class_complexity"]

#: Elements per batch of draws: keeps the Gaussian array and the products near the cache (1.6 MB).
_BATCH_ELEMENTS = 200_000


class Sampling(str, Enum):
    """How the Gaussian vectors of the estimators are drawn (both give the same law)."""

    #: one gamma_j per sample point: classes on the same sample share draws exactly, so
    #: comparisons between classes (inclusion, convex hulls) hold draw by draw
    DIRECT = "direct"
    #: only the projection the supremum depends on (the span of the outputs, or the Gram
    #: factor of X): far fewer normals per draw, same distribution of the supremum
    REDUCED = "reduced"


def _sampling(value: Any) -> Sampling:
    try:
        return Sampling(value)
    except ValueError:
        known = ", ".join(repr(s.value) for s in Sampling)
        raise ValueError(f"`sampling` must be one of {known}; got {value!r}") from None


def _control_variate(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`control_variate` must be a bool; got {value!r}")
    return bool(value)


def _mean_and_se(values: FloatArray) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def _batched(draw: Callable[[int], FloatArray], draws: int, per_draw: int) -> FloatArray:
    """``draw(size)`` for batches of at most ``_BATCH_ELEMENTS / per_draw`` draws, concatenated
    along the first axis."""
    batch = max(1, _BATCH_ELEMENTS // per_draw)
    return np.concatenate([draw(min(batch, draws - i)) for i in range(0, draws, batch)])


def empirical_gaussian_complexity(
    outputs: Any,
    *,
    n_draws: int,
    rng: np.random.Generator,
    sampling: Sampling | str = Sampling.DIRECT,
    control_variate: bool = False,
) -> tuple[float, float]:
    r"""Monte Carlo estimate of :math:`\hat G(F)` for a finite set of functions, with its SE.

    Parameters
    ----------
    outputs : array_like, shape (n_functions, m, k)
        ``outputs[f, j]`` is :math:`f(x_j)`.
    n_draws : int
        Number of draws of :math:`\gamma` (at least 2, for the standard error).
    rng : numpy.random.Generator
    sampling : {"direct", "reduced"}
        ``"direct"`` draws every :math:`\gamma_j`; ``"reduced"`` draws only the coordinates of
        :math:`\gamma` in the span of the outputs (an orthonormal basis from the SVD of the
        ``(n_functions, m k)`` matrix): :math:`\langle\gamma, f\rangle` has the same joint law,
        with ``rank`` instead of ``m k`` normals per draw.
    control_variate : bool
        Subtract the fitted control variate of
        :mod:`theory.gaussian_complexity._control_variate` (the hinge sum
        :math:`\sum_f (\langle\gamma, f\rangle - t)_+`, whose mean is exact), its level and
        coefficient fitted on a pilot of extra draws: still unbiased, 4-5x smaller variance on
        random classes. Off by default: with it the draw-by-draw identities between
        classes under common draws (E9, E10) no longer hold.

    Returns
    -------
    (float, float)
        The estimate and its standard error.

    References
    ----------
    Claims E8, E9, E10 (finite classes, convex hulls, closure).

    Examples
    --------
    >>> est, se = empirical_gaussian_complexity(np.zeros((3, 5, 2)), n_draws=100,
    ...                                         rng=np.random.default_rng(0))
    >>> est, se
    (0.0, 0.0)
    """
    out = as_float_array(outputs, "outputs")
    if out.ndim != 3 or 0 in out.shape:
        raise ValueError(
            f"`outputs` must have shape (n_functions, m, k) with no empty axis; got {out.shape}"
        )
    draws = check_int(n_draws, "n_draws", low=2)
    g = check_rng(rng)
    reduced = _sampling(sampling) is Sampling.REDUCED
    cv = _control_variate(control_variate)
    _, m, k = out.shape
    flat = out.reshape(out.shape[0], m * k)
    if reduced and flat.shape[0] < m * k:  # otherwise the rank cannot be below m k
        # <gamma, f> = <V^T gamma, (U S)_f> with F = U S V^T, and V^T gamma ~ N(0, I_rank).
        u, s, _ = np.linalg.svd(flat, full_matrices=False)
        keep = s > s[0] * max(flat.shape) * np.finfo(np.float64).eps
        # All-zero outputs: one zero column keeps the shapes (the supremum is 0 either way).
        flat = u[:, keep] * s[keep] if keep.any() else np.zeros((flat.shape[0], 1))
    width = flat.shape[1]

    def values(size: int) -> FloatArray:
        # <gamma, f> for every draw and function; the sup over the finite set is its row max
        return np.asarray(g.standard_normal((size, width)) @ flat.T)

    if not cv:
        sups = _batched(lambda size: values(size).max(axis=1), draws, width + flat.shape[0])
        return _mean_and_se(sups / m)

    vals = values(_cv.pilot_size(draws))
    level = _cv.hinge_level(vals.max(axis=1))
    means = np.array([_cv.hinge_mean(np.linalg.norm(flat, axis=1), level)])

    def sups_and_hinges(vals: FloatArray) -> FloatArray:
        return np.column_stack([vals.max(axis=1), _cv.hinge_sum(vals, level)])

    pilot = sups_and_hinges(vals)
    beta = _cv.fit_coefficients(pilot[:, 0], pilot[:, 1:])
    main = _batched(lambda size: sups_and_hinges(values(size)), draws, width + flat.shape[0])
    return _mean_and_se(_cv.adjust(main[:, 0], main[:, 1:], means, beta) / m)


def _top_singular_sum(mats: FloatArray, r: int, exact: bool) -> tuple[FloatArray, FloatArray]:
    """Sum of the ``r`` largest singular values of each matrix of the stack, and the squared
    Frobenius norms. ``exact``: LAPACK's SVD; otherwise the eigenvalues of the smaller Gram
    matrix (twice as fast; absolute error ~ eps ||M||^2 on sigma^2, so only the nonzero singular
    values are kept: at most min(k, p) of them, all positive almost surely)."""
    if exact:
        sv = np.linalg.svd(mats, compute_uv=False)
        return sv[:, :r].sum(axis=1), np.square(sv).sum(axis=1)
    k, p = mats.shape[1:]
    t = np.swapaxes(mats, 1, 2)
    ev = np.linalg.eigvalsh(mats @ t if k <= p else t @ mats)
    top = np.sqrt(np.maximum(ev[:, ::-1][:, : min(r, k, p)], 0.0))
    return top.sum(axis=1), ev.sum(axis=1)


def linear_class_complexity(
    X: Any,
    *,
    spectral_bound: float,
    rank: int,
    out_dim: int,
    n_draws: int,
    rng: np.random.Generator,
    sampling: Sampling | str = Sampling.DIRECT,
    control_variate: bool = False,
) -> tuple[float, float]:
    r"""Empirical Gaussian complexity of :math:`\{x \mapsto Wx : \|W\|_2 \le C, \mathrm{rank}\,W
    \le r\}`, with the exact supremum.

    .. math::

        \sup_W \frac1m \sum_j \langle \gamma_j, W x_j \rangle
        = \frac1m \sup_W \langle W, \Gamma^\top X \rangle
        = \frac{C}{m} \sum_{i=1}^{r} \sigma_i(\Gamma^\top X),

    (the dual of the spectral norm restricted to rank r is the Ky Fan r-norm), so only the
    expectation over :math:`\Gamma \in \mathbb R^{m \times k}` is Monte Carlo.

    Parameters
    ----------
    X : array_like, shape (m, d)
        The sample, one row per point.
    spectral_bound : float
        :math:`C > 0`.
    rank : int
        :math:`r \in [1, \min(k, d)]`.
    out_dim : int
        :math:`k \ge 1`.
    n_draws : int
        Draws of :math:`\Gamma`, at least 2.
    rng : numpy.random.Generator
    sampling : {"direct", "reduced"}
        ``"direct"`` draws :math:`\Gamma` (singular values by LAPACK's SVD); ``"reduced"`` uses
        that the rows of :math:`\Gamma^\top X` are independent :math:`N(0, X^\top X)`, so with
        :math:`X = U S V^\top` the singular values of :math:`\Gamma^\top X` have the law of those
        of :math:`Z S` for a standard Gaussian :math:`Z \in \mathbb R^{k \times p}`,
        :math:`p = \mathrm{rank}\, X` (``k p`` normals per draw instead of ``m k``; singular
        values from the eigenvalues of the smaller Gram matrix, relative error ~1e-13).
    control_variate : bool
        Subtract the fitted control variate :math:`\|\Gamma^\top X\|_F^2` (exact mean
        :math:`k\|X\|_F^2`), its coefficient fitted on a pilot of extra draws: still unbiased,
        6-16x smaller variance. Off by default (keeps the draw-by-draw identities of the direct
        draws).

    Returns
    -------
    (float, float)
        The estimate and its standard error.

    References
    ----------
    Claims E13 and E17 (the one-layer class); API ``linear_class_complexity``.

    Examples
    --------
    >>> est, se = linear_class_complexity(np.eye(3), spectral_bound=2.0, rank=1, out_dim=1,
    ...                                   n_draws=4000, rng=np.random.default_rng(0))
    >>> # k = 1, X = I_3: the sup is C ||gamma|| / m, and E||gamma|| = 2 sqrt(2) / sqrt(pi)
    >>> bool(abs(est - 2.0 * 2 * np.sqrt(2 / np.pi) / 3) < 4 * se)
    True
    """
    x = check_matrix(X, "X")
    c = scalar(check_positive(spectral_bound, "spectral_bound"), "spectral_bound")
    k = check_int(out_dim, "out_dim")
    m, d = x.shape
    r = check_int(rank, "rank", low=1, high=min(k, d))
    draws = check_int(n_draws, "n_draws", low=2)
    g = check_rng(rng)
    reduced = _sampling(sampling) is Sampling.REDUCED
    cv = _control_variate(control_variate)
    s = np.linalg.svd(x, compute_uv=False)
    if reduced:
        s = s[s > s[0] * max(x.shape) * np.finfo(np.float64).eps] if s[0] > 0 else s[:1]
    per_draw = k * s.size if reduced else m * k + k * d

    def sups_and_norms(size: int) -> FloatArray:
        if reduced:
            mats = g.standard_normal((size, k, s.size)) * s
        else:
            gamma = g.standard_normal((size, m, k))
            mats = np.swapaxes(gamma, 1, 2) @ x
        top, norm2 = _top_singular_sum(mats, r, exact=not reduced)
        return np.column_stack([c * top / m, norm2])

    if not cv:
        return _mean_and_se(_batched(sups_and_norms, draws, per_draw)[:, 0])
    pilot = sups_and_norms(_cv.pilot_size(draws))
    beta = _cv.fit_coefficients(pilot[:, 0], pilot[:, 1:])
    main = _batched(sups_and_norms, draws, per_draw)
    means = np.array([k * float(np.square(s).sum())])
    return _mean_and_se(_cv.adjust(main[:, 0], main[:, 1:], means, beta))
