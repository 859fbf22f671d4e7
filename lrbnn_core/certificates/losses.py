r"""The losses in :math:`[0, 1]` whose Gibbs risk is certified (:class:`Loss`), per example
(:func:`example_losses`), and the argument checks the certificates share."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import torch
from torch import Tensor

from lrbnn_core._validation import check_int, check_real, parse_enum
from lrbnn_core.training import Task
from lrbnn_core.training._checks import _check_y

__all__ = ["Loss", "example_losses"]


class Loss(str, Enum):
    r"""The loss in :math:`[0, 1]` whose Gibbs risk is certified."""

    #: 0-1 error of the argmax of the logits (a tie goes to the first maximal class, as in
    #: ``torch.argmax``)
    ZERO_ONE = "zero_one"
    #: bounded cross-entropy: :math:`\ell = -\ln(\max(p_y, p_{min})) / \ln(1/p_{min})`, the
    #: negative log-probability of the true class with the probability clamped below at
    #: :math:`p_{min} \in (0, 1)`, rescaled to :math:`[0, 1]` (Dziugaite and Roy; Perez-Ortiz
    #: et al., 2021)
    BOUNDED_CE = "bounded_ce"


def _loss(value: Any) -> Loss:
    return parse_enum(Loss, value, "loss")


_check_int = check_int
_check_real = check_real


def _check_open_unit(value: Any, name: str) -> float:
    v = _check_real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1); got {v!r}")
    return v


def _check_targets(targets: Any, n: int, classes: int, against: str = "inputs") -> Tensor:
    return _check_y(targets, "targets", n, Task.CLASSIFICATION, classes, against)


def example_losses(
    logits: Tensor, targets: Tensor, *, loss: Loss | str = Loss.ZERO_ONE, p_min: float = 1e-4
) -> Tensor:
    r"""Per-example losses in :math:`[0, 1]` from logits, in float64.

    .. math::

        \ell_{01} = \mathbb 1[\arg\max_c z_c \ne y], \qquad
        \ell_{CE} = \frac{\max(\ln p_y, \ln p_{min})}{\ln p_{min}}
                  = \frac{-\ln \max(p_y, p_{min})}{\ln(1/p_{min})},
        \quad p = \mathrm{softmax}(z)

    Parameters
    ----------
    logits : Tensor
        ``(..., N, C)`` finite logits :math:`z` (any leading axes, e.g. networks).
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    loss : {"zero_one", "bounded_ce"}
        See :class:`Loss`.
    p_min : float
        The probability clamp of ``"bounded_ce"``, in (0, 1) (unused by ``"zero_one"``).

    Returns
    -------
    Tensor
        ``(..., N)`` float64 losses in :math:`[0, 1]`.

    Examples
    --------
    >>> z = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> example_losses(z, torch.tensor([1, 0])).tolist()
    [1.0, 0.0]
    >>> example_losses(torch.tensor([[0.0, 0.0]]), torch.tensor([0]), loss="bounded_ce",
    ...                p_min=0.25).tolist()  # ln(1/2) / ln(1/4)
    [0.5]
    """
    kind = _loss(loss)
    p = _check_open_unit(p_min, "p_min")
    if not isinstance(logits, Tensor) or logits.dim() < 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"`logits` must be a tensor of shape (..., N, C); got {shape}")
    _check_targets(targets, logits.shape[-2], logits.shape[-1], "logits")
    if not bool(torch.isfinite(logits).all()):
        raise FloatingPointError("the model produced NaN or infinite logits")
    labels = targets.to(logits.device).long()
    if kind is Loss.ZERO_ONE:
        return (logits.argmax(dim=-1) != labels).to(torch.float64)
    # float64 whatever the model's dtype: the log-probability of a confident network is a small
    # difference of large numbers
    log_p = torch.log_softmax(logits.to(torch.float64), dim=-1)
    index = labels.expand(*log_p.shape[:-1]).unsqueeze(-1)
    log_py = log_p.gather(-1, index).squeeze(-1)
    # Dividing by ln(p_min) itself (not -ln(1/p_min)) makes a clamped example exactly 1, and
    # log_softmax <= 0 makes every value >= 0: the loss is in [0, 1] without further clamping.
    losses = torch.clamp(log_py, min=math.log(p)) / math.log(p)
    if not bool(((losses >= 0.0) & (losses <= 1.0)).all()):
        raise FloatingPointError("a bounded cross-entropy fell outside [0, 1]")
    return losses
