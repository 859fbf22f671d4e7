"""Tiny models and data shared by the tests of :mod:`lrbnn_core.training`.

The models are tiny Bayesian layers written here (independent of ``lrbnn_core.layers``), so that
every formula the trainer uses has a twin: ``torch.distributions`` for the KL and the Gaussian
NLL, a hand-written log-sum-exp for the cross-entropy, hand-written lists for the warm-up.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, KLMethod, SamplingMode
from lrbnn_core.priors import GaussianPrior, gaussian_kl_elementwise
from lrbnn_core.training import TrainConfig

#: float64 results that differ only by summation order (a shuffled batch, a different blocking)
#: agree to a few ulps of their size; 1e-12 leaves three orders of magnitude to spare.
F64_RTOL = 1e-12


class TinyBayesLinear(BayesianModule):
    """Mean-field Gaussian weight ``W ~ N(mu, softplus(rho)^2)`` with a deterministic bias, prior
    N(0, 1): ``"shared"`` (one W per pass), ``"local"`` (exact Gaussian pre-activations per
    example) and ``"mean"``."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        seed: int = 0,
        std: float = 0.05,
        sampling: str = "shared",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__(sampling)
        g = torch.Generator().manual_seed(seed)
        self.weight_mean = nn.Parameter(0.3 * torch.randn(n_out, n_in, generator=g, dtype=dtype))
        rho = math.log(math.expm1(std))
        self.weight_rho = nn.Parameter(torch.full((n_out, n_in), rho, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_out, dtype=dtype))
        self.prior = GaussianPrior(1.0)

    def std(self) -> Tensor:
        return nn.functional.softplus(self.weight_rho)

    def forward(self, x: Tensor) -> Tensor:
        if self.sampling is SamplingMode.LOCAL:
            mean = x @ self.weight_mean.T + self.bias
            var = x.square() @ self.std().square().T
            eps = torch.randn(mean.shape, generator=self.generator, dtype=x.dtype)
            return mean + var.sqrt() * eps
        if self.sampling is SamplingMode.SHARED:
            eps = torch.randn(self.weight_mean.shape, generator=self.generator, dtype=x.dtype)
            return x @ (self.weight_mean + self.std() * eps).T + self.bias
        return x @ self.weight_mean.T + self.bias

    def kl(
        self,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if KLMethod(method) is KLMethod.CLOSED_FORM:
            return gaussian_kl_elementwise(self.weight_mean, self.std(), 0.0, 1.0).sum()
        return self.prior.kl(
            self.weight_mean, self.std(), method, n_samples=n_samples, generator=generator
        )

    def factor_posteriors(self) -> dict[str, tuple[Tensor, Tensor]]:
        return {"W": (self.weight_mean, self.std())}


def separable(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Two classes split by the sign of x0, pushed at least 1 away from the boundary."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    x[:, 0] += 2.0 * y - 1.0
    return x, y


def quiet(**kwargs: Any) -> TrainConfig:
    return TrainConfig(**{"progress": False, **kwargs})


def params(model: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in model.parameters()]


X8, Y8 = separable(8, seed=9)
