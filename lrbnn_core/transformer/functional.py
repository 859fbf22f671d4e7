"""The encoder's tensor functions: multi-head scaled dot-product attention and the sinusoidal
positional encoding."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from lrbnn_core.base import check_size

__all__ = ["attention", "fused_attention", "sinusoidal_encoding"]


def _check_qkv(q: Tensor, k: Tensor, v: Tensor, n_heads: int) -> int:
    """``n_heads`` as an int after checking the shapes of ``q``, ``k``, ``v`` (see
    :func:`attention`)."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor) or t.dim() != 3:
            raise ValueError(f"`{name}` must be a (batch, time, d) tensor; got {t!r:.80}")
    batch, _, d = q.shape
    n_heads = check_size(n_heads, "n_heads", 1, d, "d")
    if d % n_heads or k.shape[0] != batch or k.shape != v.shape or k.shape[2] != d:
        raise ValueError(
            f"`n_heads` must divide d and `k`, `v` must be (batch, time_k, d) with q's batch and "
            f"d; got n_heads = {n_heads}, q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}"
        )
    return n_heads


def fused_attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int) -> Tensor:
    """:func:`attention` (same arguments, same maths) in torch's fused kernel,
    ``torch.nn.functional.scaled_dot_product_attention`` (no mask, no dropout, scale
    :math:`1/\\sqrt{d_h}`).

    Examples
    --------
    >>> q, k, v = (torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(s))
    ...            for s in range(3))
    >>> torch.allclose(fused_attention(q, k, v, 2), attention(q, k, v, 2), atol=1e-6)
    True
    """
    n_heads = _check_qkv(q, k, v, n_heads)
    batch, steps, d = q.shape

    def split(x: Tensor) -> Tensor:
        return x.reshape(batch, x.shape[1], n_heads, d // n_heads).transpose(1, 2)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.transpose(1, 2).reshape(batch, steps, d)


def attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int) -> Tensor:
    r"""Multi-head scaled dot-product attention with plain tensor operations.

    .. math::

        \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_h}}\right) V_h,
        \qquad d_h = d / H,

    where :math:`Q_h` is columns :math:`h d_h, \dots, (h+1) d_h - 1` of ``q``; the heads are
    concatenated back along the feature axis.

    Parameters
    ----------
    q : Tensor
        ``(batch, time, d)``, :math:`d` divisible by ``n_heads``.
    k, v : Tensor
        ``(batch, time_k, d)``.
    n_heads : int

    Returns
    -------
    Tensor
        ``(batch, time, d)``.

    Examples
    --------
    >>> x = torch.zeros(2, 3, 4)
    >>> tuple(attention(x, x, x + 1.0, 2).shape), attention(x, x, x + 1.0, 2).unique().item()
    ((2, 3, 4), 1.0)
    """
    n_heads = _check_qkv(q, k, v, n_heads)
    batch, steps, d = q.shape
    head_dim = d // n_heads

    def split(x: Tensor) -> Tensor:
        return x.reshape(batch, x.shape[1], n_heads, head_dim).transpose(1, 2)

    scores = split(q) @ split(k).transpose(-2, -1) / math.sqrt(head_dim)
    out = torch.softmax(scores, dim=-1) @ split(v)
    return out.transpose(1, 2).reshape(batch, steps, d)


def sinusoidal_encoding(
    length: int, d_model: int, *, dtype: torch.dtype | None = None, device: Any = None
) -> Tensor:
    r"""The fixed positional encoding of Vaswani et al. (2017), ``(length, d_model)``:

    .. math::

        P_{p, 2i} = \sin(p / 10000^{2i/d}), \qquad P_{p, 2i+1} = \cos(p / 10000^{2i/d}).

    Examples
    --------
    >>> table = sinusoidal_encoding(2, 4, dtype=torch.float64)
    >>> table[1, :2].tolist() == [math.sin(1.0), math.cos(1.0)]
    True
    """
    length = check_size(length, "length")
    d_model = check_size(d_model, "d_model")
    position = torch.arange(length, dtype=torch.float64)[:, None]
    even = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = position / torch.pow(10000.0, even / d_model)
    table = torch.zeros(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return table.to(dtype=dtype or torch.get_default_dtype(), device=device)
