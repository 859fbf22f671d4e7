"""Training by the ELBO, batched Monte Carlo prediction, and checkpoints.

* :mod:`~lrbnn_core.training.config`: the likelihood (:class:`Task`) and :class:`TrainConfig`;
* :mod:`~lrbnn_core.training.loop`: :func:`train`, Adam on the per-example negative ELBO with a
  warmed-up KL weight (:func:`kl_weight`, :func:`data_nll`), and its records;
* :mod:`~lrbnn_core.training.prediction`: :func:`predict`, batched Monte Carlo predictions;
* :mod:`~lrbnn_core.training.checkpoints`: :func:`save_checkpoint` and :func:`load_checkpoint`;
* :mod:`~lrbnn_core.training.flat`: :class:`~lrbnn_core.training.flat.FlatStep`, one optimizer
  update of one flat buffer per step (the ELBO loop's, the bound training's and the dropout
  ERM's), bit for bit the per-parameter optimizer's;
* :mod:`~lrbnn_core.training._checks`: the checks of inputs, targets and model state that the
  trainers, :func:`predict` and the certificates share.

References: ``CLAIMS.md`` section 0 (the posterior whose KL a certificate uses).
"""

from __future__ import annotations

from lrbnn_core.training.checkpoints import load_checkpoint, save_checkpoint
from lrbnn_core.training.config import Monitor, Schedule, Task, TrainConfig
from lrbnn_core.training.loop import (
    EpochStats,
    StepStats,
    TrainResult,
    data_nll,
    kl_weight,
    lr_factor,
    train,
)
from lrbnn_core.training.prediction import predict

__all__ = [
    "EpochStats",
    "Monitor",
    "Schedule",
    "StepStats",
    "Task",
    "TrainConfig",
    "TrainResult",
    "data_nll",
    "kl_weight",
    "load_checkpoint",
    "lr_factor",
    "predict",
    "save_checkpoint",
    "train",
]
