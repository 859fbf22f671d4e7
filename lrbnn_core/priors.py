r"""Priors on every stochastic scalar of a layer, and the KL of a mean-field Gaussian posterior
block to them (torch twins of :mod:`theory.pac_bayes.factor_kl`, differentiable).

* :class:`GaussianPrior` :math:`N(\mu_0, s^2)`: the KL has a closed form.
* :class:`ScaleMixturePrior` :math:`\pi N(0, s_1^2) + (1 - \pi) N(0, s_2^2)` (the paper's prior):
  no closed form. ``kl(..., method="monte_carlo")`` is an unbiased estimate (exact entropy,
  sampled cross-entropy) for training; ``method="closed_form"`` returns the declared upper bound
  :math:`\sum_i \min_k [\mathrm{KL}(q_i \| N(0, s_k^2)) + \ln(1/\pi_k)]`, the only value a
  certificate may use (``kl_is_exact`` is then ``False``).

``std`` is always a standard deviation, never a variance or a log-variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core.base import KLMethod, bayesian_modules, kl_method

__all__ = [
    "GaussianPrior",
    "Prior",
    "ScaleMixturePrior",
    "gaussian_kl_elementwise",
    "per_coordinate_kls",
]

_LOG_2PI = math.log(2.0 * math.pi)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"`{name}` must be a real number; got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"`{name}` must be a finite number > 0; got {value!r}")
    return v


def gaussian_kl_elementwise(mean: Tensor, std: Tensor, prior_mean: Any, prior_std: Any) -> Tensor:
    r""":math:`\mathrm{KL}(N(\mu, \sigma^2) \| N(\mu_0, s^2)) = \ln(s/\sigma)
    + (\sigma^2 + (\mu - \mu_0)^2) / (2 s^2) - 1/2`, entry by entry."""
    ratio = std / prior_std
    return (
        -torch.log(ratio)
        + 0.5 * (ratio.square() + ((mean - prior_mean) / prior_std).square())
        - 0.5
    )


@dataclass(frozen=True)
class GaussianPrior:
    r"""Isotropic Gaussian prior :math:`N(\mathrm{mean}, \mathrm{std}^2)` on every scalar.

    Parameters
    ----------
    std : float
        Standard deviation, > 0.
    mean : float
        Prior mean (0 by default). A layer may also centre the prior at its initialisation
        (``prior_at_init``), which overrides this per entry.

    Examples
    --------
    >>> prior = GaussianPrior(1.0)
    >>> float(prior.kl(torch.zeros(3), torch.ones(3)))
    0.0
    """

    std: float
    mean: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "std", _positive(self.std, "std"))
        if isinstance(self.mean, bool) or not isinstance(self.mean, (int, float)):
            raise TypeError(f"`mean` must be a real number; got {self.mean!r}")
        if not math.isfinite(float(self.mean)):
            raise ValueError(f"`mean` must be finite; got {self.mean!r}")
        object.__setattr__(self, "mean", float(self.mean))

    #: the closed form is exact
    kl_is_exact = True

    def kl(
        self,
        mean: Tensor,
        std: Tensor,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        prior_mean: Tensor | None = None,
        prior_std: Tensor | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """KL of the block ``N(mean, std^2)`` (independent entries) to this prior, summed.
        ``prior_mean`` / ``prior_std`` replace the scalar mean / std entry by entry (a prior
        centred at the initialisation, or learnt on data the certificate does not use)."""
        loc: Any = self.mean if prior_mean is None else prior_mean
        scale: Any = self.std if prior_std is None else prior_std
        if kl_method(method) is KLMethod.CLOSED_FORM:
            return gaussian_kl_elementwise(mean, std, loc, scale).sum()
        theta = _draw(mean, std, n_samples, generator)
        log_scale = torch.log(torch.as_tensor(scale, dtype=mean.dtype, device=mean.device))
        log_p = -0.5 * ((theta - loc) / scale).square() - log_scale - 0.5 * _LOG_2PI
        return _entropy_term(std) - log_p.mean(dim=0).sum()


@dataclass(frozen=True)
class ScaleMixturePrior:
    r"""The paper's prior :math:`\pi N(0, s_1^2) + (1 - \pi) N(0, s_2^2)` on every scalar.

    Parameters
    ----------
    pi : float
        Weight of the first component, in (0, 1).
    std1, std2 : float
        Standard deviations of the components, > 0 (the paper: 1 and e^-6).

    Examples
    --------
    >>> prior = ScaleMixturePrior(0.5, 1.0, 1.0)  # both components N(0, 1)
    >>> round(float(prior.kl(torch.zeros(2), torch.ones(2))), 6)  # the bound pays 2 ln 2
    1.386294
    """

    pi: float
    std1: float
    std2: float

    #: ``kl(..., "closed_form")`` is an upper bound, not the KL itself
    kl_is_exact = False

    def __post_init__(self) -> None:
        if isinstance(self.pi, bool) or not isinstance(self.pi, (int, float)):
            raise TypeError(f"`pi` must be a real number; got {self.pi!r}")
        if not 0.0 < float(self.pi) < 1.0:
            raise ValueError(f"`pi` must be in (0, 1); got {self.pi!r}")
        object.__setattr__(self, "pi", float(self.pi))
        object.__setattr__(self, "std1", _positive(self.std1, "std1"))
        object.__setattr__(self, "std2", _positive(self.std2, "std2"))

    def log_prob(self, theta: Tensor) -> Tensor:
        """Log density at ``theta``, by log-sum-exp."""
        l1 = math.log(self.pi) - math.log(self.std1) - 0.5 * (theta / self.std1).square()
        l2 = math.log1p(-self.pi) - math.log(self.std2) - 0.5 * (theta / self.std2).square()
        return torch.logaddexp(l1, l2) - 0.5 * _LOG_2PI

    def kl(
        self,
        mean: Tensor,
        std: Tensor,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        prior_mean: Tensor | None = None,
        prior_std: Tensor | None = None,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """The declared upper bound (``"closed_form"``) or an unbiased Monte Carlo estimate
        (``"monte_carlo"``) of the KL of the block to this prior, summed."""
        if prior_mean is not None or prior_std is not None:
            raise ValueError("the scale-mixture prior takes no per-entry `prior_mean`/`prior_std`")
        if kl_method(method) is KLMethod.CLOSED_FORM:
            k1 = gaussian_kl_elementwise(mean, std, 0.0, self.std1) - math.log(self.pi)
            k2 = gaussian_kl_elementwise(mean, std, 0.0, self.std2) - math.log1p(-self.pi)
            return torch.minimum(k1, k2).sum()
        theta = _draw(mean, std, n_samples, generator)
        return _entropy_term(std) - self.log_prob(theta).mean(dim=0).sum()


Prior = GaussianPrior | ScaleMixturePrior


def _draw(mean: Tensor, std: Tensor, n_samples: int, generator: torch.Generator | None) -> Tensor:
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"`n_samples` must be an int >= 1; got {n_samples!r}")
    eps = torch.randn(
        (n_samples, *mean.shape), generator=generator, dtype=mean.dtype, device=mean.device
    )
    return mean + std * eps


def _entropy_term(std: Tensor) -> Tensor:
    """Minus the entropy of the block, summed (exact: only the cross-entropy is sampled)."""
    return -(0.5 * (_LOG_2PI + 1.0) + torch.log(std)).sum()


def check_prior(prior: Any) -> Prior:
    if not isinstance(prior, (GaussianPrior, ScaleMixturePrior)):
        raise TypeError(
            f"`prior` must be a GaussianPrior or a ScaleMixturePrior; got {type(prior).__name__}"
        )
    return prior


def per_coordinate_kls(model: nn.Module) -> np.ndarray:
    """The KL of every stochastic scalar of ``model`` to its Gaussian prior (per-entry centres
    and stds where a layer has them, else the prior's scalars), concatenated in module and
    block order, in float64 (their sum is the model's closed-form KL; claim D3)."""
    parts = []
    for layer in bayesian_modules(model):
        prior = layer.prior
        if not isinstance(prior, GaussianPrior):
            raise ValueError(f"per-coordinate KLs need Gaussian priors; got {prior!r}")
        means, stds = layer.prior_means() or {}, layer.prior_stds() or {}
        for name, (mean, std) in layer.factor_posteriors().items():
            loc = means[name].detach().double() if name in means else prior.mean
            scale = stds[name].detach().double() if name in stds else prior.std
            kl = gaussian_kl_elementwise(mean.detach().double(), std.detach().double(), loc, scale)
            parts.append(kl.reshape(-1).numpy())
    return np.concatenate(parts)
