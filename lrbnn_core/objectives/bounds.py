r"""The training objectives (:class:`Objective`, :func:`bound_objective`) and the bounded
cross-entropy they are evaluated on (notes: :mod:`lrbnn_core.objectives`)."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrbnn_core.kl_inverse import kl_inv_upper_torch
from lrbnn_core.training.config import _check_int
from theory.pac_bayes import log_term

__all__ = ["Objective", "bound_objective", "bounded_cross_entropy"]


class Objective(str, Enum):
    r"""What :func:`bound_objective` and :func:`train_bound` minimise (package docstring)."""

    #: :math:`\hat R + \mathrm{KL}/n`: the negative ELBO per example of the Gibbs posterior for
    #: the rescaled loss (Perez-Ortiz et al.'s ``f_bbb``); a reference, not a bound
    ELBO = "elbo"
    #: :math:`\hat R + \sqrt{(\mathrm{KL} + \ln(2\sqrt n/\delta))/(2n)}`: McAllester's bound in
    #: Maurer's form (claim D2; Perez-Ortiz et al.'s ``f_classic``)
    MCALLESTER = "mcallester"
    #: :math:`(\sqrt{\hat R + b} + \sqrt b)^2`, :math:`b = (\mathrm{KL} + \ln(2\sqrt n/\delta))
    #: /(2n)`: the quadratic bound (Rivasplata et al. 2019; Perez-Ortiz et al.'s ``f_quad``)
    QUADRATIC = "quadratic"
    #: :math:`\mathrm{kl}^{-1}_+(\hat R, (\mathrm{KL} + \ln(2\sqrt n/\delta))/n)`: the
    #: Seeger/Maurer bound, the tightest of the three, differentiated through the implicit
    #: function theorem (:func:`~lrbnn_core.kl_inverse.kl_inv_upper_torch`)
    KL = "kl"


def _objective(value: Any) -> Objective:
    try:
        return Objective(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in Objective)
        raise ValueError(f"`objective` must be one of {known}; got {value!r}") from None


def _check_unit_open(value: Any, name: str) -> float:
    """``value`` as a float in the open interval (0, 1)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__})")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"`{name}` must be a float in (0, 1); got {v}")
    return v


def _scalar_tensor(value: Any, name: str) -> tuple[Tensor, float]:
    """A 0-dim floating tensor and its value (detached: reading a tensor that requires grad as a
    float warns)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {value.dtype}")
    if value.dim() != 0:
        raise ValueError(f"`{name}` must be a 0-dim tensor; got shape {tuple(value.shape)}")
    return value, float(value.detach())


def bound_objective(
    objective: Objective | str, risk: Tensor, kl: Tensor, *, n: int, delta: float
) -> Tensor:
    r"""The differentiable training objective of the package docstring.

    Parameters
    ----------
    objective : {"elbo", "mcallester", "quadratic", "kl"}
        See :class:`Objective`.
    risk : Tensor
        0-dim floating tensor, the surrogate empirical risk :math:`\hat R \in [0, 1]`.
    kl : Tensor
        0-dim floating tensor, :math:`\mathrm{KL} \ge 0` in nats, finite, including any
        union-bound penalty.
    n : int
        Number of examples the certificate will use, >= 1.
    delta : float
        Confidence of the certificate, in (0, 1) (unused by ``"elbo"``, still validated).

    Returns
    -------
    Tensor
        0-dim, in the promoted dtype of ``risk`` and ``kl``; gradients flow to both. The
        derivative of ``"kl"`` in ``risk`` is :math:`+\infty` at ``risk = 0`` (the kl inverse
        has a logarithmic slope there).

    References
    ----------
    ``CLAIMS.md`` section 5; Perez-Ortiz et al. (2021); Rivasplata et al. (2019).

    Examples
    --------
    >>> r = torch.tensor(0.1, dtype=torch.float64)
    >>> k = torch.tensor(10.0, dtype=torch.float64)
    >>> [round(float(bound_objective(o, r, k, n=1000, delta=0.05)), 6) for o in Objective]
    [0.11, 0.192582, 0.178154, 0.164476]
    """
    obj = _objective(objective)
    risk, r = _scalar_tensor(risk, "risk")
    kl, k = _scalar_tensor(kl, "kl")
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"`risk` must be in [0, 1]; got {r}")
    if not (math.isfinite(k) and k >= 0.0):
        raise ValueError(f"`kl` must be finite and >= 0; got {k}")
    n_ = _check_int(n, "n", 1)
    d = _check_unit_open(delta, "delta")
    if obj is Objective.ELBO:
        return risk + kl / n_
    eps = kl + float(log_term(n_, d))
    if obj is Objective.KL:
        return kl_inv_upper_torch(risk, eps / n_)
    # b >= ln(2)/(2n) > 0, so both square roots are differentiable everywhere here.
    b = eps / (2 * n_)
    if obj is Objective.MCALLESTER:
        return risk + torch.sqrt(b)
    return (torch.sqrt(risk + b) + torch.sqrt(b)).square()


def bounded_cross_entropy(logits: Tensor, targets: Tensor, *, p_min: float = 1e-4) -> Tensor:
    r"""Mean over a batch of the cross-entropy with the true-class probability clamped at
    ``p_min``, rescaled into :math:`[0, 1]`:

    .. math::

        \ell(x, y) = \frac{-\ln \max(p_y(x), p_{\min})}{\ln(1/p_{\min})}
                   = \frac{\min(-\ln p_y(x),\ \ln(1/p_{\min}))}{\ln(1/p_{\min})},
        \qquad p = \mathrm{softmax}(\text{logits}).

    The loss is bounded, so PAC-Bayes bounds apply to it (Perez-Ortiz et al. 2021, who clamp the
    log-probabilities the same way); where :math:`p_y < p_{\min}` it is 1 and has zero gradient.
    :math:`-\ln p_y = \ln(1 + \sum_{j \ne y} e^{z_j - z_y})` is evaluated with ``logaddexp``,
    so that a well-classified example keeps a tiny positive loss instead of rounding to 0 (where
    the derivative of the kl objective would be infinite).

    Parameters
    ----------
    logits : Tensor
        ``(N, C)`` floating, N >= 1, C >= 2.
    targets : Tensor
        ``(N,)`` integer labels in ``[0, C)``.
    p_min : float
        Clamp of the true-class probability, in (0, 1).

    Returns
    -------
    Tensor
        0-dim, in :math:`[0, 1]`, differentiable in ``logits``.

    Examples
    --------
    >>> logits = torch.tensor([[0.0, 0.0], [0.0, 30.0]], dtype=torch.float64)
    >>> float(bounded_cross_entropy(logits, torch.tensor([0, 0]), p_min=0.6))  # both clamped
    1.0
    >>> round(float(bounded_cross_entropy(logits[:1], torch.tensor([1]), p_min=0.01)), 6)
    0.150515
    """
    p = _check_unit_open(p_min, "p_min")
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"`logits` must be a floating-point torch.Tensor; got {logits!r}")
    if logits.dim() != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(
            f"`logits` must have shape (N, C) with N >= 1 and C >= 2; got {tuple(logits.shape)}"
        )
    if (
        not isinstance(targets, Tensor)
        or targets.dtype == torch.bool
        or targets.is_floating_point()
    ):
        raise TypeError(f"`targets` must be an integer torch.Tensor of labels; got {targets!r}")
    if targets.shape != (logits.shape[0],):
        raise ValueError(
            f"`targets` must have shape ({logits.shape[0]},); got {tuple(targets.shape)}"
        )
    lo, hi = int(targets.min()), int(targets.max())
    if lo < 0 or hi >= logits.shape[1]:
        raise ValueError(
            f"`targets` labels must be in [0, {logits.shape[1] - 1}]; got {lo if lo < 0 else hi}"
        )
    if not bool(torch.isfinite(logits).all()):
        raise ValueError("`logits` contains NaN or infinite values")
    return _bounded_ce(logits, targets.long(), -math.log(p))


def _bounded_ce(logits: Tensor, targets: Tensor, cap: float) -> Tensor:
    r""":func:`bounded_cross_entropy`'s arithmetic on checked arguments (``cap`` =
    :math:`\ln(1/p_{\min})`, ``targets`` int64): tensor operations only, no read of a value,
    so that a compiled graph can hold it."""
    true = torch.nn.functional.one_hot(targets, logits.shape[1]).bool()
    gaps = (logits - logits.gather(1, targets.unsqueeze(1))).masked_fill(true, -torch.inf)
    nll = torch.logaddexp(logits.new_zeros(()), torch.logsumexp(gaps, dim=1))
    # Clamping at `cap` *is* the bounded loss (p_y clamped at p_min). In float32 the mean of a
    # batch of clamped values, divided by `cap`, can round a hair above 1 (1.0000001): the final
    # clamp removes that rounding only (the exact value is <= 1; no gradient is lost, a batch that
    # high is all clamped and has none).
    return (nll.clamp(max=cap).mean() / cap).clamp(max=1.0)
