r"""Small-budget expansion of the upper kl-inverse, derived with sympy.

The upper inverse :math:`p = \mathrm{kl}^{-1}_{+}(q, c)` solves :math:`\mathrm{kl}(q \,\|\, p) = c`
with :math:`p \ge q`. Writing :math:`p = q + d` and :math:`s = \sqrt c`, the Taylor series of
:math:`\mathrm{kl}(q \,\|\, q + d)` in :math:`d` starts at :math:`d^2 / (2 q (1 - q))`, so the
inverse is a power series in :math:`s`,

.. math:: d = a_1 s + a_2 s^2 + a_3 s^3 + \dots,
          \qquad a_1 = \sqrt{2 q (1 - q)},

whose coefficients are found by substituting the ansatz and matching powers of :math:`s`.

References
----------
``CLAIMS.md`` section 5 (the kl-inverse bound, beyond the paper); claim D2.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp

from theory._validation import check_int
from theory.symbolic.symbols import c, d, q, q_bar

__all__ = [
    "MAX_TERMS",
    "kl_inv_upper_coefficients",
    "kl_inv_upper_series",
    "kl_inv_upper_series_function",
    "kl_shift_series",
]

#: Highest number of series terms offered; derivation time grows quickly beyond it.
MAX_TERMS = 8


@cache
def _kl_shift_coefficients(order: int) -> tuple[sp.Expr, ...]:
    """Taylor coefficients k = 0..order of kl(q || q + d) in d, in ``q`` and ``q_bar = 1 - q``.

    ``q_bar`` is kept as its own positive symbol so that no step needs q < 1.
    """
    shifted = q * sp.log(q / (q + d)) + q_bar * sp.log(q_bar / (q_bar - d))
    coeffs = []
    derivative: sp.Expr = shifted
    for k in range(order + 1):
        coeffs.append(sp.cancel(derivative.subs(d, 0) / sp.factorial(k)))
        derivative = sp.diff(derivative, d)
    return tuple(coeffs)


def kl_shift_series(order: int) -> sp.Expr:
    r"""Taylor polynomial of :math:`\mathrm{kl}(q \,\|\, q + d)` in :math:`d` to :math:`d^{order}`.

    .. math:: \mathrm{kl}(q \,\|\, q + d) = \frac{d^2}{2 q (1 - q)} + O(d^3)

    Parameters
    ----------
    order : int
        Highest power of ``d`` kept, in ``[2, MAX_TERMS + 1]``.

    Returns
    -------
    sympy.Expr
        A polynomial in ``d`` with coefficients rational in ``q``.

    Examples
    --------
    >>> sp.simplify(kl_shift_series(2) - d**2 / (2 * q * (1 - q)))
    0
    """
    order = check_int(order, "order", low=2, high=MAX_TERMS + 1)
    coeffs = _kl_shift_coefficients(order)
    return sum((coeffs[k].subs(q_bar, 1 - q) * d**k for k in range(order + 1)), sp.Integer(0))


def _truncated_product(left: list[sp.Expr], right: list[sp.Expr], top: int) -> list[sp.Expr]:
    """Product of two power series in ``s`` given by coefficient lists, kept up to ``s**top``."""
    out: list[sp.Expr] = [sp.Integer(0)] * (top + 1)
    for i, u in enumerate(left):
        for j, v in enumerate(right[: top + 1 - i]):
            out[i + j] += u * v
    return [sp.expand(v) for v in out]


@cache
def _coefficients(n_terms: int) -> tuple[sp.Expr, ...]:
    # The reversion is solved for generic Taylor coefficients k_j (small expressions), with
    # powers of the ansatz truncated at s^(n_terms + 1) (expanding them in full is what makes a
    # naive derivation slow); only then are the coefficients of kl(q || q + d) substituted.
    top = n_terms + 1
    generic = sp.symbols(f"k0:{top + 1}")
    a = sp.symbols(f"a1:{n_terms + 1}")
    ansatz: list[sp.Expr] = [sp.Integer(0), *a]
    power = ansatz
    matched: list[sp.Expr] = [sp.Integer(0)] * (top + 1)
    for k in range(2, top + 1):
        power = _truncated_product(power, ansatz, top)
        matched = [acc + generic[k] * v for acc, v in zip(matched, power, strict=True)]
    # s^2: k2 a1^2 = 1, and the upper inverse takes the positive root.
    solution: dict[sp.Symbol, sp.Expr] = {a[0]: 1 / sp.sqrt(generic[2])}
    for j in range(2, n_terms + 1):
        # s^(j+1): linear in a_j once a_1..a_(j-1) are known.
        roots = sp.solve(sp.expand(matched[j + 1]).subs(solution), a[j - 1])
        if len(roots) != 1:  # pragma: no cover - the equation is linear with k2 a1 != 0
            raise RuntimeError(f"series reversion: {len(roots)} roots for a_{j}")
        solution[a[j - 1]] = roots[0]
    actual = dict(zip(generic, _kl_shift_coefficients(top), strict=True))
    # k2 = 1/(2q) + 1/(2 qbar) = 1/(2 q qbar) because q + qbar = 1: the one place that uses it,
    # so that a1 = sqrt(2 q qbar) splits into positive factors.
    actual[generic[2]] = 1 / (2 * q * q_bar)
    out = []
    for j in range(n_terms):
        coeff = sp.factor(sp.cancel(solution[a[j]].subs(actual)))
        out.append(sp.factor(coeff.subs(q_bar, 1 - q)))
    return tuple(out)


def kl_inv_upper_coefficients(n_terms: int) -> tuple[sp.Expr, ...]:
    r"""Coefficients :math:`a_1, \dots, a_{n}` of :math:`\mathrm{kl}^{-1}_+(q, c) - q` in
    :math:`s = \sqrt c`.

    Parameters
    ----------
    n_terms : int
        Number of coefficients, in ``[1, MAX_TERMS]``.

    Returns
    -------
    tuple of sympy.Expr
        Expressions in ``q`` (valid for :math:`0 < q < 1`).

    Examples
    --------
    >>> kl_inv_upper_coefficients(2)[1]
    -2*(2*q - 1)/3
    """
    n_terms = check_int(n_terms, "n_terms", low=1, high=MAX_TERMS)
    return _coefficients(n_terms)


@cache
def kl_inv_upper_series(n_terms: int = 4) -> sp.Expr:
    r"""Truncated small-budget series of the upper kl-inverse.

    .. math:: \mathrm{kl}^{-1}_{+}(q, c) = q + \sum_{j=1}^{n} a_j(q)\, c^{j/2}
              + O(c^{(n+1)/2}), \qquad a_1 = \sqrt{2 q (1 - q)}

    Parameters
    ----------
    n_terms : int
        Number of terms kept, in ``[1, MAX_TERMS]``.

    Returns
    -------
    sympy.Expr
        An expression in ``q`` (in (0, 1)) and ``c`` (>= 0).

    References
    ----------
    ``CLAIMS.md`` section 5 (kl-inverse bound).

    Examples
    --------
    >>> kl_inv_upper_series(1)
    sqrt(2)*sqrt(c)*sqrt(q)*sqrt(1 - q) + q
    """
    coeffs = kl_inv_upper_coefficients(n_terms)
    return q + sum((a * sp.sqrt(c) ** (j + 1) for j, a in enumerate(coeffs)), sp.Integer(0))


@cache
def kl_inv_upper_series_function(n_terms: int = 4, module: str = "numpy") -> Callable[..., Any]:
    """``lambdify`` of :func:`kl_inv_upper_series`: ``f(q, c)``.

    Parameters
    ----------
    n_terms : int
        Number of terms kept.
    module : {"numpy", "mpmath"}
        ``"mpmath"`` evaluates at the working precision of ``mpmath.mp``.

    Examples
    --------
    >>> round(float(kl_inv_upper_series_function(2)(0.5, 0.0)), 12)
    0.5
    """
    if module not in ("numpy", "mpmath"):
        raise ValueError(f"`module` must be 'numpy' or 'mpmath'; got {module!r}")
    return sp.lambdify((q, c), kl_inv_upper_series(n_terms), module)
