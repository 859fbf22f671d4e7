"""The Transformer's fused attention (torch's scaled_dot_product_attention, used without
gradients) against its twins: the plain tensor operations of ``attention`` and a head-by-head,
query-by-query loop; and the encoder's evaluation pass on each path, same draws."""

from __future__ import annotations

import math

import pytest
import torch

from lrbnn_core import set_generator
from lrbnn_core.models import make_linear
from lrbnn_core.recurrent import SequenceClassifier
from lrbnn_core.transformer import attention, fused_attention, make_transformer_encoder
from lrbnn_core.transformer.encoder import EncoderBlock

#: float64: the same sums in another order (~1e-16 relative); float32: ~1e-7 relative
TOL = {
    torch.float64: {"rtol": 1e-12, "atol": 1e-12},
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _loop_attention(q, k, v, n_heads):
    """Head by head, query by query: softmax(q_i . k_j / sqrt(d_h)) over j, weights on v_j."""
    batch, steps, d = q.shape
    hd = d // n_heads
    out = torch.zeros_like(q)
    for n in range(batch):
        for h in range(n_heads):
            cols = slice(h * hd, (h + 1) * hd)
            for i in range(steps):
                scores = [
                    float(q[n, i, cols] @ k[n, j, cols]) / math.sqrt(hd) for j in range(len(k[n]))
                ]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                out[n, i, cols] = sum(w / total * v[n, j, cols] for j, w in enumerate(weights))
    return out


def _qkv(dtype, n_heads, steps=5, steps_k=7, d=12):
    gen = _gen(n_heads)
    q = torch.randn(3, steps, d, generator=gen, dtype=dtype)
    k, v = (torch.randn(3, steps_k, d, generator=gen, dtype=dtype) for _ in range(2))
    return q, k, v


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("n_heads", [1, 3, 4])
def test_fused_attention_equals_the_plain_and_loop_twins(n_heads, dtype) -> None:
    q, k, v = _qkv(dtype, n_heads)
    fused = fused_attention(q, k, v, n_heads)
    torch.testing.assert_close(fused, attention(q, k, v, n_heads), **TOL[dtype])
    torch.testing.assert_close(fused, _loop_attention(q, k, v, n_heads), **TOL[dtype])


def test_fused_attention_gradients_equal_the_plain_twin() -> None:
    dtype = torch.float64
    grads = []
    for fn in (fused_attention, attention):
        q, k, v = (t.requires_grad_() for t in _qkv(dtype, 4))
        weights = torch.randn(3, 5, 12, generator=_gen(9), dtype=dtype)
        (fn(q, k, v, 4) * weights).sum().backward()
        grads.append([t.grad for t in (q, k, v)])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, **TOL[dtype])


def test_the_twin_comparison_catches_a_wrong_scale() -> None:
    """A mutant without the 1/sqrt(d_h) scale is caught at the tolerance used above."""
    q, k, v = _qkv(torch.float64, 4)
    split = lambda x: x.reshape(3, x.shape[1], 4, 3).transpose(1, 2)  # noqa: E731
    mutant = torch.nn.functional.scaled_dot_product_attention(
        split(q), split(k), split(v), scale=1.0
    )
    with pytest.raises(AssertionError):
        torch.testing.assert_close(
            mutant.transpose(1, 2).reshape(3, 5, 12), attention(q, k, v, 4), **TOL[torch.float64]
        )


def test_fused_attention_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="`n_heads` must divide d"):
        fused_attention(*(torch.zeros(1, 2, 6),) * 3, 4)
    with pytest.raises(ValueError, match=r"`k` must be a \(batch, time, d\) tensor"):
        fused_attention(torch.zeros(1, 2, 6), torch.zeros(2, 6), torch.zeros(1, 2, 6), 2)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("kind", ["low_rank", "mean_field", "deterministic"])
def test_encoder_evaluation_is_the_same_on_both_paths(kind, dtype) -> None:
    """No gradients: the fused attention runs; the logits equal the reference path's on the same
    draws (shared sampling, generator seeded alike); with gradients both paths are one."""
    gen = _gen(0)
    enc = make_transformer_encoder(
        kind, 32, 4, 64, 1, rank=8, input_size=1, generator=gen, dtype=dtype
    )
    model = SequenceClassifier(
        enc, 10, head=make_linear(kind, 32, 10, 8, generator=gen, dtype=dtype)
    )
    x = torch.randn(20, 40, 1, generator=_gen(1), dtype=dtype)
    outs = []
    for fast in (True, False):
        EncoderBlock._fast = fast
        try:
            set_generator(model, _gen(7))
            with torch.no_grad():
                outs.append(model(x))
        finally:
            EncoderBlock._fast = True
    torch.testing.assert_close(outs[0], outs[1], **TOL[dtype])
