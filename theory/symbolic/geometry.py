r"""Symbolic factors of :math:`W = A B^\top` and the minors behind the singularity of q_W.

For a shape :math:`(m, n, r)`, :func:`factor_symbols` gives matrices of random symbols
:math:`A \in \mathbb{R}^{m \times r}`, :math:`B \in \mathbb{R}^{n \times r}` and of their means and
standard deviations, shared by every derivation about :math:`W` (the moments live in
:mod:`theory.symbolic.weight_moments`). Here, by direct expansion, the minors of
:math:`A B^\top` (claim L3.3): every :math:`(r+1)`-minor expands to the zero polynomial, while
every :math:`r`-minor does not (:func:`weight_minors`), cross-checked with Cauchy-Binet.

Derivations are cached per shape; entries are numbered from 1 as in the paper.

References
----------
Claim L3.3 of ``CLAIMS.md`` (and, through the factor symbols, L3.5, L3.5a and F1).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from typing import Any

import sympy as sp
from sympy import ImmutableMatrix as Matrix

from theory._validation import check_int
from theory.symbolic.expectation import MomentRule, gaussian_moments

__all__ = [
    "FactorDependence",
    "FactorSymbols",
    "MinorCount",
    "factor_symbols",
    "generic_minor_terms",
    "weight_minors",
]


class FactorDependence(str, Enum):
    """Which entries of the factors are independent, for the generic-moment covariance (L3.5)."""

    #: every entry of A and of B independent: the paper's mean-field q(A, B)
    ENTRIES = "entries"
    #: the r rank-one components (A[:, k], B[:, k]) mutually independent and A independent of B;
    #: entries within one column may depend on each other
    COLUMNS = "columns"
    #: only A independent of B; the entries of each factor have an arbitrary joint law
    FACTORS = "factors"


@dataclass(frozen=True)
class FactorSymbols:
    """Random factor entries and their Gaussian parameters for one shape ``(m, n, r)``."""

    #: random entries A_i_k (m x r) and B_j_k (n x r)
    a: Matrix
    b: Matrix
    #: means (real) and standard deviations (positive) of those entries
    mu_a: Matrix
    sigma_a: Matrix
    mu_b: Matrix
    sigma_b: Matrix

    @property
    def shape(self) -> tuple[int, int, int]:
        return int(self.a.rows), int(self.b.rows), int(self.a.cols)

    @property
    def weight(self) -> Matrix:
        """:math:`W = A B^\\top`, an m x n matrix of polynomials."""
        return Matrix(self.a * self.b.T)

    def blocks(self, dependence: FactorDependence) -> list[list[sp.Symbol]]:
        """Independent blocks of random symbols under ``dependence``."""
        dependence = FactorDependence(dependence)
        if dependence is FactorDependence.ENTRIES:
            return [[s] for s in (*self.a, *self.b)]
        if dependence is FactorDependence.COLUMNS:
            cols = range(self.a.cols)
            return [list(self.a[:, k]) for k in cols] + [list(self.b[:, k]) for k in cols]
        return [list(self.a), list(self.b)]

    def gaussian_rule(self) -> MomentRule:
        """Moment rule of independent Gaussian entries with these means and stds."""
        pairs = zip(
            (*self.a, *self.b),
            zip((*self.mu_a, *self.mu_b), (*self.sigma_a, *self.sigma_b), strict=True),
            strict=True,
        )
        return gaussian_moments(dict(pairs))


def _check_bounded(value: object, name: str, m: int, n: int) -> int:
    """An int in [1, min(m, n)], with the bound spelled out in the message."""
    value = check_int(value, name)
    if value > min(m, n):
        raise ValueError(
            f"`{name}` must be an int in [1, min(m, n)] = [1, {min(m, n)}]; got {value}"
        )
    return value


def _check_shape(m: int, n: int, r: int) -> tuple[int, int, int]:
    m = check_int(m, "m")
    n = check_int(n, "n")
    return m, n, _check_bounded(r, "r", m, n)


# typed=True: 2.0 or True must reach the validation, not hit the entry cached for 2 or 1.
@lru_cache(maxsize=None, typed=True)
def factor_symbols(m: int, n: int, r: int) -> FactorSymbols:
    r"""Symbol matrices of the factors of an ``m x n`` rank-``r`` layer.

    Parameters
    ----------
    m, n : int
        Rows and columns of :math:`W`, at least 1.
    r : int
        The rank, :math:`1 \le r \le \min(m, n)`.

    Examples
    --------
    >>> factor_symbols(2, 1, 1).weight
    Matrix([
    [A_1_1*B_1_1],
    [A_2_1*B_1_1]])
    """
    m, n, r = _check_shape(m, n, r)

    def sym(name: str, rows: int, **assumptions: bool) -> Matrix:
        return Matrix(rows, r, lambda i, k: sp.Symbol(f"{name}_{i + 1}_{k + 1}", **assumptions))

    return FactorSymbols(
        a=sym("A", m, real=True),
        b=sym("B", n, real=True),
        mu_a=sym("mu_A", m, real=True),
        sigma_a=sym("s_A", m, positive=True),
        mu_b=sym("mu_B", n, real=True),
        sigma_b=sym("s_B", n, positive=True),
    )


@dataclass(frozen=True)
class MinorCount:
    """The ``size x size`` minors of :math:`A B^\\top` for one shape, expanded one by one."""

    m: int
    n: int
    r: int
    size: int
    #: number of minors expanded: C(m, size) C(n, size)
    checked: int
    #: how many expand to the zero polynomial
    identically_zero: int
    #: how many equal their Cauchy-Binet sum (an empty sum, 0, when size > r)
    cauchy_binet_agree: int

    @property
    def all_vanish(self) -> bool:
        return self.identically_zero == self.checked

    @property
    def none_vanish(self) -> bool:
        return self.identically_zero == 0


@lru_cache(maxsize=None, typed=True)
def weight_minors(m: int, n: int, r: int, size: int) -> MinorCount:
    r"""Expand every ``size x size`` minor of :math:`W = A B^\top` with symbolic entries.

    For rows :math:`I` and columns :math:`J` (:math:`|I| = |J| = s`) the minor
    :math:`\det W_{IJ}` is expanded directly and compared with Cauchy-Binet,

    .. math:: \det W_{IJ} = \sum_{K \subseteq [r],\, |K| = s} \det A_{IK} \det B_{JK},

    an empty sum when :math:`s > r`. L3.3 needs ``all_vanish`` for :math:`s = r + 1`; the
    statement is sharp because ``none_vanish`` for :math:`s = r`.

    Parameters
    ----------
    m, n, r : int
        The shape, :math:`1 \le r \le \min(m, n)`.
    size : int
        The order of the minors, :math:`1 \le s \le \min(m, n)`.

    References
    ----------
    Claim L3.3.

    Examples
    --------
    >>> weight_minors(3, 3, 1, 2).all_vanish, weight_minors(3, 3, 1, 2).checked
    (True, 9)
    """
    fs = factor_symbols(m, n, r)
    size = _check_bounded(size, "size", m, n)
    # Exact arithmetic in Z[A, B]: the same expansion as sympy's, without its expression trees.
    ring, *gens = sp.polys.rings.ring(list(fs.a) + list(fs.b), sp.ZZ)
    a = [gens[i * r : (i + 1) * r] for i in range(m)]
    b = [gens[m * r + j * r : m * r + (j + 1) * r] for j in range(n)]
    w = [
        [sum((a[i][k] * b[j][k] for k in range(r)), ring.zero) for j in range(n)] for i in range(m)
    ]
    checked = zero = agree = 0
    for rows in itertools.combinations(range(m), size):
        for cols in itertools.combinations(range(n), size):
            minor = _det([[w[i][j] for j in cols] for i in rows], ring.zero, ring.one)
            binet = sum(
                (
                    _det([[a[i][k] for k in ks] for i in rows], ring.zero, ring.one)
                    * _det([[b[j][k] for k in ks] for j in cols], ring.zero, ring.one)
                    for ks in itertools.combinations(range(r), size)
                ),
                ring.zero,
            )
            checked += 1
            zero += minor == ring.zero
            agree += minor == binet
    return MinorCount(m, n, r, size, checked, zero, agree)


def _det(rows: list[list[Any]], zero: Any, one: Any) -> Any:
    """Determinant by Laplace expansion along the rows, memoised on the columns still free.

    ``size * 2**size`` ring products instead of ``size!``; exact in any commutative ring.
    """
    size = len(rows)

    @cache
    def expand(cols: tuple[int, ...]) -> Any:
        depth = size - len(cols)
        if depth == size:
            return one
        total = zero
        for pos, col in enumerate(cols):
            entry = rows[depth][col]
            if entry != zero:
                term = entry * expand(cols[:pos] + cols[pos + 1 :])
                total = total - term if pos % 2 else total + term
        return total

    return expand(tuple(range(size)))


def generic_minor_terms(size: int) -> int:
    r"""Number of monomials of :math:`\det` of a ``size x size`` matrix of free symbols.

    A positive count shows the minor is a nonzero polynomial in the entries of :math:`W`, so its
    zero set (which contains every rank-deficient :math:`W`) is Lebesgue-null (claim L3.3).

    Examples
    --------
    >>> generic_minor_terms(3)
    6
    """
    size = check_int(size, "size")
    names = [f"W_{i + 1}_{j + 1}" for i in range(size) for j in range(size)]
    ring, *gens = sp.polys.rings.ring(names, sp.ZZ)
    rows = [gens[i * size : (i + 1) * size] for i in range(size)]
    return len(_det(rows, ring.zero, ring.one).terms())
