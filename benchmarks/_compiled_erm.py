"""A compiled twin of the default sweep point's dropout ERM (used by ``bench_compiled_erm.py``).

Issue 16 names ``torch.compile`` as a way to a leaner step "where it pays". The sweep's longest
stage is the dropout ERM of the prior model's means (:func:`lrbnn_core.erm_prior.train_dropout_erm`,
3,200 steps per point), so this is where a compiled training loop would pay first. The twin runs
the ERM's arithmetic as one function of the parameters, compiled whole: forward, cross-entropy,
gradients (``torch.func.grad_and_value``) and SGD's momentum update, in place, as one
``torch.compile`` graph with dynamic shapes (so that the grid's widths and ranks can share it).
The shuffles and the dropout masks are drawn outside the graph, from the toolkit's generators in
the toolkit's order (:func:`lrbnn_core.erm_prior.stage_generators`), so the twin trains to the
toolkit's parameters up to rounding (tested in float64, uncompiled and compiled).

A benchmark's twin, never the toolkit's path: it checks nothing, so a NaN would go through it
unnamed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import grad_and_value
from torch.nn import functional as F

from lrbnn_core.base import bayesian_modules
from lrbnn_core.erm_prior import DropoutERM, stage_generators
from lrbnn_core.layers import LowRankBayesLinear

#: ``update(params, buffers, x_batch, y_batch, masks, lr, momentum, keep)``: one step in place
Update = Callable[..., Tensor]


def erm_loss(
    params: list[Tensor], xb: Tensor, yb: Tensor, masks: list[Tensor], keep: float
) -> Tensor:
    """The ERM's loss: the low-rank MLP on the means (``params``: ``A, B, bias`` per layer), the
    inputs of every layer after the first masked by ``masks`` and rescaled by ``1 / keep``."""
    h, last = xb, len(params) // 3 - 1
    for i in range(last + 1):
        a, b, c = params[3 * i : 3 * i + 3]
        if i > 0:
            h = h * masks[i - 1] / keep
        h = h @ b @ a.T + c
        if i < last:
            h = torch.relu(h)
    return F.cross_entropy(h, yb)


_loss_and_grads = grad_and_value(erm_loss)


def erm_update(
    params: list[Tensor],
    buffers: list[Tensor],
    xb: Tensor,
    yb: Tensor,
    masks: list[Tensor],
    lr: float,
    momentum: float,
    keep: float,
) -> Tensor:
    """One ERM step in place: the gradients of :func:`erm_loss`, then SGD with momentum
    (``buffer = momentum * buffer + grad``; ``param -= lr * buffer``: torch's SGD without
    dampening, the buffers starting at zero). Returns the loss."""
    grads, loss = _loss_and_grads(params, xb, yb, masks, keep)
    for p, buf, g in zip(params, buffers, grads, strict=True):
        buf.mul_(momentum).add_(g)
        p.sub_(lr * buf)
    return loss


def compiled_update() -> Update:
    """:func:`erm_update` as one ``torch.compile`` graph with dynamic shapes (compiled at its
    first call, recompiled where a shape breaks its guards)."""
    with warnings.catch_warnings():
        # inductor's own import warns of torch.jit.script_method's deprecation (torch's code),
        # as lrbnn_core.layers.compiled notes: imported once here, before the first compilation
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch._inductor.compile_fx
    return torch.compile(erm_update, dynamic=True, fullgraph=True)  # type: ignore[no-any-return]


def mean_params(model: nn.Module) -> list[Tensor]:
    """Copies of the means ``A, B, bias`` of every layer of a low-rank MLP, in layer order."""
    layers = bayesian_modules(model)
    if not layers or not all(isinstance(layer, LowRankBayesLinear) for layer in layers):
        raise TypeError("the compiled ERM twin takes an MLP of LowRankBayesLinear layers")
    out = []
    for layer in layers:
        bias = layer._mean("bias") if layer.bias_mode == "bayesian" else layer.bias
        if bias is None:
            raise ValueError("the compiled ERM twin takes layers with a bias")
        out += [layer._mean("A"), layer._mean("B"), bias]
    return [t.detach().clone() for t in out]


def erm_twin(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    settings: DropoutERM,
    seed: int,
    update: Update = erm_update,
    epochs: int | None = None,
) -> list[Tensor]:
    """The dropout ERM of ``model``'s means (copies: the model is left alone) through
    ``update`` for ``epochs`` (``settings.epochs`` by default); returns the trained means in
    :func:`mean_params`' order."""
    params = mean_params(model)
    buffers = [torch.zeros_like(p) for p in params]
    shuffle, noise = stage_generators(seed, 0)
    keep = 1.0 - settings.dropout
    widths = [params[3 * i].shape[0] for i in range(len(params) // 3 - 1)]
    for _ in range(settings.epochs if epochs is None else epochs):
        for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
            xb = x[idx]
            masks: list[Any] = [
                torch.rand((len(idx), w), generator=noise, dtype=xb.dtype).lt_(keep) for w in widths
            ]
            update(params, buffers, xb, y[idx], masks, settings.lr, settings.momentum, keep)
    return params
