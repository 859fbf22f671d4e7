"""train() (the ELBO loop) updates one flat buffer per step (FlatStep) and gives bit for bit the
parameters, the step records and the optimizer of the per-parameter Adam it replaced (the twin:
the same loop with FlatStep forced onto its per-parameter path), with a learning-rate schedule,
gradient clipping, weight decay and early stopping; the handed-over optimizer holds the last
scheduled rate; a FlatStep that ignored the schedule would be caught."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import lrbnn_core.training.flat as flat_module
import lrbnn_core.training.loop as loop
from lrbnn_core.models import MLP
from lrbnn_core.training import TrainConfig, train
from lrbnn_core.training.flat import FlatStep


class _PerParameter(FlatStep):
    """The twin: FlatStep's per-parameter path (the optimizer over the parameters themselves),
    which is the loop as it ran before the flat buffer."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flattens = False


def _data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(70, 5, generator=g), torch.randint(0, 3, (70,), generator=g)
    return x[:50], y[:50], x[50:], y[50:]


def _same(a: MLP, b: MLP) -> bool:
    pairs = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    return all(torch.equal(p, q) for p, q in pairs)


def _run(config: TrainConfig) -> tuple[MLP, Any]:
    net = MLP((5, 8, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    x, y, xv, yv = _data()
    val = {"x_val": xv, "y_val": yv} if config.patience is not None else {}
    return net, train(net, x, y, config, **val)


CONFIGS = {
    "cosine": {"schedule": "cosine"},
    "clipped": {"clip_norm": 0.5},
    "adamw": {"weight_decay": 0.1},
    "early-stopping": {"patience": 2},
}


def _config(**kw: Any) -> TrainConfig:
    return TrainConfig(epochs=6, batch_size=16, lr=0.02, seed=3, progress=False, **kw)


def _twin(config: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> tuple[MLP, Any]:
    with monkeypatch.context() as m:
        m.setattr(loop, "FlatStep", _PerParameter)
        return _run(config)


@pytest.mark.parametrize("options", CONFIGS.values(), ids=CONFIGS.keys())
def test_train_is_the_per_parameter_loop_bit_for_bit(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(**options)
    (net, result), (twin, expected) = _run(config), _twin(config, monkeypatch)
    assert _same(net, twin)
    assert result.steps == expected.steps and result.best_epoch == expected.best_epoch
    assert [h.loss for h in result.history] == [h.loss for h in expected.history]
    ours, theirs = result.optimizer, expected.optimizer
    assert [g["lr"] for g in ours.param_groups] == [g["lr"] for g in theirs.param_groups]
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        a, b = ours.state.get(p, {}), theirs.state.get(q, {})
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pointers = [p.data_ptr() for p in net.parameters()]
    assert len(set(pointers)) == len(pointers)  # their own storage again


def test_the_handed_over_optimizer_holds_the_last_scheduled_rate() -> None:
    _, result = _run(_config(schedule="cosine"))
    lr = result.optimizer.param_groups[0]["lr"]
    assert 0.0 < lr < 0.02 * 0.1  # the cosine's last step, not the base rate


def test_a_flat_step_that_ignores_the_schedule_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _config(schedule="cosine")
    twin, _ = _twin(config, monkeypatch)
    monkeypatch.setattr(flat_module, "_set_lr", lambda optimizer, lr: None)
    mutant, _ = _run(config)
    assert not _same(mutant, twin)
