"""The checks of model inputs and state shared by :func:`~lrbnn_core.training.train`,
:func:`~lrbnn_core.training.predict`, :func:`~lrbnn_core.objectives.train_bound` and the
certificates: inputs and targets against a model, the model's dtype, device and number of
outputs, and a context that restores every flag, sampling mode and generator a run changes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode, set_sampling
from lrbnn_core.training.config import Task


def _model_dtype(model: nn.Module) -> torch.dtype | None:
    for p in model.parameters():
        return p.dtype
    return None


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _check_x(x: Any, name: str, model: nn.Module) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(
            f"`{name}` must have shape (N, ...) with at least 2 axes; got {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: shape {tuple(x.shape)}")
    dtype = _model_dtype(model)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"`{name}` has dtype {x.dtype} but the model's parameters are {dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return x


def _check_y(y: Any, name: str, n: int, task: Task, out_dim: int, x_name: str) -> Tensor:
    if not isinstance(y, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(y).__name__}")
    if task is Task.CLASSIFICATION:
        if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
            raise TypeError(f"`{name}` must be an integer tensor of class labels; got {y.dtype}")
        if y.shape != (n,):
            raise ValueError(
                f"`{name}` must have shape ({n},) to match `{x_name}`; got {tuple(y.shape)}"
            )
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= out_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"`{name}` labels must be in [0, {out_dim - 1}] (the model has {out_dim} "
                f"outputs); got {bad}"
            )
        return y.long()
    if not y.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor for regression; got {y.dtype}")
    if y.shape != (n, out_dim):
        raise ValueError(
            f"`{name}` must have shape ({n}, {out_dim}) (examples x model outputs); "
            f"got {tuple(y.shape)}"
        )
    if not bool(torch.isfinite(y).all()):
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return y


@contextmanager
def _preserved(model: nn.Module) -> Iterator[None]:
    """Restore every module's ``training`` flag and every Bayesian layer's ``sampling`` and
    ``generator`` on exit, whatever happened inside."""
    flags = [(m, m.training) for m in model.modules()]
    layers = [
        (m, m.sampling, m.generator) for m in model.modules() if isinstance(m, BayesianModule)
    ]
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag
        for layer, sampling, generator in layers:
            layer.sampling = sampling
            layer.generator = generator


def _output_dim(model: nn.Module, x: Tensor, name: str = "x") -> int:
    """Number of outputs per example, from one posterior-mean forward pass on ``x[:1]`` (no
    random draw, no gradient, no running-statistics update). An input the model refuses is
    reported under the caller's argument name ``name``, with its full shape."""
    with _preserved(model), torch.no_grad():
        model.eval()
        set_sampling(model, SamplingMode.MEAN)
        try:
            out = model(x[:1])
        except (ValueError, TypeError) as exc:
            raise type(exc)(
                f"`{name}` of shape {tuple(x.shape)} does not fit `model`: {exc}"
            ) from exc
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"`model` must map (N, ...) inputs to (N, outputs); on one example it gave {shape}"
        )
    return int(out.shape[1])
