r"""Mean and covariance of :math:`W = A B^\top`, derived from moment rules, beside the claims.

Every moment is computed by the expectation operator of :mod:`theory.symbolic.expectation` on
the polynomial entries of :math:`W` built from :func:`theory.symbolic.geometry.factor_symbols`:

- :func:`gaussian_weight_moments`: independent Gaussian entries (claim L3.5a), with
  :func:`l35a_weight_moments` and :func:`l35a_variance` the formulas exactly as stated, and
  :func:`weight_moments_function` the ``lambdify``-ed derivation that tests compare with
  :func:`theory.geometry.weight_moments`;
- :func:`general_weight_covariance`: generic (non-Gaussian) moments under a chosen independence
  structure (claim L3.5), with :func:`l35_covariance` the stated right side;
- :func:`f1_mean_weight_moments`: the factor means themselves random at initialisation
  (claim F1).

References
----------
Claims L3.5, L3.5a and F1 of ``CLAIMS.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix as Matrix

from theory._validation import FloatArray, as_float_array, check_int
from theory.symbolic.expectation import MomentRule, expectation, gaussian_moments, generic_moment
from theory.symbolic.geometry import FactorDependence, FactorSymbols, factor_symbols

__all__ = [
    "f1_entry_moments",
    "f1_mean_weight_moments",
    "f1_stated_covariance",
    "gaussian_weight_moments",
    "general_weight_covariance",
    "l35_covariance",
    "l35a_variance",
    "l35a_weight_moments",
    "v_A",
    "v_B",
    "weight_moments_function",
]


#: variances of the entries of the factor *means* at initialisation (claim F1)
v_A, v_B = sp.symbols("v_A v_B", positive=True)


def _moments(
    weight: Matrix, blocks: list[list[sp.Symbol]], rule: MomentRule
) -> tuple[Matrix, Matrix]:
    """E[W] and Cov(vec W) (row-major) with the expectation operator."""
    flat = list(weight)
    means = [expectation(w, blocks, rule) for w in flat]
    size = len(flat)
    cov = sp.zeros(size, size)
    for p in range(size):
        for q in range(p, size):
            value = sp.expand(expectation(flat[p] * flat[q], blocks, rule) - means[p] * means[q])
            cov[p, q] = cov[q, p] = value
    return Matrix(weight.rows, weight.cols, means), Matrix(cov)


# typed=True: 2.0 or True must reach the validation, not hit the entry cached for 2 or 1.
@lru_cache(maxsize=None, typed=True)
def gaussian_weight_moments(m: int, n: int, r: int) -> tuple[Matrix, Matrix]:
    r"""Mean and covariance of :math:`W = A B^\top` derived from Gaussian moment rules.

    .. math::

        E[W_{ij}],\qquad \mathrm{Cov}(W_{ij}, W_{i'j'}) = E[W_{ij} W_{i'j'}]
        - E[W_{ij}]\,E[W_{i'j'}]

    each expectation computed by :func:`~theory.symbolic.expectation.expectation` with every
    entry an independent :math:`N(\mu, s^2)`; L3.5a is not used.

    Returns
    -------
    (sympy.ImmutableMatrix, sympy.ImmutableMatrix)
        The m x n mean and the (m n) x (m n) covariance of ``W`` flattened row-major.

    References
    ----------
    Claim L3.5a.

    Examples
    --------
    >>> gaussian_weight_moments(1, 1, 1)[1]
    Matrix([[mu_A_1_1**2*s_B_1_1**2 + mu_B_1_1**2*s_A_1_1**2 + s_A_1_1**2*s_B_1_1**2]])
    """
    fs = factor_symbols(m, n, r)
    return _moments(fs.weight, fs.blocks(FactorDependence.ENTRIES), fs.gaussian_rule())


def l35a_weight_moments(m: int, n: int, r: int) -> tuple[Matrix, Matrix]:
    r"""Mean and covariance of :math:`W` typed exactly as claim L3.5a states them.

    .. math::

        E[W] = \mu_A \mu_B^\top, \qquad
        \mathrm{Cov}(W_{ij}, W_{i'j'}) = \sum_k \big[\delta_{ii'} s_{A,ik}^2 \mu_{B,jk}
        \mu_{B,j'k} + \delta_{jj'} s_{B,jk}^2 \mu_{A,ik} \mu_{A,i'k} + \delta_{ii'}
        \delta_{jj'} s_{A,ik}^2 s_{B,jk}^2\big]

    Examples
    --------
    >>> l35a_weight_moments(1, 1, 1)[0]
    Matrix([[mu_A_1_1*mu_B_1_1]])
    """
    fs = factor_symbols(m, n, r)
    ma, sa, mb, sb = fs.mu_a, fs.sigma_a, fs.mu_b, fs.sigma_b
    idx = list(itertools.product(range(m), range(n)))
    cov = sp.zeros(m * n, m * n)
    for p, (i, j) in enumerate(idx):
        for q, (i2, j2) in enumerate(idx):
            di, dj = int(i == i2), int(j == j2)
            cov[p, q] = sum(
                (
                    di * sa[i, k] ** 2 * mb[j, k] * mb[j2, k]
                    + dj * sb[j, k] ** 2 * ma[i, k] * ma[i2, k]
                    + di * dj * sa[i, k] ** 2 * sb[j, k] ** 2
                    for k in range(r)
                ),
                sp.Integer(0),
            )
    return Matrix(ma * mb.T), Matrix(cov)


def l35a_variance(m: int, n: int, r: int) -> Matrix:
    r"""The m x n matrix of :math:`\mathrm{Var}(W_{ij})` as claim L3.5a states it.

    .. math:: \sum_k \big[s_{A,ik}^2 \mu_{B,jk}^2 + s_{B,jk}^2 \mu_{A,ik}^2 + s_{A,ik}^2
              s_{B,jk}^2\big]

    Examples
    --------
    >>> l35a_variance(1, 2, 1)[0, 1]
    mu_A_1_1**2*s_B_2_1**2 + mu_B_2_1**2*s_A_1_1**2 + s_A_1_1**2*s_B_2_1**2
    """
    fs = factor_symbols(m, n, r)
    ma, sa, mb, sb = fs.mu_a, fs.sigma_a, fs.mu_b, fs.sigma_b
    return Matrix(
        m,
        n,
        lambda i, j: sum(
            sa[i, k] ** 2 * mb[j, k] ** 2
            + sb[j, k] ** 2 * ma[i, k] ** 2
            + sa[i, k] ** 2 * sb[j, k] ** 2
            for k in range(r)
        ),
    )


@lru_cache(maxsize=None, typed=True)
def weight_moments_function(
    m: int, n: int, r: int
) -> Callable[[Any, Any, Any, Any], tuple[FloatArray, FloatArray]]:
    r"""``lambdify`` of :func:`gaussian_weight_moments`: ``f(mu_a, sigma_a, mu_b, sigma_b)``.

    The arguments are arrays of shapes (m, r), (m, r), (n, r), (n, r) (stds, not variances);
    the result is ``(mean (m, n), cov (m n, m n))``, the contract of
    :func:`theory.geometry.weight_moments`.

    Examples
    --------
    >>> f = weight_moments_function(1, 1, 1)
    >>> mean, cov = f([[2.0]], [[1.0]], [[3.0]], [[0.5]])
    >>> float(mean[0, 0]), float(cov[0, 0])
    (6.0, 10.25)
    """
    fs = factor_symbols(m, n, r)
    mean, cov = gaussian_weight_moments(m, n, r)
    params = (fs.mu_a, fs.sigma_a, fs.mu_b, fs.sigma_b)
    raw = sp.lambdify([p.tolist() for p in params], (mean, cov), "numpy")
    names = ("mu_a", "sigma_a", "mu_b", "sigma_b")

    def moments(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> tuple[FloatArray, FloatArray]:
        arrays = []
        for value, name, p in zip((mu_a, sigma_a, mu_b, sigma_b), names, params, strict=True):
            arr = as_float_array(value, name)
            if arr.shape != p.shape:
                raise ValueError(f"`{name}` must have shape {p.shape}; got {arr.shape}")
            arrays.append(arr)
        out_mean, out_cov = raw(*arrays)
        return np.asarray(out_mean, dtype=np.float64), np.asarray(out_cov, dtype=np.float64)

    return moments


@lru_cache(maxsize=None, typed=True)
def general_weight_covariance(m: int, n: int, r: int, dependence: FactorDependence) -> Matrix:
    r"""Cov(vec W) derived with generic (non-Gaussian) moments under ``dependence``.

    .. math:: \mathrm{Cov}(W_{ij}, W_{i'j'}) = E[W_{ij} W_{i'j'}] - E[W_{ij}]\,E[W_{i'j'}]

    with every moment an unevaluated ``E(...)`` and independence only between the blocks of
    :meth:`FactorSymbols.blocks`.

    References
    ----------
    Claim L3.5.

    Examples
    --------
    >>> general_weight_covariance(1, 1, 1, FactorDependence.ENTRIES)
    Matrix([[-E(A_1_1)**2*E(B_1_1)**2 + E(A_1_1**2)*E(B_1_1**2)]])
    """
    fs = factor_symbols(m, n, r)
    return _moments(fs.weight, fs.blocks(FactorDependence(dependence)), generic_moment)[1]


def l35_covariance(m: int, n: int, r: int, dependence: FactorDependence) -> Matrix:
    r"""The right side of claim L3.5, each expectation taken with the same generic operator.

    .. math:: \sum_k \big(E[A_{ik} A_{i'k}]\, E[B_{jk} B_{j'k}] - E[A_{ik}]\, E[A_{i'k}]\,
              E[B_{jk}]\, E[B_{j'k}]\big)

    Examples
    --------
    >>> l35_covariance(1, 1, 1, FactorDependence.ENTRIES)
    Matrix([[-E(A_1_1)**2*E(B_1_1)**2 + E(A_1_1**2)*E(B_1_1**2)]])
    """
    fs = factor_symbols(m, n, r)
    blocks = fs.blocks(FactorDependence(dependence))

    def ex(e: sp.Expr) -> sp.Expr:
        return expectation(e, blocks, generic_moment)

    a, b = fs.a, fs.b
    idx = list(itertools.product(range(m), range(n)))
    cov = sp.zeros(m * n, m * n)
    for p, (i, j) in enumerate(idx):
        for q, (i2, j2) in enumerate(idx):
            cov[p, q] = sp.expand(
                sum(
                    ex(a[i, k] * a[i2, k]) * ex(b[j, k] * b[j2, k])
                    - ex(a[i, k]) * ex(a[i2, k]) * ex(b[j, k]) * ex(b[j2, k])
                    for k in range(r)
                )
            )
    return Matrix(cov)


def _f1_rule(fs: FactorSymbols) -> tuple[list[list[sp.Symbol]], MomentRule]:
    """The factor means as the random symbols: iid N(0, v_A) and N(0, v_B) entries."""
    params = {s: (sp.Integer(0), sp.sqrt(v_A)) for s in fs.mu_a}
    params.update({s: (sp.Integer(0), sp.sqrt(v_B)) for s in fs.mu_b})
    return [[s] for s in (*fs.mu_a, *fs.mu_b)], gaussian_moments(params)


@lru_cache(maxsize=None, typed=True)
def f1_mean_weight_moments(m: int, n: int, r: int) -> tuple[Matrix, Matrix]:
    r"""Mean and covariance of :math:`\bar W = \mu_A \mu_B^\top` at a zero-mean initialisation.

    The factor means are random: :math:`\mu_{A,ik} \sim N(0, v_A)` and
    :math:`\mu_{B,jk} \sim N(0, v_B)`, all independent; the moments are derived with the
    Gaussian rule. Claim F1 states :math:`\mathrm{Var}(\bar W_{ij}) = r v_A v_B`
    (:func:`f1_stated_covariance`).

    References
    ----------
    Claim F1.

    Examples
    --------
    >>> f1_mean_weight_moments(2, 2, 2)[1][0, 0]
    2*v_A*v_B
    """
    fs = factor_symbols(m, n, r)
    blocks, rule = _f1_rule(fs)
    return _moments(Matrix(fs.mu_a * fs.mu_b.T), blocks, rule)


def f1_stated_covariance(m: int, n: int, r: int) -> Matrix:
    r"""Claim F1's :math:`r v_A v_B` on the diagonal; 0 off it (distinct entries uncorrelated).

    Examples
    --------
    >>> f1_stated_covariance(1, 2, 1)
    Matrix([
    [v_A*v_B,       0],
    [      0, v_A*v_B]])
    """
    factor_symbols(m, n, r)  # validates the shape
    return Matrix(sp.eye(m * n) * r * v_A * v_B)


@lru_cache(maxsize=None, typed=True)
def f1_entry_moments(r: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r""":math:`E[\bar W_{11}]`, :math:`E[\bar W_{11}^2]` and :math:`E[\bar W_{11}^4]` at the
    zero-mean initialisation of claim F1, for any rank ``r >= 1``.

    .. math:: \bar W_{11} = \sum_{k=1}^r \mu_{A,1k} \mu_{B,1k}, \quad
              \mu_{A,1k} \sim N(0, v_A),\ \mu_{B,1k} \sim N(0, v_B)

    The second moment is the variance F1 speaks of (the mean is 0); the fourth gives the exact
    variance :math:`E[\bar W^4] - (E[\bar W^2])^2` of a squared entry, from which a Monte Carlo
    test of F1 derives its threshold.

    References
    ----------
    Claim F1.

    Examples
    --------
    >>> f1_entry_moments(2)
    (0, 2*v_A*v_B, 24*v_A**2*v_B**2)
    """
    r = check_int(r, "r")
    fs = factor_symbols(r, r, r)
    blocks, rule = _f1_rule(fs)
    entry = sum((fs.mu_a[0, k] * fs.mu_b[0, k] for k in range(r)), sp.Integer(0))
    first, second, fourth = (expectation(entry**p, blocks, rule) for p in (1, 2, 4))
    return first, second, fourth
