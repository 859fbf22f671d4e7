"""FlatStep (lrbnn_core.training.flat): one optimizer update of one flat buffer per step gives the
per-parameter optimizer's parameters and state bit for bit (Adam, SGD with momentum, parameters
without gradients left out), gives the parameters their own storage back, hands over a
per-parameter optimizer that goes on as the original would, and refuses a changing set of
parameters; a mutant that mixes up the parameters' gradients is caught."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import lrbnn_core.training.flat as flat_module
from lrbnn_core.base import SamplingMode, set_sampling
from lrbnn_core.models import MLP
from lrbnn_core.training.flat import FlatStep

Make = Callable[[Any], torch.optim.Optimizer]
ADAM: Make = lambda ts: torch.optim.Adam(ts, lr=1e-2, foreach=True)  # noqa: E731
SGD: Make = lambda ts: torch.optim.SGD(ts, lr=1e-2, momentum=0.9, foreach=True)  # noqa: E731


def _net(mode: str = "shared") -> MLP:
    net = MLP((5, 8, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    set_sampling(net, SamplingMode(mode))
    return net


def _batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 5, generator=g), torch.randint(0, 3, (16,), generator=g))
            for _ in range(6)]  # fmt: skip


def _loss(net: MLP, xb: torch.Tensor, yb: torch.Tensor, step: int) -> torch.Tensor:
    for layer in net.layers:
        layer.generator = torch.Generator().manual_seed(step)
    return nn.functional.cross_entropy(net(xb), yb)


def _per_parameter(net: MLP, make: Make, steps: int = 6) -> torch.optim.Optimizer:
    params = list(net.parameters())
    optimizer = make(params)
    for i, (xb, yb) in enumerate(_batches()[:steps]):
        optimizer.zero_grad(set_to_none=True)
        _loss(net, xb, yb, i).backward()
        optimizer.step()
    return optimizer


def _flat(net: MLP, make: Make, steps: int = 6) -> FlatStep:
    with FlatStep(list(net.parameters()), make) as flat:
        for i, (xb, yb) in enumerate(_batches()[:steps]):
            flat.zero_grad()
            _loss(net, xb, yb, i).backward()
            flat.step()
    return flat


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(),
                                          strict=True)
    )  # fmt: skip


@pytest.mark.parametrize(("make", "mode"), [(ADAM, "shared"), (SGD, "shared"), (SGD, "mean")])
def test_the_flat_step_is_the_per_parameter_step_bit_for_bit(make: Make, mode: str) -> None:
    # in "mean" sampling the stds get no gradient: left out, as the per-parameter step skips them
    reference, net = _net(mode), _net(mode)
    original = _per_parameter(reference, make)
    flat = _flat(net, make)
    assert _same(reference, net) and not _same(reference, _net(mode))
    # the handed-over optimizer holds the same state and goes on as the original
    assert flat.optimizer is not None
    for p, q in zip(reference.parameters(), net.parameters(), strict=True):
        a, b = original.state.get(p, {}), flat.optimizer.state.get(q, {})
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    (xb, yb), steps = _batches()[0], (original, flat.optimizer)
    for model, optimizer in zip((reference, net), steps, strict=True):
        optimizer.zero_grad(set_to_none=True)
        _loss(model, xb, yb, 99).backward()
        optimizer.step()
    assert _same(reference, net)


def test_the_parameters_get_their_own_storage_back() -> None:
    net = _net()
    _flat(net, ADAM)
    pointers = [p.data_ptr() for p in net.parameters()]
    assert all(p._base is None for p in net.parameters()) and len(set(pointers)) == len(pointers)


def test_a_mutant_that_mixes_up_the_gradients_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _net()
    _per_parameter(reference, ADAM)
    real_cat = torch.cat

    def reversed_cat(tensors: list[torch.Tensor]) -> torch.Tensor:
        # the same total size, the parameters' gradients in the reverse order
        return real_cat(list(tensors)[::-1])

    monkeypatch.setattr(flat_module.torch, "cat", reversed_cat)
    mutant = _net()
    _flat(mutant, ADAM)
    assert not _same(reference, mutant)


def test_mixed_dtypes_run_the_per_parameter_step() -> None:
    def params() -> list[nn.Parameter]:
        return [nn.Parameter(torch.linspace(-1, 1, 4)),
                nn.Parameter(torch.linspace(0, 2, 3, dtype=torch.float64))]  # fmt: skip

    def loss(ps: list[nn.Parameter]) -> torch.Tensor:
        return ps[0].square().sum().double() + ps[1].sin().sum()

    a, b = params(), params()
    optimizer = ADAM(a)
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        loss(a).backward()
        optimizer.step()
    with FlatStep(b, ADAM) as flat:
        for _ in range(3):
            flat.zero_grad()
            loss(b).backward()
            flat.step()
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    assert not torch.equal(a[0], params()[0])


def test_a_changing_set_of_parameters_is_refused() -> None:
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    x = torch.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"shape \(1, 2\) had a gradient at the first step"):
        with FlatStep(list(net.parameters()), SGD) as flat:
            net(x).sum().backward()
            flat.step()
            flat.zero_grad()
            net[0](x).sum().backward()  # the second layer left out
            flat.step()
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    with pytest.raises(RuntimeError, match=r"shape \(1, 2\) had no gradient at the first step"):
        with FlatStep(list(net.parameters()), SGD) as flat:
            net[0](x).sum().backward()
            flat.step()
            flat.zero_grad()
            net(x).sum().backward()
            flat.step()


def test_a_closed_flat_step_refuses_to_step_and_closes_once() -> None:
    net = _net()
    flat = _flat(net, SGD, steps=2)
    assert flat.optimizer is not None and flat.close() is flat.optimizer
    with pytest.raises(RuntimeError, match="closed"):
        flat.step()
    with pytest.raises(RuntimeError, match="closed"):
        flat.set_lr(0.5)  # it would set a rate no step uses
    assert flat.optimizer.param_groups[0]["lr"] == 1e-2
