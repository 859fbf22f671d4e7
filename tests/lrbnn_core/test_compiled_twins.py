"""The compiled twins of benchmarks/_compiled_steps.py (issue 16's measure of whether compiled
training loops pay in the default sweep) train a low-rank MLP as the toolkit does: the ERM twin
its means as the dropout ERM, the bound twin its posterior as ``train_bound``, in float64 to
1e-12, uncompiled and compiled, so that the benchmark times the same work. Twins with another
momentum, masks drawn in another order, no rescaling of the kept units, the draws in another
order or a penalty one nat off would be caught."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import Tensor

import benchmarks._compiled_steps as twin
import benchmarks._floor_steps as floor
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.layers.compiled import compiler_available
from lrbnn_core.models import MLP
from lrbnn_core.objectives import train_bound

SETTINGS = DropoutERM(epochs=3, batch_size=16)
SEED = 7


def _net(**kw: Any) -> MLP:
    return MLP((5, 8, 6, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(1), **kw)


def _data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(90, 5, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (90,), generator=g)


def _toolkit() -> list[Tensor]:
    net, (x, y) = _net().double(), _data()
    train_dropout_erm(net, x, y, settings=SETTINGS, seed=SEED, progress=False)
    return twin.mean_params(net)


def _difference(a: list[Tensor], b: list[Tensor]) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a, b, strict=True))


def _twin(update: twin.Update = twin.erm_update, settings: DropoutERM = SETTINGS) -> list[Tensor]:
    return twin.erm_twin(_net().double(), *_data(), settings, SEED, update)


def test_the_twin_trains_as_the_toolkit_does() -> None:
    ours, before = _toolkit(), twin.mean_params(_net().double())
    assert _difference(ours, _twin()) < 1e-12
    assert _difference(ours, before) > 1e-2  # it trained


def test_the_twin_leaves_the_model_alone() -> None:
    net, (x, y) = _net().double(), _data()
    before = copy.deepcopy(net.state_dict())
    twin.erm_twin(net, x, y, SETTINGS, SEED)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def _masks_reversed(params: list[Tensor], buffers: list[Tensor], xb: Tensor, yb: Tensor,
                    masks: list[Tensor], *rest: float) -> Tensor:  # fmt: skip
    return twin.erm_update(params, buffers, xb, yb, masks[::-1], *rest)


def _not_rescaled(params: list[Tensor], buffers: list[Tensor], xb: Tensor, yb: Tensor,
                  masks: list[Tensor], lr: float, momentum: float, _: float) -> Tensor:  # fmt: skip
    return twin.erm_update(params, buffers, xb, yb, masks, lr, momentum, 1.0)


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param(
            {"settings": DropoutERM(epochs=3, batch_size=16, momentum=0.94)}, id="momentum"
        ),
        pytest.param({"update": _not_rescaled}, id="no-rescaling"),
    ],
)
def test_the_comparison_catches_mutants(mutant: dict[str, Any]) -> None:
    assert _difference(_toolkit(), _twin(**mutant)) > 1e-6


def test_masks_in_another_order_are_caught() -> None:
    # equal widths, so that the two hidden layers' masks can be swapped
    net, (x, y) = MLP((5, 6, 6, 3), "low_rank", rank=2).double(), _data()
    ours = copy.deepcopy(net)
    train_dropout_erm(ours, x, y, settings=SETTINGS, seed=SEED, progress=False)
    swapped = twin.erm_twin(net, x, y, SETTINGS, SEED, _masks_reversed)
    same = twin.erm_twin(net, x, y, SETTINGS, SEED)
    assert _difference(twin.mean_params(ours), same) < 1e-12
    assert _difference(twin.mean_params(ours), swapped) > 1e-6


def test_what_the_twins_do_not_take_is_refused() -> None:
    with pytest.raises(ValueError, match="bias"):
        twin.mean_params(_net(bias=False))
    with pytest.raises(TypeError, match="LowRankBayesLinear"):
        twin.mean_params(MLP((5, 8, 3), "mean_field"))
    x, y = _data()
    with pytest.raises(ValueError, match="per-entry priors"):
        twin.bound_twin(_net().double(), x, y, **BOUND)  # no prior set


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler")
def test_the_compiled_twin_trains_as_the_toolkit_does() -> None:
    assert _difference(_toolkit(), _twin(twin.compiled_update())) < 1e-12


BOUND = {"objective": "kl", "delta": 0.05, "n_bound": 90, "penalty": math.log(3.0), "epochs": 2,
         "batch_size": 32, "lr": 1e-2, "seed": 4}  # fmt: skip


def _posterior() -> MLP:
    net = _net().double()
    posterior = copy.deepcopy(net)
    set_prior(posterior, GaussianPrior(1.0), centre=net, centre_std_scale=0.5)
    return posterior


def _bound_toolkit() -> MLP:
    posterior, (x, y) = _posterior(), _data()
    train_bound(posterior, x, y, progress=False, **BOUND)  # type: ignore[arg-type]
    return posterior


def _bound(terms: Any = twin.risk_and_kl, **changes: Any) -> MLP:
    posterior, (x, y) = _posterior(), _data()
    twin.bound_twin(posterior, x, y, terms, **{**BOUND, **changes})
    return posterior


def test_the_bound_twin_trains_as_the_toolkit_does() -> None:
    ours = _bound_toolkit()
    assert floor.largest_difference(ours, _bound()) < 1e-12
    assert floor.largest_difference(ours, _posterior()) > 1e-2  # it trained


def _draws_reordered(blocks: list[list[Tensor]], eps: list[Tensor], *rest: Any) -> Any:
    # each entry's noise in another order (its rows reversed)
    return twin.risk_and_kl(blocks, [e.flip(0) for e in eps], *rest)


def test_noise_in_another_order_is_caught() -> None:
    assert floor.largest_difference(_bound_toolkit(), _bound(_draws_reordered)) > 1e-6


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param({"penalty": math.log(3.0) + 1.0}, id="penalty"),
        pytest.param({"lr": 1.1e-2}, id="rate"),
    ],
)
def test_the_bound_comparison_catches_mutants(mutant: dict[str, Any]) -> None:
    assert floor.largest_difference(_bound_toolkit(), _bound(**mutant)) > 1e-6


@pytest.mark.skipif(not compiler_available(), reason="no C++ compiler")
def test_the_compiled_bound_twin_trains_as_the_toolkit_does() -> None:
    ours = _bound_toolkit()
    assert floor.largest_difference(ours, _bound(twin.compiled(twin.risk_and_kl))) < 1e-12
