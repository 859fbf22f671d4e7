"""The stacked twins of benchmarks/_stacked_steps.py (issue 16's measure of what a multi-point
executor could gain) train each stacked model to what the point-by-point floor twins give it
alone (the dropout ERM and the bound training): in float64 to 1e-12 (the batched products sum in
their own order), so the benchmark times the same work; twins that mixed up the points'
generators, or a penalty one nat off, would be caught."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import benchmarks._floor_steps as floor
import benchmarks._stacked_steps as stacked
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.erm_prior import DropoutERM
from lrbnn_core.models import MLP

SETTINGS = DropoutERM(epochs=3, batch_size=16)
SEEDS = [5, 7, 11]
BOUND = {
    "objective": "kl",
    "delta": 0.05,
    "n_bound": 90,
    "penalty": math.log(3.0),
    "epochs": 2,
    "batch_size": 32,
    "lr": 1e-2,
}


def _nets() -> list[MLP]:
    return [
        MLP((5, 8, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(s)).double()
        for s in SEEDS
    ]


def _data() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    xs = [torch.randn(90, 5, generator=g, dtype=torch.float64) for _ in SEEDS]
    return xs, [torch.randint(0, 3, (90,), generator=g) for _ in SEEDS]


def _alone() -> list[MLP]:
    nets, (xs, ys) = _nets(), _data()
    for net, x, y, seed in zip(nets, xs, ys, SEEDS, strict=True):
        floor.erm_autograd(net, x, y, SETTINGS, seed)
    return nets


def test_each_stacked_model_trains_as_it_would_alone() -> None:
    alone, together, (xs, ys) = _alone(), _nets(), _data()
    before = copy.deepcopy(together)
    stacked.erm_stacked(together, xs, ys, SETTINGS, SEEDS)
    for a, t, b in zip(alone, together, before, strict=True):
        assert floor.largest_difference(a, t) < 1e-12
        assert floor.largest_difference(b, t) > 1e-2  # it trained


def test_mixed_up_generators_are_caught() -> None:
    alone, together, (xs, ys) = _alone(), _nets(), _data()
    stacked.erm_stacked(together, xs, ys, SETTINGS, SEEDS[::-1])  # mutant: other streams
    assert max(floor.largest_difference(a, t) for a, t in zip(alone, together, strict=True)) > 1e-3


def test_unequal_sizes_are_refused() -> None:
    nets, (xs, ys) = _nets(), _data()
    xs[0], ys[0] = xs[0][:80], ys[0][:80]
    with pytest.raises(ValueError, match="one dataset of one size"):
        stacked.erm_stacked(nets, xs, ys, SETTINGS, SEEDS)


def _posteriors() -> list[MLP]:
    nets = _nets()
    for net in nets:
        set_prior(net, GaussianPrior(1.0), centre=copy.deepcopy(net), centre_std_scale=0.5)
    return nets


def _bound_alone() -> list[MLP]:
    nets, (xs, ys) = _posteriors(), _data()
    for net, x, y, seed in zip(nets, xs, ys, SEEDS, strict=True):
        floor.bound_autograd(net, x, y, seed=seed, **BOUND)
    return nets


def test_each_stacked_posterior_trains_as_it_would_alone() -> None:
    alone, together, (xs, ys) = _bound_alone(), _posteriors(), _data()
    before = copy.deepcopy(together)
    stacked.bound_stacked(together, xs, ys, SEEDS, **BOUND)
    for a, t, b in zip(alone, together, before, strict=True):
        assert floor.largest_difference(a, t) < 1e-12
        assert floor.largest_difference(b, t) > 1e-3  # it trained


@pytest.mark.parametrize("mutant", ["seeds", "penalty"])
def test_a_perturbed_stacked_bound_step_is_caught(mutant: str) -> None:
    alone, together, (xs, ys) = _bound_alone(), _posteriors(), _data()
    seeds = SEEDS[::-1] if mutant == "seeds" else SEEDS
    k = {**BOUND, "penalty": BOUND["penalty"] + (1.0 if mutant == "penalty" else 0.0)}
    stacked.bound_stacked(together, xs, ys, seeds, **k)
    assert max(floor.largest_difference(a, t) for a, t in zip(alone, together, strict=True)) > 1e-6
