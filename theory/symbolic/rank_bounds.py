r"""Symbolic form of claims T3.8 and T3.8c: full-rank against low-rank McAllester bounds.

Both bounds come from one set of symbols (:mod:`theory.symbolic.symbols`): McAllester's bound
(claim D2) with :math:`\mathrm{KL} \le C_{max} D` (claim D3), :math:`D = d_{in} d_{out}` for the
full-rank posterior and :math:`D = r (d_{in} + d_{out})` for the low-rank one. From them sympy
derives the complexity ratio, its monotonicity in :math:`r`, and the sign condition of T3.8c.

References
----------
Claims T3.8 and T3.8c of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import sympy as sp

from theory.symbolic.pac_bayes import log_term_expr, log_term_is_positive
from theory.symbolic.symbols import C_LR, C_full, N, d_in, d_out, delta, ell, emp, r

__all__ = [
    "T38cSignProof",
    "complexity_ratio_derivative",
    "complexity_ratio_expr",
    "complexity_ratio_function",
    "complexity_ratio_residual",
    "complexity_ratio_target",
    "full_rank_bound_expr",
    "low_rank_bound_expr",
    "t38_bounds_function",
    "t38c_condition_expr",
    "t38c_sign_proof",
]


def _bound_with_log_symbol(c_max: sp.Expr, dim: sp.Expr) -> sp.Expr:
    """Claim D2 with KL <= C_max D (claim D3); the log term kept as the symbol ``ell``."""
    return emp + sp.sqrt((c_max * dim + ell) / (2 * N))


def full_rank_bound_expr(*, log_as_symbol: bool = False) -> sp.Expr:
    r"""The full-rank bound of claim T3.8.

    .. math:: \hat L + \sqrt{\frac{C^{full}_{max} d_{in} d_{out} + \ln(2\sqrt N/\delta)}{2N}}

    Parameters
    ----------
    log_as_symbol : bool
        Keep the log term as the positive symbol ``ell`` instead of :math:`\ln(2\sqrt N/\delta)`.

    Examples
    --------
    >>> full_rank_bound_expr(log_as_symbol=True)
    emp + sqrt(2)*sqrt(C_full*d_in*d_out + ell)/(2*sqrt(N))
    """
    expr = _bound_with_log_symbol(C_full, d_in * d_out)
    return expr if log_as_symbol else expr.subs(ell, log_term_expr())


def low_rank_bound_expr(*, log_as_symbol: bool = False) -> sp.Expr:
    r"""The low-rank bound of claim T3.8.

    .. math:: \hat L + \sqrt{\frac{C^{LR}_{max} r (d_{in} + d_{out}) + \ln(2\sqrt N/\delta)}{2N}}

    Examples
    --------
    >>> low_rank_bound_expr().free_symbols == {emp, C_LR, r, d_in, d_out, N, delta}
    True
    """
    expr = _bound_with_log_symbol(C_LR, r * (d_in + d_out))
    return expr if log_as_symbol else expr.subs(ell, log_term_expr())


@cache
def t38_bounds_function() -> Callable[..., Any]:
    """``lambdify`` of both T3.8 bounds: ``f(emp, C_full, C_LR, d_in, d_out, r, N, delta)``.

    Returns the pair ``(full, low_rank)``.

    Examples
    --------
    >>> full, low = t38_bounds_function()(0.0, 1.0, 1.0, 64, 64, 1, 1000, 0.05)
    >>> bool(low < full)
    True
    """
    args = (emp, C_full, C_LR, d_in, d_out, r, N, delta)
    return sp.lambdify(args, (full_rank_bound_expr(), low_rank_bound_expr()), "numpy")


@cache
def complexity_ratio_expr() -> sp.Expr:
    r"""Ratio of the T3.8 complexity terms, derived from the two bounds.

    With :math:`C^{LR}_{max} = C^{full}_{max}` and the log term dropped,

    .. math:: \frac{B_{LR} - \hat L}{B_{full} - \hat L}

    simplified; :func:`complexity_ratio_residual` shows it equals
    :math:`\sqrt{r (1/d_{in} + 1/d_{out})}`.

    Examples
    --------
    >>> complexity_ratio_expr()
    sqrt(r)*sqrt(d_in + d_out)/(sqrt(d_in)*sqrt(d_out))
    """
    full = full_rank_bound_expr(log_as_symbol=True)
    low = low_rank_bound_expr(log_as_symbol=True)
    ratio = ((low - emp) / (full - emp)).subs({ell: 0, C_LR: C_full})
    return sp.simplify(ratio)


def complexity_ratio_target() -> sp.Expr:
    r"""The paper's printed ratio :math:`\sqrt{r (1/d_{in} + 1/d_{out})}` (claim T3.8).

    Examples
    --------
    >>> complexity_ratio_target()
    sqrt(r)*sqrt(1/d_out + 1/d_in)
    """
    return sp.sqrt(r * (1 / d_in + 1 / d_out))


@cache
def complexity_ratio_residual() -> sp.Expr:
    """Simplified difference of the derived and the printed ratio (``0`` when they agree).

    Examples
    --------
    >>> complexity_ratio_residual()
    0
    """
    return sp.simplify(complexity_ratio_expr() - complexity_ratio_target())


@cache
def complexity_ratio_derivative() -> sp.Expr:
    r"""Simplified :math:`\partial/\partial r` of the derived ratio (positive: monotone in r).

    Examples
    --------
    >>> complexity_ratio_derivative().is_positive
    True
    """
    return sp.simplify(sp.diff(complexity_ratio_expr(), r))


@cache
def complexity_ratio_function() -> Callable[..., Any]:
    """``lambdify`` of :func:`complexity_ratio_expr`: ``f(d_in, d_out, r)``.

    Examples
    --------
    >>> round(float(complexity_ratio_function()(100, 100, 2)), 12)
    0.2
    """
    return sp.lambdify((d_in, d_out, r), complexity_ratio_expr(), "numpy")


def t38c_condition_expr() -> sp.Expr:
    r"""The T3.8c margin :math:`C^{full}_{max} d_{in} d_{out} - C^{LR}_{max} r (d_{in} + d_{out})`.

    The low-rank bound is tighter exactly when this is positive.

    Examples
    --------
    >>> t38c_condition_expr()
    -C_LR*r*(d_in + d_out) + C_full*d_in*d_out
    """
    return C_full * d_in * d_out - C_LR * r * (d_in + d_out)


@dataclass(frozen=True)
class T38cSignProof:
    r"""The identity behind T3.8c: :math:`(B_{full} - B_{LR}) \cdot F = \text{margin} / (2N)`.

    ``residual`` is the simplified difference of the two sides (``0`` proves the identity);
    ``factor`` is :math:`F = \sqrt{a} + \sqrt{b}` with :math:`a, b` the two radicands; the sign
    equivalence needs ``factor_positive`` and ``log_term_positive`` to be ``True``.
    """

    residual: sp.Expr
    factor: sp.Expr
    factor_positive: bool
    log_term_positive: bool

    @property
    def holds(self) -> bool:
        """``True`` when the proof is complete."""
        return bool(self.residual == 0 and self.factor_positive and self.log_term_positive)


@cache
def t38c_sign_proof() -> T38cSignProof:
    r"""Show that :math:`B_{LR} < B_{full}` iff the T3.8c margin is positive.

    Both bounds are :math:`\hat L + \sqrt{\cdot}`, so with the radicands :math:`a` (full) and
    :math:`b` (low rank),

    .. math:: (\sqrt a - \sqrt b)(\sqrt a + \sqrt b) = a - b = \frac{\text{margin}}{2N},

    and :math:`\sqrt a + \sqrt b > 0` because the log term is positive on the domain
    (:func:`log_term_is_positive`); hence :math:`\operatorname{sign}(B_{full} - B_{LR}) =
    \operatorname{sign}(\text{margin})`.

    Examples
    --------
    >>> t38c_sign_proof().holds
    True
    """
    full = full_rank_bound_expr(log_as_symbol=True)
    low = low_rank_bound_expr(log_as_symbol=True)
    rad_a = (C_full * d_in * d_out + ell) / (2 * N)
    rad_b = (C_LR * r * (d_in + d_out) + ell) / (2 * N)
    factor = sp.sqrt(rad_a) + sp.sqrt(rad_b)
    residual = sp.simplify(sp.expand((full - low) * factor) - t38c_condition_expr() / (2 * N))
    return T38cSignProof(
        residual=residual,
        factor=factor,
        factor_positive=bool(factor.is_positive),
        log_term_positive=log_term_is_positive(),
    )
