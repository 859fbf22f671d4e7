"""A trainer that minimises a bound objective with Adam (:func:`train_bound`), and its records
(notes: :mod:`lrbnn_core.objectives`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core._validation import check_learning_rate
from lrbnn_core.base import (
    KLMethod,
    _all_finite,
    bayesian_modules,
    deferred_finite_checks,
    model_kl,
    set_generator,
)
from lrbnn_core.objectives.bounds import (
    Objective,
    _check_unit_open,
    _objective,
    bound_objective,
    bounded_cross_entropy,
)
from lrbnn_core.objectives.compiled import BoundTerms

# Private helpers of the sibling trainer, reused so that both trainers validate data, seed their
# generators and restore the model's state in exactly the same way.
from lrbnn_core.training._checks import (
    _check_x,
    _check_y,
    _model_device,
    _output_dim,
    _preserved,
)
from lrbnn_core.training._compiling import compilable_layers, compiler_available, warn_fallback
from lrbnn_core.training.config import Task, _check_int, _check_real
from lrbnn_core.training.flat import FlatStep
from lrbnn_core.training.loop import _name_the_cause, _seeded_generators

__all__ = ["BoundEpochStats", "BoundStepStats", "BoundTrainResult", "train_bound"]


def _gradients_finite(params: list[nn.Parameter], found_inf: Tensor) -> bool:
    """Whether every entry of every gradient of ``params`` is finite: one kernel over all of
    them (torch's mixed-precision check, which looks at every entry and multiplies by 1, which
    changes no finite number), one wait for the device. ``found_inf`` is its 0-dim flag."""
    grads = [q.grad for q in params if q.grad is not None]
    if not grads:
        return True
    if any(g.device != found_inf.device for g in grads):  # a model split over devices
        return bool(
            torch.stack([torch.isfinite(g).all().to(found_inf.device) for g in grads]).all()
        )
    found_inf.zero_()
    one = _ONE.get(found_inf.device)
    if one is None:
        one = _ONE[found_inf.device] = torch.ones((), dtype=torch.float32, device=found_inf.device)
    torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, one)
    return not bool(found_inf)


#: the unscale factor 1 of :func:`_gradients_finite`, by device
_ONE: dict[torch.device, Tensor] = {}


@dataclass(frozen=True)
class BoundStepStats:
    """One optimisation step: its 1-based ``epoch`` and ``step`` (within the epoch), the
    objective ``value``, the minibatch ``risk`` and the ``kl`` (penalty included), all at the
    parameters *before* the step's update."""

    epoch: int
    step: int
    value: float
    risk: float
    kl: float


@dataclass(frozen=True)
class BoundEpochStats:
    """One epoch: the means of the step values (``value``, ``risk``, ``kl``) weighted by batch
    size."""

    epoch: int
    value: float
    risk: float
    kl: float


@dataclass(frozen=True)
class BoundTrainResult:
    """What :func:`train_bound` returns: the objective, per-epoch and per-step records and the
    optimizer (for :func:`~lrbnn_core.training.save_checkpoint`)."""

    objective: Objective
    history: tuple[BoundEpochStats, ...]
    steps: tuple[BoundStepStats, ...]
    optimizer: torch.optim.Optimizer


def _compiled_terms(
    model: nn.Module, penalty: float, p_min: float, generator: torch.Generator
) -> BoundTerms | None:
    """The compiled risk and KL of ``model``'s steps, or ``None`` (warned once) where they
    cannot be."""
    layers, why = compilable_layers(model, bound=True)
    if not layers:
        warn_fallback("compiled bound training", why)
        return None
    if not compiler_available():
        warn_fallback("compiled bound training", "no C++ compiler for torch.compile (inductor)")
        return None
    return BoundTerms(layers, penalty=penalty, p_min=p_min, generator=generator)


def train_bound(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    objective: Objective | str,
    delta: float,
    n_bound: int | None = None,
    penalty: float = 0.0,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    p_min: float = 1e-4,
    progress: bool = True,
    compile: bool = False,
) -> BoundTrainResult:
    r"""Train a Bayesian classifier in place with Adam on :func:`bound_objective`.

    Each step draws a minibatch (shuffled without replacement per epoch), takes
    :math:`\hat R` = :func:`bounded_cross_entropy` of one forward pass (one weight draw in
    ``"shared"`` sampling) and :math:`\mathrm{KL}` = ``model_kl(model, "closed_form") +
    penalty`` (the exact KL for Gaussian priors, the declared upper bound for scale mixtures).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits; must have Bayesian layers. Their
        ``generator`` s are replaced by a seeded one during training and restored afterwards, as
        are their ``sampling`` modes and every ``training`` flag.
    x : Tensor
        ``(N, ...)`` finite floating inputs, N >= 1, the dtype of the model's parameters.
    y : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    objective : {"elbo", "mcallester", "quadratic", "kl"}
    delta : float
        The certificate's confidence, in (0, 1).
    n_bound : int, optional
        The certificate's number of examples, >= 1; ``None`` uses ``len(x)``.
    penalty : float
        Added to the KL, >= 0 (a union-bound cost such as :math:`\ln(1/w)` for a grid of
        priors), so the objective is the bound that will be certified.
    epochs, batch_size : int
        Passes over ``x`` and examples per step, >= 1 (the last batch may be smaller).
    lr : float
        Adam learning rate, in :math:`(0, 10]` (as for :class:`~lrbnn_core.training.TrainConfig`).
    seed : int
        Seeds the shuffling and the weight-draw generators, >= 0: one seed, one initial model
        and one data set give bit-identical parameters.
    p_min : float
        Probability clamp of the bounded cross-entropy, in (0, 1).
    progress : bool
        Show a tqdm bar over epochs (on stderr) with the epoch's objective.
    compile : bool
        Compute each step's draw, risk and KL (and their gradients) as one compiled graph
        (:mod:`lrbnn_core.objectives.compiled`: the same draws and checks, the same numbers up
        to rounding) where ``model`` is a low-rank MLP in ``"shared"`` sampling with Gaussian
        priors and a C++ compiler is found; elsewhere it warns once and runs the eager step.

    Returns
    -------
    BoundTrainResult

    Raises
    ------
    FloatingPointError
        If the outputs, the KL, the objective or a gradient become NaN or infinite; the message
        names the epoch and the step. (For ``"kl"`` a minibatch risk of exactly 0, every
        example classified with :math:`p_y = 1` to working precision, has an infinite
        derivative.)

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((2, 3, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0),
    ...           dtype=torch.float64)
    >>> x = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> out = train_bound(net, x, torch.tensor([0, 1]), objective="quadratic", delta=0.05,
    ...                   epochs=2, batch_size=2, lr=1e-2, seed=0, progress=False)
    >>> [(s.epoch, s.step) for s in out.steps], out.objective.value
    ([(1, 1), (2, 1)], 'quadratic')
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if not bayesian_modules(model):
        raise ValueError(
            f"`model` ({type(model).__name__}) has no stochastic parameters: no Bayesian layer "
            "(a certificate needs a posterior)"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"`model` ({type(model).__name__}) has no trainable parameters")
    obj = _objective(objective)
    d = _check_unit_open(delta, "delta")
    pen = _check_real(penalty, "penalty", positive=False)
    n_epochs = _check_int(epochs, "epochs", 1)
    bs = _check_int(batch_size, "batch_size", 1)
    rate = check_learning_rate(lr)
    seed_ = _check_int(seed, "seed", 0)
    p = _check_unit_open(p_min, "p_min")
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be a bool; got {progress!r}")
    if not isinstance(compile, bool):
        raise TypeError(f"`compile` must be a bool; got {compile!r}")
    x = _check_x(x, "x", model)
    out_dim = _output_dim(model, x)
    if out_dim < 2:
        raise ValueError(f"`model` must output C >= 2 logits per example; got {out_dim}")
    y = _check_y(y, "y", len(x), Task.CLASSIFICATION, out_dim, "x")
    n = len(x)
    n_cert = n if n_bound is None else _check_int(n_bound, "n_bound", 1)

    steps_per_epoch = math.ceil(n / bs)
    shuffle_gen, weight_gen = _seeded_generators(seed_, _model_device(model))
    terms = _compiled_terms(model, pen, p, weight_gen) if compile else None
    # one update of one flat buffer per step (FlatStep), the same numbers bit for bit as Adam's
    # per-parameter loops (tests compare them); foreach over the parameters where they cannot
    # share a buffer
    flat = FlatStep(params, lambda ts: torch.optim.Adam(ts, lr=rate, foreach=len(ts) > 1))
    found_inf = torch.zeros((), dtype=torch.float32, device=params[0].device)
    history: list[BoundEpochStats] = []
    steps: list[BoundStepStats] = []

    with _preserved(model), flat:
        set_generator(model, weight_gen)
        bar = tqdm(range(n_epochs), desc=f"train_bound[{obj.value}]", unit="epoch",
                   disable=not progress)  # fmt: skip
        for epoch in bar:
            model.train()
            perm = torch.randperm(n, generator=shuffle_gen).to(x.device)
            sums = {"value": 0.0, "risk": 0.0, "kl": 0.0}
            for k in range(steps_per_epoch):
                idx = perm[k * bs : (k + 1) * bs]
                where = f"epoch {epoch + 1}/{n_epochs}, step {k + 1}/{steps_per_epoch}"
                xb, draws = x[idx], weight_gen.get_state()
                if terms is not None:
                    risk, kl, finite = terms(xb, y[idx])
                    r_val, kl_val, outputs_finite = torch.stack(
                        [risk.detach(), kl.detach(), finite.to(risk.dtype)]
                    ).tolist()
                else:
                    # the layers' own checks wait for the device each: the one check of the
                    # outputs below covers them, and replays the step with them where it fails
                    with deferred_finite_checks():
                        out = model(xb)
                    outputs_finite = _all_finite(out.detach())
                if not outputs_finite:
                    _name_the_cause(model, xb, weight_gen, draws)
                    raise FloatingPointError(
                        f"the model's outputs became non-finite at {where}; lower `lr` or check "
                        "the model"
                    )
                if terms is None:
                    risk = bounded_cross_entropy(out, y[idx], p_min=p)
                    # checked below with the risk, in the one wait for the device of this step
                    kl = model_kl(model, KLMethod.CLOSED_FORM, check_finite=False) + pen
                    r_val, kl_val = torch.stack([risk.detach(), kl.detach()]).tolist()
                if not (math.isfinite(r_val) and math.isfinite(kl_val)):
                    raise FloatingPointError(
                        f"the risk or the KL became non-finite at {where} (risk={r_val}, "
                        f"kl={kl_val}); lower `lr` or check the model"
                    )
                value = bound_objective(obj, risk, kl, n=n_cert, delta=d)
                v_val = float(value.detach())
                if not math.isfinite(v_val):
                    raise FloatingPointError(
                        f"the {obj.value!r} objective became {v_val} at {where} "
                        f"(risk={r_val}, kl={kl_val})"
                    )
                flat.zero_grad()
                value.backward()
                if not _gradients_finite(params, found_inf):
                    raise FloatingPointError(
                        f"a gradient of the {obj.value!r} objective became non-finite at {where} "
                        f"(risk={r_val}, kl={kl_val}); with objective 'kl' a minibatch risk of "
                        "0 has an infinite derivative: use a larger `batch_size` or "
                        "'quadratic'"
                    )
                flat.step()
                record = BoundStepStats(epoch + 1, k + 1, v_val, r_val, kl_val)
                steps.append(record)
                weight = len(idx) / n
                sums["value"] += weight * v_val
                sums["risk"] += weight * r_val
                sums["kl"] += weight * kl_val
            history.append(BoundEpochStats(epoch + 1, sums["value"], sums["risk"], sums["kl"]))
            bar.set_postfix(objective=f"{sums['value']:.4g}")
        bar.close()
    assert flat.optimizer is not None  # set on leaving the block
    return BoundTrainResult(obj, tuple(history), tuple(steps), flat.optimizer)
