r"""The upper kl-inverse as a differentiable torch function (implicit-function gradient).

The forward pass calls the conservative float64 solver :func:`theory.pac_bayes.kl_inv_upper`
(for one point, 0-dim inputs, its plain-float twin
:func:`theory.pac_bayes.kl_inverse_scalar.kl_inv_upper_scalar`, with the same guarantee);
the backward pass differentiates the defining equation :math:`F(p, q, c) = \mathrm{kl}(q\|p) - c
= 0` instead of the solver's iterations:

.. math::

    \frac{\partial p}{\partial c} = \frac{p(1 - p)}{p - q}, \qquad
    \frac{\partial p}{\partial q} = -\frac{\partial_q \mathrm{kl}}{\partial_p \mathrm{kl}}
      = \frac{p(1-p)}{p - q}\,\ln\frac{p(1-q)}{q(1-p)} .

So a kl-inverse PAC-Bayes bound :math:`\mathrm{kl}^{-1}(\hat L, (\mathrm{KL} + \ln(2\sqrt n /
\delta))/n)` can be a training objective.

References: ``CLAIMS.md`` section 5 (the kl-inverse bound).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from theory.pac_bayes import kl_inv_upper
from theory.pac_bayes.kl_inverse_scalar import kl_inv_upper_scalar

__all__ = ["kl_inv_upper_torch"]


def _scalar_derivatives(q: float, p: float) -> tuple[float, float] | None:
    """``(dp/dq, dp/dc)`` in Python floats where every term is finite (``0 < q``, ``q < p <
    1``), else ``None`` (the tensor formulas of :meth:`_KLInvUpper.backward` handle the edges)."""
    if not (0.0 < q < p < 1.0):
        return None
    dp_dc = p * (1.0 - p) / (p - q)
    log_odds = math.log(p) - math.log1p(-p) - math.log(q) + math.log1p(-q)
    return dp_dc * log_odds, dp_dc


class _KLInvUpper(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        out_dtype = torch.promote_types(q.dtype, c.dtype)
        ctx.scalar = None
        if q.dim() == 0:
            # one point (a training step's objective): the plain-float solver, a hundred times
            # cheaper than numpy arrays of one element; invalid values take the checked path
            q_f, c_f = float(q), float(c)
            if 0.0 <= q_f <= 1.0 and c_f >= 0.0:
                p_f = kl_inv_upper_scalar(q_f, c_f)
                ctx.scalar = (q_f, c_f, p_f)
                return torch.tensor(p_f, dtype=torch.float64, device=q.device).to(out_dtype)
        q_np = q.detach().to(torch.float64).cpu().numpy()
        c_np = c.detach().to(torch.float64).cpu().numpy()
        p_np = np.asarray(kl_inv_upper(q_np, c_np), dtype=np.float64)
        p = torch.as_tensor(p_np, dtype=torch.float64, device=q.device)
        ctx.save_for_backward(q.detach().to(torch.float64), c.detach().to(torch.float64), p)
        return p.to(out_dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = grad.to(torch.float64)
        if ctx.scalar is not None:
            q_f, _, p_f = ctx.scalar
            derivatives = _scalar_derivatives(q_f, p_f)
            if derivatives is not None:
                dq, dc = derivatives
                return (g * dq).to(grad.dtype), (g * dc).to(grad.dtype)
            q, c, p = (torch.tensor(v, dtype=torch.float64, device=g.device) for v in ctx.scalar)
        else:
            q, c, p = ctx.saved_tensors
        return _tensor_derivatives(q, c, p, g, grad.dtype)


def _tensor_derivatives(
    q: torch.Tensor, c: torch.Tensor, p: torch.Tensor, g: torch.Tensor, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradients ``g dp/dq`` and ``g dp/dc`` (module docstring) for tensors of points."""
    q, c = torch.broadcast_tensors(q, c)
    # dp/dc = p (1 - p) / (p - q): +inf at c = 0 (p = q), where the inverse has a square-root
    # branch; 0 where p has saturated at 1 (q = 1 or c = inf).
    num = p * (1.0 - p)
    den = p - q
    dp_dc = torch.where(den > 0, num / den, torch.where(num > 0, torch.inf, 0.0))
    # dp/dq = dp/dc * ln(p (1 - q) / (q (1 - p))), which tends to 1 as c -> 0.
    log_odds = torch.log(p) - torch.log1p(-p) - torch.log(q) + torch.log1p(-q)
    dp_dq = torch.where(den > 0, dp_dc * log_odds, torch.ones_like(p))
    dp_dq = torch.where(num > 0, dp_dq, torch.zeros_like(p))
    return (g * dp_dq).to(dtype), (g * dp_dc).to(dtype)


def kl_inv_upper_torch(q: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    r"""Differentiable :math:`\sup\{p \ge q : \mathrm{kl}(q\|p) \le c\}` for torch tensors.

    Parameters
    ----------
    q : torch.Tensor
        Empirical risks in :math:`[0, 1]`, a floating dtype (integer and bool tensors are
        refused, not promoted: ``torch.tensor(0)`` is more often a bug than a risk).
    c : torch.Tensor
        Budgets :math:`c \ge 0`, a floating dtype; broadcasts against ``q``.

    Returns
    -------
    torch.Tensor
        The conservative inverse (never below the true value, within 1e-12 of it), in the
        promoted dtype of the inputs; gradients flow to both ``q`` and ``c``.

    References
    ----------
    ``CLAIMS.md`` section 5.

    Examples
    --------
    >>> q = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)
    >>> p = kl_inv_upper_torch(q, torch.tensor(0.2, dtype=torch.float64))
    >>> p.backward()
    >>> round(p.item(), 6), q.grad.item() > 1
    (0.378392, True)
    """
    for name, t in (("q", q), ("c", c)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"`{name}` must be a torch.Tensor; got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {t.dtype}")
    try:
        q_b, c_b = torch.broadcast_tensors(q, c)
    except RuntimeError:
        raise ValueError(
            f"`q` and `c` must broadcast to one shape; got shapes {tuple(q.shape)} and "
            f"{tuple(c.shape)}"
        ) from None
    out: torch.Tensor = _KLInvUpper.apply(q_b, c_b)
    return out
