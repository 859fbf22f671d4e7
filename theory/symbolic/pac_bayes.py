r"""Symbolic twins (sympy) of the PAC-Bayes formulas of :mod:`theory.pac_bayes`.

Every expression is built from the one set of symbols of :mod:`theory.symbolic.symbols`, derived
rather than typed where a derivation exists (the Gaussian KL is an integral of the two densities),
cached (sympy integration and simplification are slow) and offered ``lambdify``-ed so that tests
compare it with the numeric implementation. The rank comparison of claims T3.8 and T3.8c lives
in :mod:`theory.symbolic.rank_bounds`.

References
----------
Claims D2, D3 and P1 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp

from theory.symbolic.symbols import (
    KL,
    B,
    C,
    N,
    delta,
    emp,
    m,
    mu_p,
    mu_q,
    n,
    n_grid,
    p,
    q,
    r,
    sigma_p,
    sigma_q,
    x,
)

__all__ = [
    "binary_kl_expr",
    "catoni_expr",
    "catoni_function",
    "gaussian_kl_expr",
    "gaussian_kl_function",
    "kl_bound_equation",
    "kl_bound_residual_function",
    "log_term_expr",
    "log_term_is_positive",
    "mcallester_expr",
    "mcallester_function",
    "param_count_exprs",
    "param_counts_function",
]


def _normal_pdf(mean: sp.Expr, std: sp.Expr) -> sp.Expr:
    return sp.exp(-((x - mean) ** 2) / (2 * std**2)) / (std * sp.sqrt(2 * sp.pi))


@cache
def gaussian_kl_expr() -> sp.Expr:
    r"""KL between two univariate Gaussians, derived by integrating the two densities.

    .. math::

        \mathrm{KL}(N(\mu_q, \sigma_q^2) \,\|\, N(\mu_p, \sigma_p^2))
        = \int_{-\infty}^{\infty} q(x) \ln\frac{q(x)}{p(x)} \, dx

    computed by ``sympy.integrate`` and simplified (the closed form is never typed in).

    Returns
    -------
    sympy.Expr
        An expression in ``mu_q, sigma_q, mu_p, sigma_p`` (means real, scales > 0).

    References
    ----------
    Claim D3.

    Examples
    --------
    >>> from theory.symbolic.symbols import mu_p, mu_q, sigma_p, sigma_q
    >>> gaussian_kl_expr().subs({mu_q: 0, mu_p: 1, sigma_q: 1, sigma_p: 1})
    1/2
    """
    dq = _normal_pdf(mu_q, sigma_q)
    dp = _normal_pdf(mu_p, sigma_p)
    integral = sp.integrate(dq * sp.log(dq / dp), (x, -sp.oo, sp.oo))
    if integral.has(sp.Integral) or integral.has(sp.Piecewise):
        raise RuntimeError(f"sympy could not integrate the Gaussian KL: {integral}")
    return sp.simplify(integral)


@cache
def gaussian_kl_function() -> Callable[..., Any]:
    """``lambdify`` of :func:`gaussian_kl_expr`: ``f(mu_q, sigma_q, mu_p, sigma_p)``, per element.

    Examples
    --------
    >>> float(gaussian_kl_function()(0.0, 1.0, 1.0, 1.0))
    0.5
    """
    return sp.lambdify((mu_q, sigma_q, mu_p, sigma_p), gaussian_kl_expr(), "numpy")


def binary_kl_expr(left: sp.Expr = q, right: sp.Expr = p) -> sp.Expr:
    r"""Binary kl divergence :math:`\mathrm{kl}(a \| b)` for :math:`a, b \in (0, 1)`.

    .. math:: \mathrm{kl}(a \| b) = a \ln\frac{a}{b} + (1 - a) \ln\frac{1 - a}{1 - b}

    References
    ----------
    Claim D2 (the kl-inverse bound).

    Examples
    --------
    >>> binary_kl_expr().subs({q: sp.Rational(1, 2), p: sp.Rational(1, 2)})
    0
    """
    return left * sp.log(left / right) + (1 - left) * sp.log((1 - left) / (1 - right))


def log_term_expr() -> sp.Expr:
    r"""The confidence term :math:`\ln(2\sqrt{N}/\delta)` (claim D2).

    Examples
    --------
    >>> log_term_expr()
    log(2*sqrt(N)/delta)
    """
    return sp.log(2 * sp.sqrt(N) / delta)


@cache
def log_term_is_positive() -> bool:
    r"""Prove :math:`\ln(2\sqrt{N}/\delta) > 0` on :math:`N \ge 1`, :math:`0 < \delta < 1`.

    sympy cannot state :math:`N \ge 1` or :math:`\delta < 1`, so the domain is reparametrised as
    :math:`N = 1 + \nu`, :math:`\delta = 1/(1 + t)` with :math:`\nu, t \ge 0`; the expanded
    logarithm :math:`\ln 2 + \tfrac12\ln(1+\nu) + \ln(1+t)` is then positive by assumptions.

    Examples
    --------
    >>> log_term_is_positive()
    True
    """
    nu, t = sp.symbols("nu t", nonnegative=True)
    reparam = log_term_expr().subs({N: 1 + nu, delta: 1 / (1 + t)})
    # force=True only splits logs of products of positive factors, which these are.
    return bool(sp.expand_log(reparam, force=True).is_positive)


def mcallester_expr() -> sp.Expr:
    r"""McAllester's bound in Maurer's form (claim D2).

    .. math:: \hat L + \sqrt{\frac{\mathrm{KL} + \ln(2\sqrt{N}/\delta)}{2N}}

    Examples
    --------
    >>> mcallester_expr().free_symbols == {emp, KL, N, delta}
    True
    """
    return emp + sp.sqrt((KL + log_term_expr()) / (2 * N))


@cache
def mcallester_function() -> Callable[..., Any]:
    """``lambdify`` of :func:`mcallester_expr`: ``f(emp, kl, n, delta)``.

    Examples
    --------
    >>> round(float(mcallester_function()(0.1, 10.0, 1000, 0.05)), 6)
    0.192582
    """
    return sp.lambdify((emp, KL, N, delta), mcallester_expr(), "numpy")


def kl_bound_equation() -> sp.Equality:
    r"""The kl-inverse bound as the implicit equation its value :math:`B` solves.

    .. math:: \mathrm{kl}(\hat L \,\|\, B) = \frac{\mathrm{KL} + \ln(2\sqrt{N}/\delta)}{N},
              \qquad B \ge \hat L

    Examples
    --------
    >>> kl_bound_equation().lhs == binary_kl_expr(emp, B)
    True
    """
    return sp.Eq(binary_kl_expr(emp, B), (KL + log_term_expr()) / N)


@cache
def kl_bound_residual_function() -> Callable[..., Any]:
    """``lambdify`` of lhs - rhs of :func:`kl_bound_equation`: ``f(emp, kl, n, delta, bound)``.

    Examples
    --------
    >>> round(float(kl_bound_residual_function()(0.5, 0.0, 1, 0.5, 0.5)), 12)  # -ln 4
    -1.38629436112
    """
    eq = kl_bound_equation()
    return sp.lambdify((emp, KL, N, delta, B), eq.lhs - eq.rhs, "numpy")


def catoni_expr() -> sp.Expr:
    r"""Catoni's bound for one parameter :math:`C`, within a union bound over :math:`K` values.

    .. math::

        \frac{1 - \exp(-C \hat L - [\mathrm{KL} + \ln(K/\delta)]/N)}{1 - e^{-C}}

    (:math:`K = 1` for a single :math:`C`).

    Examples
    --------
    >>> catoni_expr().free_symbols == {C, emp, KL, N, delta, n_grid}
    True
    """
    penalty = (KL + sp.log(n_grid / delta)) / N
    return (1 - sp.exp(-C * emp - penalty)) / (1 - sp.exp(-C))


@cache
def catoni_function() -> Callable[..., Any]:
    """``lambdify`` of :func:`catoni_expr`: ``f(emp, kl, n, delta, C, K)``.

    Examples
    --------
    >>> 0.1 < float(catoni_function()(0.1, 10.0, 1000, 0.05, 1.0, 1)) < 1.0
    True
    """
    return sp.lambdify((emp, KL, N, delta, C, n_grid), catoni_expr(), "numpy")


def param_count_exprs() -> dict[str, sp.Expr]:
    r"""Parameter counts of one m x n layer at rank r (claim P1).

    .. math:: 2mn, \quad 2r(m+n), \quad D_{full} = mn, \quad D_{LR} = r(m+n)

    Examples
    --------
    >>> param_count_exprs()["low_rank"]
    2*r*(m + n)
    """
    return {
        "mean_field": 2 * m * n,
        "low_rank": 2 * r * (m + n),
        "d_full": m * n,
        "d_low_rank": r * (m + n),
    }


@cache
def param_counts_function() -> Callable[..., dict[str, Any]]:
    """``lambdify`` of :func:`param_count_exprs`: ``f(m, n, r)`` returns the same four keys.

    Examples
    --------
    >>> param_counts_function()(784, 1200, 25)["low_rank"]
    99200
    """
    exprs = param_count_exprs()
    fns = {k: sp.lambdify((m, n, r), e, "numpy") for k, e in exprs.items()}

    def counts(mv: Any, nv: Any, rv: Any) -> dict[str, Any]:
        return {k: f(mv, nv, rv) for k, f in fns.items()}

    return counts
