r"""How large the spectral-norm bounds of Gaussian factors are (Remark E.36 of the paper).

For :math:`G \in \mathbb R^{h \times r}` with i.i.d. standard normal entries, Gordon's
inequality gives :math:`E\|G\|_2 \le \sqrt h + \sqrt r`, and :math:`G \mapsto \|G\|_2` is
1-Lipschitz, so :math:`\|G\|_2 \le \sqrt h + \sqrt r + \sqrt{2\log(1/\delta)}` with probability
at least :math:`1 - \delta`. Hence a factor :math:`A = \sigma G` (means ignored) has

.. math:: \frac{E\|A\|_2}{\sigma\sqrt{h + r}} \le \frac{\sqrt h + \sqrt r}{\sqrt{h + r}}
    \le \sqrt 2,

with equality in the limit :math:`h = r \to \infty` (Bai-Yin: :math:`\|G\|_2/\sqrt h \to 1 +
\sqrt c` when :math:`r/h \to c`, so the ratio tends to :math:`(1 + \sqrt c)/\sqrt{1 + c}`). For a
layer :math:`W_i = A_i B_i^\top`, :math:`A_i \in \mathbb R^{h_i \times r_i}`,
:math:`B_i \in \mathbb R^{h_{i-1} \times r_i}`, the product :math:`C_i = C_i^A C_i^B` is therefore
of order :math:`\sigma^2\sqrt{(h_i + r_i)(h_{i-1} + r_i)}`, which is :math:`\sigma^2 (h_i + r_i)`
only when :math:`h_{i-1} = O(h_i + r_i)`.

References: claims E36 and E35 of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import check_int_array, check_nonnegative, scalar_or_array

__all__ = ["bai_yin_ratio", "gordon_ratio", "symbolic_e36"]


def gordon_ratio(rows: Any, cols: Any) -> Any:
    r"""Gordon's bound on :math:`E\|G\|_2` over the scale of Remark E.36.

    .. math:: \frac{\sqrt h + \sqrt r}{\sqrt{h + r}} \in [1, \sqrt 2]

    Parameters
    ----------
    rows, cols : int or integer array
        :math:`h, r \ge 1` (broadcast).

    References
    ----------
    Claim E36.

    Examples
    --------
    >>> round(gordon_ratio(64, 64), 12) == round(float(np.sqrt(2)), 12)
    True
    """
    h = check_int_array(rows, "rows").astype(np.float64)
    r = check_int_array(cols, "cols").astype(np.float64)
    return scalar_or_array((np.sqrt(h) + np.sqrt(r)) / np.sqrt(h + r), rows, cols)


def bai_yin_ratio(aspect: Any) -> Any:
    r"""The limit of :math:`E\|G\|_2/\sqrt{h + r}` as :math:`h \to \infty` with
    :math:`r/h \to c` (Bai-Yin).

    .. math:: \frac{1 + \sqrt c}{\sqrt{1 + c}}

    Parameters
    ----------
    aspect : float or array_like
        :math:`c = r/h \ge 0`.

    References
    ----------
    Claim E36.

    Examples
    --------
    >>> bai_yin_ratio(0.0), round(bai_yin_ratio(1.0), 12) == round(float(np.sqrt(2)), 12)
    (1.0, True)
    """
    c = check_nonnegative(aspect, "aspect")
    return scalar_or_array((1.0 + np.sqrt(c)) / np.sqrt(1.0 + c), aspect)


def symbolic_e36() -> dict[str, Any]:
    r"""The constants of Remark E.36, derived with sympy (the twins of the numerical check).

    Returns a dict of sympy expressions:

    - ``sup_ratio``: :math:`\sup_{c \ge 0} (1 + \sqrt c)/\sqrt{1 + c}` (:math:`\sqrt 2`), and
      ``argmax`` (c = 1);
    - ``chi_ratio``: :math:`E\chi_n/\sqrt n` as a function of k = n/2, and ``chi_over_sqrt``:
      its limit (1);
    - ``remark_family``: :math:`\lim_n E|g|\,E\chi_n / (2\sqrt n)`, the remark's ratio
      :math:`C_i/(\sigma^2(h_i + r_i))` on layers :math:`h_i = r_i = 1`,
      :math:`h_{i-1} = n`, divided by :math:`\sqrt n` (:math:`1/\sqrt{2\pi} > 0`: unbounded);
    - ``corrected_family``: :math:`\lim_n E|g|\,E\chi_n/\sqrt{2(n + 1)}`, the same layers
      against :math:`\sigma^2\sqrt{(h_i + r_i)(h_{i-1} + r_i)}` (:math:`1/\sqrt\pi`: bounded).

    References
    ----------
    Claim E36.
    """
    import sympy as sp

    c = sp.Symbol("c", nonnegative=True)
    n = sp.Symbol("n", positive=True)
    ratio = (1 + sp.sqrt(c)) / sp.sqrt(1 + c)
    stationary = sp.solve(sp.diff(ratio, c), c)
    abs_mean = sp.sqrt(2 / sp.pi)
    # E chi_n / sqrt n = sqrt 2 Gamma(k + 1/2) / (Gamma(k) sqrt(2k)) with k = n/2; in
    # log-gamma form the limit is 4x faster. Taken once: the families are constants times it.
    k = sp.Symbol("k", positive=True)
    chi_over_sqrt = sp.exp(sp.loggamma(k + sp.S.Half) - sp.loggamma(k)) / sp.sqrt(k)
    chi_limit = sp.limit(chi_over_sqrt, k, sp.oo)
    return {
        "sup_ratio": sp.maximum(ratio, c, sp.Interval(0, sp.oo)),
        "argmax": stationary,
        "chi_ratio": chi_over_sqrt,
        "chi_over_sqrt": chi_limit,
        "remark_family": sp.simplify(abs_mean * chi_limit / 2),
        "corrected_family": sp.simplify(
            abs_mean * chi_limit * sp.limit(sp.sqrt(n / (2 * (n + 1))), n, sp.oo)
        ),
    }
