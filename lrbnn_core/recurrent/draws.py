"""One weight draw of a linear layer built by :func:`~lrbnn_core.models.make_linear`, as a map
to apply at every step of a sequence (notes: :mod:`lrbnn_core.recurrent`)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear

__all__ = ["one_draw"]


def _bias_mean(layer: nn.Module) -> Tensor | None:
    """The (mean) bias tensor of any kind of layer, live (in-place edits reach the parameter)."""
    if isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
        posteriors = layer.factor_posteriors()
        if "bias" in posteriors:
            return posteriors["bias"][0]
    bias: Tensor | None = getattr(layer, "bias", None)
    return bias


def one_draw(layer: nn.Module) -> Callable[[Tensor], Tensor]:
    """The map ``x -> W x + b`` for ONE draw of ``layer``'s weights (its ``sampling`` mode and
    ``generator``), to be applied any number of times (every step of a sequence)."""
    if isinstance(layer, LowRankBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            post = layer.factor_posteriors()
            a, b, bias = post["A"][0], post["B"][0], _bias_mean(layer)
        else:
            a, b, bias = layer.sample_factors()

        def low_rank(x: Tensor) -> Tensor:
            y = (x @ b) @ a.T
            return y if bias is None else y + bias

        return low_rank
    if isinstance(layer, MeanFieldBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            w, bias = layer.mean_weight(), _bias_mean(layer)
        else:
            w = layer.sample_weight()
            posteriors = layer.factor_posteriors()
            bias = _bias_mean(layer)
            if "bias" in posteriors:
                mean, std = posteriors["bias"]
                eps = torch.randn(
                    mean.shape, generator=layer.generator, dtype=mean.dtype, device=mean.device
                )
                bias = mean + std * eps

        def mean_field(x: Tensor) -> Tensor:
            y = x @ w.T
            return y if bias is None else y + bias

        return mean_field
    if isinstance(layer, nn.Linear):
        return layer
    raise TypeError(f"`layer` must be a layer built by make_linear; got {type(layer).__name__}")
