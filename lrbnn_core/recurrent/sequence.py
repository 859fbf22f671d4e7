"""What the sequence models share: the check of ``(batch, time, features)`` inputs, the
refusal of ``"local"`` sampling (notes: :mod:`lrbnn_core.recurrent`), and the pooling of
:class:`~lrbnn_core.recurrent.SequenceClassifier`."""

from __future__ import annotations

from enum import Enum
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode, check_input

__all__ = ["Pool", "check_sequence", "reject_local"]


class Pool(str, Enum):
    """How :class:`SequenceClassifier` turns a sequence of features into one vector."""

    #: the features of the last time step (an LSTM's final hidden state :math:`h_T`)
    LAST = "last"
    #: the mean over time steps (the usual Transformer pooling)
    MEAN = "mean"


def check_sequence(x: Any, features: int, dtype: torch.dtype, name: str = "x") -> Tensor:
    """``x`` as a finite ``(batch, time, features)`` tensor of ``dtype`` with time >= 1."""
    x = check_input(x, features, name, min_dim=3)
    if x.dim() != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"`{name}` must have shape (batch, time, {features}) with batch, time >= 1; "
            f"got {tuple(x.shape)}"
        )
    if x.dtype != dtype:
        raise TypeError(f"`{name}` must have the model's dtype {dtype}; got {x.dtype}")
    return x


def reject_local(model: nn.Module) -> None:
    """Raise if a Bayesian layer of ``model`` is in ``"local"`` mode (see the package notes)."""
    for name, module in model.named_modules():
        if isinstance(module, BayesianModule) and module.sampling is SamplingMode.LOCAL:
            raise ValueError(
                f"`sampling` of layer {name!r} is 'local', which {type(model).__name__} does "
                "not support: per-call pre-activation draws would not share one weight draw "
                "across the sequence; use 'shared' or 'mean'"
            )
