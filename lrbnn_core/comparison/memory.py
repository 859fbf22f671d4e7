r"""Peak memory of training on the CPU, from the allocator's own records.

:func:`peak_allocated_bytes` runs a function under ``torch.profiler.profile(profile_memory=True)``
and reads the profiler's ``[memory]`` events (one per tensor allocation, positive bytes, and per
free, negative bytes) in time order; the peak is

.. math::

    \max_t \sum_{e \le t} \mathrm{bytes}(e) \;\ge 0,

the largest amount of tensor memory *allocated inside the call and still live*, above what was
live when it started. So it counts activations, gradients, optimiser state created in the call,
temporaries and the call's copies of the data batch; it excludes everything allocated before
(parameters, the data set, optimiser state of earlier steps) and non-tensor memory (Python
objects, the allocator's own caches).

:func:`peak_training_memory_mb` applies it to training steps of a *copy* of the model with the
run's optimiser (Adam or AdamW at the config's learning rate) on the first ``steps`` batches:
forward, the per-example negative ELBO at the final KL weight (the data term for deterministic
models), backward, gradient clipping and the optimiser step. The first step creates Adam's two
moment buffers (one float per parameter each) and the gradients, so both are included: the
steps' peak is then added to the bytes of the model's parameters (trainable or not), so the
reported number is the training footprint as a GPU's ``max_memory_allocated`` would see it (the
paper's column) less the data set: parameters, gradients, optimiser state and activations.

References: ``CLAIMS.md`` X6 (the paper's peak-memory column, measured on a GPU there).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

from lrbnn_core._validation import check_int
from lrbnn_core.base import bayesian_modules, check_model, model_kl
from lrbnn_core.training import TrainConfig, data_nll

__all__ = ["peak_allocated_bytes", "peak_training_memory_mb"]

_MIB = 2.0**20


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null meanwhile: the profiler's native start and stop print
    two ``USDT ... profiler_start/stop`` lines there per call, which no setting turns off. Only
    the start and stop are wrapped, so nothing ``fn`` writes is lost."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_allocated_bytes(fn: Callable[[], object]) -> int:
    """Peak of the tensor bytes allocated inside ``fn()`` and live at once (module notes).

    Examples
    --------
    >>> peak_allocated_bytes(lambda: torch.ones(1024).sum()) >= 4096
    True
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}")
    # garbage collected inside the window would free tensors at a moment that depends on the
    # interpreter's history, not on ``fn``: collect first and hold the collector off meanwhile
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    try:
        with _quiet_native_stderr():
            prof.start()
        try:
            fn()
        finally:
            with _quiet_native_stderr():
                prof.stop()
    finally:
        if was_enabled:
            gc.enable()
    # the records are a profiler internal without type stubs (module notes)
    recorded: Any = prof.profiler
    if recorded is None or recorded.kineto_results is None:  # pragma: no cover - torch changed
        raise RuntimeError("the torch profiler recorded no events; peak memory is unknown")
    events = [
        (e.start_ns(), int(e.nbytes()))
        for e in recorded.kineto_results.events()
        if e.name() == "[memory]"
    ]
    live = peak = 0
    for _, nbytes in sorted(events, key=lambda pair: pair[0]):
        live += nbytes
        peak = max(peak, live)
    return peak


def peak_training_memory_mb(
    model: nn.Module, x: Tensor, y: Tensor, config: TrainConfig, *, steps: int = 2
) -> float:
    """Peak live tensor memory (MiB) of ``steps`` training steps of a copy of ``model`` on the
    first batches of ``(x, y)`` with ``config``'s likelihood, KL weight and optimiser (module
    notes: parameters, gradients, Adam state and activations). ``model`` is not changed.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((8, 16, 2), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    >>> cfg = TrainConfig(epochs=1, batch_size=4, progress=False)
    >>> peak_training_memory_mb(net, torch.randn(8, 8), torch.tensor([0, 1] * 4), cfg) > 0
    True
    """
    check_model(model)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"`config` must be a TrainConfig; got {type(config).__name__}")
    n_steps = check_int(steps, "steps", 1)
    if not isinstance(x, Tensor) or not isinstance(y, Tensor) or len(x) != len(y) or len(x) == 0:
        raise ValueError("`x` and `y` must be tensors with the same number (>= 1) of rows")
    net = copy.deepcopy(model)
    net.train()
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"`model` ({type(model).__name__}) has no trainable parameters")
    bayesian = bool(bayesian_modules(net))
    n = config.n_train or len(x)
    gen = torch.Generator().manual_seed(config.seed)
    for m in bayesian_modules(net):
        m.generator = gen
    batches = [
        (x[i : i + config.batch_size], y[i : i + config.batch_size])
        for i in range(0, min(len(x), n_steps * config.batch_size), config.batch_size)
    ]

    def run() -> None:
        optimizer = (
            torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
            if config.weight_decay > 0.0
            else torch.optim.Adam(params, lr=config.lr)
        )
        for xb, yb in batches:
            loss = data_nll(net(xb), yb, config.task, noise_std=config.noise_std)
            if bayesian:
                loss = loss + (config.beta / n) * model_kl(net, config.kl_method)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_norm is not None:
                nn.utils.clip_grad_norm_(params, config.clip_norm)
            optimizer.step()

    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    return (weights + peak_allocated_bytes(run)) / _MIB
