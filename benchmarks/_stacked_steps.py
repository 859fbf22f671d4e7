"""Several sweep points in one step: the dropout ERM and the bound training of ``P`` models of
one shape (the same width and rank at different seeds), stacked along a leading axis so that
each product is one batched ``matmul`` over the points instead of ``P`` separate ones (used by
``bench_stacked_points.py``).

Issue 16's sweep targets are blocked at eager PyTorch's dispatch floor for one point
(``_floor_steps.py``). Stacking points shares that floor: each point keeps its own data, its own
shuffle and its own dropout draws (one ``randperm`` and one ``rand`` per point from its own
generators, in the toolkit's order), and only the arithmetic is batched. This twin measures how
much a multi-point executor could gain; it is a benchmark's twin, never the toolkit's path (no
module, no check: a NaN would go through it unnamed).

:func:`erm_stacked` and :func:`bound_stacked` train ``P`` models to what
:func:`_floor_steps.erm_autograd` and :func:`_floor_steps.bound_autograd` give each of them
alone, to rounding (a batched product may sum in another order than a single one). The bound
step's objective (the kl inverse of each point's risk) stays one scalar call per point.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from lrbnn_core.erm_prior import DropoutERM, stage_generators
from lrbnn_core.objectives.bounds import bound_objective, bounded_cross_entropy
from lrbnn_core.priors import gaussian_kl_elementwise
from lrbnn_core.training.flat import FlatStep
from lrbnn_core.training.loop import _seeded_generators

try:  # imported as benchmarks._stacked_steps (the tests) or from the benchmarks folder
    from benchmarks import _floor_steps as floor
except ImportError:  # pragma: no cover - the script's folder is on the path
    import _floor_steps as floor  # type: ignore[import-not-found,no-redef]


def erm_stacked(
    models: list[nn.Module],
    xs: list[Tensor],
    ys: list[Tensor],
    settings: DropoutERM,
    seeds: list[int],
) -> None:
    """The dropout ERM of every model's means, in place, all in one loop of stacked steps."""
    _check_points("erm_stacked", models, xs, ys, seeds)
    layouts = [[floor._mean_blocks(layer) for layer in floor._low_rank_layers(m)] for m in models]
    per_model = [[t for blk in layout for t in blk if t is not None] for layout in layouts]
    # the stacked parameters (P, ...); the bias (P, m) broadcasts over the batch as (P, 1, m)
    params = [_stack([ts[i] for ts in per_model]) for i in range(len(per_model[0]))]
    leaves = iter(params)
    stacked = [[None if t is None else next(leaves) for t in blk] for blk in layouts[0]]
    gens = [stage_generators(seed, 0) for seed in seeds]
    x, y = torch.stack(xs), torch.stack(ys)
    rows = torch.arange(len(models)).unsqueeze(1)
    keep, last = 1.0 - settings.dropout, len(stacked) - 1
    with floor._sgd(params, settings) as flat:
        for _ in range(settings.epochs):
            perms = [torch.randperm(x.shape[1], generator=g[0]) for g in gens]
            for idx in torch.stack(perms).split(settings.batch_size, dim=1):
                h = x[rows, idx]
                for i, (a, b, c) in enumerate(stacked):
                    if i > 0:
                        shape = h.shape[1:]
                        masks = [torch.rand(shape, generator=g[1], dtype=h.dtype) for g in gens]
                        h = (h * torch.stack(masks).lt_(keep)).div_(keep)
                    h = h @ b @ a.transpose(1, 2)
                    if c is not None:
                        h = h + c.unsqueeze(1)
                    if i < last:
                        h = torch.relu(h)
                # each point's mean cross-entropy over its batch, summed over the points
                losses = F.cross_entropy(h.flatten(0, 1), y[rows, idx].flatten(), reduction="none")
                loss = losses.view(idx.shape).mean(1).sum()
                flat.zero_grad()
                loss.backward()
                flat.step()
    _copy_back(per_model, params)


def _check_points(
    name: str, models: list[nn.Module], xs: list[Tensor], ys: list[Tensor], seeds: list[int]
) -> None:
    if not len(models) == len(xs) == len(ys) == len(seeds) or len({len(x) for x in xs}) != 1:
        raise ValueError(f"{name} takes one dataset of one size and one seed per model")


def _stack(tensors: list[Tensor]) -> Tensor:
    return torch.stack(tensors).detach().requires_grad_(tensors[0].requires_grad)


def _copy_back(originals: list[list[Tensor]], stacked: list[Tensor]) -> None:
    with torch.no_grad():
        for k, tensors in enumerate(originals):
            for p, s in zip(tensors, stacked, strict=True):
                p.copy_(s[k])


def bound_stacked(
    models: list[nn.Module], xs: list[Tensor], ys: list[Tensor], seeds: list[int], **k: Any
) -> None:
    """The bound training of every model (``train_bound``'s arguments ``objective``, ``delta``,
    ``n_bound``, ``penalty``, ``epochs``, ``batch_size``, ``lr``), in place, all in one loop of
    stacked steps: each point's draws from its own generators in the layers' order (bias, ``A``,
    ``B``), the objectives summed over the points. Bayesian biases only."""
    _check_points("bound_stacked", models, xs, ys, seeds)
    per_model: list[list[tuple[Tensor, ...]]] = []  # (mean, rho, loc, scale) per block
    for model in models:
        blocks = []
        for layer in floor._low_rank_layers(model):
            locs, scales = layer.prior_means(), layer.prior_stds()
            if layer.bias_mode != "bayesian" or locs is None or scales is None:
                raise ValueError("bound_stacked takes Bayesian biases and per-entry priors")
            for n in ("bias", "A", "B"):
                blocks.append((layer._mean(n), layer._rho(n), locs[n], scales[n]))
        per_model.append(blocks)
    stacked = [
        [_stack([b[j][i] for b in per_model]) for i in range(4)] for j in range(len(per_model[0]))
    ]
    leaves = [t for blk in stacked for t in blk[:2]]
    gens = [_seeded_generators(seed, torch.device("cpu")) for seed in seeds]
    x, y = torch.stack(xs), torch.stack(ys)
    rows, n, bs = torch.arange(len(models)).unsqueeze(1), x.shape[1], k["batch_size"]
    last = len(stacked) // 3 - 1
    with FlatStep(leaves, lambda ts: torch.optim.Adam(ts, lr=k["lr"])) as flat:  # type: ignore[arg-type]
        for _ in range(k["epochs"]):
            perm = torch.stack([torch.randperm(n, generator=g[0]) for g in gens])
            for j in range(math.ceil(n / bs)):
                idx = perm[:, j * bs : (j + 1) * bs]
                h, kls = x[rows, idx], []
                for i in range(last + 1):
                    w = []
                    for mean, rho, loc, scale in stacked[3 * i : 3 * i + 3]:
                        std = F.softplus(rho)
                        shape = mean.shape[1:]
                        eps = torch.stack(
                            [torch.randn(shape, generator=g[1], dtype=mean.dtype) for g in gens]
                        )
                        w.append(std * eps + mean)
                        kl_entries = gaussian_kl_elementwise(mean, std, loc, scale)
                        kls.append(kl_entries.flatten(1).sum(1))
                    bias, a, b = w
                    h = h @ b @ a.transpose(1, 2) + bias.unsqueeze(1)
                    if i < last:
                        h = torch.relu(h)
                kl = torch.stack(kls).sum(0) + k["penalty"]
                targets = y[rows, idx]
                value = sum(
                    bound_objective(
                        k["objective"],
                        bounded_cross_entropy(h[p], targets[p], p_min=1e-4),
                        kl[p],
                        n=k["n_bound"],
                        delta=k["delta"],
                    )
                    for p in range(len(models))
                )
                flat.zero_grad()
                value.backward()  # type: ignore[union-attr]
                flat.step()
    for j, blk in enumerate(stacked):
        _copy_back([[b[j][0], b[j][1]] for b in per_model], blk[:2])
