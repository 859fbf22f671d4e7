r"""One linear-layer factory for the three kinds of model (low-rank Bayesian, mean-field Bayesian,
deterministic), so that they compare through one code path, and multi-layer perceptrons built
from it. The LSTMs and Transformers of :mod:`lrbnn_core.recurrent` and
:mod:`lrbnn_core.transformer` use the same factory.

Layer ``i`` maps width :math:`h_{i-1}` to :math:`h_i` (``W_i`` is :math:`h_i \times h_{i-1}`), as
in ``CLAIMS.md`` section 5; ReLU between layers, none after the last (logits).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core._validation import check_tensor_size, parse_enum
from lrbnn_core.base import SamplingMode, check_dtype, check_size
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear
from lrbnn_core.priors import Prior
from theory.initialisation import InitTarget, target_variance

__all__ = ["MLP", "LayerKind", "layer_kind", "layer_ranks", "make_linear"]


class LayerKind(str, Enum):
    """Which linear map a model is built from."""

    #: :class:`~lrbnn_core.layers.LowRankBayesLinear`: :math:`W = A B^\top`, Gaussian factors
    LOW_RANK = "low_rank"
    #: :class:`~lrbnn_core.layers.MeanFieldBayesLinear`: one Gaussian per weight (Bayes by
    #: Backprop)
    MEAN_FIELD = "mean_field"
    #: ``torch.nn.Linear`` (a point estimate: no KL), initialised like the Bayesian means
    DETERMINISTIC = "deterministic"


def layer_kind(value: Any) -> LayerKind:
    return parse_enum(LayerKind, value, "kind")


def make_linear(
    kind: LayerKind | str,
    in_features: int,
    out_features: int,
    rank: int | None = None,
    *,
    bias: bool = True,
    bayesian_bias: bool = True,
    prior: Prior | None = None,
    init: InitTarget | str = InitTarget.GLOROT,
    eta: float = 0.1,
    sampling: SamplingMode | str = SamplingMode.SHARED,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    r"""A linear layer of the given ``kind``, so that one model definition serves all three.

    Parameters
    ----------
    kind : {"low_rank", "mean_field", "deterministic"}
    in_features, out_features : int
    rank : int, optional
        Required for ``"low_rank"`` (in :math:`[1, \min(\text{in}, \text{out})]`), ignored
        otherwise (so that a loop over kinds can pass it unchanged).
    bias, bayesian_bias, prior, init, eta, sampling, generator, dtype
        As for :class:`~lrbnn_core.layers.LowRankBayesLinear`. The deterministic layer uses
        ``bias``, ``init`` (weights :math:`N(0, s_W^2)` with the Glorot or He variance
        :math:`s_W^2`, bias 0, drawn from ``generator``) and ``dtype``, and ignores the rest.

    Returns
    -------
    torch.nn.Module
        A ``LowRankBayesLinear``, ``MeanFieldBayesLinear`` or ``torch.nn.Linear``.

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> [type(make_linear(k, 6, 4, rank=2, generator=gen)).__name__ for k in LayerKind]
    ['LowRankBayesLinear', 'MeanFieldBayesLinear', 'Linear']
    """
    chosen = layer_kind(kind)
    common: dict[str, Any] = {
        "bias": bias,
        "bayesian_bias": bayesian_bias,
        "prior": prior,
        "init": init,
        "eta": eta,
        "sampling": sampling,
        "generator": generator,
        "dtype": dtype,
    }
    if chosen is LayerKind.LOW_RANK:
        if rank is None:
            raise ValueError("`rank` is required for kind 'low_rank'; got None")
        return LowRankBayesLinear(in_features, out_features, rank, **common)
    if chosen is LayerKind.MEAN_FIELD:
        return MeanFieldBayesLinear(in_features, out_features, **common)
    n = check_size(in_features, "in_features")
    m = check_size(out_features, "out_features")
    dtype = check_dtype(dtype)
    itemsize = (dtype or torch.get_default_dtype()).itemsize
    check_tensor_size({"out_features": m, "in_features": n}, "the weight", itemsize)
    if not isinstance(bias, bool):
        raise TypeError(f"`bias` must be a bool; got {bias!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    try:
        s_w = math.sqrt(target_variance(m, n, init))
    except ValueError:
        known = ", ".join(repr(t.value) for t in InitTarget)
        raise ValueError(f"`init` must be one of {known}; got {init!r}") from None
    layer = nn.Linear(n, m, bias=bias, dtype=dtype)
    with torch.no_grad():
        layer.weight.normal_(0.0, s_w, generator=generator)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def _check_widths(widths: Any) -> tuple[int, ...]:
    """``widths`` as a tuple of at least 2 ints >= 1: a sequence (or 1-D integer array) of ints,
    never a str or bytes (``"432"`` is not ``(4, 3, 2)``), bools or floats."""
    if isinstance(widths, (str, bytes)) or not isinstance(widths, (Sequence, np.ndarray)):
        raise TypeError(
            f"`widths` must be a sequence of ints (h_0, ..., h_L); got {widths!r} "
            f"({type(widths).__name__})"
        )
    for i, w in enumerate(widths):
        if isinstance(w, (bool, np.bool_)) or not isinstance(w, (int, np.integer)):
            raise TypeError(
                f"`widths[{i}]` must be an int; got {w!r} ({type(w).__name__}) in {widths!r}"
            )
    dims = tuple(int(w) for w in widths)
    if len(dims) < 2 or any(w < 1 for w in dims):
        raise ValueError(f"`widths` must hold at least 2 ints >= 1; got {widths!r}")
    return dims


def layer_ranks(widths: Sequence[int], rank: int | Sequence[int]) -> tuple[int, ...]:
    r"""The rank of every layer of an MLP with these widths.

    An ``int`` is the rank of every layer, *capped* at each layer's full rank
    :math:`\min(h_{i-1}, h_i)` (a classifier's last layer has at most as many as classes; the
    cap is reported in ``MLP.ranks``); a sequence gives one rank per layer, each checked
    against that layer (no cap).

    Examples
    --------
    >>> layer_ranks((64, 32, 10), 16), layer_ranks((64, 32, 10), (8, 4))
    ((16, 10), (8, 4))
    """
    dims = _check_widths(widths)
    full = [min(a, b) for a, b in itertools.pairwise(dims)]
    if isinstance(rank, (bool, np.bool_, str, bytes)) or not isinstance(
        rank, (int, np.integer, Sequence)
    ):
        raise TypeError(f"`rank` must be an int or a sequence of ints; got {rank!r}")
    if isinstance(rank, (int, np.integer)):
        rank = int(rank)
        if rank < 1:
            raise ValueError(f"`rank` must be an int >= 1; got {rank!r}")
        return tuple(min(rank, f) for f in full)
    ranks = tuple(rank)
    if len(ranks) != len(full):
        raise ValueError(
            f"`rank` must have one entry per layer ({len(full)}); got {len(ranks)}: {rank!r}"
        )
    for i, (r, f) in enumerate(zip(ranks, full, strict=True)):
        if (
            isinstance(r, (bool, np.bool_))
            or not isinstance(r, (int, np.integer))
            or not 1 <= r <= f
        ):
            raise ValueError(f"`rank[{i}]` must be an int in [1, {f}]; got {r!r}")
    return tuple(int(r) for r in ranks)


def relu_chain(layers: nn.ModuleList, x: Tensor) -> Tensor:
    """``x`` through ``layers`` with a ReLU between consecutive ones (none after the last): the
    forward pass of an MLP (:class:`MLP`, :class:`lrbnn_core.baselines.Rank1MLP`)."""
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


class MLP(nn.Module):
    r"""An MLP whose linear layers are all of one ``kind``.

    Parameters
    ----------
    widths : sequence of int
        :math:`h_0, \dots, h_L` (input first, number of outputs last).
    kind : {"low_rank", "mean_field", "deterministic"}
    rank : int or sequence of int, optional
        For ``"low_rank"`` (see :func:`layer_ranks`); ignored otherwise.
    **layer_options
        Passed to :func:`make_linear` (``prior``, ``eta``, ``sampling``,
        ``bayesian_bias``, ``init``, ``generator``, ``dtype``, ...).

    Examples
    --------
    >>> net = MLP((8, 6, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(5, 8)).shape, net.ranks
    (torch.Size([5, 3]), (2, 2))
    """

    def __init__(
        self,
        widths: Sequence[int],
        kind: LayerKind | str,
        *,
        rank: int | Sequence[int] | None = None,
        **layer_options: Any,
    ) -> None:
        super().__init__()
        self.kind = layer_kind(kind)
        self.widths = _check_widths(widths)
        if self.kind is LayerKind.LOW_RANK:
            if rank is None:
                raise ValueError("`rank` is required for kind 'low_rank'; got None")
            self.ranks: tuple[int, ...] | None = layer_ranks(self.widths, rank)
        else:
            layer_ranks(self.widths, 1)  # validates the widths
            self.ranks = None
        per_layer = self.ranks or (None,) * (len(self.widths) - 1)
        self.layers = nn.ModuleList(
            make_linear(self.kind, a, b, r, **layer_options)
            for a, b, r in zip(self.widths[:-1], self.widths[1:], per_layer, strict=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        return relu_chain(self.layers, x)

    def extra_repr(self) -> str:
        return f"widths={self.widths}, kind={self.kind.value}, ranks={self.ranks}"
