r"""A Bayesian network's means trained as a deterministic network by ERM with dropout: the prior
network of Perez-Ortiz et al. (2021), shared by their recipe (:mod:`lrbnn_core.pbb`) and the
default certificate recipe (:mod:`lrbnn_core.certified_training`), which starts its prior model
there for either family (the factor means of a low-rank model are trained directly: a rank-``r``
network with dropout, no SVD of a dense twin needed).

.. math:: \min_w \frac{1}{|B|} \sum_{(x, y) \in B}
          -\ln \mathrm{softmax}\big(f^{\mathrm{drop}}_w(x)\big)_y

by SGD with momentum, with dropout on the input of every Bayesian layer but the first (as PBB's
``NNet4l``), masks from a generator seeded by ``seed`` (never torch's global RNG). Only the
means move (``"mean"`` sampling: the scales get no gradient).

References
----------
M. Perez-Ortiz, O. Rivasplata, J. Shawe-Taylor, C. Szepesvari, "Tighter risk certificates for
neural networks", JMLR 22(227), 2021, section 5 (priors learnt by ERM with dropout).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm import tqdm

from lrbnn_core._validation import MAX_LEARNING_RATE, check_int, check_real
from lrbnn_core.base import SamplingMode, bayesian_modules, deferred_finite_checks, set_sampling
from lrbnn_core.training._checks import _preserved
from lrbnn_core.training._compiling import compilable_layers, compiler_available, warn_fallback
from lrbnn_core.training.compiled_erm import run_compiled_erm
from lrbnn_core.training.flat import FlatStep

__all__ = ["DropoutERM", "sgd_epochs", "stage_generators", "train_dropout_erm"]


@dataclass(frozen=True)
class DropoutERM:
    """Settings of :func:`train_dropout_erm`; defaults: PBB's ``runexp`` (dropout 0.2, SGD with
    momentum 0.95 at rate 0.01, batches of 64) for 100 epochs on 2,000-example halves."""

    dropout: float = 0.2
    epochs: int = 100
    lr: float = 0.01
    momentum: float = 0.95
    batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("dropout", "momentum"):
            v = check_real(getattr(self, name), name)
            if not 0.0 <= v < 1.0:  # NaN fails too
                raise ValueError(f"`{name}` must be a number in [0, 1); got {v}")
        lr = check_real(self.lr, "lr")
        if not 0.0 < lr <= MAX_LEARNING_RATE:
            raise ValueError(f"`lr` must be a number in (0, {MAX_LEARNING_RATE:g}]; got {lr}")
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)


def stage_generators(seed: int, stage: int) -> tuple[torch.Generator, torch.Generator]:
    """Shuffling and noise (dropout masks, weight draws) streams of one stage of one run (0: the
    prior; k + 1: the k-th posterior), independent across stages and seeds."""
    shuffle, noise = np.random.SeedSequence((seed, stage)).generate_state(2, np.uint64)
    return torch.Generator().manual_seed(int(shuffle)), torch.Generator().manual_seed(int(noise))


def sgd_epochs(
    model: nn.Module,
    params: list[nn.Parameter],
    data: tuple[Tensor, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    *,
    epochs: int,
    lr: float,
    momentum: float,
    batch_size: int,
    shuffle: torch.Generator,
    desc: str,
    progress: bool,
    noise: torch.Generator | None = None,
) -> None:
    """Minimise ``loss_fn(model(x_batch), y_batch)`` in ``params`` by SGD with momentum for
    ``epochs`` passes, minibatches shuffled without replacement per epoch; a non-finite loss
    or output raises ``FloatingPointError`` naming ``desc`` and the epoch, after the step's
    forward pass is replayed with the layers' finiteness checks (``noise``, the generator of
    the step's random draws if any, rewound first), which raise a ``ValueError`` naming a
    non-finite input or parameter or an overflow where there is one."""
    x, y = data
    # one update of one flat buffer per step (FlatStep: the parameters that have gradients),
    # bit for bit SGD's per-parameter loops (tests compare them)
    with FlatStep(
        params, lambda ts: torch.optim.SGD(ts, lr=lr, momentum=momentum, foreach=len(ts) > 1)
    ) as flat:
        _sgd_loop(model, flat, (x, y), loss_fn, epochs, batch_size, shuffle, desc, progress, noise)


def _sgd_loop(
    model: nn.Module,
    flat: FlatStep,
    data: tuple[Tensor, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    epochs: int,
    batch_size: int,
    shuffle: torch.Generator,
    desc: str,
    progress: bool,
    noise: torch.Generator | None,
) -> None:
    """:func:`sgd_epochs`' loop."""
    x, y = data
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress):
        for idx in torch.randperm(len(x), generator=shuffle).split(batch_size):
            xb, state = x[idx], None if noise is None else noise.get_state()
            # the layers' own checks wait for the device each; the one read below covers them
            # (the outputs' sum is finite only if every output is) and replays the step with
            # them where it fails, so that they name the cause
            with deferred_finite_checks():
                out = model(xb)
            loss = loss_fn(out, y[idx])
            value, total = torch.stack([loss.detach(), out.detach().sum()]).tolist()
            if not (math.isfinite(value) and math.isfinite(total)):
                if not math.isfinite(value) or not bool(torch.isfinite(out).all()):
                    _refuse(model, xb, noise, state, f"{desc} loss {value} at epoch {epoch + 1}")
            flat.zero_grad()
            loss.backward()
            flat.step()


def _compiled_layers(model: nn.Module, x: Any, y: Any) -> list[Any]:
    """The layers the compiled ERM trains, or ``[]`` (warned once) where it cannot: other
    models, and inputs other than ``(N, in)`` in the model's dtype and device with ``(N,)``
    int64 labels (the eager loop then refuses them as it does)."""
    layers, why = compilable_layers(model, bound=False)
    if layers:
        a = layers[0]._mean("A")
        fits = (
            isinstance(x, Tensor)
            and isinstance(y, Tensor)
            and x.shape == (len(x), layers[0].in_features)
            and (x.dtype, x.device) == (a.dtype, a.device)
            and y.shape == (len(x),)
            and y.dtype == torch.int64
            and y.device == a.device
        )
        if not fits:
            layers, why = (
                [],
                f"the inputs are not (N, {layers[0].in_features}) {a.dtype} with int64 labels",
            )
    if not layers:
        warn_fallback("compiled dropout ERM", why)
    elif not compiler_available():
        warn_fallback("compiled dropout ERM", "no C++ compiler for torch.compile (inductor)")
        return []
    return layers


def _refuse(
    model: nn.Module,
    xb: Tensor,
    noise: torch.Generator | None,
    state: Tensor | None,
    message: str,
) -> None:
    """A step's loss or output is non-finite: replay its forward pass (``noise`` back at
    ``state``) with the layers' finiteness checks, which raise a ``ValueError`` naming a
    non-finite input or parameter or an overflow; else raise ``FloatingPointError(message)``."""
    if state is not None and noise is not None:
        noise.set_state(state)
    with torch.no_grad():
        model(xb)
    raise FloatingPointError(message)


def train_dropout_erm(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    settings: DropoutERM | None = None,
    seed: int,
    progress: bool,
    desc: str = "dropout ERM",
    compile: bool = False,
) -> nn.Module:
    """Train the means of ``model`` in place (module docstring) on ``(x, y)``; returns it.

    Parameters
    ----------
    model : torch.nn.Module
        Bayesian classifier, ``(N, ...)`` inputs to ``(N, C)`` logits.
    x, y : Tensor
        ``(N, ...)`` inputs, ``(N,)`` integer labels.
    settings : DropoutERM, optional
    seed : int
        Seeds the shuffling and the dropout masks, >= 0.
    progress : bool
    compile : bool
        Run each step as one compiled graph (:mod:`lrbnn_core.training.compiled_erm`: the same draws
        and checks, the same numbers up to rounding) where ``model`` is a low-rank MLP and a
        C++ compiler is found; elsewhere it warns once and runs the eager loop.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((2, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> std = net.layers[0].factor_posteriors()["A"][1].detach().clone()
    >>> _ = train_dropout_erm(net, torch.eye(2), torch.tensor([0, 1]), seed=0, progress=False,
    ...                       settings=DropoutERM(epochs=2, batch_size=2))
    >>> torch.equal(net.layers[0].factor_posteriors()["A"][1], std)  # only the means move
    True
    """
    cfg = DropoutERM() if settings is None else settings
    if not isinstance(cfg, DropoutERM):
        raise TypeError(f"`settings` must be a DropoutERM; got {type(cfg).__name__}")
    shuffle, noise = stage_generators(check_int(seed, "seed", 0), 0)
    keep = 1.0 - cfg.dropout
    if not isinstance(compile, bool):
        raise TypeError(f"`compile` must be a bool; got {compile!r}")
    layers = _compiled_layers(model, x, y) if compile else []  # before the hooks below

    def drop(_: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        # the mask 1{u < keep} as 0/1 in the input's dtype, compared in place (no bool tensor
        # to promote), then x * mask / keep: the numbers of (x * (u < keep)) / keep bit for bit
        mask = torch.rand(args[0].shape, generator=noise, dtype=args[0].dtype).lt_(keep)
        return ((args[0] * mask).div_(keep), *args[1:])

    handles = [layer.register_forward_pre_hook(drop) for layer in bayesian_modules(model)[1:]]
    try:
        with _preserved(model):
            model.train()
            set_sampling(model, SamplingMode.MEAN)
            if layers:

                def refuse(xb: Tensor, state: Tensor, value: float, epoch: int) -> None:
                    _refuse(model, xb, noise, state, f"{desc} loss {value} at epoch {epoch + 1}")

                run_compiled_erm(
                    layers, (x, y), cfg, (shuffle, noise), refuse, desc=desc, progress=progress
                )
                return model
            params = [p for p in model.parameters() if p.requires_grad]
            sgd_epochs(model, params, (x, y), nn.functional.cross_entropy, epochs=cfg.epochs,
                       lr=cfg.lr, momentum=cfg.momentum, batch_size=cfg.batch_size,
                       shuffle=shuffle, desc=desc, progress=progress, noise=noise)  # fmt: skip
    finally:
        for handle in handles:
            handle.remove()
    return model
