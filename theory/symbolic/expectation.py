r"""A symbolic expectation operator on polynomials in random symbols, built from moment rules.

Random variables are sympy symbols grouped into mutually independent *blocks*. For a polynomial
in them, :func:`expectation` expands it into monomials and uses only

- linearity: :math:`E[\sum_t c_t M_t] = \sum_t c_t E[M_t]` for coefficients free of the random
  symbols,
- independence of blocks: :math:`E[\prod_b M_b] = \prod_b E[M_b]` with :math:`M_b` the part of a
  monomial in the symbols of block :math:`b`,

and a *moment rule* for the within-block monomials: :func:`gaussian_moments` (independent
Gaussian entries, moments derived from the moment generating function) or
:func:`generic_moment` (an arbitrary joint law, each moment an unevaluated ``E(...)``). Nothing
about covariances is typed in; the covariance formulas of :mod:`theory.symbolic.geometry` and
the factorisation of Lemma B.3 (:func:`b3_sides`) are derived with it.

References
----------
Claims L3.5, L3.5a, B3 and F1 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache, lru_cache

import sympy as sp

from theory._validation import check_int
from theory.symbolic.symbols import mu_q, sigma_q

__all__ = [
    "Moment",
    "MomentRule",
    "b3_sides",
    "expectation",
    "gaussian_moment_expr",
    "gaussian_moments",
    "generic_moment",
]

#: The unevaluated moment :math:`E[M]` of a within-block monomial under a generic joint law.
Moment = sp.Function("E")

#: A moment rule: the expectation of one within-block monomial (a power product of its symbols).
MomentRule = Callable[[sp.Expr], sp.Expr]

_t = sp.Dummy("t")


# typed=True: 2.0 or True must reach the validation, not hit the entry cached for 2 or 1.
@lru_cache(maxsize=None, typed=True)
def gaussian_moment_expr(k: int) -> sp.Expr:
    r"""Raw moment :math:`E[X^k]` of :math:`X \sim N(\mu_q, \sigma_q^2)`, from its MGF.

    .. math:: E[X^k] = \frac{d^k}{dt^k} \exp(\mu_q t + \sigma_q^2 t^2 / 2) \Big|_{t=0}

    Parameters
    ----------
    k : int
        The order, :math:`k \ge 0`.

    Returns
    -------
    sympy.Expr
        An expanded polynomial in ``mu_q`` (real) and ``sigma_q`` (a standard deviation, > 0).

    References
    ----------
    Claim L3.5a (the Gaussian moment rules).

    Examples
    --------
    >>> gaussian_moment_expr(4)
    mu_q**4 + 6*mu_q**2*sigma_q**2 + 3*sigma_q**4
    """
    k = check_int(k, "k", low=0)
    mgf = sp.exp(mu_q * _t + sigma_q**2 * _t**2 / 2)
    return sp.expand(sp.diff(mgf, _t, k).subs(_t, 0))


def gaussian_moments(params: Mapping[sp.Symbol, tuple[sp.Expr, sp.Expr]]) -> MomentRule:
    r"""Moment rule of independent Gaussians: ``params[X] = (mean, std)`` for each symbol ``X``.

    .. math:: E[X^k] = \text{gaussian\_moment\_expr}(k)\big|_{\mu_q = \mu_X, \sigma_q = s_X}

    Use it with singleton blocks (one block per symbol): a monomial mixing two symbols means a
    block was declared jointly distributed, which independent Gaussian entries are not.

    Examples
    --------
    >>> a, mu, s = sp.symbols("a mu s")
    >>> expectation(a**2, [[a]], gaussian_moments({a: (mu, s)}))
    mu**2 + s**2
    """

    # Expectations repeat the same few powers of each symbol; substitute each only once.
    @cache
    def rule(monomial: sp.Expr) -> sp.Expr:
        powers = monomial.as_powers_dict()
        if len(powers) != 1:
            raise ValueError(
                "`monomial` must be a power of one symbol under independent Gaussian entries "
                f"(one block per symbol); got {monomial}"
            )
        ((symbol, power),) = powers.items()
        if symbol not in params:
            raise ValueError(f"`params` has no (mean, std) for the symbol {symbol}")
        mean, std = params[symbol]
        return gaussian_moment_expr(int(power)).subs({mu_q: mean, sigma_q: std}, simultaneous=True)

    return rule


def generic_moment(monomial: sp.Expr) -> sp.Expr:
    r"""Moment rule of an arbitrary joint law: the unevaluated :math:`E[M]` (``Moment(M)``).

    Examples
    --------
    >>> a, b = sp.symbols("a b")
    >>> expectation(2 * a * b + a, [[a, b]], generic_moment)
    E(a) + 2*E(a*b)
    >>> expectation(2 * a * b + a, [[a], [b]], generic_moment)
    2*E(a)*E(b) + E(a)
    """
    return Moment(monomial)


def _check_blocks(blocks: Sequence[Sequence[sp.Symbol]]) -> list[sp.Symbol]:
    flat: list[sp.Symbol] = []
    for block in blocks:
        if len(block) == 0:
            raise ValueError("`blocks` must not contain an empty block; got []")
        for symbol in block:
            if not isinstance(symbol, sp.Symbol):
                raise TypeError(f"`blocks` must hold sympy Symbols; got {symbol!r}")
            flat.append(symbol)
    if not flat:
        raise ValueError("`blocks` must declare at least one random symbol; got none")
    if len(set(flat)) != len(flat):
        repeated = next(s for s in flat if flat.count(s) > 1)
        raise ValueError(f"`blocks` must be disjoint; the symbol {repeated} is in two blocks")
    return flat


def expectation(
    expr: sp.Expr, blocks: Sequence[Sequence[sp.Symbol]], moment: MomentRule
) -> sp.Expr:
    r"""Expectation of a polynomial in random symbols grouped into independent blocks.

    .. math::

        E\Big[\sum_t c_t \prod_b M_{t,b}\Big] = \sum_t c_t \prod_b \mathrm{moment}(M_{t,b})

    with :math:`M_{t,b}` the part of monomial :math:`t` in the symbols of block :math:`b`
    (blocks are mutually independent) and :math:`c_t` free of every random symbol.

    Parameters
    ----------
    expr : sympy.Expr
        A polynomial in the symbols of ``blocks``; its coefficients may hold other symbols
        (means, scales), which are treated as constants.
    blocks : sequence of sequences of sympy.Symbol
        Disjoint groups of random symbols; distinct groups are independent.
    moment : callable
        The moment rule of a within-block monomial (:func:`gaussian_moments`,
        :func:`generic_moment`).

    Returns
    -------
    sympy.Expr
        The expanded expectation, free of the random symbols.

    References
    ----------
    Claims L3.5, L3.5a, B3 and F1.

    Examples
    --------
    >>> a, b = sp.symbols("a b")
    >>> rule = gaussian_moments({a: (1, 2), b: (0, 1)})
    >>> expectation((a + b) ** 2, [[a], [b]], rule)
    6
    """
    gens = _check_blocks(blocks)
    try:
        poly = sp.Poly(sp.expand(expr), *gens)
    except sp.PolynomialError as exc:
        raise ValueError(f"`expr` must be a polynomial in the random symbols; got {expr}") from exc
    sizes = [len(block) for block in blocks]
    total = sp.Integer(0)
    for powers, coeff in poly.terms():
        term = coeff
        start = 0
        for block, size in zip(blocks, sizes, strict=True):
            part = powers[start : start + size]
            start += size
            if any(part):
                term *= moment(sp.Mul(*(s**e for s, e in zip(block, part, strict=True))))
        total += term
    return sp.expand(total)


def b3_sides(
    x: sp.Expr,
    u: sp.Expr,
    y: sp.Expr,
    v: sp.Expr,
    blocks: Sequence[Sequence[sp.Symbol]],
    moment: MomentRule,
) -> tuple[sp.Expr, sp.Expr]:
    r"""Both sides of Lemma B.3, each computed with :func:`expectation`.

    .. math::

        \mathrm{Cov}(XY, UV) = E[XYUV] - E[XY]\,E[UV]
        \quad\text{and}\quad E[XU]\,E[YV] - E[X]\,E[U]\,E[Y]\,E[V]

    The lemma says they are equal when :math:`X, U` depend on :math:`A` only, :math:`Y, V` on
    :math:`B` only, and :math:`A` is independent of :math:`B`: that is, when ``blocks`` puts the
    symbols of ``x, u`` and those of ``y, v`` in different blocks.

    Returns
    -------
    (sympy.Expr, sympy.Expr)
        The expanded left and right sides; the lemma holds for this case iff their difference
        expands to 0.

    References
    ----------
    Claim B3.

    Examples
    --------
    >>> a, b = sp.symbols("a b")
    >>> lhs, rhs = b3_sides(a, a**2, b, b + 1, [[a], [b]], generic_moment)
    >>> sp.expand(lhs - rhs)
    0
    """

    def ex(e: sp.Expr) -> sp.Expr:
        return expectation(e, blocks, moment)

    lhs = ex(x * y * u * v) - ex(x * y) * ex(u * v)
    rhs = ex(x * u) * ex(y * v) - ex(x) * ex(u) * ex(y) * ex(v)
    return sp.expand(lhs), sp.expand(rhs)
