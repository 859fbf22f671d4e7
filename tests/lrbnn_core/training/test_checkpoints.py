"""Checkpoints (lrbnn_core.training.checkpoints): round trips and everything they refuse."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from lrbnn_core.training import load_checkpoint, predict, save_checkpoint, train
from tests.lrbnn_core.training.tiny import X8, Y8, TinyBayesLinear, params, quiet


class NotWeights:
    """Anything ``torch.load(weights_only=True)`` must refuse to unpickle."""


def trained(seed: int = 0) -> tuple[TinyBayesLinear, torch.optim.Optimizer]:
    model = TinyBayesLinear(2, 2, seed=seed, std=0.3)
    result = train(model, X8, Y8, quiet(epochs=2, batch_size=4, lr=0.05))
    return model, result.optimizer


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    model, opt = trained()
    path = tmp_path / "ck.pt"
    mask = torch.tensor([1, 0])
    extra: dict[str, Any] = {"epoch": 2, "name": "tiny", "curve": [0.5, 0.25], "mask": mask}
    save_checkpoint(path, model, optimizer=opt, extra=extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]  # no temporary file left
    fresh = TinyBayesLinear(2, 2, seed=1, std=0.3)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.05)
    got = load_checkpoint(path, fresh, optimizer=fresh_opt)
    assert got.keys() == extra.keys() and got["curve"] == [0.5, 0.25]
    assert got["epoch"] == 2 and got["name"] == "tiny" and torch.equal(got["mask"], mask)
    p1 = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(2))
    p2 = predict(fresh, X8, n_samples=3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(p1, p2)
    s1, s2 = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert all(torch.equal(s1[k][name], s2[k][name]) for name in s1[k])


def test_checkpoint_with_nan_is_rejected_and_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, trained()[0])
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["weight_rho"][0, 1] = math.nan
    torch.save(ckpt, path)
    target = TinyBayesLinear(2, 2, seed=5)
    before = params(target)
    with pytest.raises(
        ValueError, match=r"`model\['weight_rho'\]` contains NaN or infinite values"
    ):
        load_checkpoint(path, target)
    assert all(torch.equal(a, b) for a, b in zip(before, params(target), strict=True))


def test_checkpoint_with_inf_in_optimizer_state_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    model, opt = trained()
    save_checkpoint(path, model, optimizer=opt)
    ckpt = torch.load(path, weights_only=True)
    ckpt["optimizer"]["state"][0]["exp_avg"][0, 0] = -math.inf
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=r"`optimizer\['state'\]\[0\]\['exp_avg'\]`"):
        load_checkpoint(path, TinyBayesLinear(2, 2))


def test_checkpoint_mismatch_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, trained()[0])
    with pytest.raises(ValueError, match=r"shape of 'weight_mean': checkpoint \(2, 2\), model"):
        load_checkpoint(path, TinyBayesLinear(3, 2))
    with pytest.raises(ValueError, match=r"missing key 'weight'.*unexpected key 'weight_mean'"):
        load_checkpoint(path, nn.Linear(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"dtype of 'weight_mean': checkpoint torch.float64"):
        load_checkpoint(path, TinyBayesLinear(2, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"holds no optimizer state"):
        model = TinyBayesLinear(2, 2)
        load_checkpoint(path, model, optimizer=torch.optim.Adam(model.parameters()))


def test_checkpoint_rejects_foreign_files_and_unsaveable_extra(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=r"is not an lrbnn checkpoint"):
        load_checkpoint(path, TinyBayesLinear(2, 2))
    torch.save({"format": "lrbnn-checkpoint", "model": {}, "obj": NotWeights()}, path)
    with pytest.raises(ValueError, match=r"is not a readable weights-only checkpoint"):
        load_checkpoint(path, TinyBayesLinear(2, 2))
    other = tmp_path / "other.pt"
    with pytest.raises(TypeError, match=r"`extra\['ids'\]` is a set"):
        save_checkpoint(other, TinyBayesLinear(2, 2), extra={"ids": {1, 2}})
    assert not other.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    with pytest.raises(FileNotFoundError, match=r"`path`: directory .* does not exist"):
        save_checkpoint(tmp_path / "missing" / "ck.pt", TinyBayesLinear(2, 2))
