r"""Common Gaussian draws for the complexity checks, their own per-draw twin, rounding slacks.

:func:`theory.gaussian_complexity.empirical_gaussian_complexity` and
:func:`~theory.gaussian_complexity.linear_class_complexity` draw :math:`\Gamma \in \mathbb
R^{m \times k}` row by row from their ``rng`` (``standard_normal`` fills its output in order, so
batching does not change the stream): calls with fresh generators of one seed share their draws.
The checks recompute those draws (:func:`common_gamma`) and every draw's supremum
(:func:`per_draw_sups`) to compare classes draw by draw, exactly up to the rounding slack of
:func:`inner_product_slack`.

References: claims E8, E9, E10, E13 of ``CLAIMS.md``.
"""

from __future__ import annotations

import numpy as np

from theory._validation import FloatArray
from theory.gaussian_complexity import empirical_gaussian_complexity, linear_class_complexity

__all__ = [
    "common_estimate",
    "common_gamma",
    "common_linear_estimate",
    "inner_product_slack",
    "per_draw_sups",
    "random_class",
]

_EPS = float(np.finfo(np.float64).eps)


def common_gamma(seed: int, n_draws: int, m: int, k: int) -> FloatArray:
    """The draws :math:`\\Gamma` (n_draws, m, k) the estimators take from ``default_rng(seed)``."""
    out: FloatArray = np.random.default_rng(seed).standard_normal((n_draws, m, k))
    return out


def common_estimate(outputs: FloatArray, n_draws: int, seed: int) -> tuple[float, float]:
    """:func:`empirical_gaussian_complexity` with a fresh generator of ``seed`` (common draws)."""
    return empirical_gaussian_complexity(outputs, n_draws=n_draws, rng=np.random.default_rng(seed))


def common_linear_estimate(
    x: FloatArray, bound: float, rank: int, out_dim: int, n_draws: int, seed: int
) -> tuple[float, float]:
    """:func:`linear_class_complexity` with a fresh generator of ``seed`` (common draws)."""
    return linear_class_complexity(
        x,
        spectral_bound=bound,
        rank=rank,
        out_dim=out_dim,
        n_draws=n_draws,
        rng=np.random.default_rng(seed),
    )


def per_draw_sups(outputs: FloatArray, gamma: FloatArray) -> FloatArray:
    r""":math:`\max_f \langle \Gamma_s, F_f\rangle / m` for every draw s (the check's own twin).

    Examples
    --------
    >>> f = np.array([[[1.0]], [[-1.0]]])  # two functions, m = k = 1: the sup is |gamma|
    >>> per_draw_sups(f, np.array([[[2.0]], [[-3.0]]])).tolist()
    [2.0, 3.0]
    """
    n_f, m, k = outputs.shape
    inner = gamma.reshape(gamma.shape[0], m * k) @ outputs.reshape(n_f, m * k).T
    out: FloatArray = inner.max(axis=1) / m
    return out


def inner_product_slack(outputs: FloatArray, gamma: FloatArray) -> FloatArray:
    r"""Rounding slack, draw by draw, of a difference of two suprema computed on the same draws.

    A computed length-n dot product is off by at most :math:`\gamma_n \sum_i |a_i b_i|`,
    :math:`\gamma_n = n\varepsilon/(1 - n\varepsilon)` (Higham, Thm 3.1); a convex combination
    computed in floating point adds :math:`n_f \varepsilon` relative error per entry. Two maxima
    then differ from their exact values by at most :math:`2 u \max_f \sum_i |\Gamma_i| |F_{f,i}|`
    with :math:`u = 2(mk + n_f)\varepsilon`, divided by m. The slack of a difference of two
    estimates (means over the draws) is the mean of this array.
    """
    n_f, m, k = outputs.shape
    u = 2.0 * (m * k + n_f) * _EPS
    absolute = np.abs(gamma.reshape(gamma.shape[0], m * k)) @ np.abs(outputs.reshape(n_f, -1)).T
    out: FloatArray = 2.0 * u * absolute.max(axis=1) / m
    return out


def random_class(n_f: int, m: int, k: int, rng: np.random.Generator) -> FloatArray:
    """Outputs of ``n_f`` functions: half i.i.d. Gaussian, half outputs of random linear maps of
    a shared input (correlated functions, as a network class gives), at a random overall scale."""
    d = int(rng.integers(1, 5))
    x = rng.standard_normal((m, d))
    n_lin = n_f // 2
    lin = np.einsum("md,fkd->fmk", x, rng.standard_normal((n_lin, k, d)))
    noise = rng.standard_normal((n_f - n_lin, m, k))
    out: FloatArray = np.concatenate([lin, noise]) * 10.0 ** rng.uniform(-2.0, 2.0)
    return out
