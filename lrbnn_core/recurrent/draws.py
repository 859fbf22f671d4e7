"""One weight draw of a linear layer built by :func:`~lrbnn_core.models.make_linear`, as a map
to apply at every step of a sequence (:func:`one_draw`) or as a dense ``(W, b)`` pair
(:func:`dense_draw`, what the fused LSTM kernel reads); notes: :mod:`lrbnn_core.recurrent`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear

__all__ = ["dense_draw", "one_draw"]


def _bias_mean(layer: nn.Module) -> Tensor | None:
    """The (mean) bias tensor of any kind of layer, live (in-place edits reach the parameter)."""
    if isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
        posteriors = layer.factor_posteriors()
        if "bias" in posteriors:
            return posteriors["bias"][0]
    bias: Tensor | None = getattr(layer, "bias", None)
    return bias


def _draw(layer: nn.Module) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """One draw of ``layer`` as ``(A, B, bias)`` (low rank: ``W = A B^T``) or ``(W, None,
    bias)`` (mean-field, deterministic); the generator is read in the documented order."""
    if isinstance(layer, LowRankBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            post = layer.factor_posteriors()
            return post["A"][0], post["B"][0], _bias_mean(layer)
        return layer.sample_factors()
    if isinstance(layer, MeanFieldBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            return layer.mean_weight(), None, _bias_mean(layer)
        w = layer.sample_weight()
        posteriors = layer.factor_posteriors()
        bias = _bias_mean(layer)
        if "bias" in posteriors:
            mean, std = posteriors["bias"]
            eps = torch.randn(
                mean.shape, generator=layer.generator, dtype=mean.dtype, device=mean.device
            )
            bias = mean + std * eps
        return w, None, bias
    if isinstance(layer, nn.Linear):
        return layer.weight, None, layer.bias
    if (
        isinstance(layer, BayesianModule)
        and getattr(layer, "bias_mode", None) in ("deterministic", "none")
        and callable(getattr(layer, "sample_weight", None))
        and callable(getattr(layer, "mean_weight", None))
    ):
        # any other Bayesian layer with a point-estimate bias (the rank-1 baseline,
        # W * r s^T): its own dense draw, from its own generator in its documented order
        which = "mean_weight" if layer.sampling is SamplingMode.MEAN else "sample_weight"
        weight: Tensor = getattr(layer, which)()
        return weight, None, getattr(layer, "bias", None)
    raise TypeError(f"`layer` must be a layer built by make_linear; got {type(layer).__name__}")


def one_draw(layer: nn.Module) -> Callable[[Tensor], Tensor]:
    """The map ``x -> W x + b`` for ONE draw of ``layer``'s weights (its ``sampling`` mode and
    ``generator``), to be applied any number of times (every step of a sequence); a low-rank
    draw is applied through its factors, :math:`(x B) A^\\top`, never forming :math:`W`."""
    if isinstance(layer, nn.Linear):
        return layer
    first, second, bias = _draw(layer)

    def apply(x: Tensor) -> Tensor:
        y = x @ first.T if second is None else (x @ second) @ first.T
        return y if bias is None else y + bias

    return apply


def dense_draw(layer: nn.Module) -> tuple[Tensor, Tensor | None]:
    """ONE draw of ``layer``'s ``(W, b)`` (the same draw, from the same generator state, as
    :func:`one_draw`), with a low-rank :math:`W = A B^\\top` formed (differentiable in the
    factors); ``b`` is None where the layer has no bias.

    Examples
    --------
    >>> from lrbnn_core.models import make_linear
    >>> layer = make_linear("low_rank", 3, 8, 2, generator=torch.Generator().manual_seed(0))
    >>> w, b = dense_draw(layer)
    >>> tuple(w.shape), tuple(b.shape), int(torch.linalg.matrix_rank(w.detach()))
    ((8, 3), (8,), 2)
    """
    first, second, bias = _draw(layer)
    return (first if second is None else first @ second.T), bias
