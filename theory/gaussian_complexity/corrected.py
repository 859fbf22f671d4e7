r"""Corrected forms (ours) of the Gaussian-complexity bounds of the paper's Sec. 3.5.

The checks of E15, E17 and T3.9 find the printed forms false; these are the forms we can prove.

One layer (D = 1). For :math:`F = \{x \mapsto Wx : W \in \mathbb R^{k \times d},
\|W\|_2 \le C, \mathrm{rank}\,W \le r\}` the supremum is the Ky Fan r-norm (see
:func:`theory.gaussian_complexity.estimators.linear_class_complexity`), and for a k x d matrix
M of rank at most min(k, d), :math:`\sum_{i \le r} \sigma_i(M) \le \sqrt r \|M\|_F`
(Cauchy-Schwarz); with Jensen, :math:`E\|\Gamma^\top X\|_F \le (E\|\Gamma^\top X\|_F^2)^{1/2}
= \sqrt k \|X\|_F`, so

.. math:: \hat G(F) \le \frac{C \sqrt{r k}\, \|X\|_F}{m}.

This is linear in C, as the class is (:math:`F_{tC} = t F_C`); the restated E17 at D = 1 is
:math:`C_0 C^2 \sqrt{rk}\|X\|_F/m`, quadratic in C, and fails for every :math:`C_0` once
:math:`C < \kappa / C_0` where :math:`\kappa = E\sum_{i\le r}\sigma_i(\Gamma^\top X) /
(\sqrt{rk}\|X\|_F) \in (0, 1]`.

Generalisation (E15). For losses with values in [0, 1], L-Lipschitz in the output (Euclidean
norm), with probability at least :math:`1 - \delta` for all f in F,

.. math:: E\,l(f(x), y) \le \frac1m \sum_j l(f(x_j), y_j) + \sqrt{2\pi}\, L\, \hat G(F)
    + 3\sqrt{\frac{\log(2/\delta)}{2m}},

from the empirical-Rademacher bound (:math:`2\hat R(l \circ F)`, Mohri et al. Thm 3.3), Jensen
(:math:`\hat R \le \sqrt{\pi/2}\,\hat G` for scalar classes) and Gaussian contraction
(:math:`\hat G(l \circ F) \le L \hat G(F)` by the Sudakov-Fernique inequality). The quoted
:math:`\sqrt{\pi L}` is implied when :math:`L \le 1/2` and fails for larger L.

References: claims E15, E17, T3.9 and E21 of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from theory._validation import (
    check_int,
    check_int_array,
    check_matrix,
    check_nonnegative,
    check_open_unit,
    check_positive,
    check_probability,
)
from theory.gaussian_complexity.bounds import gc_confidence_term

__all__ = [
    "chi_mean",
    "gc_generalisation_bound_corrected",
    "one_layer_complexity_bound",
    "pinto_bound_corrected",
]


def chi_mean(dof: int) -> float:
    r"""Mean of the chi distribution: :math:`E\|g\|_2` for :math:`g \sim N(0, I_n)`.

    .. math:: E\|g\|_2 = \sqrt 2\, \frac{\Gamma((n+1)/2)}{\Gamma(n/2)}

    Parameters
    ----------
    dof : int
        :math:`n \ge 1`.

    References
    ----------
    Claim E17 (the exact one-layer complexity of rank-one classes).

    Examples
    --------
    >>> round(chi_mean(1), 12) == round(float(np.sqrt(2 / np.pi)), 12)
    True
    """
    n = check_int(dof, "dof")
    return float(np.sqrt(2.0) * np.exp(special.gammaln((n + 1) / 2) - special.gammaln(n / 2)))


def _sample(X: Any) -> Any:
    x = check_matrix(X, "X")
    return x


def one_layer_complexity_bound(X: Any, *, spectral_bound: float, rank: int, out_dim: int) -> float:
    r"""Our one-layer bound: :math:`\hat G \le C\sqrt{rk}\,\|X\|_F / m` (no universal constant).

    .. math:: \hat G(\{x \mapsto Wx : \|W\|_2 \le C, \mathrm{rank}\, W \le r\})
        \le \frac{C \sqrt{r k}\, \|X\|_F}{m}

    Parameters
    ----------
    X : array_like, shape (m, d)
    spectral_bound : float
        :math:`C > 0`.
    rank : int
        :math:`r \in [1, \min(k, d)]`.
    out_dim : int
        :math:`k \ge 1`.

    References
    ----------
    Claim E17 (corrected one-layer form, ours).

    Examples
    --------
    >>> one_layer_complexity_bound(np.ones((4, 1)), spectral_bound=2.0, rank=1, out_dim=1)
    1.0
    """
    x = _sample(X)
    c = float(check_positive(spectral_bound, "spectral_bound"))
    k = check_int(out_dim, "out_dim")
    r = check_int(rank, "rank", low=1, high=min(k, x.shape[1]))
    return float(c * np.sqrt(r * k) * np.linalg.norm(x) / x.shape[0])


def pinto_bound_corrected(
    X: Any, *, spectral_bounds: Any, ranks: Any, widths: Any, c0: float
) -> float:
    r"""E17 with the first product started at i = 2 (ours), so that it is linear in :math:`C_1`.

    .. math::

        \frac{\|X\|_F}{m} \Big\{ \sqrt{r_1} C_1 \sqrt{h_1} \prod_{i=2}^{D} C_0 C_i
            + \sum_{j=2}^{D} C_j \sqrt{r_j h_j} \prod_{i=j+1}^{D} C_0 C_i \Big\}

    At D = 1 this is :func:`one_layer_complexity_bound`, proved for every :math:`C_0`; at
    D >= 2 it is a conjecture with an unknown :math:`C_0` that the E17 check confronts with lower
    estimates of the class complexity.

    Parameters
    ----------
    X : array_like, shape (m, d)
    spectral_bounds, ranks, widths : sequences of length D
        :math:`C_i > 0`, :math:`r_i \ge 1`, :math:`h_i \ge 1`.
    c0 : float
        :math:`C_0 > 0`.

    References
    ----------
    Claim E17 (corrected form, ours).

    Examples
    --------
    >>> pinto_bound_corrected(np.ones((4, 1)), spectral_bounds=[2.0], ranks=[1], widths=[1],
    ...                       c0=5.0)
    1.0
    """
    x = _sample(X)
    cs = check_positive(spectral_bounds, "spectral_bounds").reshape(-1)
    if cs.size == 0:
        raise ValueError("`spectral_bounds` must not be empty")
    rs = check_int_array(ranks, "ranks").reshape(-1)
    hs = check_int_array(widths, "widths").reshape(-1)
    for name, arr in (("ranks", rs), ("widths", hs)):
        if arr.size != cs.size:
            raise ValueError(
                f"`{name}` must hold one value per layer ({cs.size}); got {arr.tolist()}"
            )
    c0_ = float(check_positive(c0, "c0"))
    total = np.sqrt(rs[0] * hs[0]) * cs[0] * np.prod(c0_ * cs[1:])
    for j in range(1, cs.size):
        total += cs[j] * np.sqrt(rs[j] * hs[j]) * np.prod(c0_ * cs[j + 1 :])
    return float(np.linalg.norm(x) / x.shape[0] * total)


def gc_generalisation_bound_corrected(
    emp_risk: float, complexity: float, *, lipschitz: float, n: int, delta: float
) -> float:
    r"""Our E15: :math:`\hat L + \sqrt{2\pi}\, L\, \hat G(F) + 3\sqrt{\log(2/\delta)/(2m)}`.

    .. math:: \hat L + \sqrt{2\pi}\, L\, \hat G(F) + 3\sqrt{\frac{\log(2/\delta)}{2m}}

    Parameters
    ----------
    emp_risk : float in [0, 1]
    complexity : float >= 0
        :math:`\hat G(F)` on the sample.
    lipschitz : float >= 0
        L, the Lipschitz constant of the loss in the output (Euclidean norm).
    n : int
        m, the sample size.
    delta : float in (0, 1)

    References
    ----------
    Claims E15 and T3.9 (corrected constant, ours).

    Examples
    --------
    >>> round(gc_generalisation_bound_corrected(0.1, 0.05, lipschitz=1.0, n=1000, delta=0.05), 6)
    0.354172
    """
    e = float(check_probability(emp_risk, "emp_risk"))
    g = float(check_nonnegative(complexity, "complexity"))
    lip = float(check_nonnegative(lipschitz, "lipschitz"))
    m = check_int(n, "n")
    d = float(check_open_unit(delta, "delta"))
    return float(e + np.sqrt(2.0 * np.pi) * lip * g + gc_confidence_term(m, d))
