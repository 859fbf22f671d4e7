"""The mean-field (Bayes-by-Backprop) baseline: an independent Gaussian on each weight (notes:
:mod:`lrbnn_core.layers`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lrbnn_core.base import SamplingMode, check_finite_through, check_input
from lrbnn_core.layers.blocks import (
    _check_blocks,
    _check_eta,
    _check_features,
    _check_flag,
    _check_generator,
    _GaussianBlocks,
    _init_target,
    _local_gaussian,
    _numpy_rng,
    _warm_matrix,
)
from lrbnn_core.layers.fused import mean_field_shared
from lrbnn_core.priors import GaussianPrior, Prior
from theory.initialisation import InitTarget, target_variance

__all__ = ["MeanFieldBayesLinear"]


class MeanFieldBayesLinear(_GaussianBlocks):
    r"""Mean-field (Bayes-by-Backprop) linear layer: an independent Gaussian on each of the
    :math:`mn` weights.

    Parameters are those of :class:`LowRankBayesLinear` without ``rank``: weight means drawn from
    :math:`N(0, s_W^2)` (Glorot or He), posterior stds :math:`\eta s_W`; ``warm_start`` sets the
    means to the given matrix. ``"local"`` sampling is the local reparameterisation trick.

    Examples
    --------
    >>> layer = MeanFieldBayesLinear(6, 4, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(3, 6)).shape, layer.factor_posteriors()["W"][0].shape
    (torch.Size([3, 4]), torch.Size([4, 6]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        warm_start: Tensor | None = None,
        prior_at_init: bool = False,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(GaussianPrior(1.0) if prior is None else prior, sampling, dtype)
        self.in_features = _check_features(in_features, "in_features")
        self.out_features = _check_features(out_features, "out_features")
        m, n = self.out_features, self.in_features
        _check_blocks(dtype, ("W", {"out_features": m, "in_features": n}))
        e, target = _check_eta(eta), _init_target(init)
        _check_flag(prior_at_init, "prior_at_init")
        s_w = math.sqrt(target_variance(m, n, target))
        if warm_start is None:
            mean = s_w * _numpy_rng(generator).standard_normal((m, n))
        else:
            mean = _warm_matrix(warm_start, m, n)
        self._add_block("W", mean, np.full((m, n), e * s_w), prior_at_init)
        self._setup_bias(bias, bayesian_bias, e * s_w, prior_at_init)

    def sample_weight(self, generator: torch.Generator | None = None) -> Tensor:
        """One sample of the ``(out, in)`` weight matrix."""
        return self._draw("W", None, _check_generator(generator) or self.generator)

    def mean_weight(self) -> Tensor:
        """:math:`E[W]`."""
        return self._mean("W")

    def forward(self, x: Tensor) -> Tensor:
        x = check_input(x, self.in_features, finite=False, dtype=self._mean("W").dtype)
        mode = self.sampling
        if mode is SamplingMode.LOCAL:
            var = self._std("W").square()
            y = _local_gaussian(x @ self._mean("W").T, x.square() @ var.T, self.generator)
            bias = self._bias(tuple(x.shape[:-1]))
            out = y if bias is None else y + bias
        elif mode is SamplingMode.SHARED:
            # one fused node: the draws of sample_weight and of the bias, and the product
            out = mean_field_shared(
                x, (self._mean("W"), self._rho("W")), self._bias_pair(), self.generator
            )
        else:
            y = x @ self._mean("W").T
            bias = self._bias(None)
            out = y if bias is None else y + bias
        # One check, of the output, as in the low-rank layer: a NaN or inf in x or in a
        # parameter always reaches it, and so does a product that overflows from a finite x.
        return check_finite_through(out, x, "W x", module=self)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias_mode}, sampling={self.sampling.value}, prior={self.prior}"
        )
