"""The certificates train their prior model by the architecture's recipe (issue 15)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from lrbnn_core.certified_training import (
    AFTER_ERM,
    GridSettings,
    prior_recipe,
    train_and_certify,
)
from lrbnn_core.data import load_mnist1d
from lrbnn_core.recipes import Arch, recipe
from lrbnn_core.recurrent import SequenceClassifier
from lrbnn_core.training import TrainConfig, train


def test_prior_recipe_is_the_architectures_with_the_grids_budget() -> None:
    full = prior_recipe(GridSettings(prior_beta=None, prior_start="init"), "low_rank", 4)
    base = recipe("mlp", "low_rank")
    assert dataclasses.replace(base, rank=4) == full  # nothing else changed
    cut = prior_recipe(
        GridSettings(prior_epochs=8, prior_beta=0.2, prior_start="init"), "low_rank", 4
    )
    assert (cut.epochs, cut.beta, cut.patience, cut.warmup_epochs) == (8, 0.2, 8, 2)
    assert (cut.lr, cut.schedule, cut.clip_norm) == (base.lr, base.schedule, base.clip_norm)
    lstm = prior_recipe(GridSettings(arch="lstm"), "mean_field", 4)
    assert lstm.arch is Arch.LSTM and lstm.rank is None and lstm.clip_norm is not None
    assert lstm.epochs == recipe("lstm", "mean_field").epochs  # no ERM start: the recipe's


def test_an_erm_start_fine_tunes_briefly_and_slowly() -> None:
    mlp, lstm = GridSettings(), GridSettings(arch="lstm")
    assert (mlp.prior_start, lstm.prior_start) == ("dropout_erm", "init")
    assert (mlp.posterior_lr, lstm.posterior_lr) == (1e-4, 1e-3)
    assert GridSettings(posterior_lr=3e-3).posterior_lr == 3e-3
    after = prior_recipe(mlp, "mean_field", None)
    assert (after.epochs, after.lr) == (AFTER_ERM["epochs"], AFTER_ERM["lr"])
    assert prior_recipe(GridSettings(prior_epochs=25), "mean_field", None).epochs == 25
    with pytest.raises(ValueError, match="`prior_start` must be one of"):
        GridSettings(prior_start="svd")
    with pytest.raises(TypeError, match="`prior_erm` must be a DropoutERM"):
        GridSettings(prior_erm={"epochs": 3})  # type: ignore[arg-type]


def test_grid_settings_name_a_bad_architecture_or_width() -> None:
    with pytest.raises(ValueError, match="`arch` must be one of"):
        GridSettings(arch="cnn")
    with pytest.raises(TypeError, match="`hidden`"):
        GridSettings(hidden="128")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`hidden`"):
        GridSettings(hidden=(0,))
    assert GridSettings(arch=Arch.LSTM).arch == "lstm"


def test_inputs_lay_out_sequences_and_tokens() -> None:
    data = load_mnist1d(seed=0, n_train=40, n_test=20)
    assert recipe("mlp", "low_rank").inputs(data) is data
    assert tuple(recipe("lstm", "low_rank").inputs(data).x_train.shape) == (40, 40, 1)
    tokens = recipe("transformer", "low_rank").inputs(data)
    assert tuple(tokens.x_test.shape) == (20, 10, 4)
    assert torch.equal(tokens.x_test.reshape(20, 40), data.x_test)  # the same values, in order
    with pytest.raises(ValueError, match="`patch` 3 must divide the sequence length"):
        dataclasses.replace(recipe("transformer", "low_rank"), patch=3).inputs(data)


@pytest.mark.parametrize("arch", ["lstm", "transformer"])
def test_sequence_models_are_certified_with_their_recipe(arch: str) -> None:
    data = load_mnist1d(seed=0, n_train=60, n_test=20)
    settings = GridSettings(
        arch=arch, std_scales=(1.0,), n_mc=8, n_test_mc=4, prior_epochs=1, posterior_epochs=1
    )
    run, model = train_and_certify(
        data,
        family="low_rank",
        rank=2,
        penalty=0.0,
        penalty_note="",
        settings=settings,
        seed=0,
        progress=False,
    )
    assert isinstance(model, SequenceClassifier)
    assert run.certificate.n == 30 and 0.0 <= run.certificate.kl_inverse <= 1.0
    assert run.rank == 2 and run.family == "low_rank"


def test_weight_decay_is_decoupled_and_checked() -> None:
    def norm_after(decay: float) -> float:
        torch.manual_seed(0)
        net = nn.Linear(4, 3)
        x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
        train(net, x, y, TrainConfig(epochs=20, lr=0.05, weight_decay=decay, progress=False))
        return float(net.weight.detach().norm())

    assert norm_after(0.5) < 0.9 * norm_after(0.0)
    with pytest.raises(ValueError, match="`weight_decay` must be a finite number >= 0"):
        TrainConfig(weight_decay=-0.1)
    deterministic, bayesian = recipe("mlp", "deterministic"), recipe("mlp", "low_rank")
    assert deterministic.train_config(0).weight_decay == 0.1
    assert bayesian.train_config(0).weight_decay == 0.0  # the KL regularises it
