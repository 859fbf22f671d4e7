r"""The Gaussian-complexity bounds of the paper's Sec. 3.5, as printed (claims E15, E17, E21, E35).

Each function evaluates a formula exactly as the paper states or restates it; the checks decide
whether it holds, and :mod:`theory.gaussian_complexity.corrected` gives the forms we can prove.

References: ``CLAIMS.md`` section 6 (E15-E35, T3.9).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    check_int,
    check_int_array,
    check_matrix,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_probability,
    scalar,
    scalar_or_array,
)
from theory.pac_bayes import mcallester_bound

__all__ = [
    "gc_confidence_term",
    "gc_generalisation_bound",
    "one_layer_gaps",
    "pinto_bound_as_restated",
    "spectral_norm_tail_bound",
]


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
                f"`{name}` must be a flat list with one value per layer, as many as "
                f"`spectral_bounds` (shape {cs.shape}); got {np.asarray(raw).tolist()}"
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
