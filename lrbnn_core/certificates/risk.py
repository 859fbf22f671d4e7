r"""The Monte Carlo step of a certificate: the empirical risks of networks drawn independently
from a model's posterior, each on every example (:func:`gibbs_risks`; notes:
:mod:`lrbnn_core.certificates`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode, bayesian_modules, set_sampling
from lrbnn_core.certificates.losses import (
    Loss,
    _check_int,
    _check_open_unit,
    _check_targets,
    _loss,
    example_losses,
)
from lrbnn_core.training import Task, predict
from lrbnn_core.training._checks import _check_x, _model_device, _output_dim, _preserved

__all__ = ["gibbs_risks"]


#: Largest number of logits (networks x examples x classes) one call of ``predict`` returns:
#: 2^22 float64 numbers are 32 MiB, so memory stays bounded whatever ``n_mc`` is.
_MAX_CHUNK_ELEMENTS = 2**22


def _check_model(model: Any) -> list[BayesianModule]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    layers = bayesian_modules(model)
    if not layers:
        raise ValueError(
            f"`model` ({type(model).__name__}) has no stochastic parameters (no Bayesian layer): "
            "there is no posterior to certify"
        )
    return layers


def gibbs_risks(
    model: nn.Module,
    inputs: Tensor,
    targets: Tensor,
    *,
    n_mc: int,
    generator: torch.Generator | None = None,
    loss: Loss | str = Loss.ZERO_ONE,
    p_min: float = 1e-4,
    batch_size: int = 1024,
) -> NDArray[np.float64]:
    r"""Empirical risks :math:`r_1, \dots, r_M` of :math:`M` networks drawn independently from the
    model's posterior, each evaluated on every example.

    .. math:: r_j = \frac1n \sum_{i=1}^n \ell(f_{\theta_j}(x_i), y_i), \qquad
              \theta_j \sim Q \text{ i.i.d.}, \qquad E[r_j] = \hat L(Q)

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, ...)`` inputs to ``(N, C)`` logits; at least one Bayesian layer. Every
        Bayesian layer draws in ``"shared"`` mode here (one network per draw); the layers'
        ``sampling`` modes and ``generator`` s and every ``training`` flag are restored.
    inputs : Tensor
        ``(N, ...)`` finite inputs of the model's dtype, N >= 1.
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    n_mc : int
        Number of networks :math:`M \ge 1`.
    generator : torch.Generator, optional
        Drives every draw (on the model's device). ``None``: a private generator seeded by one
        draw from torch's global RNG.
    loss : {"zero_one", "bounded_ce"}
        See :class:`Loss`.
    p_min : float
        Clamp of ``"bounded_ce"``, in (0, 1).
    batch_size : int
        Examples per forward pass, >= 1 (memory only: the numbers do not depend on it).

    Returns
    -------
    numpy.ndarray
        ``(M,)`` float64 risks in :math:`[0, 1]`, in draw order.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))
    >>> x, y = torch.ones(5, 3), torch.zeros(5, dtype=torch.long)
    >>> gibbs_risks(net, x, y, n_mc=3, generator=torch.Generator().manual_seed(1)).shape
    (3,)
    """
    _check_model(model)
    m = _check_int(n_mc, "n_mc", 1)
    bs = _check_int(batch_size, "batch_size", 1)
    kind = _loss(loss)
    p = _check_open_unit(p_min, "p_min")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    x = _check_x(inputs, "inputs", model)
    classes = _output_dim(model, x, "inputs")
    y = _check_targets(targets, len(x), classes)
    device = _model_device(model)
    if generator is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
        generator = torch.Generator(device=device).manual_seed(seed)
    elif generator.device.type != device.type:
        raise ValueError(
            f"`generator` is on {generator.device} but the model's parameters are on {device}"
        )

    chunk = max(1, min(m, _MAX_CHUNK_ELEMENTS // (len(x) * classes)))
    risks: list[Tensor] = []
    with _preserved(model):
        set_sampling(model, SamplingMode.SHARED)
        done = 0
        while done < m:
            s = min(chunk, m - done)
            # task="regression" makes predict return the raw outputs: the logits themselves.
            # The generator carries on from one call to the next, so chunking changes nothing.
            logits = predict(
                model, x, n_samples=s, batch_size=bs, generator=generator, task=Task.REGRESSION
            )
            risks.append(example_losses(logits, y, loss=kind, p_min=p).mean(dim=-1))
            done += s
    return torch.cat(risks).cpu().numpy()
