"""How much a multi-point executor could gain: the two training stages of the default sweep's
points (MNIST-1D MLP 40-128-128-10, rank 16), one point per step against ``P`` points of one
shape stacked in one step (``_stacked_steps.py``), measured side by side.

A default sweep point is within 7 % to 48 % of eager PyTorch's floor for its own arithmetic
(``bench_sweep_point.py``), which caps the default sweep below issue 16's 2x. The default grid
repeats each shape over two seeds, so an executor that trains the points of one shape together
would share the per-step dispatch between them. For the dropout ERM of the prior model's means
(``erm``, batches of 64 from the prior half) and the posterior's bound training (``bound``, the
kl objective, batches of 64 from the whole training set, the posterior centred at its own
initialisation: the shapes and the work of the sweep's, not its values), this benchmark prints
the step's cost per point at ``P = 1`` (the floor twins, point by point) and stacked at
``P = 2`` and ``P = 4``, their ratio, and the largest difference of the trained parameters from
the point-by-point twins. That difference is rounding (a batched product may sum in another
order; the tests check 1e-12 in float64), but float32 training amplifies it: measured, one
seed's ERM parameters drift 1e-7 apart after 3 epochs and 8e-4 after 5, so an executor built
this way would not keep the committed ``results.csv`` bytes.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_stacked_points.py [--epochs E]
[--repeats R] [--json PATH]`` (``make bench`` writes
``benchmarks/results/bench_stacked_points.json``).
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from typing import Any

import torch
from torch import nn

import verification.sweep.point as vp
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.certified_training import split_for_prior
from lrbnn_core.erm_prior import DropoutERM
from verification.sweep.spec import grid, make_spec

WIDTH, RANK, STACKS = 128, 16, (2, 4)
BOUND = {"objective": "kl", "delta": 0.04, "penalty": math.log(14.0), "batch_size": 64, "lr": 1e-4}


def points(seeds: list[int]) -> list[dict[str, Any]]:
    """Per seed, the default grid's ``w128-s<seed>-r16`` point (seeds past the grid's use the
    same recipe) as the sweep builds it: the untrained model, the prior half and the whole
    training set, and a posterior centred at the model."""
    base = {p.point_id: p for p in grid(make_spec())}[f"w{WIDTH}-s0-r{RANK}"]
    out = []
    for seed in seeds:
        point = base.__class__(**{**base.__dict__, "seed": seed})
        data = vp._load(point)
        prior_idx, _ = split_for_prior(len(data.x_train), 0.5, seed)
        model = vp._builder(point, data)(torch.Generator().manual_seed(seed))
        posterior = copy.deepcopy(model)
        set_prior(posterior, GaussianPrior(1.0), centre=model, centre_std_scale=0.5)
        out.append({"erm": (model, data.x_train[prior_idx], data.y_train[prior_idx]),
                    "bound": (posterior, data.x_train, data.y_train)})  # fmt: skip
    return out


def _stage(stage: str, parts: list[dict[str, Any]], seeds: list[int], epochs: int,
           repeats: int) -> dict[str, Any]:  # fmt: skip
    import _floor_steps as floor  # type: ignore[import-not-found]
    import _stacked_steps as stacked  # type: ignore[import-not-found]

    settings = DropoutERM(epochs=epochs)
    n = len(parts[0][stage][1])
    bound = {**BOUND, "epochs": epochs, "n_bound": n // 2}
    batch = settings.batch_size if stage == "erm" else bound["batch_size"]
    steps = epochs * math.ceil(n / batch)

    def one_by_one(models: list[nn.Module]) -> None:
        for m, part, seed in zip(models, parts, seeds, strict=True):
            _, x, y = part[stage]
            if stage == "erm":
                floor.erm_autograd(m, x, y, settings, seed)
            else:
                floor.bound_autograd(m, x, y, seed=seed, **bound)

    def together(models: list[nn.Module]) -> None:
        xs = [part[stage][1] for part in parts[: len(models)]]
        ys = [part[stage][2] for part in parts[: len(models)]]
        if stage == "erm":
            stacked.erm_stacked(models, xs, ys, settings, seeds[: len(models)])
        else:
            stacked.bound_stacked(models, xs, ys, seeds[: len(models)], **bound)

    runs: dict[int, list[float]] = {p: [] for p in (1, *STACKS)}
    trained: dict[int, list[nn.Module]] = {}
    for repeat in range(repeats + 1):  # interleaved; the first round warms up, untimed
        for p in runs:
            count = max(STACKS) if p == 1 else p
            models = [copy.deepcopy(part[stage][0]) for part in parts[:count]]
            start = time.perf_counter()
            (one_by_one if p == 1 else together)(models)
            if repeat:
                runs[p].append((time.perf_counter() - start) / count)
            trained[p] = models
    per_point = {p: 1e3 * min(t) / steps for p, t in runs.items()}
    ms = {str(p): v for p, v in per_point.items()}
    out: dict[str, Any] = {"steps": steps, "ratio": {}, "largest_difference": {}, "ms": ms}
    print(f"{stage} step of w{WIDTH}-r{RANK} ({steps} steps of batch {batch}), "
          "ms per point per step:")  # fmt: skip
    print(f"  one point at a time: {per_point[1]:.3f}")
    for p in STACKS:
        pairs = zip(trained[p], trained[1][:p], strict=True)
        diff = max(floor.largest_difference(a, b) for a, b in pairs)
        ratio = per_point[1] / per_point[p]
        out["ratio"][str(p)], out["largest_difference"][str(p)] = ratio, diff
        print(f"  {p} points stacked: {per_point[p]:.3f} ({ratio:.2f}x shorter per point); "
              f"trained parameters differ from point by point by at most {diff:.2g}")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timing (default 2)")
    parser.add_argument("--repeats", type=int, default=5, help="timings, the min kept")
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(max(STACKS)))
    parts = points(seeds)
    values: dict[str, Any] = {"epochs": args.epochs, "repeats": args.repeats}
    for stage in ("erm", "bound"):
        values[stage] = _stage(stage, parts, seeds, args.epochs, args.repeats)
    if args.json is not None:
        # imported here: the tests import this file as benchmarks.<name>, where the script's
        # folder is not on the path
        from _results import write_result  # type: ignore[import-not-found]

        print(f"wrote {write_result(args.json, 'bench_stacked_points', values)}")


if __name__ == "__main__":
    main()
