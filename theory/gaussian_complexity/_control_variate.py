r"""Control variates for the Monte Carlo estimators of :mod:`theory.gaussian_complexity.estimators`.

The estimators average a supremum :math:`S(\gamma)` over Gaussian draws. A control variate is a
vector of features :math:`Y(\gamma)` whose expectation :math:`\mu_Y` is known exactly; the
estimate becomes the mean of :math:`S - \beta^\top (Y - \mu_Y)`, which has the same expectation
for every fixed :math:`\beta` and a variance smaller by the factor :math:`1 - R^2` of the
regression of :math:`S` on :math:`Y` at the best :math:`\beta`.

Here :math:`\beta` (and the hinge level below) is fitted on a *pilot* batch of independent draws
that the estimate does not use, so the estimate stays exactly unbiased and its standard error is
the plain standard error of the adjusted values. (Fitting on the same draws would add an
:math:`O(1/n)` bias.)

Features with exact means:

* for a finite class, writing :math:`X_f = \langle\gamma, f\rangle \sim N(0, \sigma_f^2)`, the
  hinge sum :math:`\sum_f (X_f - t)_+` at a level :math:`t` near the supremum: since
  :math:`E(\sigma Z - t)_+ = \sigma\varphi(t/\sigma) - t\,\bar\Phi(t/\sigma)` for
  :math:`\sigma > 0` (and :math:`(-t)_+` for :math:`\sigma = 0`), its mean is exact. It counts,
  with weights, the functions that come close to the maximum, and explains 70-85 % of the
  supremum's variance on random classes (``benchmarks/bench_gaussian_complexity.py``; adding
  :math:`\|\gamma\|^2` or a squared hinge gained under 2 points, not worth their passes);
* for the low-rank linear class, :math:`\|\Gamma^\top X\|_F^2` with mean :math:`k \|X\|_F^2`
  (84-94 % of the variance of the Ky Fan norm).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from theory._validation import FloatArray

#: Pilot draws: a twentieth of the draws, at least PILOT_MIN and at most PILOT_MAX.
PILOT_MIN = 100
PILOT_MAX = 1_000


def pilot_size(draws: int) -> int:
    """Number of pilot draws spent on fitting the coefficients for an estimate from ``draws``."""
    return int(min(max(PILOT_MIN, draws // 20), PILOT_MAX))


def hinge_level(pilot_sups: FloatArray) -> float:
    """The hinge level t: half a standard deviation below the supremum's pilot mean (where the
    hinge sum correlates best with the supremum on the classes we measured)."""
    return float(pilot_sups.mean() - 0.5 * pilot_sups.std())


def hinge_sum(values: FloatArray, level: float) -> FloatArray:
    r"""Row sums of :math:`(X - t)_+`, as those of :math:`\max(X, t)` less :math:`t` per column
    (two passes instead of three); overwrites ``values``."""
    np.maximum(values, level, out=values)
    return np.asarray(values.sum(axis=1) - level * values.shape[1])


def hinge_mean(sigma: FloatArray, level: float) -> float:
    r""":math:`E\sum_f (\sigma_f Z - t)_+` for a standard normal :math:`Z`.

    >>> round(hinge_mean(np.array([1.0, 0.0]), 0.0), 12)  # E Z_+ = 1 / sqrt(2 pi)
    0.398942280401
    """
    pos = sigma > 0
    s = sigma[pos]
    with np.errstate(over="ignore"):  # u = +-inf for tiny sigma: the limits are right there
        u = level / s
        terms = s * np.exp(-0.5 * u * u) / np.sqrt(2 * np.pi) - level * ndtr(-u)
    total = float(np.sum(terms))
    return total + float(np.count_nonzero(~pos)) * max(-level, 0.0)


def fit_coefficients(pilot_sups: FloatArray, pilot_features: FloatArray) -> FloatArray:
    """Least-squares coefficients of the supremum on the centred features (a feature that does
    not vary gets coefficient 0: ``lstsq`` returns the minimum-norm solution)."""
    centred = pilot_features - pilot_features.mean(axis=0)
    beta, *_ = np.linalg.lstsq(centred, pilot_sups - pilot_sups.mean(), rcond=None)
    return np.asarray(beta)


def adjust(
    sups: FloatArray, features: FloatArray, means: FloatArray, beta: FloatArray
) -> FloatArray:
    r""":math:`S - \beta^\top (Y - \mu_Y)`, draw by draw."""
    return np.asarray(sups - (features - means) @ beta)
