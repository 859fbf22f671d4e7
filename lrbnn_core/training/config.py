"""The settings of a training run: the likelihood (:class:`Task`) and :class:`TrainConfig`,
validated once when built."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lrbnn_core._validation import check_int, check_learning_rate, check_real, parse_enum
from lrbnn_core.base import KLMethod, kl_method

__all__ = ["Monitor", "Schedule", "Task", "TrainConfig"]


class Task(str, Enum):
    """What the model's outputs mean, and so which likelihood the ELBO uses."""

    #: outputs are logits of ``C`` classes; targets are integer labels in ``[0, C)``; the data term
    #: is the categorical NLL (cross-entropy of the softmax)
    CLASSIFICATION = "classification"
    #: outputs are the means of ``out`` independent Gaussians with the fixed, known standard
    #: deviation ``noise_std``; targets are floats of shape ``(N, out)``; the data term is the
    #: full Gaussian NLL (constants included, so it is a true log-likelihood)
    REGRESSION = "regression"


class Schedule(str, Enum):
    r"""How the learning rate moves over the run's optimisation steps."""

    #: ``lr`` throughout
    CONSTANT = "constant"
    #: :math:`lr_t = lr (1 + \cos(\pi t / T)) / 2` over the
    #: :math:`T` steps of ``epochs`` (Loshchilov and Hutter's cosine decay, no restarts)
    COSINE = "cosine"


class Monitor(str, Enum):
    """What early stopping watches on the validation set (posterior-mean network)."""

    #: the validation NLL (lower is better)
    NLL = "nll"
    #: the validation accuracy (higher is better; classification only)
    ACCURACY = "accuracy"


def _monitor(value: Any) -> Monitor:
    return parse_enum(Monitor, value, "monitor")


def _schedule(value: Any) -> Schedule:
    return parse_enum(Schedule, value, "schedule")


def _task(value: Any) -> Task:
    return parse_enum(Task, value, "task")


_check_int = check_int


def _check_real(value: Any, name: str, *, positive: bool) -> float:
    v = check_real(value, name)
    ok = math.isfinite(v) and (v > 0.0 if positive else v >= 0.0)
    if not ok:
        raise ValueError(f"`{name}` must be a finite number {'>' if positive else '>='} 0; got {v}")
    return v


@dataclass(frozen=True)
class TrainConfig:
    """Everything :func:`train` needs besides the model and the data.

    Parameters
    ----------
    epochs : int
        Passes over the training set, >= 1.
    batch_size : int
        Examples per optimisation step, >= 1 (the last batch of an epoch may be smaller).
    lr : float
        Adam learning rate, in :math:`(0, 10]`
        (:data:`lrbnn_core._validation.MAX_LEARNING_RATE`: Adam moves every parameter by about
        ``lr`` per step, so a larger value is a typo).
    beta : float
        KL weight after warm-up, >= 0 (1 is the ELBO; 0 trains the means by maximum likelihood).
    warmup_epochs : int
        Epochs over which the KL weight rises linearly from 0 to ``beta``, per optimisation
        step, in ``[0, epochs]`` (0: no warm-up).
    kl_method : {"closed_form", "monte_carlo"}
        How the KL term is evaluated: exact for Gaussian priors (the declared upper bound for a
        scale mixture); or an unbiased estimate from ``kl_samples`` draws (for mixture priors).
    kl_samples : int
        Draws per stochastic scalar for ``"monte_carlo"``, >= 1 (ignored otherwise).
    seed : int
        Seeds the shuffling and weight-sampling generators, >= 0.
    progress : bool
        Show a tqdm bar over epochs (on stderr) with the running loss.
    task : {"classification", "regression"}
        The likelihood; see :class:`Task`.
    n_train : int or None
        The ``n`` of the KL scaling ``beta_t / n``, >= 1; ``None`` uses the number of training
        examples passed to :func:`train`.
    noise_std : float
        Standard deviation of the Gaussian likelihood for ``"regression"``, > 0 (fixed, not
        learnt; ignored for classification).
    schedule : {"constant", "cosine"}
        The learning-rate schedule (:class:`Schedule`).
    clip_norm : float or None
        Clip the gradient's global 2-norm to this value before each step, > 0 (recurrent
        models); ``None``: no clipping.
    patience : int or None
        Early stopping, >= 1: stop when the ``monitor`` metric of the posterior-mean network on
        the validation set has not improved for ``patience`` epochs and restore the parameters
        of its best epoch (the first, on ties). Needs a validation set (never the test split);
        ``None``: train every epoch.
    monitor : {"nll", "accuracy"}
        What early stopping watches (:class:`Monitor`; accuracy for classification only).
    weight_decay : float
        Decoupled weight decay (AdamW), >= 0; 0 is plain Adam. Meant for deterministic models
        (a Bayesian model's KL already regularises it).

    Examples
    --------
    >>> TrainConfig(epochs=3, batch_size=32, lr=1e-2, warmup_epochs=1).kl_method.value
    'closed_form'
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    beta: float = 1.0
    warmup_epochs: int = 0
    kl_method: KLMethod | str = KLMethod.CLOSED_FORM
    kl_samples: int = 1
    seed: int = 0
    progress: bool = True
    task: Task | str = Task.CLASSIFICATION
    n_train: int | None = None
    noise_std: float = 1.0
    schedule: Schedule | str = Schedule.CONSTANT
    clip_norm: float | None = None
    patience: int | None = None
    monitor: Monitor | str = Monitor.NLL
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epochs", _check_int(self.epochs, "epochs", 1))
        set_(self, "batch_size", _check_int(self.batch_size, "batch_size", 1))
        set_(self, "lr", check_learning_rate(self.lr))
        set_(self, "beta", _check_real(self.beta, "beta", positive=False))
        set_(self, "warmup_epochs", _check_int(self.warmup_epochs, "warmup_epochs", 0, self.epochs))
        set_(self, "kl_method", kl_method(self.kl_method, "kl_method"))
        set_(self, "kl_samples", _check_int(self.kl_samples, "kl_samples", 1))
        set_(self, "seed", _check_int(self.seed, "seed", 0))
        if not isinstance(self.progress, bool):
            raise TypeError(f"`progress` must be a bool; got {self.progress!r}")
        set_(self, "task", _task(self.task))
        if self.n_train is not None:
            set_(self, "n_train", _check_int(self.n_train, "n_train", 1))
        set_(self, "noise_std", _check_real(self.noise_std, "noise_std", positive=True))
        set_(self, "schedule", _schedule(self.schedule))
        if self.clip_norm is not None:
            set_(self, "clip_norm", _check_real(self.clip_norm, "clip_norm", positive=True))
        if self.patience is not None:
            set_(self, "patience", _check_int(self.patience, "patience", 1))
        set_(self, "monitor", _monitor(self.monitor))
        set_(self, "weight_decay", _check_real(self.weight_decay, "weight_decay", positive=False))
        task = _task(self.task)
        if self.monitor is Monitor.ACCURACY and task is not Task.CLASSIFICATION:
            raise ValueError(
                f"`monitor` 'accuracy' needs task 'classification'; got task {task.value!r}"
            )
