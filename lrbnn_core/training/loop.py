r"""Training by the ELBO: the loop, its KL weight schedule and its records.

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
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core.base import (
    SamplingMode,
    bayesian_modules,
    deferred_finite_checks,
    kl_method,
    model_kl,
    set_generator,
    set_sampling,
)
from lrbnn_core.training._checks import (
    _check_x,
    _check_y,
    _model_device,
    _output_dim,
    _preserved,
)
from lrbnn_core.training.config import (
    Monitor,
    Schedule,
    Task,
    TrainConfig,
    _check_int,
    _check_real,
    _schedule,
    _task,
)
from lrbnn_core.training.flat import FlatStep

__all__ = [
    "EpochStats",
    "StepStats",
    "TrainResult",
    "data_nll",
    "kl_weight",
    "lr_factor",
    "train",
]


_LOG_2PI = math.log(2.0 * math.pi)


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
    #: wall-clock seconds of the epoch (its steps and its validation)
    seconds: float = 0.0


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: per-epoch and per-step records and the optimizer (for
    :func:`save_checkpoint`)."""

    history: tuple[EpochStats, ...]
    steps: tuple[StepStats, ...]
    optimizer: torch.optim.Optimizer
    #: with early stopping (``config.patience``): the 1-based epoch whose parameters the model
    #: holds (best ``config.monitor`` on the validation set); ``None`` without it
    best_epoch: int | None = None


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


def lr_factor(step: int, *, total_steps: int, schedule: Schedule | str) -> float:
    r"""The learning-rate multiplier of global step :math:`t` (0-based) of :math:`T` steps:
    1 (constant) or :math:`\tfrac12 (1 + \cos(\pi t / T))` (cosine).

    Examples
    --------
    >>> [round(lr_factor(t, total_steps=4, schedule="cosine"), 4) for t in range(4)]
    [1.0, 0.8536, 0.5, 0.1464]
    """
    t = _check_int(step, "step", 0)
    big_t = _check_int(total_steps, "total_steps", 1)
    if _schedule(schedule) is Schedule.CONSTANT:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(t, big_t) / big_t))


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


def _name_the_cause(model: nn.Module, x: Tensor, generator: torch.Generator, state: Tensor) -> None:
    """Replay a step's forward pass (the same draws: ``generator`` back at ``state``) with the
    layers' finiteness checks, which raise a ``ValueError`` naming a non-finite parameter or an
    overflow; return if none does (the loss or the KL is the cause)."""
    generator.set_state(state)
    with torch.no_grad():
        model(x)


def train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    config: TrainConfig,
    *,
    x_val: Tensor | None = None,
    y_val: Tensor | None = None,
) -> TrainResult:
    r"""Train ``model`` in place with Adam on :math:`\mathcal{L}_t` (module docstring), one
    update of one flat buffer per step (:class:`~lrbnn_core.training.flat.FlatStep`: bit for bit
    the per-parameter Adam; the returned optimizer is per-parameter, with its state).

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
    ValueError
        If a Bayesian layer's output becomes NaN or infinite: the layer names the parameter
        that holds NaN or infinity, or the product that overflowed. The layers check it only
        when the step's loss is not finite (the step is then replayed with the same draws), so
        that a step waits for the device once.
    FloatingPointError
        If the loss becomes NaN or infinite otherwise; the message names the epoch and step.

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
    elif config.patience is not None:
        raise ValueError(
            f"`config.patience` = {config.patience} (early stopping) needs a validation set: "
            "pass `x_val` and `y_val` (a split of the training data, never the test split)"
        )

    n = len(x)
    n_train = n if config.n_train is None else config.n_train
    steps_per_epoch = math.ceil(n / config.batch_size)
    warmup_steps = config.warmup_epochs * steps_per_epoch
    method = kl_method(config.kl_method)
    bayesian = bool(bayesian_modules(model))
    shuffle_gen, weight_gen = _seeded_generators(config.seed, _model_device(model))

    def make_optimizer(tensors: Sequence[Tensor]) -> torch.optim.Optimizer:
        if config.weight_decay > 0.0:
            return torch.optim.AdamW(
                tensors, lr=config.lr, weight_decay=config.weight_decay, foreach=True
            )
        return torch.optim.Adam(tensors, lr=config.lr, foreach=True)

    # one update of one flat buffer per step, bit for bit the per-parameter Adam (tested)
    flat = FlatStep(params, make_optimizer)
    total_steps = config.epochs * steps_per_epoch
    history: list[EpochStats] = []
    steps: list[StepStats] = []
    best: tuple[float, int, dict[str, Tensor]] | None = None

    with _preserved(model), flat:
        set_generator(model, weight_gen)
        bar = tqdm(range(config.epochs), desc="train", unit="epoch", disable=not config.progress)
        for epoch in bar:
            started = time.perf_counter()
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen).to(x.device)
            sums = {"loss": 0.0, "nll": 0.0, "kl": 0.0}
            beta_t = 0.0
            for k in range(steps_per_epoch):
                idx = perm[k * config.batch_size : (k + 1) * config.batch_size]
                global_step = epoch * steps_per_epoch + k
                beta_t = kl_weight(global_step, beta=config.beta, warmup_steps=warmup_steps)
                xb, draws = x[idx], weight_gen.get_state()
                # the layers' own finiteness checks wait for the device each; the loss check
                # below covers them (a non-finite output makes the loss non-finite)
                with deferred_finite_checks():
                    out = model(xb)
                nll = data_nll(out, y[idx], task, noise_std=config.noise_std)
                if bayesian:
                    # checked below as part of the loss (one wait for the device per step)
                    kl = model_kl(
                        model,
                        method,
                        n_samples=config.kl_samples,
                        generator=weight_gen,
                        check_finite=False,
                    )
                else:
                    kl = torch.zeros((), dtype=nll.dtype, device=nll.device)
                loss = nll + (beta_t / n_train) * kl
                # the step's one wait for the device: the numbers it records, and the check
                loss_v, nll_v, kl_v = torch.stack(
                    [loss.detach(), nll.detach(), kl.detach()]
                ).tolist()
                if not math.isfinite(loss_v):
                    _name_the_cause(model, xb, weight_gen, draws)
                    raise FloatingPointError(
                        f"the loss became {loss_v} at epoch {epoch + 1}/{config.epochs}, "
                        f"step {k + 1}/{steps_per_epoch} (nll={nll_v}, kl={kl_v}, "
                        f"beta_t={beta_t}); lower `lr` or check the model"
                    )
                flat.zero_grad()
                loss.backward()
                if config.clip_norm is not None:
                    nn.utils.clip_grad_norm_(params, config.clip_norm)
                factor = lr_factor(global_step, total_steps=total_steps, schedule=config.schedule)
                flat.set_lr(config.lr * factor)
                flat.step()
                record = StepStats(epoch + 1, k + 1, loss_v, nll_v, kl_v, beta_t)
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
                    epoch + 1,
                    sums["loss"],
                    sums["nll"],
                    sums["kl"],
                    beta_t,
                    val_acc,
                    val_nll,
                    time.perf_counter() - started,
                )
            )
            bar.set_postfix(loss=f"{sums['loss']:.4g}")
            if config.patience is not None and val_nll is not None:
                # a score to minimise: the NLL, or minus the accuracy
                score = val_nll if config.monitor is Monitor.NLL else -float(val_acc or 0.0)
                if best is None or score < best[0]:
                    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                    best = (score, epoch + 1, state)
                elif epoch + 1 - best[1] >= config.patience:
                    break
        bar.close()
    # the parameters have their own storage again (FlatStep closed on leaving the block)
    if best is not None:
        model.load_state_dict(best[2])
    best_epoch = None if best is None else best[1]
    assert flat.optimizer is not None
    return TrainResult(tuple(history), tuple(steps), flat.optimizer, best_epoch)
