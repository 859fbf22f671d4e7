r"""The App. F initialisation rules of the factor posterior (claims F1, F2, F3u).

Variance matching to a dense Glorot or He target (Gaussian or uniform factor means), the SVD
warm start and balanced factors.

References: ``CLAIMS.md`` section 0 (initialisation), section 3 (F1, F2) and section 8 (F3u).
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    check_int,
    check_int_array,
    check_matrix,
    check_open_unit,
    check_positive,
    check_rank,
    check_rng,
    scalar_or_array,
)
from theory.factor_posterior import FactorPosterior

__all__ = [
    "InitTarget",
    "balanced_factors",
    "svd_warm_start",
    "target_variance",
    "uniform_init_bound",
    "uniform_variance_matching_init",
    "variance_matching_init",
]


class InitTarget(str, Enum):
    """Dense target variance of the App. F variance-matching initialisation."""

    #: Glorot: :math:`s_W^2 = 2 / (m + n)`
    GLOROT = "glorot"
    #: He: :math:`s_W^2 = 2 / n`, with ``n`` the fan-in (columns of the m x n weight)
    HE = "he"


def target_variance(m: int, n: int, target: InitTarget | str) -> float:
    """The dense variance :math:`s_W^2` of an m x n (out x in) layer for ``target``.

    Examples
    --------
    >>> target_variance(300, 100, "glorot"), target_variance(300, 100, InitTarget.HE)
    (0.005, 0.02)
    """
    mm, nn = check_int(m, "m"), check_int(n, "n")
    try:
        t = InitTarget(target)
    except ValueError:
        known = ", ".join(repr(x.value) for x in InitTarget)
        raise ValueError(f"`target` must be one of {known}; got {target!r}") from None
    return 2.0 / (mm + nn) if t is InitTarget.GLOROT else 2.0 / nn


def variance_matching_init(
    m: int, n: int, r: int, *, target: InitTarget | str, eta: float, rng: np.random.Generator
) -> FactorPosterior:
    r"""App. F initialisation: factor means with :math:`\mathrm{Var}(\mu^A\mu^{B\top}_{ij})
    = s_W^2`, posterior scales :math:`\eta (s_W^2 / r)^{1/4}`.

    .. math:: \mu^A_{ik}, \mu^B_{jk} \sim N(0, v), \quad v = \sqrt{s_W^2 / r}, \qquad
        \mathrm{Var}\Big(\sum_k \mu^A_{ik} \mu^B_{jk}\Big) = r v^2 = s_W^2

    References
    ----------
    Claim F1.

    Examples
    --------
    >>> post = variance_matching_init(8, 6, 2, target="he", eta=0.1,
    ...                               rng=np.random.default_rng(0))
    >>> post.mu_a.shape, post.mu_b.shape, round(float(post.sigma_a[0, 0]), 6)
    ((8, 2), (6, 2), 0.063894)
    """
    mm, nn = check_int(m, "m"), check_int(n, "n")
    rr = check_rank(r, mm, nn)
    e = float(check_open_unit(eta, "eta"))
    s2 = target_variance(mm, nn, target)
    g = check_rng(rng)
    std = (s2 / rr) ** 0.25  # the std of a factor-mean entry: sqrt(v), v = sqrt(s2 / r)
    return FactorPosterior(
        mu_a=std * g.standard_normal((mm, rr)),
        sigma_a=np.full((mm, rr), e * std),
        mu_b=std * g.standard_normal((nn, rr)),
        sigma_b=np.full((nn, rr), e * std),
    )


def uniform_init_bound(sigma_w2: Any, r: Any) -> Any:
    r"""Half-width :math:`a` of the App. F uniform initialisation :math:`U(-a, a)` of the factor
    means, so that :math:`\mathrm{Var}\big(\sum_{k=1}^r \mu^A_{ik} \mu^B_{jk}\big) = s_W^2`.

    .. math:: a = \sqrt 3\, (s_W^2 / r)^{1/4}, \qquad
        \mathrm{Var}\Big(\sum_k \mu^A_{ik} \mu^B_{jk}\Big) = r \Big(\frac{a^2}{3}\Big)^2
        = s_W^2

    (a :math:`U(-a, a)` entry has variance :math:`a^2/3`; the r products are independent with
    mean 0). With Glorot, :math:`s_W^2 = 2/(m + n)`: :math:`a = \sqrt 3\,(2 / (r(n + m)))^{1/4}`.

    Parameters
    ----------
    sigma_w2 : float or array_like
        The dense target variance :math:`s_W^2 > 0` (:func:`target_variance`).
    r : int or array_like of int
        The rank, :math:`r \ge 1`; broadcasts with ``sigma_w2``.

    Returns
    -------
    float or ndarray
        A float for scalar inputs, else an array of the broadcast shape.

    References
    ----------
    Claim F3u (paper App. F).

    Examples
    --------
    >>> round(uniform_init_bound(0.02, 2), 12)  # He, n = 100: sqrt(3) * 0.01 ** 0.25
    0.547722557505
    """
    s2 = check_positive(sigma_w2, "sigma_w2")
    rr = check_int_array(r, "r", low=1)
    out = np.sqrt(3.0) * (s2 / rr) ** 0.25
    return scalar_or_array(out, sigma_w2, r)


def uniform_variance_matching_init(
    m: int, n: int, r: int, *, target: InitTarget | str, eta: float, rng: np.random.Generator
) -> FactorPosterior:
    r"""App. F uniform initialisation: factor means i.i.d. :math:`U(-a, a)`,
    :math:`a` = :func:`uniform_init_bound` :math:`(s_W^2, r)`, posterior scales
    :math:`\eta (s_W^2 / r)^{1/4}`.

    .. math:: \mu^A_{ik}, \mu^B_{jk} \sim U(-a, a), \quad a = \sqrt 3\, (s_W^2/r)^{1/4},
        \qquad \mathrm{Var}\big((\mu^A \mu^{B\top})_{ij}\big) = s_W^2

    The Gaussian rule is :func:`variance_matching_init`; both give factor means of variance
    :math:`\sqrt{s_W^2 / r}`.

    References
    ----------
    Claim F3u (and F1 for the Gaussian rule).

    Examples
    --------
    >>> post = uniform_variance_matching_init(8, 6, 2, target="glorot", eta=0.1,
    ...                                       rng=np.random.default_rng(0))
    >>> a = uniform_init_bound(target_variance(8, 6, "glorot"), 2)
    >>> post.mu_a.shape, bool(np.abs(post.mu_a).max() <= a and np.abs(post.mu_b).max() <= a)
    ((8, 2), True)
    """
    mm, nn = check_int(m, "m"), check_int(n, "n")
    rr = check_rank(r, mm, nn)
    e = float(check_open_unit(eta, "eta"))
    s2 = target_variance(mm, nn, target)
    g = check_rng(rng)
    a = uniform_init_bound(s2, rr)
    std = (s2 / rr) ** 0.25
    return FactorPosterior(
        mu_a=g.uniform(-a, a, (mm, rr)),
        sigma_a=np.full((mm, rr), e * std),
        mu_b=g.uniform(-a, a, (nn, rr)),
        sigma_b=np.full((nn, rr), e * std),
    )


def balanced_factors(w: Any, r: int) -> tuple[FloatArray, FloatArray]:
    r"""Balanced rank-r factors :math:`U_r S_r^{1/2}` and :math:`V_r S_r^{1/2}` of ``w`` (F2).

    Their product is the best rank-r approximation :math:`W_r` (Eckart-Young-Mirsky).

    Examples
    --------
    >>> a, b = balanced_factors(np.diag([3.0, 1.0]), 1)
    >>> np.round(a @ b.T, 12).tolist()
    [[3.0, 0.0], [0.0, 0.0]]
    """
    wm = check_matrix(w, "w")
    rr = check_rank(r, *wm.shape)
    u, s, vt = np.linalg.svd(wm, full_matrices=False)
    root = np.sqrt(s[:rr])
    return u[:, :rr] * root, vt[:rr].T * root


def svd_warm_start(
    w: Any, r: int, *, eta: float, target: InitTarget | str = InitTarget.GLOROT
) -> FactorPosterior:
    r"""SVD warm start (App. F): means :math:`U_r S_r^{1/2}, V_r S_r^{1/2}`, so that
    :math:`\mu^A \mu^{B\top} = W_r`; posterior scales :math:`\eta (s_W^2/r)^{1/4}` as in
    :func:`variance_matching_init`.

    References
    ----------
    Claim F2.

    Examples
    --------
    >>> post = svd_warm_start(np.diag([3.0, 1.0]), 1, eta=0.5)
    >>> np.round(post.mu_a @ post.mu_b.T, 12).tolist()
    [[3.0, 0.0], [0.0, 0.0]]
    """
    mu_a, mu_b = balanced_factors(w, r)
    e = float(check_open_unit(eta, "eta"))
    m, n = mu_a.shape[0], mu_b.shape[0]
    std = e * (target_variance(m, n, target) / mu_a.shape[1]) ** 0.25
    return FactorPosterior(mu_a, np.full(mu_a.shape, std), mu_b, np.full(mu_b.shape, std))
