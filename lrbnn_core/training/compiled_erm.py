r"""The dropout ERM of a low-rank MLP's means as one compiled graph per step: an opt-in path of
:func:`lrbnn_core.erm_prior.train_dropout_erm` (``compile=True``; issue 16).

At a sweep's sizes (40 -> 64 -> 10, batches of 64) an eager step costs dispatch, not
arithmetic: about 80 operators through modules, hooks and autograd's engine. Here the step
(the forward on the means with the dropout masks, the cross-entropy, its gradients by
:func:`torch.func.grad_and_value` and SGD's momentum update) is one ``torch.compile`` graph
with dynamic shapes, so that a sweep's widths and ranks share a few compilations.

What stays the eager loop's:

* the draws: each epoch's shuffle and each step's masks come from the same generators, in the
  same order (the masks of layers 2, 3, ... as the eager loop's hooks draw them), so both
  loops see the same minibatches and masks;
* the guard: the step computes whether its loss and every output are finite and updates
  only if they are (in the graph, so that a refused step changes nothing); the loop reads that
  flag with the loss, one read per step as the eager loop does, and a refused step is replayed
  by the eager forward with the layers' checks, which name the cause;
* the numbers, up to rounding: the same operations in another order (compiled code may
  contract a product and a sum into one rounding). A test trains both paths in float64 to
  within 1e-12; in float32 training amplifies rounding, so a compiled run's numbers are not
  the eager run's bytes.

Where inductor finds no C++ compiler or compiling fails, the loop warns once and runs the same
step uncompiled (compilation errors) or the eager loop (no compiler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.func import grad_and_value
from torch.nn import functional as F
from tqdm import tqdm

from lrbnn_core.layers.low_rank import LowRankBayesLinear
from lrbnn_core.training._compiling import compile_dynamic, compile_errors, forget, warn_fallback

__all__ = ["erm_loss", "erm_step", "mean_blocks", "run_compiled_erm"]

#: ``refuse(x_batch, noise_state, value, epoch)``: replay a refused step eagerly and raise
Refuse = Callable[[Tensor, Tensor, float, int], None]


def erm_loss(
    params: list[Tensor], xb: Tensor, yb: Tensor, masks: list[Tensor], keep: float
) -> tuple[Tensor, Tensor]:
    """The ERM's loss and whether every output is finite: the MLP on the means (``params``:
    ``A, B, bias`` per layer), the input of every layer after the first multiplied by its 0/1
    mask and divided by ``keep``, ReLU between layers."""
    h, last = xb, len(params) // 3 - 1
    for i in range(last + 1):
        a, b, c = params[3 * i : 3 * i + 3]
        if i > 0:
            h = h * masks[i - 1] / keep
        h = h @ b @ a.T + c
        if i < last:
            h = torch.relu(h)
    return F.cross_entropy(h, yb), torch.isfinite(h.detach()).all()


_loss_and_grads = grad_and_value(erm_loss, has_aux=True)


def erm_step(
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
    (``buffer = momentum * buffer + grad``, ``param -= lr * buffer``: torch's SGD without
    dampening, the buffers starting at zero), only where the loss and every output are finite.
    Returns ``(loss, 1.0 if it updated else 0.0)`` (a refused step changes nothing)."""
    grads, (loss, outputs_finite) = _loss_and_grads(params, xb, yb, masks, keep)
    finite = torch.isfinite(loss) & outputs_finite
    for p, buf, g in zip(params, buffers, grads, strict=True):
        new = buf * momentum + g
        buf.copy_(torch.where(finite, new, buf))
        p.copy_(torch.where(finite, p - lr * new, p))
    return torch.stack([loss.detach(), finite.to(loss.dtype)])


def mean_blocks(layers: list[LowRankBayesLinear]) -> list[Tensor]:
    """Detached aliases (sharing storage) of every layer's means ``A, B, bias`` in layer order:
    the step updates the model's parameters through them."""
    out = []
    for layer in layers:
        bias = layer._mean("bias") if layer.bias_mode == "bayesian" else layer.bias
        if bias is None:
            raise ValueError("the compiled ERM takes layers with a bias")
        out += [layer._mean("A"), layer._mean("B"), bias]
    return [t.detach() for t in out]


def run_compiled_erm(
    layers: list[LowRankBayesLinear],
    data: tuple[Tensor, Tensor],
    settings: Any,
    generators: tuple[torch.Generator, torch.Generator],
    refuse: Refuse,
    *,
    desc: str,
    progress: bool,
    compile: bool = True,
) -> None:
    """The dropout ERM (``settings``: a :class:`~lrbnn_core.erm_prior.DropoutERM`) of the means
    of ``layers`` (an MLP's, in order), in place, each step through :func:`erm_step` compiled
    (``compile=False``: uncompiled, the same arithmetic; used by the tests). ``generators``:
    the shuffle and the masks' generators; ``refuse`` replays a refused step and raises."""
    (x, y), (shuffle, noise) = data, generators
    params = mean_blocks(layers)
    buffers = [torch.zeros_like(p) for p in params]
    keep = 1.0 - settings.dropout
    widths = [layer.in_features for layer in layers[1:]]
    step: Callable[..., Tensor] = compile_dynamic(erm_step) if compile else erm_step
    for epoch in tqdm(range(settings.epochs), desc=desc, unit="epoch", disable=not progress):
        for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
            xb, state = x[idx], noise.get_state()
            masks = [
                torch.rand((len(idx), w), generator=noise, dtype=xb.dtype).lt_(keep) for w in widths
            ]
            args = (params, buffers, xb, y[idx], masks, settings.lr, settings.momentum, keep)
            try:
                out = step(*args)
            except compile_errors() as exc:
                # nothing was updated: this step and the rest run the same step uncompiled
                forget(erm_step)
                warn_fallback("compiled dropout ERM", f"compiling failed ({type(exc).__name__})")
                step = erm_step
                out = step(*args)
            value, updated = out.tolist()
            if updated != 1.0:
                refuse(xb, state, value, epoch)
