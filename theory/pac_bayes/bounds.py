r"""PAC-Bayes bounds for a loss in :math:`[0, 1]` (claims D2, T3.8; ``CLAIMS.md`` section 5).

Loss bounded in :math:`[0, 1]`, ``n`` training samples, a prior fixed before seeing the data.
Every function validates its arguments (see :mod:`theory._validation`) and broadcasts like a
numpy ufunc; a scalar input gives a Python float.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import (
    FloatArray,
    as_float_array,
    broadcast_arrays,
    check_int_array,
    check_interval,
    check_open_unit,
    check_probability,
    scalar_or_array,
)
from theory.pac_bayes.kl_inverse import kl_inv_upper

__all__ = [
    "catoni_bound",
    "empirical_bernstein_bound",
    "kl_bound",
    "log_term",
    "mcallester_bound",
    "sample_convergence_bound",
]


def _kl(x: Any) -> FloatArray:
    return check_interval(as_float_array(x, "kl", allow_inf=True), "kl", 0.0, np.inf)


def log_term(n: Any, delta: Any) -> Any:
    r"""The confidence term :math:`\ln(2\sqrt{n}/\delta)` of the McAllester/Maurer bound.

    Parameters
    ----------
    n : int or integer array
        Number of training samples, :math:`n \ge 1`.
    delta : float or array_like
        Confidence parameter in :math:`(0, 1)`.

    References
    ----------
    Claim D2.

    Examples
    --------
    >>> round(log_term(100, 0.05), 6)
    5.991465
    """
    na = check_int_array(n, "n", low=1).astype(np.float64)
    da = check_open_unit(delta, "delta")
    na, da = broadcast_arrays(n=na, delta=da)
    return scalar_or_array(np.log(2.0) + 0.5 * np.log(na) - np.log(da), n, delta)


def _bound_inputs(
    emp_risk: Any, kl: Any, n: Any, delta: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validated (empirical risk, KL, ln(2 sqrt(n)/delta), n as float) of a PAC-Bayes bound."""
    e = check_probability(emp_risk, "emp_risk")
    k = _kl(kl)
    na = check_int_array(n, "n").astype(np.float64)
    broadcast_arrays(emp_risk=e, kl=k, n=na, delta=check_open_unit(delta, "delta"))
    lt = np.asarray(log_term(n, delta))
    return e, k, lt, na


def mcallester_bound(emp_risk: Any, kl: Any, n: Any, delta: Any) -> Any:
    r"""McAllester's bound in Maurer's form (claim D2), not clipped to 1.

    .. math::

        L(Q) \le \hat L(Q) + \sqrt{\frac{\mathrm{KL}(Q\|P) + \ln(2\sqrt{n}/\delta)}{2n}}

    Parameters
    ----------
    emp_risk : float or array_like
        Empirical risk in :math:`[0, 1]`.
    kl : float or array_like
        :math:`\mathrm{KL}(Q\|P) \ge 0` in nats (``inf`` gives ``inf``).
    n : int or integer array
        Sample size :math:`\ge 1`.
    delta : float or array_like
        Confidence in :math:`(0, 1)`.

    References
    ----------
    Claims D2 and T3.8.

    Examples
    --------
    >>> round(mcallester_bound(0.1, 10.0, 1000, 0.05), 6)
    0.192582
    """
    e, k, lt, na = _bound_inputs(emp_risk, kl, n, delta)
    return scalar_or_array(e + np.sqrt((k + lt) / (2.0 * na)), emp_risk, kl, n, delta)


def kl_bound(emp_risk: Any, kl: Any, n: Any, delta: Any) -> Any:
    r"""The kl-inverse (Seeger/Maurer) bound, never looser than :func:`mcallester_bound`.

    .. math::

        L(Q) \le \mathrm{kl}^{-1}_{+}\Big(\hat L(Q),\,
                 \frac{\mathrm{KL}(Q\|P) + \ln(2\sqrt{n}/\delta)}{n}\Big)

    Parameters
    ----------
    emp_risk, kl, n, delta
        As in :func:`mcallester_bound`.

    References
    ----------
    ``CLAIMS.md`` section 5 (beyond the paper); Maurer (2004).

    Examples
    --------
    >>> round(kl_bound(0.1, 10.0, 1000, 0.05), 6)
    0.164476
    """
    e, k, lt, na = _bound_inputs(emp_risk, kl, n, delta)
    return scalar_or_array(np.asarray(kl_inv_upper(e, (k + lt) / na)), emp_risk, kl, n, delta)


def catoni_bound(emp_risk: Any, kl: Any, n: Any, delta: Any, *, lambdas: Any) -> Any:
    r"""Catoni's bound, minimised over a grid of its parameter with a union bound.

    For each :math:`C` in ``lambdas`` (Catoni 2007, Thm 1.2.6), with probability
    :math:`\ge 1 - \delta/|\Lambda|`,

    .. math::

        L(Q) \le \frac{1 - \exp\!\big(-C \hat L(Q) - [\mathrm{KL}(Q\|P)
                 + \ln(|\Lambda|/\delta)]/n\big)}{1 - e^{-C}},

    and the union bound over the grid :math:`\Lambda` makes the minimum over :math:`C` valid
    with probability :math:`\ge 1 - \delta`.

    Parameters
    ----------
    emp_risk, kl, n, delta
        As in :func:`mcallester_bound`.
    lambdas : float or 1-D array_like
        The grid of Catoni's parameter :math:`C > 0` (the bound's :math:`\lambda / n`), fixed
        before seeing the data; at least one value.

    References
    ----------
    ``CLAIMS.md`` section 5 (Catoni's bound, beyond the paper).

    Examples
    --------
    >>> round(catoni_bound(0.1, 10.0, 1000, 0.05, lambdas=[0.5, 1.0, 2.0]), 6)
    0.157785
    """
    e = check_probability(emp_risk, "emp_risk")
    k = _kl(kl)
    na = check_int_array(n, "n").astype(np.float64)
    da = check_open_unit(delta, "delta")
    lam = as_float_array(lambdas, "lambdas")
    if lam.ndim > 1 or lam.size == 0:
        raise ValueError(f"`lambdas` must be a non-empty 1-D grid; got shape {lam.shape}")
    check_interval(lam, "lambdas", 0.0, np.inf, low_open=True)
    lam = lam.reshape(-1)
    e, k, na, da = broadcast_arrays(emp_risk=e, kl=k, n=na, delta=da)
    penalty = (k + np.log(lam.size) - np.log(da)) / na
    grid = lam.reshape((-1,) + (1,) * e.ndim)
    # -expm1(-x) = 1 - e^{-x} without cancellation for small C and small exponents.
    values = -np.expm1(-grid * e - penalty) / -np.expm1(-grid)
    return scalar_or_array(values.min(axis=0), emp_risk, kl, n, delta)


def sample_convergence_bound(mc_risk: Any, n_samples: Any, delta: Any) -> Any:
    r"""Upper bound on the Gibbs risk :math:`\hat L(Q)` from a Monte Carlo estimate.

    With :math:`n_s` posterior samples giving the average :math:`\hat L_{MC}`, with probability
    :math:`\ge 1 - \delta` over the samples (Langford and Caruana, 2001),

    .. math:: \hat L(Q) \le \mathrm{kl}^{-1}_{+}(\hat L_{MC}, \ln(2/\delta) / n_s).

    Parameters
    ----------
    mc_risk : float or array_like
        Monte Carlo risk in :math:`[0, 1]`.
    n_samples : int or integer array
        Number of posterior samples :math:`\ge 1`.
    delta : float or array_like
        Confidence in :math:`(0, 1)`.

    References
    ----------
    ``CLAIMS.md`` section 5 (sample-convergence bound).

    Examples
    --------
    >>> round(sample_convergence_bound(0.05, 1000, 0.01), 6)
    0.075651
    """
    r = check_probability(mc_risk, "mc_risk")
    ns = check_int_array(n_samples, "n_samples").astype(np.float64)
    da = check_open_unit(delta, "delta")
    r, ns, da = broadcast_arrays(mc_risk=r, n_samples=ns, delta=da)
    out = np.asarray(kl_inv_upper(r, np.log(2.0 / da) / ns))
    return scalar_or_array(out, mc_risk, n_samples, delta)


def empirical_bernstein_bound(mean: Any, variance: Any, n_samples: Any, delta: Any) -> Any:
    r"""Upper bound on the mean of a :math:`[0, 1]` variable from :math:`n \ge 2` i.i.d. draws,
    their average :math:`\bar X` and unbiased sample variance :math:`V` (Maurer and Pontil,
    2009, Theorem 4): with probability :math:`\ge 1 - \delta` over the draws,

    .. math:: E[X] \le \bar X + \sqrt{\frac{2 V \ln(2/\delta)}{n}}
        + \frac{7 \ln(2/\delta)}{3 (n - 1)},

    clipped to 1. For the Monte Carlo step of a certificate, :math:`X` is one posterior
    network's empirical risk on the certified examples: when the networks agree (small
    :math:`V`) this is much tighter than :func:`sample_convergence_bound`, whose width does not
    see the variance.

    Parameters
    ----------
    mean : float or array_like
        :math:`\bar X` in :math:`[0, 1]`.
    variance : float or array_like
        :math:`V = \frac{1}{n-1}\sum_j (X_j - \bar X)^2` in :math:`[0, 1/4 \cdot n/(n-1)]`
        (at most that for values in :math:`[0, 1]`).
    n_samples : int or integer array
        :math:`n \ge 2`.
    delta : float or array_like
        Confidence in :math:`(0, 1)`.

    References
    ----------
    A. Maurer, M. Pontil, "Empirical Bernstein bounds and sample variance penalization",
    COLT 2009, Theorem 4. ``CLAIMS.md`` section 5 (the Monte Carlo step of a certificate).

    Examples
    --------
    >>> round(empirical_bernstein_bound(0.39, 1e-4, 2000, 0.01), 6)
    0.396912
    >>> round(sample_convergence_bound(0.39, 2000, 0.01), 6)  # blind to the variance
    0.425845
    """
    m = check_probability(mean, "mean")
    ns = check_int_array(n_samples, "n_samples")
    if np.any(ns < 2):
        raise ValueError(f"`n_samples` must be >= 2 (a sample variance); got {n_samples!r}")
    v = check_interval(as_float_array(variance, "variance"), "variance", 0.0, np.inf)
    nf = ns.astype(np.float64)
    if np.any(v > 0.25 * nf / (nf - 1.0) + 1e-12):
        raise ValueError(
            f"`variance` must be at most n/(4(n-1)) for values in [0, 1]; got {variance!r}"
        )
    da = check_open_unit(delta, "delta")
    m, v, nf, da = broadcast_arrays(mean=m, variance=v, n_samples=nf, delta=da)
    log = np.log(2.0 / da)
    out = m + np.sqrt(2.0 * v * log / nf) + 7.0 * log / (3.0 * (nf - 1.0))
    return scalar_or_array(np.minimum(out, 1.0), mean, variance, n_samples, delta)
