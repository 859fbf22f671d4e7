"""One optimizer update per step for all of a training loop's parameters (issue 16).

At the sizes of the paper's networks a step costs dispatch, not arithmetic, and the optimizer is
a large part of it: Adam's ``foreach`` update of a three-layer low-rank MLP (18 parameter
tensors) runs about a dozen operators per tensor and took about 0.3 ms of a 2.4 ms bound-training
step; SGD with momentum about 0.15 ms of a 0.75 ms dropout-ERM step. :class:`FlatStep` keeps the
parameters that receive gradients as views of one flat buffer, gathers their gradients with one
``torch.cat`` per step and updates the buffer with one single-tensor optimizer step (Adam about
0.07 ms, SGD about 0.03 ms on that MLP).

The numbers are the per-parameter optimizer's bit for bit: Adam's and SGD's updates are
elementwise, the same operations on the same values whether the entries sit in 18 tensors or in
one (a test compares the trained parameters and the optimizer's state). The parameters that have
no gradient at the first step (the stds of a model trained on its means) are left out, as the
per-parameter optimizer skips them; the set must then stay the same at every step (a
``RuntimeError`` says which parameter broke it). :meth:`FlatStep.close` gives every parameter its
own storage back and returns a per-parameter optimizer holding the same state, so that training
can go on from it as if no buffer had been used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["FlatStep"]

#: builds an optimizer over the given parameters (one flat buffer, or the parameters themselves)
MakeOptimizer = Callable[[Sequence[Tensor]], torch.optim.Optimizer]


class FlatStep:
    """The optimizer step of a training loop over one flat buffer (module docstring).

    Parameters
    ----------
    params : sequence of Parameter
        What the loop trains, dense, of one dtype and device (otherwise the steps run the
        per-parameter optimizer unchanged).
    make_optimizer : callable
        ``make_optimizer(tensors)``: the loop's optimizer over ``tensors`` (for example
        ``lambda ps: torch.optim.Adam(ps, lr=1e-3)``); called once with the buffer and once, by
        :meth:`close`, with ``params``.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2)
    >>> with FlatStep(list(net.parameters()), lambda ps: torch.optim.SGD(ps, lr=0.1)) as flat:
    ...     net(torch.ones(1, 3)).sum().backward()
    ...     flat.step()
    ...     flat.zero_grad()
    >>> # on leaving, net's parameters have their own storage again
    >>> len(flat.optimizer.param_groups[0]["params"])
    2
    """

    def __init__(self, params: Sequence[nn.Parameter], make_optimizer: MakeOptimizer) -> None:
        self.params = list(params)
        self._make = make_optimizer
        self._members: list[nn.Parameter] = []
        self._buffer: nn.Parameter | None = None
        self._optimizer: torch.optim.Optimizer | None = None
        kinds = {(p.dtype, p.device, p.layout) for p in self.params}
        self._flattens = len(kinds) == 1 and next(iter(kinds))[2] == torch.strided
        #: the per-parameter optimizer :meth:`close` returned (set on leaving a ``with`` block);
        #: ``None`` while the steps run
        self.optimizer: torch.optim.Optimizer | None = None
        #: the learning rate :meth:`set_lr` set last (``None``: the optimizer's own)
        self._lr: float | None = None

    def __enter__(self) -> FlatStep:
        return self

    def __exit__(self, *exc: object) -> None:
        """:meth:`close`, also when the loop raises; its optimizer is then :attr:`optimizer`."""
        self.close()

    def zero_grad(self) -> None:
        """Every parameter's gradient to ``None`` (as ``zero_grad(set_to_none=True)``)."""
        for p in self.params:
            p.grad = None

    def set_lr(self, lr: float) -> None:
        """The learning rate of the next steps (every parameter group), as a schedule sets
        ``group["lr"]`` of a per-parameter optimizer; :meth:`close`'s optimizer keeps it."""
        if self.optimizer is not None:
            raise RuntimeError("this FlatStep is closed: set the lr of its `optimizer` instead")
        self._lr = lr
        if self._optimizer is not None:
            _set_lr(self._optimizer, lr)

    def _start(self) -> None:
        """At the first step: the buffer over the parameters that have a gradient."""
        members = [p for p in self.params if p.grad is not None]
        if not self._flattens or not members:
            self._optimizer = self._made(self.params)
            return
        with torch.no_grad():
            buffer = nn.Parameter(torch.cat([p.reshape(-1) for p in members]))
            views = buffer.detach().split([p.numel() for p in members])
            for p, view in zip(members, views, strict=True):
                p.data = view.view_as(p)
        self._members, self._buffer = members, buffer
        self._optimizer = self._made([buffer])

    def _made(self, tensors: Sequence[Tensor]) -> torch.optim.Optimizer:
        """The loop's optimizer over ``tensors``, at the rate :meth:`set_lr` set last."""
        optimizer = self._make(tensors)
        if self._lr is not None:
            _set_lr(optimizer, self._lr)
        return optimizer

    def step(self) -> None:
        """One optimizer step with the parameters' current gradients."""
        if self.optimizer is not None:
            raise RuntimeError("this FlatStep is closed: step its `optimizer` instead")
        if self._optimizer is None:
            self._start()
        assert self._optimizer is not None
        buffer = self._buffer
        if buffer is None:
            self._optimizer.step()
            return
        grads = []
        for p in self._members:
            if p.grad is None:
                raise RuntimeError(
                    f"a parameter of shape {tuple(p.shape)} had a gradient at the first step and "
                    "none now: a flat step needs the same parameters at every step"
                )
            grads.append(p.grad.reshape(-1))
        if len(grads) < len(self.params):
            members = {id(p) for p in self._members}
            late = [p for p in self.params if id(p) not in members and p.grad is not None]
            if late:
                raise RuntimeError(
                    f"a parameter of shape {tuple(late[0].shape)} had no gradient at the first "
                    "step and has one now: a flat step needs the same parameters at every step"
                )
        buffer.grad = torch.cat(grads)
        self._optimizer.step()

    def close(self) -> torch.optim.Optimizer:
        """Give every parameter its own storage back; return the per-parameter optimizer with
        the state the steps built (each buffer-sized state tensor cut into the parameters'
        parts), as if it had run the steps itself."""
        if self.optimizer is not None:  # closed already
            return self.optimizer
        if self._buffer is None:  # no step taken, or the parameters' own optimizer ran them
            self.optimizer = self._optimizer or self._made(self.params)
            return self.optimizer
        assert self._optimizer is not None
        optimizer = self._made(self.params)
        state = self._optimizer.state.get(self._buffer, {})
        sizes = [p.numel() for p in self._members]
        with torch.no_grad():
            for i, p in enumerate(self._members):
                p.data = p.data.clone()
                optimizer.state[p] = {
                    key: value.split(sizes)[i].view_as(p).clone()
                    if _is_buffer_sized(value, self._buffer.numel())
                    else (value.clone() if isinstance(value, Tensor) else value)
                    for key, value in state.items()
                }
        self._buffer = None
        self.optimizer = optimizer
        return optimizer


def _is_buffer_sized(value: object, n: int) -> bool:
    """Whether an optimizer state entry holds one value per buffer entry (a moment, a momentum
    buffer) rather than one per step (Adam's step count)."""
    return isinstance(value, Tensor) and value.dim() == 1 and value.numel() == n


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
