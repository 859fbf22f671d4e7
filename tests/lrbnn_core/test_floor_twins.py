"""The floor twins of benchmarks/_floor_steps.py (issue 16's evidence that the default sweep's 2x
is below eager PyTorch's floor) compute what the toolkit computes: the plain-autograd ERM gives
the toolkit's parameters bit for bit, the hand-written ERM gradients and the plain-autograd bound
step to rounding, the Monte Carlo risks exactly; each comparison catches a perturbed twin."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch

import benchmarks._floor_steps as floor
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.certificates import gibbs_risks
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.models import MLP
from lrbnn_core.objectives import train_bound

SETTINGS = DropoutERM(epochs=3, batch_size=16)
BOUND = {
    "objective": "kl",
    "delta": 0.05,
    "n_bound": 96,
    "penalty": math.log(3.0),
    "epochs": 2,
    "batch_size": 32,
    "lr": 1e-2,
    "seed": 4,
}


def _net() -> MLP:
    return MLP((5, 8, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))


def _data(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


def _erm(fn: Any) -> torch.nn.Module:
    net = _net()
    x, y = _data()
    fn(net, x, y)
    return net


def _toolkit_erm() -> torch.nn.Module:
    return _erm(lambda n, x, y: train_dropout_erm(n, x, y, settings=SETTINGS, seed=5,
                                                  progress=False))  # fmt: skip


def test_the_autograd_erm_is_the_toolkit_erm_bit_for_bit() -> None:
    twin = _erm(lambda n, x, y: floor.erm_autograd(n, x, y, SETTINGS, 5))
    assert floor.largest_difference(_toolkit_erm(), twin) == 0.0
    # the comparison can fail: another seed draws other masks
    other = _erm(lambda n, x, y: floor.erm_autograd(n, x, y, SETTINGS, 6))
    assert floor.largest_difference(_toolkit_erm(), other) > 1e-4


def test_the_hand_written_erm_gradients_agree_to_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _toolkit_erm()
    moved = floor.largest_difference(reference, _net())
    twin = _erm(lambda n, x, y: floor.erm_manual(n, x, y, SETTINGS, 5))
    assert floor.largest_difference(reference, twin) < 1e-6 < moved
    # a mutant: the softmax term of the logits' gradient 1 % too large
    real_softmax = torch.softmax

    def scaled(t: torch.Tensor, dim: int) -> torch.Tensor:
        return real_softmax(t, dim=dim) * 1.01

    monkeypatch.setattr(floor.torch, "softmax", scaled)
    mutant = _erm(lambda n, x, y: floor.erm_manual(n, x, y, SETTINGS, 5))
    assert floor.largest_difference(reference, mutant) > 1e-5


def _posterior() -> MLP:
    net = _net()
    set_prior(net, GaussianPrior(1.0), centre=copy.deepcopy(net), centre_std_scale=0.5)
    return net


def test_the_autograd_bound_step_agrees_with_train_bound_to_rounding() -> None:
    x, y = _data()
    start = _posterior()
    new, twin = copy.deepcopy(start), copy.deepcopy(start)
    train_bound(new, x, y, progress=False, **BOUND)
    floor.bound_autograd(twin, x, y, **BOUND)
    # measured: 3e-8 apart (float32 rounding of the fused backward against autograd's)
    assert floor.largest_difference(new, twin) < 1e-6 < floor.largest_difference(new, start)
    # the comparison can fail: a penalty one nat off moves the trained posterior by 2e-5
    mutant = copy.deepcopy(start)
    floor.bound_autograd(mutant, x, y, **{**BOUND, "penalty": BOUND["penalty"] + 1.0})
    assert floor.largest_difference(new, mutant) > 1e-6


def test_the_floor_risks_are_the_toolkits() -> None:
    x, y = _data()
    net = _posterior()
    risks = gibbs_risks(net, x, y, n_mc=7, generator=torch.Generator().manual_seed(2))
    twin = floor.gibbs_risks_floor(net, x, y, 7, 2)
    assert torch.equal(torch.as_tensor(risks), twin)
    assert not torch.equal(torch.as_tensor(risks), floor.gibbs_risks_floor(net, x, y, 7, 3))
