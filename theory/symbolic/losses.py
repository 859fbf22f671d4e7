r"""Symbolic twins of :mod:`theory.losses`: each loss for small k, its derivatives, its suprema.

Gradients and Hessians are derived here with ``sympy.diff`` (never typed) and ``lambdify``-ed
for comparison with the numpy formulas; a ``DiracDelta`` in a derived Hessian marks a gradient
jump (no finite smoothness). The suprema are derived where sympy can: the one-logit sigmoid
curvature 1/4 at z = 0, the two-logit softmax eigenvalue 1/2 at equal logits, the limit
sqrt(2) of the softmax gradient norm, and, for any small k, the two identities (with
:math:`\pi = \mathrm{softmax}(z)`, :math:`e^{z_i} = w_i > 0`)

.. math::

    2 - \|\nabla l\|^2 = 2\pi_y + 2\sum_{i<j}\pi_i\pi_j, \qquad
    \tfrac12\|v\|^2 - v^T \nabla^2 l\, v
        = 2\sum_i v_i^2(\pi_i - \tfrac12)^2 + \sum_{i<j}\pi_i\pi_j(v_i + v_j)^2,

whose right sides are sums of non-negative terms: :math:`L = \sqrt 2` and :math:`\beta = 1/2`.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import Any

import sympy as sp

__all__ = [
    "LossDerivatives",
    "bce_curvature_max",
    "huber_gradient_jumps",
    "loss_derivatives",
    "loss_expr",
    "loss_functions",
    "loss_symbols",
    "softmax_gradient_gap_residual",
    "softmax_gradient_norm_limit",
    "softmax_hessian_certificate_residual",
    "softmax_two_logit_eigen_max",
]

#: Loss names of :data:`theory.losses.LOSSES` (the MAE here is the summed one; ``mae_mean``
#: divides by k; at k = 1 both are the paper's scalar MAE).
_NAMES = ("mae", "mae_mean", "mse", "softmax_ce", "bce", "hinge", "huber")
_HALF = sp.Rational(1, 2)
#: The Huber threshold, kept symbolic.
delta = sp.Symbol("delta", positive=True)
#: The one-dimensional label of BCE (0 or 1) and hinge (-1 or +1).
y_scalar = sp.Symbol("y", real=True)


@cache
def loss_symbols(k: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Real symbols ``(z_0, ..., z_{k-1})`` and ``(y_0, ..., y_{k-1})``.

    Examples
    --------
    >>> loss_symbols(2)
    ((z_0, z_1), (y_0, y_1))
    """
    z = sp.symbols(f"z_0:{k}", real=True)
    y = sp.symbols(f"y_0:{k}", real=True)
    return tuple(z), tuple(y)


def _huber_1d(r: sp.Expr) -> sp.Expr:
    # Three branches keep every derivative free of Abs (so no spurious DiracDelta at r = 0).
    return sp.Piecewise(
        (r**2 / 2, sp.And(r >= -delta, r <= delta)),
        (delta * (r - delta / 2), r > delta),
        (delta * (-r - delta / 2), True),
    )


def loss_expr(name: str, k: int, *, label: int = 0) -> sp.Expr:
    r"""The loss ``name`` on :math:`\mathbb R^k` as a sympy expression.

    Parameters
    ----------
    name : {"mae", "mae_mean", "mse", "softmax_ce", "bce", "hinge", "huber"}
    k : int
        Output size (1 for ``bce`` and ``hinge``).
    label : int
        The class of ``softmax_ce`` (its target is the one-hot :math:`e_{label}`).

    Examples
    --------
    >>> loss_expr("softmax_ce", 2, label=1)
    -z_1 + log(exp(z_0) + exp(z_1))
    >>> loss_expr("bce", 1)
    -y*z_0 + log(exp(z_0) + 1)
    """
    if name not in _NAMES:
        raise ValueError(f"`name` must be one of {', '.join(_NAMES)}; got {name!r}")
    z, y = loss_symbols(k)
    r = [zi - yi for zi, yi in zip(z, y, strict=True)]
    if name in ("mae", "mae_mean"):
        total = sp.Add(*[sp.Abs(ri) for ri in r])
        return total / k if name == "mae_mean" else total
    if name == "mse":
        return sp.Add(*[ri**2 for ri in r]) / 2
    if name == "huber":
        return sp.Add(*[_huber_1d(ri) for ri in r])
    if name == "softmax_ce":
        return sp.log(sp.Add(*[sp.exp(zi) for zi in z])) - z[label]
    if k != 1:
        raise ValueError(f"`k` must be 1 for {name}; got {k}")
    if name == "bce":
        return sp.log(1 + sp.exp(z[0])) - y_scalar * z[0]
    return sp.Max(0, 1 - y_scalar * z[0])


@dataclass(frozen=True)
class LossDerivatives:
    """A loss expression, its gradient and Hessian in z, and whether the Hessian is a.e. only."""

    value: sp.Expr
    gradient: tuple[sp.Expr, ...]
    hessian: sp.Matrix
    #: the derived Hessian contains a DiracDelta: the gradient jumps, no finite smoothness
    has_jump: bool


@cache
def loss_derivatives(name: str, k: int, label: int = 0) -> LossDerivatives:
    """Gradient and Hessian of :func:`loss_expr` by ``sympy.diff``.

    Examples
    --------
    >>> loss_derivatives("mae", 2).has_jump, loss_derivatives("mse", 2).hessian
    (True, Matrix([
    [1, 0],
    [0, 1]]))
    """
    expr = loss_expr(name, k, label=label)
    z, _ = loss_symbols(k)
    grad = tuple(sp.diff(expr, zi) for zi in z)
    hess = sp.Matrix(k, k, lambda i, j: sp.diff(grad[i], z[j]))
    return LossDerivatives(expr, grad, hess, bool(hess.atoms(sp.DiracDelta)))


@cache
def loss_functions(name: str, k: int, label: int = 0) -> tuple[Callable[..., Any], ...]:
    """``lambdify`` of (value, gradient, a.e. Hessian): each ``f(z_0..z_{k-1}, y...)``.

    The targets are ``y_0..y_{k-1}`` for the regression losses, ``y`` for BCE and hinge, none
    for softmax cross-entropy; ``delta`` comes last for Huber. DiracDelta terms are dropped from
    the Hessian (it is the a.e. Hessian, as in :mod:`theory.losses`).

    Examples
    --------
    >>> value, grad, hess = loss_functions("bce", 1)
    >>> float(hess(0.0, 1.0)[0][0])
    0.25
    """
    d = loss_derivatives(name, k, label)
    z, y = loss_symbols(k)
    if name == "softmax_ce":
        args: tuple[sp.Symbol, ...] = z
    elif name in ("bce", "hinge"):
        args = (*z, y_scalar)
    else:
        args = (*z, *y)
    if name == "huber":
        args = (*args, delta)
    hess = d.hessian.replace(sp.DiracDelta, lambda *_: sp.S.Zero)
    return (
        sp.lambdify(args, d.value, "numpy"),
        sp.lambdify(args, list(d.gradient), "numpy"),
        sp.lambdify(args, hess.tolist(), "numpy"),
    )


@cache
def huber_gradient_jumps() -> tuple[sp.Expr, sp.Expr]:
    r"""Jumps of the derived Huber gradient at :math:`r = \delta` and :math:`r = -\delta`.

    ``sympy.diff`` differentiates a ``Piecewise`` branch by branch, so a jump between branches
    would leave no ``DiracDelta``; the branches are compared at the edges instead. Both jumps are 0:
    the gradient is continuous (and 1-Lipschitz), the Hessian only jumps (from 1 to 0).

    Examples
    --------
    >>> huber_gradient_jumps()
    (0, 0)
    """
    (z0,), (y0,) = loss_symbols(1)
    g = loss_derivatives("huber", 1).gradient[0]
    # Branches: (inner, abs(r) <= delta), (upper, r > delta), (lower, otherwise); each is a
    # polynomial, so its one-sided limit at an edge is its value there.
    (inner, _), (upper, _), (lower, _) = g.args
    at_plus, at_minus = {z0: y0 + delta}, {z0: y0 - delta}
    return (
        sp.simplify(upper.subs(at_plus) - inner.subs(at_plus)),
        sp.simplify(inner.subs(at_minus) - lower.subs(at_minus)),
    )


@cache
def bce_curvature_max() -> tuple[sp.Expr, sp.Expr]:
    r"""``(argmax, max)`` of the BCE second derivative :math:`e^z/(1 + e^z)^2`: ``(0, 1/4)``.

    The only critical point is z = 0 and the curvature tends to 0 at both infinities.

    Examples
    --------
    >>> bce_curvature_max()
    (0, 1/4)
    """
    (z0,), _ = loss_symbols(1)
    h = sp.simplify(loss_derivatives("bce", 1).hessian[0, 0])
    crit = sp.solve(sp.diff(h, z0), z0)
    if crit != [0] or sp.limit(h, z0, sp.oo) != 0 or sp.limit(h, z0, -sp.oo) != 0:
        raise ArithmeticError(f"unexpected BCE curvature analysis: critical points {crit}")
    return sp.S.Zero, sp.simplify(h.subs(z0, 0))


@cache
def softmax_two_logit_eigen_max() -> tuple[sp.Expr, sp.Expr]:
    r"""Largest Hessian eigenvalue of two-logit softmax cross-entropy and its maximum over z.

    Returns the non-zero eigenvalue as a function of :math:`t = z_0 - z_1` (with
    :math:`z_1 = 0`), :math:`2\sigma(t)\sigma(-t) = 1 / (2\cosh^2(t/2))`, and its maximum 1/2,
    at t = 0 only (the one-logit sigmoid curvature 1/4, doubled).

    Examples
    --------
    >>> softmax_two_logit_eigen_max()[1]
    1/2
    """
    (z0, z1), _ = loss_symbols(2)
    hess = loss_derivatives("softmax_ce", 2, 0).hessian.subs(z1, 0)
    eig = [e for e in hess.eigenvals() if sp.simplify(e) != 0]
    if len(eig) != 1:
        raise ArithmeticError(f"expected one non-zero eigenvalue; got {eig}")
    lam = sp.simplify(eig[0])
    crit = sp.solve(sp.diff(lam, z0), z0)
    if crit != [0] or sp.limit(lam, z0, sp.oo) != 0 or sp.limit(lam, z0, -sp.oo) != 0:
        raise ArithmeticError(f"unexpected eigenvalue analysis: critical points {crit}")
    return lam, sp.simplify(lam.subs(z0, 0))


@cache
def softmax_gradient_norm_limit() -> sp.Expr:
    r""":math:`\lim_{t \to \infty} \|\nabla l\|` for k = 2, label 0, :math:`z = (0, t)`: sqrt(2).

    Examples
    --------
    >>> softmax_gradient_norm_limit()
    sqrt(2)
    """
    (z0, z1), _ = loss_symbols(2)
    g = loss_derivatives("softmax_ce", 2, 0).gradient
    sq = sp.simplify(sum(gi**2 for gi in g).subs(z0, 0))
    return sp.sqrt(sp.limit(sq, z1, sp.oo))


def _in_weights(expr: sp.Expr, k: int) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """Substitute :math:`z_i = \\log w_i` with :math:`w_i > 0`: softmax becomes rational."""
    z, _ = loss_symbols(k)
    w = sp.symbols(f"w_0:{k}", positive=True)
    return sp.expand_log(expr.subs({zi: sp.log(wi) for zi, wi in zip(z, w, strict=True)})), w


@cache
def softmax_gradient_gap_residual(k: int, label: int = 0) -> sp.Expr:
    r"""Residual of :math:`2 - \|\nabla l\|^2 = 2\pi_y + 2\sum_{i<j}\pi_i\pi_j` (0 proves it).

    Examples
    --------
    >>> softmax_gradient_gap_residual(3)
    0
    """
    g = loss_derivatives("softmax_ce", k, label).gradient
    sq, w = _in_weights(sum(gi**2 for gi in g), k)
    pi = [wi / sum(w) for wi in w]
    rhs = 2 * pi[label] + 2 * sum(pi[i] * pi[j] for i, j in combinations(range(k), 2))
    return sp.simplify(sp.cancel(sp.together(2 - sq - rhs)))


@cache
def softmax_hessian_certificate_residual(k: int, bound: sp.Expr = _HALF) -> sp.Expr:
    r"""Residual of the sum-of-squares certificate of :math:`\lambda_{max} \le 1/2` (0 proves it).

    .. math::

        \tfrac12\|v\|^2 - v^T H v - 2\sum_i v_i^2(\pi_i - \tfrac12)^2
            - \sum_{i<j}\pi_i\pi_j(v_i + v_j)^2

    with :math:`H` the Hessian derived by :func:`loss_derivatives` (label 0; H does not depend on
    it). ``bound`` replaces both halves (before the norm and inside the squares); with the
    printed 1/4 the residual is not zero (and no certificate can exist: at z = 0, k = 2, the
    eigenvalue is 1/2), which lets the tests see this function fail.

    Examples
    --------
    >>> softmax_hessian_certificate_residual(2)
    0
    >>> softmax_hessian_certificate_residual(2, sp.Rational(1, 4)) == 0
    False
    """
    hess = loss_derivatives("softmax_ce", k, 0).hessian
    v = sp.Matrix(sp.symbols(f"v_0:{k}", real=True))
    quad, w = _in_weights((v.T * hess * v)[0, 0], k)
    pi = [wi / sum(w) for wi in w]
    sos = 2 * sum(v[i] ** 2 * (pi[i] - bound) ** 2 for i in range(k)) + sum(
        pi[i] * pi[j] * (v[i] + v[j]) ** 2 for i, j in combinations(range(k), 2)
    )
    norm = bound * sum(vi**2 for vi in v)
    return sp.simplify(sp.cancel(sp.together(norm - quad - sos)))
