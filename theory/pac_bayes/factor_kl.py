r"""Factor-space KL of a low-rank posterior against the paper's priors (claims D3, KLF).

The posterior of ``W = A B^T`` is a product of independent Gaussians on the entries of ``A``
(m x r) and ``B`` (n x r); the KL is taken in factor space (claim KLF) and, for a product prior,
it is the sum of per-entry KLs (claim D3). Two priors:

- isotropic Gaussian :math:`N(\mu_0, s_p^2)` on every entry: closed form;
- the paper's scale mixture :math:`\pi N(0, s_1^2) + (1 - \pi) N(0, s_2^2)`: no closed form, so a
  Monte Carlo estimate with its standard error, and a closed-form upper bound for certificates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_open_unit,
    check_positive,
    check_rng,
)
from theory.pac_bayes.gaussian_kl import gaussian_kl, gaussian_kl_elementwise

__all__ = [
    "gaussian_entropy",
    "lowrank_factor_kl",
    "scale_mixture_kl_mc",
    "scale_mixture_kl_upper",
    "scale_mixture_logpdf",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


def _factor(mu: Any, sigma: Any, name: str) -> tuple[FloatArray, FloatArray]:
    m = as_float_array(mu, f"mu_{name}")
    s = check_positive(sigma, f"sigma_{name}")
    if m.shape != s.shape:
        raise ValueError(
            f"`mu_{name}` and `sigma_{name}` must have the same shape; got {m.shape} and {s.shape}"
        )
    return m, s


def lowrank_factor_kl(
    mu_a: Any,
    sigma_a: Any,
    mu_b: Any,
    sigma_b: Any,
    *,
    prior_std: float,
    prior_mean_a: Any = 0.0,
    prior_mean_b: Any = 0.0,
) -> float:
    r"""KL of the factor posterior :math:`q(A)q(B)` to an isotropic Gaussian prior, summed.

    .. math::

        \mathrm{KL}(q \,\|\, p) = \sum_{ik} \mathrm{KL}(N(\mu^A_{ik}, \sigma^{A\,2}_{ik})
            \,\|\, N(\mu^{A,0}_{ik}, s_p^2))
          + \sum_{jk} \mathrm{KL}(N(\mu^B_{jk}, \sigma^{B\,2}_{jk}) \,\|\, N(\mu^{B,0}_{jk}, s_p^2))

    Parameters
    ----------
    mu_a, sigma_a : array_like, shape (m, r)
        Means and standard deviations (> 0) of ``A``.
    mu_b, sigma_b : array_like, shape (n, r)
        Means and standard deviations (> 0) of ``B``.
    prior_std : float
        Prior standard deviation :math:`s_p > 0` (a std, never a variance).
    prior_mean_a, prior_mean_b : float or array_like, optional
        Prior means (zero, or the random initialisation: a data-free prior either way).

    Returns
    -------
    float
        The total KL in nats over all ``r (m + n)`` stochastic scalars.

    References
    ----------
    Claims D3 and KLF.

    Examples
    --------
    >>> lowrank_factor_kl([[0.0]], [[1.0]], [[0.0]], [[1.0]], prior_std=1.0)
    0.0
    """
    ma, sa = _factor(mu_a, sigma_a, "a")
    mb, sb = _factor(mu_b, sigma_b, "b")
    if ma.ndim != 2 or mb.ndim != 2 or ma.shape[1] != mb.shape[1]:
        raise ValueError(
            f"`mu_a` (m x r) and `mu_b` (n x r) must be 2-D with the same rank; "
            f"got shapes {ma.shape} and {mb.shape}"
        )
    sp = float(check_positive(prior_std, "prior_std"))
    return gaussian_kl(ma, sa, prior_mean_a, sp) + gaussian_kl(mb, sb, prior_mean_b, sp)


def _mixture(pi: Any, std1: Any, std2: Any) -> tuple[float, float, float]:
    p = float(check_open_unit(pi, "pi"))
    s1 = float(check_positive(std1, "std1"))
    s2 = float(check_positive(std2, "std2"))
    return p, s1, s2


def scale_mixture_logpdf(x: Any, *, pi: float, std1: float, std2: float) -> FloatArray:
    r"""Log density of the scale-mixture prior, evaluated with log-sum-exp.

    .. math:: \ln\big(\pi N(x; 0, s_1^2) + (1 - \pi) N(x; 0, s_2^2)\big)

    Parameters
    ----------
    x : array_like
        Points (finite).
    pi : float
        Mixture weight in :math:`(0, 1)`.
    std1, std2 : float
        Standard deviations of the two components (> 0).

    References
    ----------
    ``CLAIMS.md`` section 0 (the paper's prior: pi = 0.5, s1 = 1, s2 = e^-6).

    Examples
    --------
    >>> round(float(scale_mixture_logpdf(0.0, pi=0.5, std1=1.0, std2=1.0)), 6)
    -0.918939
    """
    xa = as_float_array(x, "x")
    p, s1, s2 = _mixture(pi, std1, std2)
    l1 = np.log(p) - np.log(s1) - 0.5 * _LOG_2PI - 0.5 * (xa / s1) ** 2
    l2 = np.log1p(-p) - np.log(s2) - 0.5 * _LOG_2PI - 0.5 * (xa / s2) ** 2
    return np.logaddexp(l1, l2)


def gaussian_entropy(sigma: Any) -> FloatArray:
    r"""Differential entropy :math:`\tfrac12 \ln(2\pi e \sigma^2)` of each Gaussian, elementwise."""
    s = check_positive(sigma, "sigma")
    return 0.5 * (_LOG_2PI + 1.0) + np.log(s)


def scale_mixture_kl_mc(
    mu: Any,
    sigma: Any,
    *,
    pi: float,
    std1: float,
    std2: float,
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    r"""Monte Carlo estimate of :math:`\mathrm{KL}(q \| p_{mix})`, summed, with its standard error.

    Per coordinate, :math:`\mathrm{KL}(q_i \| p) = -H(q_i) - E_{q_i}[\ln p(\theta)]`; the entropy
    is exact and only the cross-entropy is sampled, with ``n_samples`` independent draws per
    coordinate. The standard error of the sum is
    :math:`\sqrt{\sum_i \widehat{\mathrm{Var}}_i / S}` (coordinates are sampled independently).

    Parameters
    ----------
    mu, sigma : array_like
        Posterior means and standard deviations (> 0), any common shape (e.g. all entries of A
        and B concatenated).
    pi, std1, std2 : float
        The scale-mixture prior.
    n_samples : int
        Draws per coordinate, :math:`\ge 2`.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    (float, float)
        The estimate and its standard error, in nats.

    References
    ----------
    ``CLAIMS.md`` section 0 (the ELBO's Monte Carlo KL) and claim D3.

    Examples
    --------
    >>> est, se = scale_mixture_kl_mc([0.0], [1.0], pi=0.5, std1=1.0, std2=1.0,
    ...                               n_samples=1000, rng=np.random.default_rng(0))
    >>> abs(est) < 5 * se + 1e-12
    True
    """
    m = as_float_array(mu, "mu").reshape(-1)
    s = check_positive(sigma, "sigma").reshape(-1)
    if m.shape != s.shape:
        raise ValueError(f"`mu` and `sigma` must have the same size; got {m.size} and {s.size}")
    ns = check_int(n_samples, "n_samples", low=2)
    check_rng(rng)
    p, s1, s2 = _mixture(pi, std1, std2)
    # Batched over coordinates in blocks so that memory stays O(block * n_samples).
    block = max(1, 2_000_000 // ns)
    total, var_total = 0.0, 0.0
    for start in range(0, m.size, block):
        mb, sb = m[start : start + block], s[start : start + block]
        theta = mb[:, None] + sb[:, None] * rng.standard_normal((mb.size, ns))
        cross = -scale_mixture_logpdf(theta, pi=p, std1=s1, std2=s2)
        total += float(np.sum(cross.mean(axis=1) - gaussian_entropy(sb)))
        var_total += float(np.sum(cross.var(axis=1, ddof=1)))
    return total, float(np.sqrt(var_total / ns))


def scale_mixture_kl_upper(mu: Any, sigma: Any, *, pi: float, std1: float, std2: float) -> float:
    r"""Closed-form upper bound on :math:`\mathrm{KL}(q \| p_{mix})`, summed over coordinates.

    Since :math:`p_{mix} \ge \pi_k N(0, s_k^2)` pointwise for each component ``k``,
    :math:`\mathrm{KL}(q_i \| p_{mix}) \le \mathrm{KL}(q_i \| N(0, s_k^2)) + \ln(1/\pi_k)`;
    the bound takes the better component for each coordinate separately (valid coordinate-wise).

    .. math::

        \mathrm{KL}(q \,\|\, p_{mix}) \le \sum_i \min_k \big[\mathrm{KL}(q_i \,\|\, N(0, s_k^2))
            + \ln(1/\pi_k)\big], \qquad \pi_1 = \pi,\ \pi_2 = 1 - \pi

    Parameters
    ----------
    mu, sigma : array_like
        Posterior means and standard deviations (> 0), same shape.
    pi, std1, std2 : float
        The scale-mixture prior.

    References
    ----------
    ``CLAIMS.md`` section 0 and section 5 (a declared upper bound, valid in certificates).

    Examples
    --------
    >>> round(scale_mixture_kl_upper([0.0], [1.0], pi=0.5, std1=1.0, std2=1.0), 6)
    0.693147
    """
    m = as_float_array(mu, "mu")
    s = check_positive(sigma, "sigma")
    if m.shape != s.shape:
        raise ValueError(f"`mu` and `sigma` must have the same shape; got {m.shape} and {s.shape}")
    p, s1, s2 = _mixture(pi, std1, std2)
    k1 = gaussian_kl_elementwise(m, s, 0.0, s1) - np.log(p)
    k2 = gaussian_kl_elementwise(m, s, 0.0, s2) - np.log1p(-p)
    return float(np.sum(np.minimum(k1, k2)))
