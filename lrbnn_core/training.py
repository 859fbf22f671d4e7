r"""Training by the ELBO, batched Monte Carlo prediction, and checkpoints.

One optimisation step on a minibatch :math:`b` of a training set of size :math:`n` minimises

.. math::

    \mathcal{L}_t(\theta) = \frac{1}{|b|} \sum_{i \in b} -\ln p(y_i \mid x_i, W)
    + \frac{\beta_t}{n}\, \mathrm{KL}(q_\theta \,\|\, p), \qquad W \sim q_\theta,

the negative ELBO *divided by n* (per-example scaling: the data term is a mean, not a sum, so the
learning rate does not depend on n). With :math:`\beta_t = 1` its expectation over the batch and
the weight draw is exactly :math:`-\mathrm{ELBO}/n`. The KL weight warms up linearly per
optimisation step,

.. math::

    \beta_t = \beta \min(1, t / T), \qquad T = \text{warmup\_epochs} \times \text{steps per epoch},

with :math:`t = 0, 1, \dots` the global step (so the first step has weight 0 and every step from
:math:`T` on has weight :math:`\beta`); ``warmup_epochs = 0`` gives :math:`\beta_t = \beta`
throughout. A model without Bayesian layers (the deterministic baseline) trains with KL = 0.

Randomness is explicit: :func:`train` derives two ``torch.Generator`` s from ``config.seed``, one
for shuffling and one set on every Bayesian layer for its weight draws (and the Monte Carlo KL),
so two runs from one seed and one initial model give bit-identical parameters. Modules that draw
from torch's global RNG (``nn.Dropout``) are outside this guarantee.

References: ``CLAIMS.md`` section 0 (the posterior whose KL a certificate uses).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core._validation import check_int, check_real, parse_enum
from lrbnn_core.base import (
    BayesianModule,
    KLMethod,
    SamplingMode,
    bayesian_modules,
    kl_method,
    model_kl,
    set_generator,
    set_sampling,
)

__all__ = [
    "EpochStats",
    "StepStats",
    "Task",
    "TrainConfig",
    "TrainResult",
    "data_nll",
    "kl_weight",
    "load_checkpoint",
    "predict",
    "save_checkpoint",
    "train",
]

_LOG_2PI = math.log(2.0 * math.pi)
_CHECKPOINT_FORMAT = "lrbnn-checkpoint"
_CHECKPOINT_VERSION = 1


class Task(str, Enum):
    """What the model's outputs mean, and so which likelihood the ELBO uses."""

    #: outputs are logits of ``C`` classes; targets are integer labels in ``[0, C)``; the data term
    #: is the categorical NLL (cross-entropy of the softmax)
    CLASSIFICATION = "classification"
    #: outputs are the means of ``out`` independent Gaussians with the fixed, known standard
    #: deviation ``noise_std``; targets are floats of shape ``(N, out)``; the data term is the
    #: full Gaussian NLL (constants included, so it is a true log-likelihood)
    REGRESSION = "regression"


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
        Adam learning rate, > 0.
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

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "epochs", _check_int(self.epochs, "epochs", 1))
        set_(self, "batch_size", _check_int(self.batch_size, "batch_size", 1))
        set_(self, "lr", _check_real(self.lr, "lr", positive=True))
        set_(self, "beta", _check_real(self.beta, "beta", positive=False))
        set_(self, "warmup_epochs", _check_int(self.warmup_epochs, "warmup_epochs", 0, self.epochs))
        set_(self, "kl_method", kl_method(self.kl_method))
        set_(self, "kl_samples", _check_int(self.kl_samples, "kl_samples", 1))
        set_(self, "seed", _check_int(self.seed, "seed", 0))
        if not isinstance(self.progress, bool):
            raise TypeError(f"`progress` must be a bool; got {self.progress!r}")
        set_(self, "task", _task(self.task))
        if self.n_train is not None:
            set_(self, "n_train", _check_int(self.n_train, "n_train", 1))
        set_(self, "noise_std", _check_real(self.noise_std, "noise_std", positive=True))


@dataclass(frozen=True)
class StepStats:
    r"""One optimisation step: its 1-based ``epoch`` and ``step`` (within the epoch), the loss
    :math:`\mathcal{L}_t`, its two parts and the KL weight, all at the parameters *before* the
    step's update."""

    epoch: int
    step: int
    loss: float
    nll: float
    kl: float
    beta_t: float


@dataclass(frozen=True)
class EpochStats:
    """One epoch: ``loss``, ``nll`` and ``kl`` are the means of the step values weighted by batch
    size; ``beta_t`` is the KL weight of the epoch's last step. ``val_accuracy`` (classification)
    and ``val_nll`` are those of the *posterior-mean* network on the validation set (no weight
    draw, so validating never changes the training trajectory); ``None`` without one."""

    epoch: int
    loss: float
    nll: float
    kl: float
    beta_t: float
    val_accuracy: float | None = None
    val_nll: float | None = None


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: per-epoch and per-step records and the optimizer (for
    :func:`save_checkpoint`)."""

    history: tuple[EpochStats, ...]
    steps: tuple[StepStats, ...]
    optimizer: torch.optim.Optimizer


def kl_weight(step: int, *, beta: float, warmup_steps: int) -> float:
    r"""The KL weight :math:`\beta_t = \beta \min(1, t / T)` of global step :math:`t` (0-based).

    Parameters
    ----------
    step : int
        Global optimisation step :math:`t \ge 0`.
    beta : float
        Final weight, >= 0.
    warmup_steps : int
        :math:`T \ge 0`; 0 means no warm-up (:math:`\beta_t = \beta`).

    Examples
    --------
    >>> [kl_weight(t, beta=2.0, warmup_steps=4) for t in range(6)]
    [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    """
    t = _check_int(step, "step", 0)
    b = _check_real(beta, "beta", positive=False)
    big_t = _check_int(warmup_steps, "warmup_steps", 0)
    if big_t == 0 or t >= big_t:
        return b
    return b * t / big_t


def data_nll(
    outputs: Tensor, targets: Tensor, task: Task | str, *, noise_std: float = 1.0
) -> Tensor:
    r"""Mean over examples of :math:`-\ln p(y_i \mid \text{outputs}_i)` (0-dim tensor).

    Classification: ``outputs`` ``(N, C)`` logits, ``targets`` ``(N,)`` int64 labels; the
    cross-entropy of the softmax. Regression: ``outputs`` and ``targets`` ``(N, out)``;

    .. math::

        -\ln p(y \mid f) = \sum_{k} \Big[\frac{(y_k - f_k)^2}{2 s^2} + \ln s
        + \tfrac12 \ln 2\pi\Big], \qquad s = \text{noise\_std}.

    Inputs are assumed validated (:func:`train` does it).

    Examples
    --------
    >>> round(float(data_nll(torch.zeros(2, 4), torch.tensor([0, 3]), "classification")), 6)
    1.386294
    """
    if _task(task) is Task.CLASSIFICATION:
        return nn.functional.cross_entropy(outputs, targets)
    s = _check_real(noise_std, "noise_std", positive=True)
    per_entry = 0.5 * ((targets - outputs) / s).square() + math.log(s) + 0.5 * _LOG_2PI
    return per_entry.sum(dim=-1).mean()


# --- validation of data and models ---------------------------------------------------------------


def _model_dtype(model: nn.Module) -> torch.dtype | None:
    for p in model.parameters():
        return p.dtype
    return None


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _check_x(x: Any, name: str, model: nn.Module) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(
            f"`{name}` must have shape (N, ...) with at least 2 axes; got {tuple(x.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: shape {tuple(x.shape)}")
    dtype = _model_dtype(model)
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"`{name}` has dtype {x.dtype} but the model's parameters are {dtype}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return x


def _check_y(y: Any, name: str, n: int, task: Task, out_dim: int, x_name: str) -> Tensor:
    if not isinstance(y, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(y).__name__}")
    if task is Task.CLASSIFICATION:
        if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
            raise TypeError(f"`{name}` must be an integer tensor of class labels; got {y.dtype}")
        if y.shape != (n,):
            raise ValueError(
                f"`{name}` must have shape ({n},) to match `{x_name}`; got {tuple(y.shape)}"
            )
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= out_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"`{name}` labels must be in [0, {out_dim - 1}] (the model has {out_dim} "
                f"outputs); got {bad}"
            )
        return y.long()
    if not y.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor for regression; got {y.dtype}")
    if y.shape != (n, out_dim):
        raise ValueError(
            f"`{name}` must have shape ({n}, {out_dim}) (examples x model outputs); "
            f"got {tuple(y.shape)}"
        )
    if not bool(torch.isfinite(y).all()):
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return y


@contextmanager
def _preserved(model: nn.Module) -> Iterator[None]:
    """Restore every module's ``training`` flag and every Bayesian layer's ``sampling`` and
    ``generator`` on exit, whatever happened inside."""
    flags = [(m, m.training) for m in model.modules()]
    layers = [
        (m, m.sampling, m.generator) for m in model.modules() if isinstance(m, BayesianModule)
    ]
    try:
        yield
    finally:
        for module, flag in flags:
            module.training = flag
        for layer, sampling, generator in layers:
            layer.sampling = sampling
            layer.generator = generator


def _output_dim(model: nn.Module, x: Tensor) -> int:
    """Number of outputs per example, from one posterior-mean forward pass on ``x[:1]`` (no
    random draw, no gradient, no running-statistics update)."""
    with _preserved(model), torch.no_grad():
        model.eval()
        set_sampling(model, SamplingMode.MEAN)
        out = model(x[:1])
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != 1:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"`model` must map (N, ...) inputs to (N, outputs); on one example it gave {shape}"
        )
    return int(out.shape[1])


# --- training ------------------------------------------------------------------------------------


def _seeded_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    """Independent shuffling (CPU) and weight-sampling (model device) streams from one seed."""
    shuffle_child, weight_child = np.random.SeedSequence(seed).spawn(2)
    shuffle = torch.Generator().manual_seed(int(shuffle_child.generate_state(1, np.uint64)[0]))
    weights = torch.Generator(device=device)
    weights.manual_seed(int(weight_child.generate_state(1, np.uint64)[0]))
    return shuffle, weights


def _validation_stats(
    model: nn.Module, x: Tensor, y: Tensor, config: TrainConfig
) -> tuple[float | None, float]:
    task = _task(config.task)
    with _preserved(model), torch.no_grad():
        model.eval()
        set_sampling(model, SamplingMode.MEAN)
        out = torch.cat(
            [model(x[i : i + config.batch_size]) for i in range(0, len(x), config.batch_size)]
        )
    nll = float(data_nll(out, y, task, noise_std=config.noise_std))
    if task is Task.CLASSIFICATION:
        return float((out.argmax(dim=-1) == y).double().mean()), nll
    return None, nll


def train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: TrainConfig,
    *,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
) -> TrainResult:
    r"""Train ``model`` in place with Adam on :math:`\mathcal{L}_t` (module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits or ``(N, out)`` regression means. Its
        Bayesian layers draw with their own ``sampling`` mode; their ``generator`` s are replaced
        by the seeded one during training and restored afterwards, as is every ``training`` flag.
    x : Tensor
        ``(N, ...)`` floating inputs, N >= 1, the dtype of the model's parameters, finite.
    y : Tensor
        ``(N,)`` integer labels in ``[0, C)`` (classification) or ``(N, out)`` floats
        (regression).
    config : TrainConfig
    x_val, y_val : Tensor, optional
        A validation set (both or neither), scored by the posterior-mean network each epoch.

    Returns
    -------
    TrainResult

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite; the message names the epoch and step.

    Examples
    --------
    >>> net = nn.Linear(2, 2, dtype=torch.float64)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> result = train(net, x, torch.tensor([0, 1]), TrainConfig(epochs=2, batch_size=2,
    ...                                                          progress=False))
    >>> [(s.epoch, s.step, s.kl) for s in result.steps]
    [(1, 1, 0.0), (2, 1, 0.0)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"`model` ({type(model).__name__}) has no trainable parameters")
    task = _task(config.task)
    x = _check_x(x, "x", model)
    out_dim = _output_dim(model, x)
    y = _check_y(y, "y", len(x), task, out_dim, "x")
    if (x_val is None) != (y_val is None):
        raise ValueError("`x_val` and `y_val` must be given together or not at all")
    if x_val is not None:
        x_val = _check_x(x_val, "x_val", model)
        y_val = _check_y(y_val, "y_val", len(x_val), task, out_dim, "x_val")

    n = len(x)
    n_train = n if config.n_train is None else config.n_train
    steps_per_epoch = math.ceil(n / config.batch_size)
    warmup_steps = config.warmup_epochs * steps_per_epoch
    method = kl_method(config.kl_method)
    bayesian = bool(bayesian_modules(model))
    shuffle_gen, weight_gen = _seeded_generators(config.seed, _model_device(model))
    optimizer = torch.optim.Adam(params, lr=config.lr)
    history: list[EpochStats] = []
    steps: list[StepStats] = []

    with _preserved(model):
        set_generator(model, weight_gen)
        bar = tqdm(range(config.epochs), desc="train", unit="epoch", disable=not config.progress)
        for epoch in bar:
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen).to(x.device)
            sums = {"loss": 0.0, "nll": 0.0, "kl": 0.0}
            beta_t = 0.0
            for k in range(steps_per_epoch):
                idx = perm[k * config.batch_size : (k + 1) * config.batch_size]
                global_step = epoch * steps_per_epoch + k
                beta_t = kl_weight(global_step, beta=config.beta, warmup_steps=warmup_steps)
                nll = data_nll(model(x[idx]), y[idx], task, noise_std=config.noise_std)
                if bayesian:
                    kl = model_kl(model, method, n_samples=config.kl_samples, generator=weight_gen)
                else:
                    kl = torch.zeros((), dtype=nll.dtype, device=nll.device)
                loss = nll + (beta_t / n_train) * kl
                if not bool(torch.isfinite(loss)):
                    raise FloatingPointError(
                        f"the loss became {loss.item()} at epoch {epoch + 1}/{config.epochs}, "
                        f"step {k + 1}/{steps_per_epoch} (nll={nll.item()}, kl={kl.item()}, "
                        f"beta_t={beta_t}); lower `lr` or check the model"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                record = StepStats(epoch + 1, k + 1, loss.item(), nll.item(), kl.item(), beta_t)
                steps.append(record)
                weight = len(idx) / n
                sums["loss"] += weight * record.loss
                sums["nll"] += weight * record.nll
                sums["kl"] += weight * record.kl
            val_acc: float | None = None
            val_nll: float | None = None
            if x_val is not None and y_val is not None:
                val_acc, val_nll = _validation_stats(model, x_val, y_val, config)
            history.append(
                EpochStats(
                    epoch + 1, sums["loss"], sums["nll"], sums["kl"], beta_t, val_acc, val_nll
                )
            )
            bar.set_postfix(loss=f"{sums['loss']:.4g}")
        bar.close()
    return TrainResult(tuple(history), tuple(steps), optimizer)


# --- prediction ----------------------------------------------------------------------------------


def predict(
    model: nn.Module,
    x: Tensor,
    *,
    n_samples: int,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    return_log_probs: bool = False,
    task: Task | str = Task.CLASSIFICATION,
) -> Tensor:
    r"""``n_samples`` Monte Carlo predictions for every example, under each Bayesian layer's
    current ``sampling`` mode, in eval mode without gradients.

    * Every Bayesian layer ``"shared"`` or ``"mean"``: sample :math:`s` is *one* weight draw used
      for the whole data set (the generator state is rewound before each data batch, so the
      result does not depend on ``batch_size``): ``out[s]`` is one network's predictions.
    * Some layer ``"local"`` and none ``"shared"``: the inputs are tiled :math:`S` times in one
      pass, so each (sample, example) pair gets its own independent draw; the :math:`S` samples
      of one example are i.i.d. from the posterior predictive, but ``out[s]`` is not one network.
      A pass then holds about ``batch_size`` rows (``max(1, batch_size // S)`` examples).
    * ``"local"`` mixed with ``"shared"``: one pass per sample and data batch, no rewinding.

    Parameters
    ----------
    model : torch.nn.Module
    x : Tensor
        ``(N, ...)`` floating inputs, N >= 1, finite, the dtype of the model's parameters.
    n_samples : int
        :math:`S \ge 1`.
    batch_size : int
        Examples per forward pass, >= 1.
    generator : torch.Generator, optional
        Drives every weight draw. ``None``: a private generator seeded by one draw from torch's
        global RNG. The layers' own ``generator`` s, ``sampling`` modes and every ``training``
        flag are restored on return.
    return_log_probs : bool
        Classification only: return ``log_softmax`` (accurate for NLL) instead of ``softmax``.
    task : {"classification", "regression"}
        Classification returns class probabilities; regression the raw outputs.

    Returns
    -------
    Tensor
        ``(S, N, C)`` probabilities (or log-probabilities), or ``(S, N, out)`` outputs.

    Examples
    --------
    >>> net = nn.Linear(3, 4)
    >>> predict(net, torch.zeros(5, 3), n_samples=2).shape
    torch.Size([2, 5, 4])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    s = _check_int(n_samples, "n_samples", 1)
    bs = _check_int(batch_size, "batch_size", 1)
    if not isinstance(return_log_probs, bool):
        raise TypeError(f"`return_log_probs` must be a bool; got {return_log_probs!r}")
    kind = _task(task)
    if return_log_probs and kind is Task.REGRESSION:
        raise ValueError("`return_log_probs=True` needs task='classification'; got 'regression'")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    x = _check_x(x, "x", model)
    layers = bayesian_modules(model)
    modes = {m.sampling for m in model.modules() if isinstance(m, BayesianModule)}
    n = len(x)

    with _preserved(model), torch.no_grad():
        model.eval()
        if layers:
            if generator is None:
                seed = int(torch.randint(0, 2**62, (1,)).item())
                generator = torch.Generator(device=_model_device(model)).manual_seed(seed)
            set_generator(model, generator)

        def forward(rows: Tensor) -> Tensor:
            out = model(rows)
            if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != len(rows):
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
                raise ValueError(
                    f"`model` must map ({len(rows)}, ...) inputs to ({len(rows)}, outputs); "
                    f"got {shape}"
                )
            return out

        if SamplingMode.LOCAL in modes and SamplingMode.SHARED not in modes:
            chunk = max(1, bs // s)
            parts = []
            for i in range(0, n, chunk):
                xb = x[i : i + chunk]
                tiled = xb.unsqueeze(0).expand(s, *xb.shape).reshape(s * len(xb), *xb.shape[1:])
                parts.append(forward(tiled).reshape(s, len(xb), -1))
            out = torch.cat(parts, dim=1)
        else:
            rewind = generator is not None and SamplingMode.LOCAL not in modes
            samples = []
            for _ in range(s):
                state = generator.get_state() if rewind and generator is not None else None
                parts = []
                for i in range(0, n, bs):
                    if state is not None and generator is not None:
                        generator.set_state(state)
                    parts.append(forward(x[i : i + bs]))
                samples.append(torch.cat(parts))
            out = torch.stack(samples)

    if kind is Task.REGRESSION:
        return out
    return torch.log_softmax(out, dim=-1) if return_log_probs else torch.softmax(out, dim=-1)


# --- checkpoints ---------------------------------------------------------------------------------


def _check_payload(value: Any, key: str) -> None:
    """Only what ``torch.load(weights_only=True)`` reads back: tensors, str-keyed dicts, lists,
    tuples, and str/int/float/bool/None."""
    if isinstance(value, Tensor) or value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"`{key}` has a key of type {type(k).__name__}; use str keys")
            _check_payload(v, f"{key}[{k!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_payload(v, f"{key}[{i}]")
        return
    raise TypeError(
        f"`{key}` is a {type(value).__name__}; a checkpoint holds only tensors, dicts, lists, "
        "tuples, str, int, float, bool and None"
    )


def _tensors(value: Any, key: str) -> Iterator[tuple[str, Tensor]]:
    if isinstance(value, Tensor):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _tensors(v, f"{key}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _tensors(v, f"{key}[{i}]")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write the model's ``state_dict`` (and the optimizer's, and ``extra``) to ``path``
    atomically: a temporary file in the same directory, then ``os.replace``, so a crash never
    leaves a half-written checkpoint under ``path``.

    ``extra`` may hold only tensors, str-keyed dicts, lists, tuples, str, int, float, bool and
    None (what :func:`load_checkpoint` can read with ``weights_only=True``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> net = nn.Linear(2, 1)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_checkpoint(pathlib.Path(d) / "ck.pt", net, extra={"epoch": 3})
    ...     load_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(2, 1))
    {'epoch': 3}
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch.optim.Optimizer; got {optimizer!r}")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"`extra` must be a dict or None; got {type(extra).__name__}")
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"`path`: directory {str(target.parent)!r} does not exist")
    payload: dict[str, Any] = {
        "format": _CHECKPOINT_FORMAT,
        "version": _CHECKPOINT_VERSION,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "extra": extra,
    }
    _check_payload(payload["extra"], "extra")
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer``); return ``extra``
    (``{}`` if none was saved).

    Read with ``torch.load(path, weights_only=True, map_location="cpu")`` (no arbitrary
    unpickling). Nothing is loaded unless every check passes: the file is a checkpoint of this
    format; no tensor holds NaN or infinity (``ValueError`` naming the key); the model's keys,
    shapes and dtypes match exactly (``ValueError`` listing the differences); an ``optimizer``
    is only given if the file holds optimizer state.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     save_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(2, 1))
    ...     load_checkpoint(pathlib.Path(d) / "ck.pt", nn.Linear(3, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: checkpoint ... shape of 'weight': checkpoint (1, 2), model (1, 3)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"`optimizer` must be a torch.optim.Optimizer; got {optimizer!r}")
    try:
        ckpt = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(
            f"`path` {str(path)!r} is not a readable weights-only checkpoint: {exc}"
        ) from exc
    if (
        not isinstance(ckpt, dict)
        or ckpt.get("format") != _CHECKPOINT_FORMAT
        or not isinstance(ckpt.get("model"), dict)
    ):
        raise ValueError(
            f"`path` {str(path)!r} is not an lrbnn checkpoint (written by save_checkpoint)"
        )
    if ckpt.get("version") != _CHECKPOINT_VERSION:
        raise ValueError(
            f"checkpoint {str(path)!r} has version {ckpt.get('version')!r}; "
            f"this code reads version {_CHECKPOINT_VERSION}"
        )
    for key, tensor in _tensors(ckpt, "checkpoint"):
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(
            torch.isfinite(tensor).all()
        ):
            raise ValueError(f"checkpoint {str(path)!r}: {key} contains NaN or infinite values")

    state: dict[str, Any] = ckpt["model"]
    expected = model.state_dict()
    problems = [f"missing key {k!r}" for k in expected if k not in state]
    problems += [f"unexpected key {k!r}" for k in state if k not in expected]
    for k, ref in expected.items():
        got = state.get(k)
        if got is None:
            continue
        if not isinstance(got, Tensor):
            problems.append(f"{k!r} is a {type(got).__name__}, not a tensor")
        elif got.shape != ref.shape:
            problems.append(
                f"shape of {k!r}: checkpoint {tuple(got.shape)}, model {tuple(ref.shape)}"
            )
        elif got.dtype != ref.dtype:
            problems.append(f"dtype of {k!r}: checkpoint {got.dtype}, model {ref.dtype}")
    if problems:
        raise ValueError(f"checkpoint {str(path)!r} does not match `model`: " + "; ".join(problems))
    if optimizer is not None:
        if ckpt.get("optimizer") is None:
            raise ValueError(
                f"checkpoint {str(path)!r} holds no optimizer state; pass optimizer=None"
            )
        optimizer.load_state_dict(ckpt["optimizer"])
    model.load_state_dict(state, strict=True)
    extra = ckpt.get("extra")
    return {} if extra is None else dict(extra)
