r"""KL divergence between diagonal Gaussians, summed (claim D3).

The closed form is derived symbolically by integrating the two densities in
:mod:`theory.symbolic.pac_bayes`; the tests compare the two.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._numerics import x_minus_log1p
from theory._validation import FloatArray, as_float_array, broadcast_arrays, check_positive

__all__ = ["gaussian_kl", "gaussian_kl_elementwise"]


def gaussian_kl_elementwise(mu_q: Any, sigma_q: Any, mu_p: Any, sigma_p: Any) -> FloatArray:
    r"""Per-element KL divergences between two Gaussians, broadcast.

    .. math::

        \mathrm{KL} = \tfrac12\Big[\rho^2 - 1 - 2\ln\rho
                      + \Big(\frac{\mu_q - \mu_p}{\sigma_p}\Big)^2\Big],
        \qquad \rho = \sigma_q / \sigma_p,

    evaluated as :math:`\tfrac12[x - \ln(1+x) + \ldots]` with :math:`x = \rho^2 - 1 = d(2+d)`,
    :math:`d = (\sigma_q - \sigma_p)/\sigma_p`, so that it is exactly zero only when the two
    Gaussians coincide and accurate when they are close.

    Parameters
    ----------
    mu_q, sigma_q, mu_p, sigma_p : float or array_like
        Means (finite) and standard deviations (finite, > 0); they broadcast.

    Returns
    -------
    ndarray
        The broadcast array of per-element KLs in nats (0-d for scalar input).

    References
    ----------
    Claim D3 (KL of product measures is the sum of these terms).

    Examples
    --------
    >>> float(gaussian_kl_elementwise(0.0, 1.0, 1.0, 1.0))
    0.5
    """
    mq = as_float_array(mu_q, "mu_q")
    sq = check_positive(sigma_q, "sigma_q")
    mp = as_float_array(mu_p, "mu_p")
    sp = check_positive(sigma_p, "sigma_p")
    mq, sq, mp, sp = broadcast_arrays(mu_q=mq, sigma_q=sq, mu_p=mp, sigma_p=sp)
    d = (sq - sp) / sp
    x = d * (2.0 + d)
    z = (mq - mp) / sp
    # Near rho = 1, psi(x) = x - log1p(x) with x = rho^2 - 1 avoids the cancellation; far from it
    # log1p(x) would be formed from x ~ -1 and lose rho^2's digits, so take 2 ln rho from the logs.
    with np.errstate(divide="ignore"):
        far = x - 2.0 * (np.log(sq) - np.log(sp))
    scale_term = np.where(np.abs(x) < 0.5, x_minus_log1p(x), far)
    out: FloatArray = 0.5 * (scale_term + z * z)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "gaussian_kl overflowed: the scale ratio sigma_q/sigma_p or the standardised mean "
            "difference is too large for float64"
        )
    return out


def gaussian_kl(mu_q: Any, sigma_q: Any, mu_p: Any, sigma_p: Any) -> float:
    r"""Total KL divergence between two diagonal Gaussians, summed over every element.

    .. math::

        \mathrm{KL}(Q \,\|\, P) = \sum_i \ln\frac{\sigma_{p,i}}{\sigma_{q,i}}
            + \frac{\sigma_{q,i}^2 + (\mu_{q,i} - \mu_{p,i})^2}{2 \sigma_{p,i}^2} - \frac12

    Parameters
    ----------
    mu_q, sigma_q, mu_p, sigma_p : float or array_like
        Means and standard deviations (> 0); they broadcast, and the sum runs over the broadcast
        shape (a total in nats, never a mean).

    Returns
    -------
    float
        :math:`\mathrm{KL} \ge 0`, zero exactly when the two Gaussians coincide.

    References
    ----------
    Claim D3; API ``theory.pac_bayes.gaussian_kl``.

    Examples
    --------
    >>> gaussian_kl([0.0, 0.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0])
    1.0
    """
    return float(np.sum(gaussian_kl_elementwise(mu_q, sigma_q, mu_p, sigma_p)))
