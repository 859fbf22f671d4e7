r"""The lean training step of the Bayesian linear layers: the ``"shared"`` draw and product of a
layer, and the closed-form KL of its Gaussian blocks, each one ``torch.autograd.Function`` with a
hand-written backward (notes: :mod:`lrbnn_core.layers`).

At the sizes of the paper's networks a step costs dispatch, not arithmetic: the autograd path
records about ten nodes per block (softplus, the draw, each term of the KL) and replays them
backwards. Here one node draws a layer's blocks and multiplies, and one node evaluates the KL of
all its blocks and already holds its gradient.

A block is a tensor of independent scalars :math:`w = \mu + \sigma \varepsilon`,
:math:`\sigma = \mathrm{softplus}(\rho)`, :math:`\varepsilon \sim N(0, 1)`, so that

.. math::

    \frac{\partial w}{\partial \mu} = 1, \qquad
    \frac{\partial w}{\partial \rho} = \varepsilon\, \mathrm{sigmoid}(\rho),

and its KL to the prior :math:`N(\mu_0, s^2)` (entry by entry) and the KL's gradient are

.. math::

    \mathrm{KL} = \sum_i \ln\frac{s}{\sigma_i} + \frac{\sigma_i^2 + (\mu_i - \mu_0)^2}{2 s^2}
    - \frac12, \qquad
    \frac{\partial\,\mathrm{KL}}{\partial \mu_i} = \frac{\mu_i - \mu_0}{s^2}, \qquad
    \frac{\partial\,\mathrm{KL}}{\partial \rho_i} = \Big(\frac{\sigma_i}{s^2}
    - \frac{1}{\sigma_i}\Big) \mathrm{sigmoid}(\rho_i).

The same numbers as the autograd path, which stays the reference (``sample_factors``,
``sample_weight``, ``kl(dtype=...)``): the draws come from the same generator calls in the same
order (bias, ``A``, ``B`` for the low-rank layer, as ``sample_factors``; ``W``, then the bias for
the mean-field layer) and each output is the reference's bit for bit (the same operations on the
same tensors; ``(sigma eps) + mu`` is ``mu + sigma eps``, addition commutes). So is the KL: the
terms of :func:`~lrbnn_core.priors.gaussian_kl_elementwise` on each block, summed block by block
and then over the blocks. The gradients agree to float rounding: the same products (two of
them in the orientation BLAS runs faster) and autograd's derivative of softplus
(``softplus_backward``, linear above the threshold 20), but the KL's gradient is the analytic
one, not the chain rule through its terms.

References: ``CLAIMS.md`` section 0 (the posterior and its KL).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import FunctionCtx, once_differentiable
from torch.nn import functional as F

__all__ = ["gaussian_kl", "low_rank_shared", "mean_field_shared", "softplus_grad"]

#: ``torch.nn.functional.softplus``'s defaults, with which the layers map ``rho`` to a std
_BETA, _THRESHOLD = 1.0, 20.0


def softplus_grad(grad_std: Tensor, rho: Tensor) -> Tensor:
    r""":math:`g\, \mathrm{sigmoid}(\rho)`, the gradient of ``softplus(rho)`` given the gradient
    ``grad_std`` of its value, exactly as autograd computes it (``softplus_backward``, stable:
    the identity above the threshold 20, where softplus is the identity).

    >>> float(softplus_grad(torch.tensor(2.0), torch.tensor(0.0)))
    1.0
    """
    return torch.ops.aten.softplus_backward(grad_std, rho, _BETA, _THRESHOLD)


def _draw(mean: Tensor, rho: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """One draw ``mean + softplus(rho) * eps`` and its ``eps`` (no autograd)."""
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return F.softplus(rho).mul_(eps).add_(mean), eps


def _rows(x: Tensor) -> Tensor:
    """``x`` as a matrix of rows (the leading axes folded, as ``torch.matmul`` folds them)."""
    return x if x.dim() == 2 else x.reshape(-1, x.shape[-1])


class _LowRankShared(Function):
    """``y = (x B) A^T + b`` for one draw of ``A``, ``B`` and the bias; outputs ``(y, x B)``."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        a_mean: Tensor,
        a_rho: Tensor,
        b_mean: Tensor,
        b_rho: Tensor,
        c_mean: Tensor | None,
        c_rho: Tensor | None,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Tensor]:
        # the order of LowRankBayesLinear.sample_factors: the bias, then A, then B
        c, c_eps = (c_mean, None) if c_rho is None else _draw(c_mean, c_rho, generator)  # type: ignore[arg-type]
        a, a_eps = _draw(a_mean, a_rho, generator)
        b, b_eps = _draw(b_mean, b_rho, generator)
        z = x.mm(b)
        y = z.mm(a.t())
        if c is not None:
            y.add_(c)
        ctx.mark_non_differentiable(z)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, z, a, b, a_rho, b_rho, a_eps, b_eps, c_rho, c_eps)  # type: ignore[arg-type]
        ctx.has_bias = c is not None  # type: ignore[attr-defined]
        return y, z

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor | None, _grad_z: None) -> tuple[Tensor | None, ...]:
        if grad is None:
            return (None,) * 8
        x, z, a, b, a_rho, b_rho, a_eps, b_eps, c_rho, c_eps = ctx.saved_tensors
        need = ctx.needs_input_grad
        # (z^T g)^T rather than autograd's g^T z: BLAS runs the first about twice as fast for
        # these shapes (1024 x 256 x 16: 130 against 270 us); the same sums, in BLAS's order
        grad_a = z.t().mm(grad).t().contiguous()
        grad_z = grad.mm(a)
        grad_b = grad_z.t().mm(x).t().contiguous()
        grad_x = grad_z.mm(b.t()) if need[0] else None
        grad_c = grad.sum(0) if ctx.has_bias and (need[5] or need[6]) else None
        return (
            grad_x,
            grad_a,
            softplus_grad(grad_a * a_eps, a_rho) if need[2] else None,
            grad_b,
            softplus_grad(grad_b * b_eps, b_rho) if need[4] else None,
            grad_c,
            softplus_grad(grad_c * c_eps, c_rho) if need[6] else None,
            None,
        )


class _MeanFieldShared(Function):
    """``y = x W^T + b`` for one draw of ``W`` and the bias."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        x: Tensor,
        w_mean: Tensor,
        w_rho: Tensor,
        c_mean: Tensor | None,
        c_rho: Tensor | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        # the order of MeanFieldBayesLinear.forward: W (sample_weight), then the bias
        w, w_eps = _draw(w_mean, w_rho, generator)
        c, c_eps = (c_mean, None) if c_rho is None else _draw(c_mean, c_rho, generator)  # type: ignore[arg-type]
        y = x.mm(w.t())
        if c is not None:
            y.add_(c)
        ctx.save_for_backward(x, w, w_rho, w_eps, c_rho, c_eps)  # type: ignore[arg-type]
        ctx.has_bias = c is not None  # type: ignore[attr-defined]
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, w, w_rho, w_eps, c_rho, c_eps = ctx.saved_tensors
        need = ctx.needs_input_grad
        grad_w = grad.t().mm(x)  # autograd's product for x.mm(w.t()) (w.t() is column-major)
        grad_c = grad.sum(0) if ctx.has_bias and (need[3] or need[4]) else None
        return (
            grad.mm(w) if need[0] else None,
            grad_w,
            softplus_grad(grad_w * w_eps, w_rho) if need[2] else None,
            grad_c,
            softplus_grad(grad_c * c_eps, c_rho) if need[4] else None,
            None,
        )


def low_rank_shared(
    x: Tensor,
    a: tuple[Tensor, Tensor],
    b: tuple[Tensor, Tensor],
    bias: tuple[Tensor | None, Tensor | None],
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    r"""One ``"shared"`` pass of the low-rank layer: :math:`y = (x B) A^\top + b` for one draw
    of ``A``, ``B`` (and of the bias where it is Bayesian), and :math:`x B` (for diagnostics).

    Parameters
    ----------
    x : Tensor
        ``(..., n)`` inputs.
    a, b : tuple of Tensor
        ``(mean, rho)`` of ``A`` ``(m, r)`` and ``B`` ``(n, r)``.
    bias : tuple
        ``(mean, rho)`` of a Bayesian bias ``(m,)``, ``(bias, None)`` for a deterministic one,
        ``(None, None)`` for none.
    generator : torch.Generator or None
        Source of the draws (torch's global generator when ``None``).

    Returns
    -------
    tuple of Tensor
        ``y`` ``(..., m)`` and ``x B`` ``(..., r)`` (not differentiable).

    Examples
    --------
    >>> rho = torch.full((3, 1), -30.0)  # std about 1e-13: the draw is the mean
    >>> y, _ = low_rank_shared(torch.ones(2, 3), (torch.ones(3, 1), rho), (torch.ones(3, 1), rho),
    ...                        (None, None), None)
    >>> y.tolist()
    [[3.0, 3.0, 3.0], [3.0, 3.0, 3.0]]
    """
    y, z = _LowRankShared.apply(_rows(x), *a, *b, *bias, generator)
    if x.dim() != 2:
        y, z = y.view(*x.shape[:-1], y.shape[-1]), z.view(*x.shape[:-1], z.shape[-1])
    return y, z


def mean_field_shared(
    x: Tensor,
    w: tuple[Tensor, Tensor],
    bias: tuple[Tensor | None, Tensor | None],
    generator: torch.Generator | None,
) -> Tensor:
    r"""One ``"shared"`` pass of the mean-field layer: :math:`y = x W^\top + b` for one draw of
    ``W`` ``(m, n)`` (and of the bias where it is Bayesian); arguments as in
    :func:`low_rank_shared`.

    >>> rho = torch.full((2, 3), -30.0)
    >>> mean_field_shared(torch.ones(1, 3), (torch.ones(2, 3), rho), (None, None), None).tolist()
    [[3.0, 3.0]]
    """
    y: Tensor = _MeanFieldShared.apply(_rows(x), *w, *bias, generator)
    return y if x.dim() == 2 else y.view(*x.shape[:-1], y.shape[-1])


#: 0-dim tensors of the numbers the KL uses, by (number, dtype, device): an operation with a
#: Python number converts it to a tensor at every call, which costs more than the operation on
#: the small blocks of a layer; the value is the same (the number is rounded to the dtype)
_CONSTANTS: dict[tuple[float, torch.dtype, torch.device], Tensor] = {}


def _constant(value: float, like: Tensor) -> Tensor:
    key = (value, like.dtype, like.device)
    constant = _CONSTANTS.get(key)
    if constant is None:
        constant = _CONSTANTS[key] = torch.tensor(value, dtype=like.dtype, device=like.device)
    return constant


def _block_kl(
    mean: Tensor, rho: Tensor, loc: Tensor | float, scale: Tensor | float, with_grad: bool
) -> tuple[Tensor, list[Tensor]]:
    """A block's KL and, ``with_grad``, its derivatives in ``mean`` and ``rho``."""
    std = F.softplus(rho)
    s = _constant(scale, std) if isinstance(scale, float) else scale
    half = _constant(0.5, std)
    ratio = std / s
    # mean - 0.0 is mean, bit for bit
    mahal = (mean if isinstance(loc, float) and loc == 0.0 else mean - loc) / s
    square = ratio * ratio
    # gaussian_kl_elementwise's terms, bit for bit (t.square() is t * t, -a + b is b - a), on
    # the block itself: the elementwise kernels take the same vectorised or scalar path for
    # every entry as the reference's
    kl = torch.add(square, mahal * mahal).mul_(half).sub_(torch.log(ratio)).sub_(half).sum()
    if not with_grad:
        return kl, []
    # d/d sigma = sigma / s^2 - 1 / sigma = (ratio^2 - 1) / sigma
    d_std = square.sub_(_constant(1.0, std)).div_(std)
    return kl, [mahal.div_(s), softplus_grad(d_std, rho)]


class _GaussianKL(Function):
    """The closed-form KL of blocks ``(mean, rho, loc, scale)``, summed; the derivatives are
    computed with the value and scaled by the incoming gradient."""

    @staticmethod
    def forward(ctx: FunctionCtx, with_grad: bool, *blocks: Any) -> Tensor:
        sums, derivatives = [], []
        for i in range(0, len(blocks), 4):
            mean, rho, loc, scale = blocks[i : i + 4]
            kl, grads = _block_kl(mean, rho, loc, scale, with_grad)
            sums.append(kl)
            derivatives += grads
        ctx.save_for_backward(*derivatives)
        # the blocks' sums summed as _GaussianBlocks.kl sums the reference: the same value
        return torch.stack(sums).sum()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        saved = ctx.saved_tensors
        grads: list[Tensor | None] = [None]
        for i in range(0, len(saved), 2):
            grads += [saved[i] * grad, saved[i + 1] * grad, None, None]
        return tuple(grads)


def gaussian_kl(blocks: list[tuple[Tensor, Tensor, Tensor | float, Tensor | float]]) -> Tensor:
    r"""The closed-form KL of independent Gaussian blocks :math:`N(\mu, \mathrm{softplus}(\rho)
    ^2)` to priors :math:`N(\mu_0, s^2)`, summed over every entry of every block (0-dim).

    Parameters
    ----------
    blocks : list of tuple
        ``(mean, rho, loc, scale)``: a block's mean and ``rho`` (one shape) and its prior's
        mean and std :math:`s > 0`, numbers or tensors of the block's shape.

    Examples
    --------
    >>> from lrbnn_core.layers.blocks import inverse_softplus
    >>> rho = inverse_softplus(torch.ones(4, dtype=torch.float64))
    >>> float(gaussian_kl([(torch.zeros(4, dtype=torch.float64), rho, 0.0, 1.0)]))  # q = p
    0.0
    """
    with_grad = torch.is_grad_enabled() and any(
        b[0].requires_grad or b[1].requires_grad for b in blocks
    )
    kl: Tensor = _GaussianKL.apply(with_grad, *(t for block in blocks for t in block))
    return kl
