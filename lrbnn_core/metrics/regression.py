r"""Metrics for the Monte Carlo predictions of Bayesian regressors (the paper's PM2.5 table).

Every function takes the outputs of :math:`S` posterior samples, shape ``(S, N, D)`` (the
layout of :func:`lrbnn_core.training.predict` with ``task="regression"``; a deep ensemble's
members are its samples), or a single prediction ``(N, D)`` (:math:`S = 1`), and targets
``(N, D)``. The model's likelihood is Gaussian with the fixed observation noise :math:`\nu`
(``TrainConfig.noise_std``), so the predictive distribution of entry :math:`(n, d)` is the
mixture :math:`\frac1S \sum_s N(f_{s,n,d}, \nu^2)`, with

.. math::

    \hat y_{n,d} = \frac1S \sum_s f_{s,n,d}, \qquad
    \hat\sigma^2_{n,d} = \nu^2 + \frac1S \sum_s (f_{s,n,d} - \hat y_{n,d})^2

(law of total variance; the spread is the population variance of the :math:`S` draws).
Conventions:

- **MAE**: :math:`\frac{1}{ND} \sum |y - \hat y|`.
- **NLL**: of the mixture itself (default; the exact predictive density of the draws, as the
  classification NLL is that of the averaged probabilities), or of the moment-matched Gaussian
  :math:`N(\hat y, \hat\sigma^2)` (``form="gaussian"``); nats per entry. The paper states neither.
- **PICP**: the fraction of targets inside :math:`\hat y \pm z_{0.975}\, \hat\sigma` (the paper's
  intervals). With ``noise_std=0`` :math:`\hat\sigma` is the spread of the draws alone, the
  reading under which the paper's deep-ensemble PICP (.31) makes sense; the paper does not say.
- **ECE** (regression): the mean over a grid of levels :math:`p` of
  :math:`|\mathrm{cov}(p) - p|`, where :math:`\mathrm{cov}(p)` is the fraction of targets inside
  the central :math:`p` interval :math:`\hat y \pm \Phi^{-1}(\tfrac{1+p}{2})\,\hat\sigma` of the
  Gaussian predictive (Kuleshov et al., 2018, with central intervals instead of one-sided
  quantiles); the default grid is :math:`p = 0.05, 0.10, \dots, 0.95`.
- **Predictive std** (the OOD score of the paper's LSTM): per example
  :math:`\big(\frac1D \sum_d \hat\sigma^2_{n,d}\big)^{1/2}`; with a constant :math:`\nu` it ranks
  examples as the spread of the draws does.

Bad input raises ``ValueError`` or ``TypeError`` naming the argument; nothing returns NaN.

References: ``CLAIMS.md`` X3, X4; the paper's Table 2 (Beijing PM2.5).
"""

from __future__ import annotations

import math
from enum import Enum
from statistics import NormalDist
from typing import Any

import torch
from torch import Tensor

from lrbnn_core._validation import check_real, parse_enum
from lrbnn_core.metrics.validation import ArrayLike, _as_tensor, _require_finite

__all__ = [
    "DEFAULT_LEVELS",
    "NLLForm",
    "picp",
    "predictive_moments",
    "predictive_std",
    "regression_ece",
    "regression_mae",
    "regression_nll",
]

#: the central-interval levels of :func:`regression_ece`: 0.05, 0.10, ..., 0.95
DEFAULT_LEVELS = tuple(k / 20 for k in range(1, 20))

_LOG_2PI = math.log(2.0 * math.pi)


class NLLForm(str, Enum):
    """Which predictive density :func:`regression_nll` scores."""

    #: the mixture :math:`\frac1S \sum_s N(f_s, \nu^2)` of the draws (exact for the draws)
    MIXTURE = "mixture"
    #: the moment-matched Gaussian :math:`N(\hat y, \hat\sigma^2)`
    GAUSSIAN = "gaussian"


def _check_outputs(x: Any, name: str) -> Tensor:
    """``x`` as float64 ``(S, N, D)`` finite outputs (a ``(N, D)`` input gets ``S = 1``)."""
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array; got {t.dtype}")
    if t.dim() not in (2, 3) or 0 in t.shape:
        raise ValueError(
            f"`{name}` must have shape (S, N, D) or (N, D) with S, N, D >= 1; got {tuple(t.shape)}"
        )
    f = t.to(torch.float64)
    _require_finite(f, name)
    return f if f.dim() == 3 else f.unsqueeze(0)


def _check_targets(x: Any, outputs: Tensor, name: str = "targets") -> Tensor:
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array; got {t.dtype}")
    shape = tuple(outputs.shape[1:])
    if tuple(t.shape) != shape:
        raise ValueError(f"`{name}` must have shape (N, D) = {shape}; got {tuple(t.shape)}")
    y = t.to(torch.float64)
    _require_finite(y, name)
    return y


def _check_noise(value: Any, *, positive: bool) -> float:
    v = check_real(value, "noise_std")
    if not (math.isfinite(v) and (v > 0.0 if positive else v >= 0.0)):
        raise ValueError(
            f"`noise_std` must be a finite number {'>' if positive else '>='} 0; got {value!r}"
        )
    return v


def _moments(f: Tensor, noise_std: float) -> tuple[Tensor, Tensor]:
    mean = f.mean(0)
    var = noise_std**2 + (f - mean).square().mean(0)
    return mean, var


def predictive_moments(samples: ArrayLike, *, noise_std: float) -> tuple[Tensor, Tensor]:
    r"""The predictive mean :math:`\hat y` and std :math:`\hat\sigma`, each ``(N, D)`` float64.

    Parameters
    ----------
    samples : torch.Tensor or ndarray, shape (S, N, D) or (N, D)
        Outputs of S posterior draws.
    noise_std : float
        :math:`\nu \ge 0`, the likelihood's observation noise (0: the spread of the draws only).

    Examples
    --------
    >>> m, s = predictive_moments(torch.tensor([[[0.0]], [[2.0]]]), noise_std=0.0)
    >>> m.item(), s.item()
    (1.0, 1.0)
    """
    f = _check_outputs(samples, "samples")
    mean, var = _moments(f, _check_noise(noise_std, positive=False))
    return mean, var.sqrt()


def predictive_std(samples: ArrayLike, *, noise_std: float = 0.0) -> Tensor:
    r"""Per-example predictive std :math:`(\frac1D \sum_d \hat\sigma^2_{n,d})^{1/2}`, ``(N,)``
    float64: the regression OOD score (pass it to :func:`~lrbnn_core.metrics.ood_auroc`).

    Examples
    --------
    >>> predictive_std(torch.tensor([[[0.0], [1.0]], [[2.0], [1.0]]])).tolist()
    [1.0, 0.0]
    """
    f = _check_outputs(samples, "samples")
    _, var = _moments(f, _check_noise(noise_std, positive=False))
    return var.mean(-1).sqrt()


def regression_mae(samples: ArrayLike, targets: ArrayLike) -> float:
    r"""Mean absolute error of the predictive mean, :math:`\frac{1}{ND}\sum|y - \hat y|`.

    Examples
    --------
    >>> regression_mae(torch.tensor([[[0.0]], [[2.0]]]), torch.tensor([[3.0]]))
    2.0
    """
    f = _check_outputs(samples, "samples")
    y = _check_targets(targets, f)
    return float((y - f.mean(0)).abs().mean())


def regression_nll(
    samples: ArrayLike,
    targets: ArrayLike,
    *,
    noise_std: float,
    form: NLLForm | str = NLLForm.MIXTURE,
) -> float:
    r"""Negative log predictive density of the targets, nats per entry (module notes).

    .. math::

        \mathrm{NLL}_{\text{mixture}} = -\frac{1}{ND} \sum_{n,d}
          \ln \frac1S \sum_s N(y_{n,d};\, f_{s,n,d}, \nu^2), \qquad
        \mathrm{NLL}_{\text{gaussian}} = -\frac{1}{ND} \sum_{n,d}
          \ln N(y_{n,d};\, \hat y_{n,d}, \hat\sigma^2_{n,d})

    Parameters
    ----------
    samples : torch.Tensor or ndarray, shape (S, N, D) or (N, D)
    targets : torch.Tensor or ndarray, shape (N, D)
    noise_std : float
        :math:`\nu > 0` (a density needs it).
    form : {"mixture", "gaussian"}

    Examples
    --------
    >>> round(regression_nll(torch.zeros(1, 1), torch.zeros(1, 1), noise_std=1.0), 6)
    0.918939
    """
    f = _check_outputs(samples, "samples")
    y = _check_targets(targets, f)
    nu = _check_noise(noise_std, positive=True)
    if parse_enum(NLLForm, form, "form") is NLLForm.MIXTURE:
        log_n = -0.5 * ((y - f) / nu).square() - math.log(nu) - 0.5 * _LOG_2PI
        ll = torch.logsumexp(log_n, 0) - math.log(f.shape[0])
        return float(-ll.mean())
    mean, var = _moments(f, nu)
    return float((0.5 * (y - mean).square() / var + 0.5 * torch.log(var) + 0.5 * _LOG_2PI).mean())


def _coverage(f: Tensor, y: Tensor, noise_std: float, z: Tensor) -> Tensor:
    """Fraction of entries with :math:`|y - \\hat y| \\le z \\hat\\sigma`, for each ``z``
    (written without a division: a zero std covers only an exact hit)."""
    mean, var = _moments(f, noise_std)
    err = (y - mean).abs().reshape(-1)
    std = var.sqrt().reshape(-1)
    return (err.unsqueeze(0) <= z.unsqueeze(1) * std.unsqueeze(0)).to(torch.float64).mean(1)


def _check_level(value: Any, name: str) -> float:
    v = check_real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`{name}` must be in (0, 1); got {value!r}")
    return v


def picp(samples: ArrayLike, targets: ArrayLike, *, noise_std: float, level: float = 0.95) -> float:
    r"""Prediction-interval coverage probability of :math:`\hat y \pm z\, \hat\sigma`,
    :math:`z = \Phi^{-1}(\tfrac{1 + \text{level}}{2})` (:math:`z_{0.975}` for the default 0.95).

    Examples
    --------
    >>> f = torch.tensor([[[0.0], [0.0]], [[2.0], [2.0]]])  # mean 1, spread 1 per example
    >>> picp(f, torch.tensor([[2.5], [3.5]]), noise_std=0.0)  # |err| 1.5 and 2.5 vs z = 1.96
    0.5
    """
    f = _check_outputs(samples, "samples")
    y = _check_targets(targets, f)
    nu = _check_noise(noise_std, positive=False)
    p = _check_level(level, "level")
    z = torch.tensor([NormalDist().inv_cdf(0.5 + 0.5 * p)], dtype=torch.float64)
    return float(_coverage(f, y, nu, z)[0])


def regression_ece(
    samples: ArrayLike,
    targets: ArrayLike,
    *,
    noise_std: float,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
) -> float:
    r"""Calibration error of the central intervals over a grid of levels (module notes).

    .. math::

        \mathrm{ECE} = \frac{1}{|P|} \sum_{p \in P} \big|\mathrm{cov}(p) - p\big|, \qquad
        \mathrm{cov}(p) = \frac{1}{ND} \sum_{n,d}
          \mathbb 1\big[|y_{n,d} - \hat y_{n,d}| \le \Phi^{-1}(\tfrac{1+p}{2})\,
          \hat\sigma_{n,d}\big]

    Parameters
    ----------
    samples, targets, noise_std
        As for :func:`picp`.
    levels : tuple of float
        The grid :math:`P`, each in (0, 1), non-empty.

    Examples
    --------
    >>> f = torch.zeros(1, 4, 1)  # one draw, noise 1: N(0, 1) for every target
    >>> round(regression_ece(f, torch.tensor([[0.1], [0.5], [1.0], [3.0]]), noise_std=1.0,
    ...                      levels=(0.5,)), 6)  # half the targets within 0.674
    0.0
    """
    f = _check_outputs(samples, "samples")
    y = _check_targets(targets, f)
    nu = _check_noise(noise_std, positive=False)
    if not isinstance(levels, (tuple, list)) or not levels:
        raise ValueError(f"`levels` must be a non-empty tuple of floats in (0, 1); got {levels!r}")
    grid = [_check_level(p, f"levels[{i}]") for i, p in enumerate(levels)]
    z = torch.tensor([NormalDist().inv_cdf(0.5 + 0.5 * p) for p in grid], dtype=torch.float64)
    cov = _coverage(f, y, nu, z)
    return float((cov - torch.tensor(grid, dtype=torch.float64)).abs().mean())
