"""Compiled twins of the default sweep point's two training stages (used by
``bench_compiled_steps.py``).

Issue 16 names ``torch.compile`` as a way to a leaner step "where it pays". A sweep point spends
most of its time in two loops of small steps: the dropout ERM of the prior model's means
(:func:`lrbnn_core.erm_prior.train_dropout_erm`, 3,200 steps) and the posterior's bound training
(:func:`lrbnn_core.objectives.train_bound`). The twins run their arithmetic compiled, with dynamic
shapes (so that the grid's widths and ranks can share a graph):

* :func:`erm_twin`: forward, cross-entropy, gradients (``torch.func.grad_and_value``) and SGD's
  momentum update, in place, as one ``torch.compile`` graph; the shuffles and the dropout masks
  drawn outside it, from the toolkit's generators in the toolkit's order
  (:func:`lrbnn_core.erm_prior.stage_generators`);
* :func:`bound_twin`: the draws' transforms, the forward, the bounded cross-entropy and the
  closed-form KL as one compiled graph (its backward compiled with it by AOTAutograd); the noise
  drawn outside it in the layers' order, and the kl objective (its inverse solved in floats, as
  the toolkit solves it) and Adam's update of one flat buffer outside it, as the floor twin
  (``_floor_steps.bound_autograd``) runs them.

Each trains to the toolkit's parameters up to rounding (tested in float64, uncompiled and
compiled). Benchmarks' twins, never the toolkit's path: they check nothing, so a NaN would go
through them unnamed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import grad_and_value
from torch.nn import functional as F

from lrbnn_core.erm_prior import DropoutERM, stage_generators
from lrbnn_core.objectives.bounds import _bounded_ce, bound_objective
from lrbnn_core.training.flat import FlatStep
from lrbnn_core.training.loop import _seeded_generators

try:  # imported as benchmarks._compiled_steps (the tests) or from the script's folder
    from benchmarks import _floor_steps as floor
except ImportError:
    import _floor_steps as floor  # type: ignore[import-not-found,no-redef]

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


def compiled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as one ``torch.compile`` graph with dynamic shapes (compiled at its first call,
    recompiled where a shape breaks its guards)."""
    with warnings.catch_warnings():
        # inductor's own import warns of torch.jit.script_method's deprecation (torch's code),
        # as lrbnn_core.layers.compiled notes: imported once here, before the first compilation
        warnings.simplefilter("ignore", DeprecationWarning)
        import torch._inductor.compile_fx
    return torch.compile(fn, dynamic=True, fullgraph=True)  # type: ignore[no-any-return]


def compiled_update() -> Update:
    """:func:`erm_update`, compiled."""
    return compiled(erm_update)


def mean_params(model: nn.Module) -> list[Tensor]:
    """Copies of the means ``A, B, bias`` of every layer of a low-rank MLP, in layer order."""
    layers = floor._low_rank_layers(model)
    out = []
    for layer in layers:
        a, b, bias = floor._mean_blocks(layer)
        if bias is None:
            raise ValueError("the compiled twins take layers with a bias")
        out += [a, b, bias]
    return [t.detach().clone() for t in out]


def erm_twin(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    settings: DropoutERM,
    seed: int,
    update: Update = erm_update,
) -> list[Tensor]:
    """The dropout ERM of ``model``'s means (copies: the model is left alone) through
    ``update``; returns the trained means in :func:`mean_params`' order."""
    params = mean_params(model)
    buffers = [torch.zeros_like(p) for p in params]
    shuffle, noise = stage_generators(seed, 0)
    keep = 1.0 - settings.dropout
    widths = [params[3 * i].shape[0] for i in range(len(params) // 3 - 1)]
    for _ in range(settings.epochs):
        for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
            xb = x[idx]
            masks: list[Any] = [
                torch.rand((len(idx), w), generator=noise, dtype=xb.dtype).lt_(keep) for w in widths
            ]
            update(params, buffers, xb, y[idx], masks, settings.lr, settings.momentum, keep)
    return params


def risk_and_kl(
    blocks: list[list[Tensor]], eps: list[Tensor], xb: Tensor, yb: Tensor, cap: float
) -> tuple[Tensor, Tensor]:
    """The bound step's two terms before the objective: the bounded cross-entropy of one draw
    (``cap`` = ln(1/p_min)) and the sum over entries of the closed-form KL without its ``-1/2``
    per entry. ``blocks``: per layer ``[bias, A, B]`` (bias only where Bayesian), each entry
    ``(mean, rho, loc, scale)`` flattened in that order; ``eps``: one standard normal draw per
    entry, in the same order."""
    h, terms, j, last = xb, [], 0, len(blocks) - 1
    for i, flat_block in enumerate(blocks):
        w = []
        for k in range(0, len(flat_block), 4):
            mean, rho, loc, scale = flat_block[k : k + 4]
            std = F.softplus(rho)
            w.append(std * eps[j] + mean)
            j += 1
            terms.append(floor.kl_terms(std, mean, loc, scale).sum())
        bias, a, b = (w[0], w[1], w[2]) if len(w) == 3 else (None, w[0], w[1])
        h = h @ b @ a.T
        if bias is not None:
            h = h + bias
        if i < last:
            h = torch.relu(h)
    # the bounded cross-entropy's own arithmetic, without its checks (they read values)
    return _bounded_ce(h, yb, cap), torch.stack(terms).sum()


def bound_twin(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    terms: Callable[..., tuple[Tensor, Tensor]] = risk_and_kl,
    **k: Any,
) -> None:
    """The posterior's bound training (``train_bound``'s arguments ``objective``, ``delta``,
    ``n_bound``, ``penalty``, ``epochs``, ``batch_size``, ``lr``, ``seed``) of ``model`` in
    place, its risk and KL through ``terms`` (:func:`risk_and_kl`, or it compiled)."""
    layers = floor._low_rank_layers(model)
    blocks, shapes = [], []
    for layer in layers:
        names = (["bias"] if layer.bias_mode == "bayesian" else []) + ["A", "B"]
        locs, scales = layer.prior_means(), layer.prior_stds()
        if locs is None or scales is None or layer.bias_mode == "deterministic":
            raise ValueError("the bound twin needs per-entry priors and Bayesian or no biases")
        blocks.append(
            [t for n in names for t in (layer._mean(n), layer._rho(n), locs[n], scales[n])]
        )
        shapes += [layer._mean(n).shape for n in names]
    entries = sum(math.prod(s) for s in shapes)
    shuffle, draws = _seeded_generators(k["seed"], torch.device("cpu"))
    params = [p for p in model.parameters() if p.requires_grad]
    n, bs, cap = len(x), k["batch_size"], -math.log(1e-4)
    constant = k["penalty"] - 0.5 * entries
    with FlatStep(params, lambda ts: torch.optim.Adam(ts, lr=k["lr"])) as flat:
        for _ in range(k["epochs"]):
            perm = torch.randperm(n, generator=shuffle)
            for j in range(math.ceil(n / bs)):
                idx = perm[j * bs : (j + 1) * bs]
                eps = [torch.randn(s, generator=draws, dtype=x.dtype) for s in shapes]
                risk, kl = terms(blocks, eps, x[idx], y[idx], cap)
                value = bound_objective(
                    k["objective"], risk, kl + constant, n=k["n_bound"], delta=k["delta"]
                )
                flat.zero_grad()
                value.backward()
                flat.step()
