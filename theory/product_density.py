r"""Density of a product of two Gaussians, and the data-processing check of claim KLF.

For :math:`m = n = r = 1` the induced posterior of :math:`W = ab` has a density, computed by
quadrature in log-space (:func:`product_log_density`, with the closed form
:math:`K_0(|w|/s)/(\pi s)` for centred factors as its twin), so both sides of
:math:`\mathrm{KL}(q_W \| T_\#P) \le \mathrm{KL}(Q \| P)` are computable
(:func:`product_kl`, Monte Carlo twin :func:`product_kl_mc`).

References: claim KLF of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_positive,
    scalar_or_array,
)

__all__ = [
    "centred_product_log_density",
    "product_kl",
    "product_kl_mc",
    "product_log_density",
]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
#: Truncation of a Gaussian factor at |mean| + 12 std: the neglected mass is below 4e-33.
_TAIL_STDS = 12.0
#: The product density is integrated over |w| >= e^-50 times its scale: the neglected mass near
#: the (integrable, logarithmic) singularity at 0 is O(50 e^-50) ~ 1e-20.
_LOG_WINDOW = 50.0
#: Length of u-window (in units of ln) covered by ``n_nodes`` quadrature nodes; wider windows
#: (|w| tiny) get proportionally more nodes.
_WINDOW = 64.0


def _log_normal(x: FloatArray, mu: float, sigma: float) -> FloatArray:
    return -0.5 * ((x - mu) / sigma) ** 2 - np.log(sigma * _SQRT_2PI)


def _check_factor(mu: Any, sigma: Any, name: str) -> tuple[float, float]:
    m = as_float_array(mu, f"mu_{name}")
    s = check_positive(sigma, f"sigma_{name}")
    for label, arr in ((f"mu_{name}", m), (f"sigma_{name}", s)):
        if arr.ndim != 0:
            raise ValueError(f"`{label}` must be a scalar; got an array of shape {arr.shape}")
    return float(m), float(s)


def _trapezoid_log_weights(lo: FloatArray, hi: FloatArray, n: int) -> tuple[FloatArray, ...]:
    frac = np.linspace(0.0, 1.0, n)
    nodes = lo[..., None] + (hi - lo)[..., None] * frac
    h = (hi - lo) / (n - 1)
    logw = np.broadcast_to(np.log(h)[..., None], nodes.shape).copy()
    logw[..., [0, -1]] -= np.log(2.0)
    return nodes, logw


def _log_density(w: FloatArray, ma: float, sa: float, mb: float, sb: float, n: int) -> FloatArray:
    # f(w) = sum over the sign of a of int f_a(+-e^u) f_b(+-w e^-u) du (x = +-e^u removes the
    # 1/|x| of the change of variables); the integrand decays double-exponentially at both ends
    # of the u-window, so the trapezoid rule converges geometrically.
    u_hi = np.log(abs(ma) + _TAIL_STDS * sa)
    u_lo = np.log(np.abs(w)) - np.log(abs(mb) + _TAIL_STDS * sb)
    lo = np.minimum(u_lo, u_hi) - 1.0
    hi = np.maximum(u_lo, u_hi) + 1.0
    # ``n`` nodes per _WINDOW units of u: the window grows like ln(1/|w|) as w -> 0 and the
    # node spacing, not the node count, sets the trapezoid error.
    n = max(n, int(np.ceil(n * float(np.max(hi - lo)) / _WINDOW)))
    nodes, logw = _trapezoid_log_weights(lo, np.broadcast_to(hi, lo.shape), n)
    x = np.exp(nodes)
    y = w[:, None] / x
    terms = np.concatenate(
        [
            _log_normal(x, ma, sa) + _log_normal(y, mb, sb) + logw,
            _log_normal(-x, ma, sa) + _log_normal(-y, mb, sb) + logw,
        ],
        axis=1,
    )
    return np.asarray(special.logsumexp(terms, axis=1))


def product_log_density(
    w: Any, mu_a: float, sigma_a: float, mu_b: float, sigma_b: float, *, n_nodes: int = 512
) -> Any:
    r"""Log density of :math:`W = ab`, :math:`a \sim N(\mu_a, \sigma_a^2)` independent of
    :math:`b \sim N(\mu_b, \sigma_b^2)`, by quadrature.

    .. math::

        f_W(w) = \int_{\mathbb R} f_a(x) f_b(w/x) \frac{dx}{|x|}
               = \sum_{\pm} \int_{\mathbb R} f_a(\pm e^u) f_b(\pm w e^{-u})\, du

    (trapezoid rule in :math:`u`, log-sum-exp). :math:`f_W` has a logarithmic singularity at 0,
    so ``w`` must be non-zero.

    Parameters
    ----------
    w : float or array_like
        Points :math:`w \ne 0`.
    mu_a, sigma_a, mu_b, sigma_b : float
        Means and standard deviations (> 0).
    n_nodes : int
        Quadrature nodes per sign per 64 units of :math:`u` (>= 16).

    References
    ----------
    Claim KLF (the push-forward density for m = n = r = 1).

    Examples
    --------
    >>> round(float(np.exp(product_log_density(0.5, 0.0, 1.0, 0.0, 1.0))), 8)
    0.29425173
    """
    wa = as_float_array(w, "w")
    if (wa == 0.0).any():
        raise ValueError("`w` must be non-zero (the product density is infinite at 0); got 0.0")
    ma, sa = _check_factor(mu_a, sigma_a, "a")
    mb, sb = _check_factor(mu_b, sigma_b, "b")
    n = check_int(n_nodes, "n_nodes", low=16)
    flat = wa.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, 2048):
        out[start : start + 2048] = _log_density(flat[start : start + 2048], ma, sa, mb, sb, n)
    return scalar_or_array(out.reshape(wa.shape), w)


def centred_product_log_density(w: Any, std_a: float, std_b: float) -> Any:
    r"""Closed form for centred factors: :math:`f_W(w) = K_0(|w|/(s_a s_b)) / (\pi s_a s_b)`.

    References
    ----------
    Claim KLF (the push-forward prior :math:`T_\# P` for m = n = r = 1).

    Examples
    --------
    >>> round(float(np.exp(centred_product_log_density(0.5, 1.0, 1.0))), 8)
    0.29425173
    """
    wa = as_float_array(w, "w")
    if (wa == 0.0).any():
        raise ValueError("`w` must be non-zero (the product density is infinite at 0); got 0.0")
    s = float(check_positive(std_a, "std_a")) * float(check_positive(std_b, "std_b"))
    x = np.abs(wa) / s
    # K0 through the scaled k0e, so that the log stays finite far in the tail.
    return scalar_or_array(np.log(special.k0e(x)) - x - np.log(np.pi * s), w)


def _product_kl_once(ma: float, sa: float, mb: float, sb: float, sp_: float, n: int) -> float:
    v_hi = np.log((abs(ma) + _TAIL_STDS * sa) * (abs(mb) + _TAIL_STDS * sb)) + 1.0
    nodes, logw = _trapezoid_log_weights(np.array(v_hi - _LOG_WINDOW), np.array(v_hi), n)
    total = 0.0
    for sign in (1.0, -1.0):
        w = sign * np.exp(nodes)
        log_q = _log_density(w, ma, sa, mb, sb, n)
        log_p = np.asarray(centred_product_log_density(w, sp_, sp_))
        # dw = e^v dv; f_Q underflowing to 0 contributes 0 (0 ln 0 = 0) and is left out.
        weight = np.exp(log_q + nodes + logw)
        total += float(np.sum(np.where(weight > 0.0, weight * (log_q - log_p), 0.0)))
    return total


def product_kl(
    mu_a: float,
    sigma_a: float,
    mu_b: float,
    sigma_b: float,
    *,
    prior_std: float,
    n_nodes: int = 512,
) -> tuple[float, float]:
    r"""Weight-space :math:`\mathrm{KL}(q_W \| T_\# P)` for :math:`W = ab` by quadrature.

    .. math::

        \mathrm{KL}(q_W \| T_\# P) = \int f_Q(w) \ln\frac{f_Q(w)}{f_P(w)}\, dw, \qquad
        f_P(w) = \frac{K_0(|w|/s^2)}{\pi s^2}

    with :math:`Q = N(\mu_a, \sigma_a^2) \otimes N(\mu_b, \sigma_b^2)` and
    :math:`P = N(0, s^2)^{\otimes 2}`. Outer integral: trapezoid rule in :math:`\ln|w|`, both signs.

    Returns
    -------
    (value, error) : tuple of float
        The value with ``n_nodes`` nodes and its difference from the value with half as many (an
        estimate of the error of the coarser rule, so a generous one for the finer).

    References
    ----------
    Claim KLF (the left side of the data-processing inequality).

    Examples
    --------
    >>> value, err = product_kl(0.0, 1.0, 0.0, 1.0, prior_std=1.0)
    >>> abs(value) < 1e-9
    True
    """
    ma, sa = _check_factor(mu_a, sigma_a, "a")
    mb, sb = _check_factor(mu_b, sigma_b, "b")
    sp_ = float(check_positive(prior_std, "prior_std"))
    n = check_int(n_nodes, "n_nodes", low=32)
    fine = _product_kl_once(ma, sa, mb, sb, sp_, n)
    coarse = _product_kl_once(ma, sa, mb, sb, sp_, n // 2)
    return fine, abs(fine - coarse)


def product_kl_mc(
    mu_a: float,
    sigma_a: float,
    mu_b: float,
    sigma_b: float,
    *,
    prior_std: float,
    n_samples: int,
    rng: np.random.Generator,
    n_nodes: int = 512,
) -> tuple[float, float]:
    r"""Monte Carlo twin of :func:`product_kl`: the average of :math:`\ln f_Q(W) - \ln f_P(W)`
    over :math:`W = ab`, :math:`(a, b) \sim Q`, with its standard error.

    .. math:: \widehat{\mathrm{KL}} = \frac1n \sum_{i=1}^n \ln\frac{f_Q(a_i b_i)}{f_P(a_i b_i)}

    References
    ----------
    Claim KLF.

    Examples
    --------
    >>> est, se = product_kl_mc(1.0, 0.5, 1.5, 0.7, prior_std=1.0, n_samples=2000,
    ...                         rng=np.random.default_rng(0))
    >>> bool(abs(est - product_kl(1.0, 0.5, 1.5, 0.7, prior_std=1.0)[0]) < 5 * se)
    True
    """
    ma, sa = _check_factor(mu_a, sigma_a, "a")
    mb, sb = _check_factor(mu_b, sigma_b, "b")
    sp_ = float(check_positive(prior_std, "prior_std"))
    n = check_int(n_samples, "n_samples", low=2)
    w = (ma + sa * rng.standard_normal(n)) * (mb + sb * rng.standard_normal(n))
    log_ratio = np.asarray(product_log_density(w, ma, sa, mb, sb, n_nodes=n_nodes)) - np.asarray(
        centred_product_log_density(w, sp_, sp_)
    )
    return float(log_ratio.mean()), float(log_ratio.std(ddof=1) / np.sqrt(n))
