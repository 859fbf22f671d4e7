"""The floor of eager PyTorch for the default sweep point's two training stages: the same steps
as the toolkit's, with nothing around them (used by ``bench_sweep_point.py``).

Issue 16 asks for the default sweep at least 2x shorter. A sweep point spends most of its time
in two loops of small steps: the dropout ERM of the prior model's means
(:func:`lrbnn_core.erm_prior.train_dropout_erm`, about 3,200 steps) and the posterior's bound
training (:func:`lrbnn_core.objectives.train_bound`, about 950). At these sizes a step costs
dispatch, not arithmetic, so the question is how much of a step is the toolkit's (modules,
hooks, input and finiteness checks, the reads of the loss) and how much is PyTorch's own. The
twins here run the same arithmetic as plain functions of the parameters:

* :func:`erm_autograd`: the ERM step with no module, no hook, no check and no read of the loss,
  gradients by autograd; the same generators and operations as the toolkit's, so it trains to
  the same parameters (bit for bit where the operations are the same);
* :func:`erm_manual`: the same step with the gradients written out by hand (no autograd engine:
  what a hand-fused step could reach at best in eager mode), to rounding;
* :func:`bound_autograd`: the bound-training step (one ``"shared"`` draw per step, in the
  layers' draw order from the same generator, the bounded cross-entropy, the closed-form KL plus
  the penalty, the same objective, Adam), with no module, no check and no read; to rounding.

Each updates its parameters as the toolkit does, through one flat buffer
(:class:`lrbnn_core.training.flat.FlatStep`), so that the comparison measures what surrounds the
arithmetic and not the optimizer.

These are benchmarks' twins only, never the toolkit's path: they check nothing, so a NaN would
go through them unnamed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lrbnn_core.base import bayesian_modules
from lrbnn_core.erm_prior import DropoutERM, stage_generators
from lrbnn_core.layers import LowRankBayesLinear
from lrbnn_core.objectives.bounds import bound_objective, bounded_cross_entropy
from lrbnn_core.priors import gaussian_kl_elementwise
from lrbnn_core.training.flat import FlatStep
from lrbnn_core.training.loop import _seeded_generators


def largest_difference(a: nn.Module, b: nn.Module) -> float:
    """The largest absolute difference between two models' state entries (same structure)."""
    return max(
        float((p - q).abs().max())
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def _low_rank_layers(model: nn.Module) -> list[LowRankBayesLinear]:
    layers = bayesian_modules(model)
    if not all(isinstance(layer, LowRankBayesLinear) for layer in layers):
        raise TypeError("the floor twins take an MLP of LowRankBayesLinear layers")
    return layers  # type: ignore[return-value]


def _mean_blocks(layer: LowRankBayesLinear) -> tuple[Tensor, Tensor, Tensor | None]:
    bias = layer._mean("bias") if layer.bias_mode == "bayesian" else layer.bias
    return layer._mean("A"), layer._mean("B"), bias


def erm_autograd(model: nn.Module, x: Tensor, y: Tensor, settings: DropoutERM, seed: int) -> None:
    """The dropout ERM of ``model``'s means, in place, as plain autograd steps."""
    blocks = [_mean_blocks(layer) for layer in _low_rank_layers(model)]
    shuffle, noise = stage_generators(seed, 0)
    keep = 1.0 - settings.dropout
    params = [p for blk in blocks for p in blk if p is not None]
    last = len(blocks) - 1
    with _sgd(params, settings) as flat:
        for _ in range(settings.epochs):
            for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
                h = x[idx]
                for i, (a, b, c) in enumerate(blocks):
                    if i > 0:
                        mask = torch.rand(h.shape, generator=noise, dtype=h.dtype).lt_(keep)
                        h = (h * mask).div_(keep)
                    h = h @ b @ a.T
                    if c is not None:
                        h = h + c
                    if i < last:
                        h = torch.relu(h)
                loss = F.cross_entropy(h, y[idx])
                flat.zero_grad()
                loss.backward()
                flat.step()


def _sgd(params: list[Tensor], settings: DropoutERM) -> FlatStep:
    """The ERM's optimizer as the toolkit runs it: SGD with momentum on one flat buffer."""
    return FlatStep(
        params,  # type: ignore[arg-type]
        lambda ts: torch.optim.SGD(ts, lr=settings.lr, momentum=settings.momentum),
    )


def erm_manual(model: nn.Module, x: Tensor, y: Tensor, settings: DropoutERM, seed: int) -> None:
    """:func:`erm_autograd` with the gradients written out (softmax cross-entropy, the two
    factor products, ReLU and dropout), no autograd engine."""
    blocks = [_mean_blocks(layer) for layer in _low_rank_layers(model)]
    shuffle, noise = stage_generators(seed, 0)
    keep = 1.0 - settings.dropout
    params = [p for blk in blocks for p in blk if p is not None]
    last = len(blocks) - 1
    with torch.no_grad(), _sgd(params, settings) as flat:
        for _ in range(settings.epochs):
            for idx in torch.randperm(len(x), generator=shuffle).split(settings.batch_size):
                h, saved = x[idx], []
                for i, (a, b, c) in enumerate(blocks):
                    mask = None
                    if i > 0:
                        mask = torch.rand(h.shape, generator=noise, dtype=h.dtype).lt_(keep)
                        h = (h * mask).div_(keep)
                    z = h @ b
                    out = z @ a.T
                    if c is not None:
                        out += c
                    saved.append((h, z, mask, out))
                    h = torch.relu(out) if i < last else out
                # d(mean cross-entropy)/d logits = (softmax - onehot) / batch
                g = torch.softmax(h, dim=1)
                g[torch.arange(len(idx)), y[idx]] -= 1.0
                g /= len(idx)
                grads: list[Tensor] = []
                for i in range(last, -1, -1):
                    a, b, c = blocks[i]
                    h_in, z, _, _ = saved[i]
                    grad_z = g @ a
                    layer_grads = [g.T @ z, h_in.T @ grad_z]
                    if c is not None:
                        layer_grads.append(g.sum(0))
                    grads = layer_grads + grads
                    if i > 0:
                        mask, pre = saved[i][2], saved[i - 1][3]
                        g = (grad_z @ b.T).mul_(mask).div_(keep).mul_(pre > 0)
                for p, grad in zip(params, grads, strict=True):
                    p.grad = grad
                flat.step()


def bound_autograd(model: nn.Module, x: Tensor, y: Tensor, **k: Any) -> None:
    """The posterior's bound training (``train_bound``'s arguments ``objective``, ``delta``,
    ``n_bound``, ``penalty``, ``epochs``, ``batch_size``, ``lr``, ``seed``), in place, as plain
    autograd steps: one draw per step in the layers' order (bias, ``A``, ``B``)."""
    layers = _low_rank_layers(model)
    blocks = []
    for layer in layers:
        names = (["bias"] if layer.bias_mode == "bayesian" else []) + ["A", "B"]
        locs, scales = layer.prior_means(), layer.prior_stds()
        if locs is None or scales is None:
            raise ValueError("bound_autograd needs per-entry prior means and stds")
        blocks.append([(n, layer._mean(n), layer._rho(n), locs[n], scales[n]) for n in names])
    fixed_bias = [None if layer.bias_mode == "bayesian" else layer.bias for layer in layers]
    shuffle, draws = _seeded_generators(k["seed"], torch.device("cpu"))
    params = [p for p in model.parameters() if p.requires_grad]
    n, bs, last = len(x), k["batch_size"], len(layers) - 1
    with FlatStep(params, lambda ts: torch.optim.Adam(ts, lr=k["lr"])) as flat:
        _bound_epochs(flat, blocks, fixed_bias, (x, y), (shuffle, draws), n, bs, last, k)


def _bound_epochs(
    flat: FlatStep,
    blocks: list[Any],
    fixed_bias: list[Tensor | None],
    data: tuple[Tensor, Tensor],
    generators: tuple[torch.Generator, torch.Generator],
    n: int,
    bs: int,
    last: int,
    k: dict[str, Any],
) -> None:
    """:func:`bound_autograd`'s loop."""
    (x, y), (shuffle, draws) = data, generators
    for _ in range(k["epochs"]):
        perm = torch.randperm(n, generator=shuffle)
        for j in range(math.ceil(n / bs)):
            idx = perm[j * bs : (j + 1) * bs]
            h = x[idx]
            kls = []
            for i, layer_blocks in enumerate(blocks):
                w = {}
                for name, mean, rho, loc, scale in layer_blocks:
                    std = F.softplus(rho)
                    eps = torch.randn(mean.shape, generator=draws, dtype=mean.dtype)
                    w[name] = std * eps + mean
                    kls.append(gaussian_kl_elementwise(mean, std, loc, scale).sum())
                h = h @ w["B"] @ w["A"].T
                bias = w.get("bias", fixed_bias[i])
                if bias is not None:
                    h = h + bias
                if i < last:
                    h = torch.relu(h)
            risk = bounded_cross_entropy(h, y[idx], p_min=1e-4)
            # the closed-form KL, summed over the entries, plus the penalty
            kl = torch.stack(kls).sum() + k["penalty"]
            value = bound_objective(k["objective"], risk, kl, n=k["n_bound"], delta=k["delta"])
            flat.zero_grad()
            value.backward()
            flat.step()


def gibbs_risks_floor(model: nn.Module, x: Tensor, y: Tensor, n_mc: int, seed: int) -> Tensor:
    """The 0-1 risks of ``n_mc`` networks drawn from ``model`` on ``(x, y)``
    (:func:`lrbnn_core.certificates.gibbs_risks`' numbers: each network drawn once, in the
    layers' order, from a generator seeded by ``seed``), every example in one pass per network,
    no module, no check."""
    layers = _low_rank_layers(model)
    gen = torch.Generator().manual_seed(seed)
    risks = torch.empty(n_mc, dtype=torch.float64)
    with torch.no_grad():
        for j in range(n_mc):
            h = x
            for i, layer in enumerate(layers):
                a, b, c = layer.sample_factors(gen)
                h = h @ b @ a.T
                if c is not None:
                    h = h + c
                if i < len(layers) - 1:
                    h = torch.relu(h)
            risks[j] = (h.argmax(dim=1) != y).double().mean()
    return risks
