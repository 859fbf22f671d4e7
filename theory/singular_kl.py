r"""Why the KL must be taken in factor space (claim KLF), with computable certificates.

Three computations, each with a twin in the tests:

1. **Weight-space KL is infinite.** For :math:`p_W = N(0, s^2 I)` on :math:`m \times n` matrices
   and :math:`q_W` the law of :math:`A B^T` with rank :math:`r < \min(m, n)`, the statistic
   :math:`T(W) = 1[|\det W_{[r+1]}| \le t]` (leading :math:`(r+1)`-minor) has
   :math:`q_W(T = 1) = 1` (the minor of :math:`A B^T` vanishes identically), while
   :math:`p_W(T = 1) \le b_r(t)` (:func:`det_small_ball_bound`). By data processing,
   :math:`\mathrm{KL}(q_W \| p_W) \ge \mathrm{kl}(1 \| p_W(T=1)) \ge \ln(1/b_r(t))` for every
   :math:`t > 0`, and :math:`b_r(t) \to 0`: the KL is :math:`+\infty`.
2. **Smoothed posteriors.** :math:`q^\varepsilon` = law of :math:`a b^T + \varepsilon Z` (2 x 2,
   rank one): the same statistic at :math:`t = k\varepsilon` with a Clopper-Pearson lower bound on
   :math:`q^\varepsilon(T = 1)` certifies :math:`\mathrm{KL}(q^\varepsilon \| p_W) \gtrsim
   \ln(1/\varepsilon)`, unbounded as :math:`\varepsilon \to 0`.
3. **Data processing, both sides computable**: in :mod:`theory.product_density`.

References: claim KLF of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from scipy import integrate, special, stats

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_interval,
    check_open_unit,
    check_positive,
    check_probability,
    scalar_or_array,
)
from theory.pac_bayes.kl_inverse import kl_bernoulli

__all__ = [
    "clopper_pearson_lower",
    "det_small_ball_bound",
    "det_small_ball_mc",
    "minor_vanishes",
    "singular_kl_lower_bound",
    "smoothed_det_over_eps",
    "smoothed_kl_lower_bound",
]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def minor_vanishes(rank: int) -> bool:
    r"""Symbolically: every :math:`(r+1)`-minor of :math:`A B^T` is the zero polynomial.

    .. math:: \det\big((A B^T)_{[r+1]}\big) \equiv 0, \quad A, B \in \mathbb R^{(r+1) \times r}

    References
    ----------
    Claims L3.3 and KLF (:math:`q_W(|\det| \le t) = 1` exactly).

    Examples
    --------
    >>> minor_vanishes(1)
    True
    """
    r = check_int(rank, "rank", low=1, high=4)
    a = sp.Matrix(r + 1, r, lambda i, k: sp.Symbol(f"a{i}{k}"))
    b = sp.Matrix(r + 1, r, lambda j, k: sp.Symbol(f"b{j}{k}"))
    return bool(sp.expand((a * b.T).det()) == 0)


def _half_normal_bound(a: FloatArray) -> FloatArray:
    r""":math:`E[\min(1, a/U)]`, :math:`U = |N(0,1)|`: :math:`\mathrm{erf}(a/\sqrt2) +
    a E_1(a^2/2)/\sqrt{2\pi}`."""
    x = 0.5 * a * a
    with np.errstate(divide="ignore", invalid="ignore"):
        # E_1(x) = -gamma - ln x + x + O(x^2): used where a^2 underflows (t down to 1e-300).
        series = -np.euler_gamma - (2.0 * np.log(a) - np.log(2.0)) + x
        e1 = np.where(x < 1e-8, series, special.exp1(np.maximum(x, 1e-300)))
    return special.erf(a / np.sqrt(2.0)) + a * e1 / _SQRT_2PI


def _chi2_average(a: float) -> float:
    r""":math:`E[b_1(a / \chi_2)]` with the :math:`\chi_2` density :math:`u e^{-u^2/2}`."""

    def integrand(u: float) -> float:
        return float(_half_normal_bound(np.asarray(a / u))) * u * np.exp(-0.5 * u * u)

    # b_1(a/u) changes regime near u = a; splitting there keeps quad accurate for tiny a.
    brk = min(max(a, 1e-300), 1.0)
    lo, _ = integrate.quad(integrand, 0.0, brk, limit=200, epsabs=0.0, epsrel=1e-10)
    hi, _ = integrate.quad(integrand, brk, np.inf, limit=200, epsabs=0.0, epsrel=1e-10)
    return float(lo + hi)


def det_small_ball_bound(t: Any, *, std: float = 1.0, rank: int = 1) -> Any:
    r"""Upper bound :math:`b_r(t) \ge P(|\det M| \le t)` for an (r+1) x (r+1) matrix
    :math:`M` with i.i.d. :math:`N(0, s^2)` entries.

    Expanding along the last row, :math:`\det M = M_{r+1,r+1} \det M' + c` with :math:`c` and the
    leading r-minor :math:`M'` independent of :math:`M_{r+1,r+1}`, whose density is at most
    :math:`1/(s\sqrt{2\pi})`; and :math:`|\det M'| = s^r \prod_{i=1}^r \chi_i` (Bartlett):

    .. math::

        P(|\det M| \le t) \le b_r(t) = \mathbb E\Big[\min\Big(1,
            \frac{a}{\prod_{i=1}^r \chi_i}\Big)\Big], \quad a = \frac{2t}{s^{r+1}\sqrt{2\pi}},

    in closed form for :math:`r = 1`,
    :math:`b_1 = \mathrm{erf}(a/\sqrt2) + a E_1(a^2/2)/\sqrt{2\pi}`, by one quadrature over
    :math:`\chi_2` for :math:`r = 2`. :math:`b_r(t) = O(t \ln^r(1/t)) \to 0`.

    Parameters
    ----------
    t : float or array_like
        Radius :math:`t > 0`.
    std : float
        Prior standard deviation :math:`s > 0`.
    rank : int
        :math:`r \in \{1, 2\}`.

    References
    ----------
    Claim KLF.

    Examples
    --------
    >>> round(det_small_ball_bound(0.01), 6)
    0.03749
    """
    ta = check_interval(as_float_array(t, "t"), "t", 0.0, np.inf, low_open=True)
    s = float(check_positive(std, "std"))
    r = check_int(rank, "rank", low=1, high=2)
    a = 2.0 * ta / (s ** (r + 1) * _SQRT_2PI)
    if r == 1:
        out = _half_normal_bound(a)
    else:
        out = np.array([_chi2_average(float(x)) for x in a.reshape(-1)]).reshape(a.shape)
    return scalar_or_array(np.minimum(out, 1.0), t)


def singular_kl_lower_bound(t: Any, *, std: float = 1.0, rank: int = 1) -> Any:
    r"""Data-processing lower bound on :math:`\mathrm{KL}(q_W \| N(0, s^2 I))` for rank-r
    :math:`q_W`: :math:`\mathrm{kl}(1 \| b_r(t)) = \ln(1/b_r(t))`, for every :math:`t > 0`.

    .. math:: \mathrm{KL}(q_W \| p_W) \ge \mathrm{kl}(q_W(T{=}1) \| p_W(T{=}1)) \ge -\ln b_r(t)

    References
    ----------
    Claim KLF.

    Examples
    --------
    >>> round(singular_kl_lower_bound(1e-8), 3)
    15.891
    """
    b = np.asarray(det_small_ball_bound(t, std=std, rank=rank))
    return scalar_or_array(-np.log(b), t)


def det_small_ball_mc(
    t: Any, *, std: float, rank: int, n_samples: int, rng: np.random.Generator
) -> Any:
    r"""Monte Carlo count of :math:`|\det M| \le t`, M (r+1) x (r+1) with i.i.d.
    :math:`N(0, s^2)` entries: returns the integer counts (same shape as ``t``).

    References
    ----------
    Claim KLF (twin of :func:`det_small_ball_bound`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> c = det_small_ball_mc(0.1, std=1.0, rank=1, n_samples=10_000, rng=rng)
    >>> bool(c / 10_000 <= det_small_ball_bound(0.1))
    True
    """
    ta = check_interval(as_float_array(t, "t"), "t", 0.0, np.inf, low_open=True)
    s = float(check_positive(std, "std"))
    r = check_int(rank, "rank", low=1, high=2)
    n = check_int(n_samples, "n_samples", low=1)
    dets = np.abs(np.linalg.det(s * rng.standard_normal((n, r + 1, r + 1))))
    return np.sum(dets[:, None] <= ta.reshape(-1)[None, :], axis=0).reshape(ta.shape)


def smoothed_det_over_eps(
    mu_a: Any,
    sigma_a: Any,
    mu_b: Any,
    sigma_b: Any,
    eps: float,
    *,
    n_samples: int,
    rng: np.random.Generator,
) -> FloatArray:
    r"""Samples of :math:`\det(a b^T + \varepsilon Z)/\varepsilon` for 2 x 2 matrices.

    .. math::

        \frac{\det(a b^T + \varepsilon Z)}{\varepsilon} = a_1 b_1 z_{22} + a_2 b_2 z_{11}
            - a_1 b_2 z_{21} - a_2 b_1 z_{12} + \varepsilon \det Z

    (the rank-one part cancels exactly, so no float cancellation at any :math:`\varepsilon`).
    :math:`a \sim N(\mu_a, \mathrm{diag}\,\sigma_a^2)`, :math:`b` likewise, :math:`Z` standard.

    Parameters
    ----------
    mu_a, sigma_a, mu_b, sigma_b : array_like, shape (2,)
        Factor means and standard deviations (> 0).
    eps : float
        Smoothing scale :math:`\varepsilon > 0`.
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n_samples,)

    References
    ----------
    Claim KLF.

    Examples
    --------
    >>> d = smoothed_det_over_eps([1.0, 0.5], [0.3, 0.3], [0.8, -0.6], [0.3, 0.3], 1e-12,
    ...                           n_samples=5, rng=np.random.default_rng(0))
    >>> d.shape
    (5,)
    """
    ma, sa = as_float_array(mu_a, "mu_a"), check_positive(sigma_a, "sigma_a")
    mb, sb = as_float_array(mu_b, "mu_b"), check_positive(sigma_b, "sigma_b")
    for name, arr in (("mu_a", ma), ("sigma_a", sa), ("mu_b", mb), ("sigma_b", sb)):
        if arr.shape != (2,):
            raise ValueError(f"`{name}` must have shape (2,); got {arr.shape}")
    e = float(check_interval(as_float_array(eps, "eps"), "eps", 0.0, np.inf, low_open=True))
    n = check_int(n_samples, "n_samples", low=1)
    a = ma + sa * rng.standard_normal((n, 2))
    b = mb + sb * rng.standard_normal((n, 2))
    z = rng.standard_normal((n, 2, 2))
    lin = (
        a[:, 0] * b[:, 0] * z[:, 1, 1]
        + a[:, 1] * b[:, 1] * z[:, 0, 0]
        - a[:, 0] * b[:, 1] * z[:, 1, 0]
        - a[:, 1] * b[:, 0] * z[:, 0, 1]
    )
    return lin + e * (z[:, 0, 0] * z[:, 1, 1] - z[:, 0, 1] * z[:, 1, 0])


def clopper_pearson_lower(successes: int, n: int, confidence: float) -> float:
    r"""One-sided Clopper-Pearson lower confidence bound on a binomial proportion.

    .. math:: p_- = B^{-1}(1 - c;\, k,\, n - k + 1), \quad p_- = 0 \text{ if } k = 0,

    so that :math:`P(p \ge p_-) \ge c` for :math:`k \sim \mathrm{Bin}(n, p)`.

    References
    ----------
    Claim KLF (the certified probability of the smoothed posterior).

    Examples
    --------
    >>> round(clopper_pearson_lower(90, 100, 0.95), 4)
    0.8363
    """
    nn = check_int(n, "n", low=1)
    k = check_int(successes, "successes", low=0, high=nn)
    c = float(check_open_unit(confidence, "confidence"))
    return 0.0 if k == 0 else float(stats.beta.ppf(1.0 - c, k, nn - k + 1))


def smoothed_kl_lower_bound(q_lower: float, b_upper: float) -> float:
    r"""Certified :math:`\mathrm{kl}(q \| p) \ge \mathrm{kl}(q_- \| b)` for any
    :math:`q \ge q_- \ge b \ge p` (kl increases in q and decreases in p on that side); 0 when
    :math:`q_- \le b` (no certificate).

    .. math::

        \mathrm{kl}(q_- \| b) = q_- \ln\frac{q_-}{b} + (1 - q_-) \ln\frac{1 - q_-}{1 - b}

    References
    ----------
    Claim KLF.

    Examples
    --------
    >>> round(smoothed_kl_lower_bound(1.0, 1e-3), 6)
    6.907755
    """
    q = float(check_probability(q_lower, "q_lower"))
    b = float(
        check_interval(as_float_array(b_upper, "b_upper"), "b_upper", 0.0, 1.0, low_open=True)
    )
    if q <= b:
        return 0.0
    return float(kl_bernoulli(q, b))
