"""Batched Monte Carlo predictions of a model under its Bayesian layers' sampling modes: one
network per sample, or one independent draw per sample and example."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode, bayesian_modules, set_generator
from lrbnn_core.training._checks import _check_x, _model_device, _preserved
from lrbnn_core.training.config import Task, _check_int, _task

__all__ = ["predict"]


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
