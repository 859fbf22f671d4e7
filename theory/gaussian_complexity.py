r"""Empirical Gaussian complexity of vector-valued classes and the bounds of the paper's Sec. 3.5.

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

from theory import _control_variate as _cv
from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_int_array,
    check_matrix,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_probability,
    check_rng,
    scalar,
    scalar_or_array,
)
from theory.pac_bayes import mcallester_bound

__all__ = [
    "Sampling",
    "empirical_gaussian_complexity",
    "gc_confidence_term",
    "gc_generalisation_bound",
    "linear_class_complexity",
    "one_layer_gaps",
    "pinto_bound_as_restated",
    "spectral_norm_tail_bound",
]

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
        Subtract the fitted control variate of :mod:`theory._control_variate` (the hinge sum
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


def _positive_list(x: Any, name: str) -> FloatArray:
    arr = check_positive(x, name).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty")
    return arr


def pinto_bound_as_restated(
    X: Any, *, spectral_bounds: Any, ranks: Any, widths: Any, c0: float
) -> float:
    r"""Claim E17 exactly as the paper restates Pinto et al. (Thm 7), with :math:`B_1 =
    \sqrt{r_1} C_1`.

    .. math::

        \hat G(F) \le \frac{\|X\|_F}{m} \Big\{ B_1 \sqrt{h_1} \prod_{i=1}^{D} C_0 C_i
            + \sum_{j=2}^{D} C_j \sqrt{r_j h_j} \prod_{i=j+1}^{D} C_0 C_i \Big\}

    Parameters
    ----------
    X : array_like, shape (m, d)
    spectral_bounds : sequence of float
        :math:`C_1, \dots, C_D > 0` (one per layer).
    ranks : sequence of int
        :math:`r_1, \dots, r_D \ge 1`.
    widths : sequence of int
        :math:`h_1, \dots, h_D \ge 1` (the output width of each layer).
    c0 : float
        The universal constant :math:`C_0 > 0` (a parameter: the paper does not give it).

    References
    ----------
    Claim E17 (as restated; see the check for whether it holds).

    Examples
    --------
    >>> round(pinto_bound_as_restated(np.ones((4, 2)), spectral_bounds=[2.0], ranks=[1],
    ...                               widths=[3], c0=1.0), 6)  # sqrt(8)/4 * 2 sqrt(3) * 2
    4.898979
    """
    x = check_matrix(X, "X")
    cs = _positive_list(spectral_bounds, "spectral_bounds")
    rs = check_int_array(ranks, "ranks").reshape(-1)
    hs = check_int_array(widths, "widths").reshape(-1)
    for name, arr, raw in (("ranks", rs, ranks), ("widths", hs, widths)):
        if np.ndim(raw) > 1 or arr.size != cs.size:
            raise ValueError(
                f"`{name}` must be a flat list with one value per layer ({cs.size}); "
                f"got {np.asarray(raw).tolist()}"
            )
    # W_1 maps d to h_1 and W_j maps h_(j-1) to h_j: each rank is at most both sides.
    inputs = np.concatenate([[x.shape[1]], hs[:-1]])
    caps = np.minimum(hs, inputs)
    if (rs > caps).any():
        j = int(np.flatnonzero(rs > caps)[0])
        raise ValueError(
            f"`ranks` must satisfy r_j <= min(h_j, h_(j-1)) (h_0 = d = {x.shape[1]}); got "
            f"r_{j + 1} = {rs[j]} with bound {caps[j]}"
        )
    c0_ = scalar(check_positive(c0, "c0"), "c0")
    depth = cs.size
    b1 = np.sqrt(rs[0]) * cs[0]
    total = b1 * np.sqrt(hs[0]) * np.prod(c0_ * cs)
    for j in range(1, depth):
        total += cs[j] * np.sqrt(rs[j] * hs[j]) * np.prod(c0_ * cs[j + 1 :])
    m = x.shape[0]
    return float(np.linalg.norm(x) / m * total)


def gc_confidence_term(n: Any, delta: Any) -> Any:
    r"""The confidence term :math:`3\sqrt{\log(2/\delta)/(2m)}` of claims E15, T3.9 and E21.

    Parameters
    ----------
    n : int or integer array
        Sample size :math:`m \ge 1`.
    delta : float or array_like
        Confidence in :math:`(0, 1)`.

    Examples
    --------
    >>> round(gc_confidence_term(1000, 0.05), 6)
    0.128841
    """
    na = check_int_array(n, "n").astype(np.float64)
    da = check_open_unit(delta, "delta")
    return scalar_or_array(3.0 * np.sqrt(np.log(2.0 / da) / (2.0 * na)), n, delta)


def gc_generalisation_bound(
    emp_risk: float, complexity: float, *, lipschitz: float, n: int, delta: float
) -> float:
    r"""Claim E15 as quoted: :math:`\hat L + \sqrt{\pi L}\,\hat G(F) + 3\sqrt{\log(2/\delta)/(2m)}`.

    References
    ----------
    Claims E15 and T3.9.

    Examples
    --------
    >>> round(gc_generalisation_bound(0.1, 0.05, lipschitz=1.0, n=1000, delta=0.05), 6)
    0.317464
    """
    e = scalar(check_probability(emp_risk, "emp_risk"), "emp_risk")
    g = scalar(check_nonnegative(complexity, "complexity"), "complexity")
    lip = scalar(check_nonnegative(lipschitz, "lipschitz"), "lipschitz")
    m = check_int(n, "n")
    d = scalar(check_open_unit(delta, "delta"), "delta")
    return float(e + np.sqrt(np.pi * lip) * g + gc_confidence_term(m, d))


def one_layer_gaps(
    *,
    c_max: float,
    rank: int,
    d_in: int,
    d_out: int,
    n: int,
    delta: float,
    lipschitz: float,
    x_fro: float,
    c0: float,
    c1: float,
) -> tuple[float, float]:
    r"""The two generalisation gaps of claim E21 for one layer (D = 1), as printed.

    .. math::

        \mathrm{Gap}_{PAC} = \sqrt{\frac{C_{max} r (d_{in} + d_{out}) + \log(2\sqrt m/\delta)}
            {2m}}, \qquad
        \mathrm{Gap}_{GC} = \frac{\sqrt{\pi L}\, \|X\|_F C_0 C_1^2 \sqrt{r d_{out}}}{m}
            + 3\sqrt{\frac{\log(2/\delta)}{2m}}

    Returns
    -------
    (float, float)
        ``(gap_pac, gap_gc)``.

    References
    ----------
    Claim E21.

    Examples
    --------
    >>> pac, gc = one_layer_gaps(c_max=0.1, rank=4, d_in=100, d_out=10, n=10000, delta=0.05,
    ...                          lipschitz=1.0, x_fro=100.0, c0=1.0, c1=1.0)
    >>> round(pac, 6), round(gc, 6)
    (0.051134, 0.152843)
    """
    cm = scalar(check_nonnegative(c_max, "c_max"), "c_max")
    di, do = check_int(d_in, "d_in"), check_int(d_out, "d_out")
    r = check_int(rank, "rank", low=1, high=min(di, do))
    m = check_int(n, "n")
    d = scalar(check_open_unit(delta, "delta"), "delta")
    lip = scalar(check_nonnegative(lipschitz, "lipschitz"), "lipschitz")
    xf = scalar(check_nonnegative(x_fro, "x_fro"), "x_fro")
    c0_ = scalar(check_positive(c0, "c0"), "c0")
    c1_ = scalar(check_positive(c1, "c1"), "c1")
    # Gap_PAC is McAllester's complexity term (claim D2) with KL = C_max r (d_in + d_out).
    pac = mcallester_bound(0.0, cm * r * (di + do), m, d)
    gc = np.sqrt(np.pi * lip) * xf * c0_ * c1_**2 * np.sqrt(r * do) / m + gc_confidence_term(m, d)
    return float(pac), float(gc)


def spectral_norm_tail_bound(
    mean_norm: float, *, std: float, rows: int, cols: int, t: float, c1: float, c2: float
) -> float:
    r"""The level of claim E35: :math:`\|E A\|_2 + c_1 s(\sqrt h + \sqrt r) + c_2 s t`.

    For :math:`A = E A + s G` with :math:`G` standard Gaussian (h x r), :math:`E\|G\|_2 \le
    \sqrt h + \sqrt r` and :math:`G \mapsto \|G\|_2` is 1-Lipschitz, so Gaussian concentration
    gives :math:`P(\|A\|_2 > \|EA\|_2 + s(\sqrt h + \sqrt r) + s u) \le e^{-u^2/2}`; with
    :math:`c_1 = 1, c_2 = \sqrt 2` the failure probability is at most :math:`e^{-t^2}`, within
    the claimed :math:`2 e^{-t^2}`.

    References
    ----------
    Claims E35 and E29.

    Examples
    --------
    >>> round(spectral_norm_tail_bound(1.0, std=0.1, rows=16, cols=4, t=2.0, c1=1.0,
    ...                                c2=np.sqrt(2)), 6)
    1.882843
    """
    mn = scalar(check_nonnegative(mean_norm, "mean_norm"), "mean_norm")
    s = scalar(check_positive(std, "std"), "std")
    h, r = check_int(rows, "rows"), check_int(cols, "cols")
    tt = scalar(check_nonnegative(t, "t"), "t")
    a = scalar(check_positive(c1, "c1"), "c1")
    b = scalar(check_positive(c2, "c2"), "c2")
    return float(mn + a * s * (np.sqrt(h) + np.sqrt(r)) + b * s * tt)
