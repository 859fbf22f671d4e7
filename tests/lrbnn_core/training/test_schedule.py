"""The learning-rate schedule, gradient clipping and early stopping of :func:`train`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lrbnn_core.training import Schedule, TrainConfig, data_nll, lr_factor, train


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 3)).double()


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=g, dtype=torch.float64), torch.randint(
        0, 3, (n,), generator=g
    )


def test_lr_factor_matches_the_cosine_formula() -> None:
    total = 37
    t = np.arange(total)
    twin = (1 + np.cos(np.pi * t / total)) / 2  # independent numpy twin
    got = [lr_factor(int(k), total_steps=total, schedule=Schedule.COSINE) for k in t]
    np.testing.assert_allclose(got, twin, rtol=0, atol=1e-15)
    assert [lr_factor(k, total_steps=5, schedule="constant") for k in range(5)] == [1.0] * 5
    with pytest.raises(ValueError, match="`schedule` must be one of"):
        lr_factor(0, total_steps=5, schedule="linear")


def test_cosine_schedule_sets_each_steps_lr() -> None:
    x, y = _data(40, 0)
    config = TrainConfig(epochs=3, batch_size=10, lr=0.01, schedule="cosine", progress=False)
    result = train(_net(), x, y, config)
    last = config.epochs * 4 - 1
    assert result.optimizer.param_groups[0]["lr"] == pytest.approx(
        0.01 * (1 + math.cos(math.pi * last / (config.epochs * 4))) / 2, rel=1e-15
    )
    constant = train(_net(), x, y, TrainConfig(epochs=3, batch_size=10, lr=0.01, progress=False))
    assert constant.optimizer.param_groups[0]["lr"] == 0.01


def test_clipping_bounds_the_gradient_adam_sees() -> None:
    """Clipped to 1e-12, gradients fall below Adam's eps and the parameters barely move."""
    x, y = _data(40, 1)

    def moved(clip: float | None) -> float:
        net = _net()
        before = torch.cat([p.detach().flatten().clone() for p in net.parameters()])
        train(
            net, x, y, TrainConfig(epochs=1, batch_size=10, lr=0.01, clip_norm=clip, progress=False)
        )
        after = torch.cat([p.detach().flatten() for p in net.parameters()])
        return float((after - before).norm())

    assert moved(1e-12) < 0.01 * moved(None)
    assert moved(1e6) == moved(None)  # a loose clip changes nothing


def test_early_stopping_restores_the_best_validation_epoch() -> None:
    """Random labels and a large network: the validation NLL turns up, training stops within
    ``patience`` epochs of its minimum and the model holds that epoch's parameters."""
    x, y = _data(60, 2)
    xv, yv = _data(200, 3)
    net = _net()
    config = TrainConfig(epochs=200, batch_size=20, lr=0.05, patience=3, progress=False)
    result = train(net, x, y, config, x_val=xv, y_val=yv)
    nlls = [h.val_nll for h in result.history]
    assert result.best_epoch is not None and len(nlls) < 200
    assert result.best_epoch == 1 + int(np.argmin(nlls))
    assert len(nlls) == result.best_epoch + 3
    with torch.no_grad():
        now = float(data_nll(net(xv), yv, "classification"))
    assert now == pytest.approx(nlls[result.best_epoch - 1], rel=1e-12)


def test_early_stopping_needs_a_validation_set_and_bad_settings_are_named() -> None:
    x, y = _data(10, 4)
    with pytest.raises(ValueError, match=r"`config.patience` = 2 \(early stopping\) needs"):
        train(_net(), x, y, TrainConfig(epochs=2, patience=2, progress=False))
    with pytest.raises(ValueError, match="`clip_norm` must be a finite number > 0; got 0"):
        TrainConfig(clip_norm=0.0)
    with pytest.raises(ValueError, match="`patience` must be"):
        TrainConfig(patience=0)
    with pytest.raises(ValueError, match="`schedule` must be one of"):
        TrainConfig(schedule="step")


def test_early_stopping_on_accuracy_keeps_the_first_best_epoch() -> None:
    x, y = _data(60, 5)
    xv, yv = _data(200, 6)
    net = _net(1)
    config = TrainConfig(
        epochs=60, batch_size=20, lr=0.05, patience=4, monitor="accuracy", progress=False
    )
    result = train(net, x, y, config, x_val=xv, y_val=yv)
    accs = [h.val_accuracy for h in result.history]
    assert result.best_epoch == 1 + int(np.argmax(accs))  # argmax: the first of ties
    assert len(accs) == result.best_epoch + 4 or len(accs) == 60
    with torch.no_grad():
        now = float((net(xv).argmax(-1) == yv).double().mean())
    assert now == accs[result.best_epoch - 1]
    with pytest.raises(ValueError, match="`monitor` 'accuracy' needs task 'classification'"):
        TrainConfig(monitor="accuracy", task="regression")
