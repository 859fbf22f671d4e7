"""The deep ensemble (lrbnn_core.baselines.ensemble) against members built and trained by hand
from the same seeds, bit for bit; its layout, parameter count and refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lrbnn_core.baselines import DeepEnsemble, parameter_count, train_deep_ensemble
from lrbnn_core.baselines.ensemble import member_seeds
from lrbnn_core.metrics import mutual_information
from lrbnn_core.models import MLP
from lrbnn_core.training import TrainConfig, predict, train

WIDTHS = (4, 8, 3)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 4, generator=gen)
    return x, (x[:, :3].argmax(1)).long()


def _build(gen: torch.Generator) -> MLP:
    return MLP(WIDTHS, "deterministic", generator=gen)


CONFIG = TrainConfig(epochs=3, batch_size=8, lr=1e-2, progress=False, seed=11)


def test_ensemble_equals_members_trained_by_hand() -> None:
    x, y = _data()
    ens = train_deep_ensemble(_build, x, y, CONFIG, n_members=3)
    # the twin: the seeds from SeedSequence by hand, one member at a time
    children = np.random.SeedSequence(11).spawn(3)
    probs = []
    for child in children:
        init, fit = (int(w) for w in child.generate_state(2, np.uint32))
        member = MLP(WIDTHS, "deterministic", generator=torch.Generator().manual_seed(init))
        train(member, x, y, dataclasses.replace(CONFIG, seed=fit))
        with torch.no_grad():
            probs.append(torch.softmax(member(x), -1))
    out = ens.predict(x)
    assert out.shape == (3, 40, 3)
    assert torch.equal(out, torch.stack(probs))
    assert ens.seeds == member_seeds(11, 3)


def test_ensemble_members_differ_and_count_parameters() -> None:
    x, y = _data()
    ens = train_deep_ensemble(_build, x, y, CONFIG, n_members=4)
    out = ens.predict(x)
    assert all(not torch.equal(out[0], out[m]) for m in range(1, 4))
    assert float(mutual_information(out).mean()) > 0.0
    one = parameter_count(_build(torch.Generator()))
    assert one == 4 * 8 + 8 + 8 * 3 + 3
    assert ens.parameter_count() == 4 * one
    assert ens.n_members == 4


def test_ensemble_regression_layout_matches_predict() -> None:
    x, _ = _data()
    y = x[:, :1] * 2.0
    cfg = dataclasses.replace(CONFIG, task="regression")
    ens = train_deep_ensemble(
        lambda g: MLP((4, 6, 1), "deterministic", generator=g), x, y, cfg, n_members=2
    )
    out = ens.predict(x, task="regression")
    twin = torch.cat([predict(m, x, n_samples=1, task="regression") for m in ens.members])
    assert out.shape == (2, 40, 1) and torch.equal(out, twin)


def test_parameter_count_counts_means_and_scales() -> None:
    det = MLP((44, 128, 128, 1), "deterministic")
    mf = MLP((44, 128, 128, 1), "mean_field")
    assert parameter_count(det) == 22_401  # the paper's MIMIC MLP (Table 1: 22.4k)
    assert parameter_count(mf) == 2 * 22_401  # 44.8k


def test_ensemble_refusals() -> None:
    x, y = _data()
    with pytest.raises(TypeError, match="`build_member` must be callable"):
        train_deep_ensemble("mlp", x, y, CONFIG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`n_members` must be an int in \[1, inf\]; got 0"):
        train_deep_ensemble(_build, x, y, CONFIG, n_members=0)
    with pytest.raises(TypeError, match="`config` must be a TrainConfig"):
        train_deep_ensemble(_build, x, y, {"epochs": 1})  # type: ignore[arg-type]
    shared = _build(torch.Generator())
    with pytest.raises(ValueError, match="must return a fresh model each call; member 1"):
        train_deep_ensemble(lambda g: shared, x, y, CONFIG, n_members=2)
    with pytest.raises(TypeError, match=r"`members\[0\]` must be a torch.nn.Module"):
        DeepEnsemble(("net",), ((0, 0),))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`seeds` must have one entry per member"):
        DeepEnsemble((shared,), ())
