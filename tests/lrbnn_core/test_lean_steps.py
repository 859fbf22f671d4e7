"""The lean training steps against the old ones (kept in benchmarks/bench_sweep_point.py):
bound training and the dropout ERM give the same parameters bit for bit on fixed seeds; the
one-kernel gradient check catches every non-finite entry."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from benchmarks.bench_sweep_point import _old_erm, _old_train_bound
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.models import MLP
from lrbnn_core.objectives import train_bound
from lrbnn_core.objectives.trainer import _gradients_finite


def _data(n: int = 96) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_train_bound_equals_the_old_step(kind: str) -> None:
    net = MLP((5, 8, 8, 3), kind, rank=2, generator=torch.Generator().manual_seed(0))
    x, y = _data()
    kw = {
        "batch_size": 32,
        "lr": 1e-2,
        "seed": 4,
        "epochs": 3,
        "delta": 0.05,
        "n_bound": 96,
        "penalty": math.log(3.0),
    }
    old, new = copy.deepcopy(net), copy.deepcopy(net)
    _old_train_bound(old, x, y, **kw)
    train_bound(new, x, y, objective="kl", progress=False, **kw)
    for (name, a), b in zip(old.state_dict().items(), new.state_dict().values(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(net.state_dict().values(), new.state_dict().values(), strict=True)
    )


def test_dropout_erm_equals_the_old_step_bit_for_bit() -> None:
    net = MLP((5, 8, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    x, y = _data()
    settings = DropoutERM(epochs=3, batch_size=16)
    old, new = copy.deepcopy(net), copy.deepcopy(net)
    _old_erm(old, x, y, settings=settings, seed=5)
    train_dropout_erm(new, x, y, settings=settings, seed=5, progress=False)
    assert all(
        torch.equal(a, b)
        for a, b in zip(old.state_dict().values(), new.state_dict().values(), strict=True)
    )
    # the check can fail: another seed draws other masks
    other = copy.deepcopy(net)
    train_dropout_erm(other, x, y, settings=settings, seed=6, progress=False)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(old.state_dict().values(), other.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_finite_catches_every_non_finite_entry(bad: float, dtype: torch.dtype) -> None:
    big = torch.finfo(dtype).max
    params = [torch.nn.Parameter(torch.zeros(s, dtype=dtype)) for s in ((3, 4), (7,), ())]
    for p in params:
        p.grad = torch.full_like(p, big)  # sums would overflow: still all finite
    flag = torch.zeros(())
    assert _gradients_finite(params, flag)
    assert all(torch.equal(p.grad, torch.full_like(p, big)) for p in params)  # unchanged
    for k, p in enumerate(params):
        saved = p.grad.clone()
        p.grad.view(-1)[-1] = bad
        assert not _gradients_finite(params, flag), k
        p.grad = saved
    assert _gradients_finite(params, flag)
