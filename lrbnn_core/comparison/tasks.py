r"""The comparison's tasks (offline analogues of the paper's three settings), its profiles
(:class:`Scale`) and the one table of per-scale sizes (:data:`SCALE_TABLE`).

* ``mlp_mnist1d``: an MLP on MNIST-1D, the standard 4,000 / 1,000 data set (``make_dataset``
  seed 42, as :mod:`lrbnn_core.examples`); OOD: the time-shuffled test signals;
* ``mlp_digits``: an MLP on scikit-learn's digits (a stratified split per seed); OOD: the test
  images with their pixels permuted;
* ``lstm_co2``: an LSTM *regressor* on the weekly Mauna Loa CO2 increments
  (:func:`~lrbnn_core.data.load_co2`): the next standardised increment from the 24 before it,
  Gaussian likelihood with the fixed noise std :data:`CO2_NOISE_STD`; OOD: El Nino windows;
* ``transformer_mnist1d``: a Transformer encoder on MNIST-1D sequences (tokens of 4 steps).

Every model is the recipe of its architecture and family (:mod:`lrbnn_core.recipes`), shrunk by
the scale's row of :data:`SCALE_TABLE` (``None`` there keeps the recipe's value).

References: ``CLAIMS.md`` X1-X6; issue 18.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core._validation import check_int, parse_enum
from lrbnn_core.data import Dataset, load_co2, load_digits, load_mnist1d
from lrbnn_core.models import LayerKind, make_linear
from lrbnn_core.recipes import Arch, Recipe, recipe
from lrbnn_core.recurrent import make_lstm
from lrbnn_core.training import Monitor, Task, TrainConfig

__all__ = [
    "CO2_NOISE_STD",
    "MNIST1D_STANDARD_SEED",
    "SCALE_TABLE",
    "CompareTask",
    "Scale",
    "ScaleSpec",
    "SequenceRegressor",
    "build_model",
    "compare_recipe",
    "task_data",
    "train_config",
]


class CompareTask(str, Enum):
    """The tasks of ``lrbnn compare`` (module notes)."""

    #: MLP on MNIST-1D (standard data set), OOD: time-shuffled signals
    MLP_MNIST1D = "mlp_mnist1d"
    #: MLP on scikit-learn's digits, OOD: pixel-permuted images
    MLP_DIGITS = "mlp_digits"
    #: LSTM regression of the next weekly CO2 increment, OOD: El Nino windows
    LSTM_CO2 = "lstm_co2"
    #: Transformer encoder on MNIST-1D sequences, OOD: time-shuffled sequences
    TRANSFORMER_MNIST1D = "transformer_mnist1d"


class Scale(str, Enum):
    """The profiles (sizes in :data:`SCALE_TABLE`)."""

    #: tiny data and models, 2 epochs: every family of every task in seconds (CI, trying it)
    SMOKE = "smoke"
    #: about a quarter of the data, a quarter of the epochs, the recipes' widths
    QUICK = "quick"
    #: the recipes as in the examples' full runs, all the data
    FULL = "full"


ARCH = {
    CompareTask.MLP_MNIST1D: Arch.MLP,
    CompareTask.MLP_DIGITS: Arch.MLP,
    CompareTask.LSTM_CO2: Arch.LSTM,
    CompareTask.TRANSFORMER_MNIST1D: Arch.TRANSFORMER,
}

#: MNIST-1D's standard data set (``make_dataset`` seed 42, 4,000 / 1,000), as the examples
MNIST1D_STANDARD_SEED = 42

#: Fixed std of the CO2 task's Gaussian likelihood, in standardised units (targets have std 1
#: on the training period): about the RMS error of the linear AR(24) predictor on the test
#: windows (its MSE is about 0.86, :mod:`lrbnn_core.data.timeseries`), i.e. the noise a good
#: forecaster leaves. Used for training, NLL, PICP and ECE; not learnt.
CO2_NOISE_STD = 0.9


@dataclass(frozen=True)
class ScaleSpec:
    """One profile's sizes; ``None`` keeps the recipe's (or the data set's) value."""

    #: ``(n_train, n_test, n_ood)`` kept per task (first rows; the CO2 training windows keep
    #: the *last* ``n_train``, nearest the test period); ``None``: all
    data: dict[CompareTask, tuple[int, int, int] | None]
    hidden: int | None
    rank: int | None
    layers: int | None
    #: epochs = max(1, round(fraction x the recipe's)), then capped at ``max_epochs``
    epoch_fraction: float
    max_epochs: int | None
    warmup_epochs: int | None
    patience: int | None
    #: posterior draws per prediction (Bayesian families)
    n_test_samples: int | None


#: The per-scale sizes (data, not code branches).
SCALE_TABLE: dict[Scale, ScaleSpec] = {
    Scale.SMOKE: ScaleSpec(
        data={
            CompareTask.MLP_MNIST1D: (200, 100, 100),
            CompareTask.MLP_DIGITS: (200, 100, 100),
            CompareTask.LSTM_CO2: (200, 100, 100),
            CompareTask.TRANSFORMER_MNIST1D: (200, 100, 100),
        },
        hidden=16,
        rank=2,
        layers=1,
        epoch_fraction=1.0,
        max_epochs=2,
        warmup_epochs=1,
        patience=2,
        n_test_samples=8,
    ),
    Scale.QUICK: ScaleSpec(
        data={
            CompareTask.MLP_MNIST1D: (1000, 250, 250),
            CompareTask.MLP_DIGITS: (360, 360, 360),
            CompareTask.LSTM_CO2: (400, 457, 707),
            CompareTask.TRANSFORMER_MNIST1D: (1000, 250, 250),
        },
        hidden=None,
        rank=None,
        layers=None,
        epoch_fraction=0.25,
        max_epochs=None,
        warmup_epochs=None,
        patience=None,
        n_test_samples=30,
    ),
    Scale.FULL: ScaleSpec(
        data={task: None for task in CompareTask},
        hidden=None,
        rank=None,
        layers=None,
        epoch_fraction=1.0,
        max_epochs=None,
        warmup_epochs=None,
        patience=None,
        n_test_samples=None,
    ),
}


def parse_task(value: Any) -> CompareTask:
    return parse_enum(CompareTask, value, "task")


def parse_scale(value: Any) -> Scale:
    return parse_enum(Scale, value, "scale")


def compare_recipe(task: CompareTask | str, kind: LayerKind | str, scale: Scale | str) -> Recipe:
    """The recipe of ``task``'s architecture and layer ``kind``, shrunk by ``scale``'s row.

    Examples
    --------
    >>> r = compare_recipe("mlp_mnist1d", "low_rank", "smoke")
    >>> (r.hidden, r.rank, r.epochs, r.n_test_samples)
    (16, 2, 2, 8)
    """
    spec = SCALE_TABLE[parse_scale(scale)]
    base = recipe(ARCH[parse_task(task)], kind)
    epochs = max(1, round(spec.epoch_fraction * base.epochs))
    if spec.max_epochs is not None:
        epochs = min(epochs, spec.max_epochs)
    warmup = base.warmup_epochs if spec.warmup_epochs is None else spec.warmup_epochs
    out = replace(
        base,
        hidden=base.hidden if spec.hidden is None else spec.hidden,
        rank=None if base.rank is None else (spec.rank or base.rank),
        layers=base.layers if spec.layers is None else spec.layers,
        epochs=epochs,
        warmup_epochs=min(warmup, epochs),
        patience=base.patience if spec.patience is None else spec.patience,
        n_test_samples=spec.n_test_samples or base.n_test_samples,
    )
    return out


def _head(data: Dataset, sizes: tuple[int, int, int] | None, last_train: bool) -> Dataset:
    if sizes is None:
        return data
    n_train, n_test, n_ood = (
        min(k, len(x)) for k, x in zip(sizes, (data.x_train, data.x_test, data.x_ood), strict=True)
    )
    train = slice(len(data.x_train) - n_train, None) if last_train else slice(0, n_train)
    return replace(
        data,
        x_train=data.x_train[train],
        y_train=data.y_train[train],
        x_test=data.x_test[:n_test],
        y_test=data.y_test[:n_test],
        x_ood=data.x_ood[:n_ood],
    )


def task_data(task: CompareTask | str, seed: int, scale: Scale | str) -> Dataset:
    """The data of ``task`` at run ``seed`` (digits: a split per seed; MNIST-1D and CO2 are
    fixed data sets), cut to ``scale``'s sizes, before the recipe's layout
    (:meth:`~lrbnn_core.recipes.Recipe.inputs`)."""
    chosen = parse_task(task)
    seed = check_int(seed, "seed", 0)
    sizes = SCALE_TABLE[parse_scale(scale)].data[chosen]
    if chosen is CompareTask.MLP_DIGITS:
        data = load_digits(seed=seed)
    elif chosen is CompareTask.LSTM_CO2:
        data = load_co2(seed=seed)
    else:
        data = load_mnist1d(seed=MNIST1D_STANDARD_SEED)
    return _head(data, sizes, last_train=chosen is CompareTask.LSTM_CO2)


class SequenceRegressor(nn.Module):
    """An LSTM's last hidden state through a linear head with ``out`` outputs (regression
    means; :class:`~lrbnn_core.recurrent.SequenceClassifier` needs two classes or more).

    Examples
    --------
    >>> from lrbnn_core.recurrent import make_lstm
    >>> g = torch.Generator().manual_seed(0)
    >>> net = SequenceRegressor(make_lstm("deterministic", 1, 4, generator=g),
    ...                         make_linear("deterministic", 4, 1, generator=g))
    >>> tuple(net(torch.zeros(3, 6, 1)).shape)
    (3, 1)
    """

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        out = self.encoder(x)
        if isinstance(out, tuple):
            out = out[0]
        result: Tensor = self.head(out[:, -1])
        return result


def build_model(rec: Recipe, data: Dataset, generator: torch.Generator) -> nn.Module:
    """The untrained model of ``rec`` for ``data`` (laid out by ``rec.inputs``): the recipe's
    own builder for classification, an LSTM regressor (the recipe's LSTM, a linear head to the
    targets, head rank 1 for low rank) for regression."""
    if data.n_classes is not None:
        return rec.build(data, generator)
    if rec.arch is not Arch.LSTM:
        raise NotImplementedError(f"regression is built for the LSTM only; got {rec.arch.value}")
    kw = rec.layer_keywords()
    features, out = data.x_train.shape[-1], data.y_train.shape[-1]
    encoder = make_lstm(
        rec.family,
        features,
        rec.hidden,
        rank=rec.rank,
        input_rank=min(features, rec.rank or 1),
        generator=generator,
        **kw,
    )
    head_rank = None if rec.rank is None else min(rec.rank, out)
    head = make_linear(rec.family, rec.hidden, out, head_rank, generator=generator, **kw)
    return SequenceRegressor(encoder, head)


def train_config(rec: Recipe, data: Dataset, seed: int, *, progress: bool = False) -> TrainConfig:
    """``rec``'s :class:`~lrbnn_core.training.TrainConfig`; for regression the Gaussian
    likelihood with :data:`CO2_NOISE_STD` and early stopping on the validation NLL (accuracy
    does not apply)."""
    config = rec.train_config(seed, progress=progress)
    if data.n_classes is None:
        config = replace(config, task=Task.REGRESSION, noise_std=CO2_NOISE_STD, monitor=Monitor.NLL)
    return config
