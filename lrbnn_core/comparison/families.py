r"""The families the paper compares, each trained by its recipe on one task at one seed
(:func:`train_family`): what the comparison scores.

* ``deterministic``: the deterministic recipe (likelihood only);
* ``deep_ensemble``: :data:`ENSEMBLE_MEMBERS` deterministic models of that recipe, member
  :math:`m` initialised and shuffled from child :math:`m` of ``SeedSequence(seed)``
  (:func:`lrbnn_core.baselines.ensemble.member_seeds`);
* ``mean_field`` and ``low_rank``: their recipes;
* ``lr_svd``: the deterministic model of this seed trained first, then a low-rank model of the
  low-rank recipe warm-started from its truncated SVD layer by layer
  (:func:`~lrbnn_core.baselines.svd_warm_start_`) and fine-tuned with the low-rank recipe;
* ``rank1``: rank-1 multiplicative perturbations (Dusenberry et al., 2020) of the layers that are
  Bayesian in the mean-field recipe, ``W`` from the deterministic recipe's initialisation, trained
  with the mean-field recipe (its KL weight, warm-up, learning rate; the paper states none for
  rank-1) under the prior :math:`N(1, 0.1^2)` on ``r`` and ``s``.

Timing (wall clock of :func:`~lrbnn_core.training.train`, validation included; seconds per epoch
are the median epoch, so a process's one-off first-epoch costs do not land on whichever family
runs first): the ensemble's epochs are the members' mean and its seconds per epoch the *sum* of
the members' (the paper's
DE epoch time); LR-SVD's ``train_seconds`` include the deterministic pre-training, its epochs and
seconds per epoch are the fine-tuning's. Peak memory: :func:`peak_training_memory_mb` of the
model trained last (one member for the ensemble, members train one after another).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core._validation import parse_enum
from lrbnn_core.baselines import (
    DeepEnsemble,
    bayesian_layer_names,
    parameter_count,
    svd_warm_start_,
    to_rank1,
)
from lrbnn_core.baselines.ensemble import member_seeds
from lrbnn_core.comparison.memory import peak_training_memory_mb
from lrbnn_core.comparison.tasks import (
    CompareTask,
    Scale,
    build_model,
    compare_recipe,
    train_config,
)
from lrbnn_core.data import Dataset
from lrbnn_core.models import LayerKind
from lrbnn_core.recipes import Recipe, validation_split
from lrbnn_core.training import Task, TrainConfig, predict, train

__all__ = [
    "ENSEMBLE_MEMBERS",
    "Family",
    "TrainedFamily",
    "parse_family",
    "prediction_generator",
    "train_family",
]

#: members of the deep ensemble (the paper's 5)
ENSEMBLE_MEMBERS = 5


class Family(str, Enum):
    """The families of ``lrbnn compare`` (module notes)."""

    #: point estimate, likelihood only
    DETERMINISTIC = "deterministic"
    #: 5 independently seeded deterministic models, averaged
    DEEP_ENSEMBLE = "deep_ensemble"
    #: Bayes by Backprop, one Gaussian per weight
    MEAN_FIELD = "mean_field"
    #: low-rank Bayesian factors W = A B^T (the paper's model)
    LOW_RANK = "low_rank"
    #: low rank warm-started from the truncated SVD of the trained deterministic model
    LR_SVD = "lr_svd"
    #: rank-1 multiplicative perturbations W * r s^T (Dusenberry et al., 2020)
    RANK1 = "rank1"


def parse_family(value: Any) -> Family:
    return parse_enum(Family, value, "family")


#: ``predictor(x)``: ``(S, N, C)`` log-probabilities or ``(S, N, D)`` regression outputs
Predictor = Callable[[Tensor], Tensor]


@dataclass(frozen=True, eq=False)
class TrainedFamily:
    """A trained family, ready to score (:func:`train_family`)."""

    predictor: Predictor
    rank: int | None
    params: int
    n_samples: int
    epochs: float
    seconds_per_epoch: float
    train_seconds: float
    peak_memory_mb: float


@dataclass(frozen=True)
class _Fit:
    model: nn.Module
    epochs: int
    seconds: float
    config: TrainConfig
    #: the median of the epochs' wall times: robust to the one-off costs of a process's first
    #: epoch (lazy initialisation), which would otherwise land on whichever family runs first
    epoch_seconds: float


def _fit(
    model: nn.Module, rec: Recipe, data: Dataset, seed: int, progress: bool, *, fit_seed: int
) -> _Fit:
    tr, va = validation_split(len(data.x_train), rec.val_fraction, seed)
    config = train_config(rec, data, fit_seed, progress=progress)
    start = time.perf_counter()
    result = train(
        model,
        data.x_train[tr],
        data.y_train[tr],
        config,
        x_val=data.x_train[va],
        y_val=data.y_train[va],
    )
    seconds = time.perf_counter() - start
    median = statistics.median(e.seconds for e in result.history)
    return _Fit(model, len(result.history), seconds, config, median)


def _peak(fit: _Fit, data: Dataset) -> float:
    return peak_training_memory_mb(fit.model, data.x_train, data.y_train, fit.config)


def prediction_generator(seed: int) -> torch.Generator:
    """The generator of a run's posterior draws (test set, then OOD set), from ``seed``."""
    word = int(np.random.SeedSequence([seed, 18]).generate_state(1, np.uint64)[0])
    return torch.Generator().manual_seed(word)


def _model_predictor(model: nn.Module, n_samples: int, task: Task, seed: int) -> Predictor:
    gen = prediction_generator(seed)

    def run(x: Tensor) -> Tensor:
        return predict(
            model,
            x,
            n_samples=n_samples,
            generator=gen,
            task=task,
            return_log_probs=task is Task.CLASSIFICATION,
        )

    return run


def _single(
    task: CompareTask, kind: LayerKind, seed: int, scale: Scale, data: Dataset, progress: bool
) -> tuple[Recipe, Dataset, _Fit]:
    rec = compare_recipe(task, kind, scale)
    laid = rec.inputs(data)
    model = build_model(rec, laid, torch.Generator().manual_seed(seed))
    return rec, laid, _fit(model, rec, laid, seed, progress, fit_seed=seed)


def train_family(
    task: CompareTask,
    family: Family,
    seed: int,
    scale: Scale,
    data: Dataset,
    *,
    progress: bool = False,
) -> tuple[TrainedFamily, Dataset]:
    """Train ``family`` on ``data`` (:func:`~lrbnn_core.comparison.tasks.task_data`); returns
    it and the data in the architecture's layout (what its predictor reads)."""
    kind_of = {
        Family.DETERMINISTIC: LayerKind.DETERMINISTIC,
        Family.MEAN_FIELD: LayerKind.MEAN_FIELD,
        Family.LOW_RANK: LayerKind.LOW_RANK,
    }
    likelihood = Task.CLASSIFICATION if data.n_classes is not None else Task.REGRESSION
    if family in kind_of:
        rec, laid, fit = _single(task, kind_of[family], seed, scale, data, progress)
        samples = rec.n_test_samples if rec.bayesian else 1
        return TrainedFamily(
            predictor=_model_predictor(fit.model, samples, likelihood, seed),
            rank=rec.rank,
            params=parameter_count(fit.model),
            n_samples=samples,
            epochs=float(fit.epochs),
            seconds_per_epoch=fit.epoch_seconds,
            train_seconds=fit.seconds,
            peak_memory_mb=_peak(fit, laid),
        ), laid
    if family is Family.DEEP_ENSEMBLE:
        rec = compare_recipe(task, LayerKind.DETERMINISTIC, scale)
        laid = rec.inputs(data)
        seeds = member_seeds(seed, ENSEMBLE_MEMBERS)
        fits = [
            _fit(
                build_model(rec, laid, torch.Generator().manual_seed(init)),
                rec,
                laid,
                seed,
                progress,
                fit_seed=fit_seed,
            )
            for init, fit_seed in seeds
        ]
        ensemble = DeepEnsemble(tuple(f.model for f in fits), seeds)

        def run(x: Tensor) -> Tensor:
            return ensemble.predict(
                x, task=likelihood, return_log_probs=likelihood is Task.CLASSIFICATION
            )

        return TrainedFamily(
            predictor=run,
            rank=None,
            params=ensemble.parameter_count(),
            n_samples=ensemble.n_members,
            epochs=float(np.mean([f.epochs for f in fits])),
            seconds_per_epoch=sum(f.epoch_seconds for f in fits),
            train_seconds=sum(f.seconds for f in fits),
            peak_memory_mb=_peak(fits[-1], laid),
        ), laid
    if family is Family.LR_SVD:
        _, laid, det = _single(task, LayerKind.DETERMINISTIC, seed, scale, data, progress)
        rec = compare_recipe(task, LayerKind.LOW_RANK, scale)
        model = build_model(rec, laid, torch.Generator().manual_seed(seed))
        svd_warm_start_(model, det.model)
        fit = _fit(model, rec, laid, seed, progress, fit_seed=seed)
        return TrainedFamily(
            predictor=_model_predictor(fit.model, rec.n_test_samples, likelihood, seed),
            rank=rec.rank,
            params=parameter_count(fit.model),
            n_samples=rec.n_test_samples,
            epochs=float(fit.epochs),
            seconds_per_epoch=fit.epoch_seconds,
            train_seconds=det.seconds + fit.seconds,
            peak_memory_mb=_peak(fit, laid),
        ), laid
    # rank-1: the layers Bayesian in the mean-field recipe, W from the deterministic init
    rec = compare_recipe(task, LayerKind.MEAN_FIELD, scale)
    det_rec = compare_recipe(task, LayerKind.DETERMINISTIC, scale)
    laid = rec.inputs(data)
    names = bayesian_layer_names(build_model(rec, laid, torch.Generator().manual_seed(seed)))
    init = build_model(det_rec, laid, torch.Generator().manual_seed(seed))
    model = to_rank1(init, names, eta=rec.eta)
    fit = _fit(model, rec, laid, seed, progress, fit_seed=seed)
    return TrainedFamily(
        predictor=_model_predictor(fit.model, rec.n_test_samples, likelihood, seed),
        rank=None,
        params=parameter_count(fit.model),
        n_samples=rec.n_test_samples,
        epochs=float(fit.epochs),
        seconds_per_epoch=fit.epoch_seconds,
        train_seconds=fit.seconds,
        peak_memory_mb=_peak(fit, laid),
    ), laid
