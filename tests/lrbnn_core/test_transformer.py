"""The Transformer encoders of lrbnn_core.transformer against twins built from torch.nn.functional
(scaled_dot_product_attention, layer_norm, linear) on dense weights: the posterior means, or one
replayed draw per projection."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from lrbnn_core import (
    LowRankBayesLinear,
    MeanFieldBayesLinear,
    bayesian_modules,
    model_kl,
    set_generator,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.models import LayerKind, make_linear
from lrbnn_core.recurrent import SequenceClassifier
from lrbnn_core.transformer import (
    DeterministicTransformerEncoder,
    LowRankBayesTransformerEncoder,
    MeanFieldBayesTransformerEncoder,
    attention,
    make_transformer_encoder,
    sinusoidal_encoding,
)

F64 = torch.float64
#: float64 twins add the same terms in another order (softmax, LayerNorm): rounding is of order
#: 1e-15 relative, so 1e-12 cannot hide a real difference.
TOL = {"rtol": 1e-12, "atol": 1e-12}
KINDS = [k.value for k in LayerKind]
D, HEADS, DFF, LAYERS, RANK, BATCH, STEPS = 6, 2, 8, 2, 2, 3, 5
PROJECTIONS = ("query", "key", "value", "out", "ff1", "ff2")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _encoder(kind: str, seed: int = 0, **kw):
    kw.setdefault("eta", 0.5)
    kw.setdefault("dtype", F64)
    return make_transformer_encoder(
        kind, D, HEADS, DFF, LAYERS, rank=RANK, generator=_gen(seed), **kw
    )


def _x(seed: int = 1, features: int = D) -> torch.Tensor:
    return torch.randn(BATCH, STEPS, features, generator=_gen(seed), dtype=F64)


def _perturb_norms(encoder: nn.Module) -> None:
    """Random LayerNorm gains and shifts, so that the twin tells the norms apart."""
    gen = _gen(11)
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.copy_(1.0 + 0.3 * torch.randn(D, generator=gen, dtype=F64))
                module.bias.copy_(0.3 * torch.randn(D, generator=gen, dtype=F64))


def _dense_mean(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
        post = layer.factor_posteriors()
        return layer.mean_weight(), post["bias"][0] if "bias" in post else layer.bias
    return layer.weight, layer.bias


def _replay_draw(layer: nn.Module, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One dense (W, b) draw in each layer's own forward order (sample_factors; W then bias)."""
    if isinstance(layer, LowRankBayesLinear):
        a, b, bias = layer.sample_factors(gen)
        return a @ b.T, bias
    w = layer.sample_weight(gen)
    mean, std = layer.factor_posteriors()["bias"]
    return w, mean + std * torch.randn(mean.shape, generator=gen, dtype=mean.dtype)


def _twin_sinusoid(length: int, d: int) -> torch.Tensor:
    table = torch.zeros(length, d, dtype=F64)
    for p in range(length):
        for j in range(d):
            angle = p / 10000.0 ** ((j - j % 2) / d)
            table[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


def _twin_sdpa(q, k, v, n_heads):
    b, t, d = q.shape

    def split(x):
        return x.reshape(b, x.shape[1], n_heads, d // n_heads).permute(0, 2, 1, 3)

    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    return out.permute(0, 2, 1, 3).reshape(b, t, d)


def _twin_encoder(encoder, x, weights):
    """Pre-norm encoder from torch.nn.functional; ``weights(layer)`` gives each dense (W, b)."""

    def ln(norm, h):
        return F.layer_norm(h, (D,), norm.weight, norm.bias, norm.eps)

    if encoder.input_linear is not None:
        x = F.linear(x, encoder.input_linear.weight, encoder.input_linear.bias)
    x = x + _twin_sinusoid(x.shape[1], D)
    for block in encoder.blocks:
        w = {name: weights(getattr(block, name)) for name in PROJECTIONS}
        h = ln(block.norm1, x)
        q, k, v = (F.linear(h, *w[name]) for name in ("query", "key", "value"))
        x = x + F.linear(_twin_sdpa(q, k, v, HEADS), *w["out"])
        x = x + F.linear(F.relu(F.linear(ln(block.norm2, x), *w["ff1"])), *w["ff2"])
    return ln(encoder.norm, x)


@pytest.mark.parametrize("n_heads", [1, 2, 3, 6])
def test_attention_equals_scaled_dot_product_attention(n_heads) -> None:
    gen = _gen(n_heads)
    q = torch.randn(2, 3, D, generator=gen, dtype=F64)
    k, v = (torch.randn(2, 4, D, generator=gen, dtype=F64) for _ in range(2))
    torch.testing.assert_close(attention(q, k, v, n_heads), _twin_sdpa(q, k, v, n_heads), **TOL)


@pytest.mark.parametrize("d", [1, 5, 6])
def test_sinusoidal_encoding_equals_loop_twin(d) -> None:
    torch.testing.assert_close(sinusoidal_encoding(7, d, dtype=F64), _twin_sinusoid(7, d), **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_mean_mode_equals_functional_twin(kind) -> None:
    encoder = _encoder(kind, sampling="mean", input_size=2)
    _perturb_norms(encoder)
    x = _x(features=2)
    torch.testing.assert_close(encoder(x), _twin_encoder(encoder, x, _dense_mean), **TOL)


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_encoder_shared_mode_draws_each_projection_once_per_pass(kind) -> None:
    """The output equals the twin on ONE replayed draw per projection (block by block, in the
    order query, key, value, out, ff1, ff2), shared by every token and sequence."""
    encoder = _encoder(kind)
    _perturb_norms(encoder)
    x = _x()
    set_generator(encoder, _gen(7))
    y = encoder(x)
    replay = _gen(7)
    draws = {
        id(getattr(block, name)): _replay_draw(getattr(block, name), replay)
        for block in encoder.blocks
        for name in PROJECTIONS
    }
    torch.testing.assert_close(y, _twin_encoder(encoder, x, lambda m: draws[id(m)]), **TOL)
    set_sampling(encoder, "mean")
    assert not torch.allclose(encoder(x), y, **TOL)  # the draw is a real one


@pytest.mark.parametrize("kind", KINDS)
def test_classifier_gradients_reach_every_parameter(kind) -> None:
    encoder = _encoder(kind, input_size=1, positional="learned", max_len=STEPS)
    head = make_linear(kind, D, 3, rank=RANK, generator=_gen(4), dtype=F64)
    model = SequenceClassifier(encoder, 3, head=head)
    assert model.pool.value == "mean"
    set_generator(model, _gen(5))
    logits = model(_x(features=1))
    loss = F.cross_entropy(logits, torch.tensor([0, 1, 2]))
    if kind != "deterministic":
        loss = loss + model_kl(model)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()) and bool(p.grad.abs().sum() > 0), name


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_model_kl_counts_every_bayesian_layer_once(kind) -> None:
    encoder = _encoder(kind, input_size=1)
    head = make_linear(kind, D, 3, rank=RANK, generator=_gen(4), dtype=F64)
    model = SequenceClassifier(encoder, 3, head=head)
    sub = [getattr(block, name) for block in encoder.blocks for name in PROJECTIONS] + [head]
    assert [id(m) for m in bayesian_modules(model)] == [id(m) for m in sub]
    manual = sum((m.kl() for m in sub), torch.zeros((), dtype=F64))
    torch.testing.assert_close(model_kl(model), manual, **TOL)
    if kind == "low_rank":  # P1: (m + n) r per projection, plus the Bayesian biases
        per_block = 4 * (2 * D * RANK + D) + 2 * (D + DFF) * RANK + DFF + D
        count = LAYERS * per_block + (D + 3) * RANK + 3
    else:
        per_block = 4 * (D * D + D) + 2 * D * DFF + DFF + D
        count = LAYERS * per_block + 3 * D + 3
    assert stochastic_parameter_count(model) == count


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_encoder_is_deterministic_given_the_seeds(kind) -> None:
    def run(init_seed: int, draw_seed: int) -> torch.Tensor:
        encoder = _encoder(kind, seed=init_seed, positional="learned")
        set_generator(encoder, _gen(draw_seed))
        return encoder(_x())

    assert torch.equal(run(0, 3), run(0, 3))
    assert not torch.equal(run(0, 3), run(0, 4)) and not torch.equal(run(0, 3), run(1, 3))


def test_encoder_classes_match_make_transformer_encoder() -> None:
    expected = [
        LowRankBayesTransformerEncoder,
        MeanFieldBayesTransformerEncoder,
        DeterministicTransformerEncoder,
    ]
    assert [type(_encoder(k)) for k in KINDS] == expected
    encoder = _encoder("low_rank", positional="none")
    assert encoder.input_linear is None and encoder.position is None
    assert all(type(block.ff2) is LowRankBayesLinear for block in encoder.blocks)


def test_encoder_rejects_bad_input() -> None:
    encoder = _encoder("low_rank", input_size=1, positional="learned", max_len=4)
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 1\) with at least 3 axes"):
        encoder(torch.zeros(2, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 1\)"):
        encoder(torch.zeros(2, 3, D, dtype=F64))
    with pytest.raises(
        TypeError, match=r"`x` must be a floating-point tensor; got dtype torch\.int32"
    ):
        encoder(torch.zeros(2, 3, 1, dtype=torch.int32))
    with pytest.raises(TypeError, match=r"`x` must have the model's dtype torch\.float64"):
        encoder(torch.zeros(2, 3, 1, dtype=torch.float32))
    with pytest.raises(ValueError, match="`x` has 5 time steps, more than `max_len` = 4"):
        encoder(torch.zeros(2, 5, 1, dtype=F64))
    set_sampling(encoder, "local")
    with pytest.raises(ValueError, match=r"`sampling` of layer 'blocks.0.query' is 'local'"):
        encoder(torch.zeros(2, 3, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"`n_heads` must divide d .*n_heads = 4"):
        attention(*(torch.zeros(1, 2, D),) * 3, 4)
    with pytest.raises(ValueError, match=r"`k` must be a \(batch, time, d\) tensor"):
        attention(torch.zeros(1, 2, D), torch.zeros(2, D), torch.zeros(1, 2, D), 2)


def test_encoder_rejects_bad_construction() -> None:
    with pytest.raises(ValueError, match="`n_heads` must divide `d_model` = 6; got 4"):
        LowRankBayesTransformerEncoder(6, 4, 8, 1, 2)
    with pytest.raises(ValueError, match=r"`n_heads` must be an int in \[1, d_model = 6\]; got 7"):
        MeanFieldBayesTransformerEncoder(6, 7, 8, 1)
    with pytest.raises(
        ValueError, match=r"`rank` must be an int in \[1, min\(d_model, d_ff\) = 4\]; got 5"
    ):
        LowRankBayesTransformerEncoder(6, 2, 4, 1, 5)
    with pytest.raises(ValueError, match=r"`n_layers` must be an int in \[1, inf\]; got 0"):
        DeterministicTransformerEncoder(6, 2, 8, 0)
    with pytest.raises(ValueError, match="`positional` must be one of 'sinusoidal', 'learned', "):
        DeterministicTransformerEncoder(6, 2, 8, 1, positional="rotary")
    with pytest.raises(ValueError, match="`sampling` must be 'shared' or 'mean' for a Transformer"):
        MeanFieldBayesTransformerEncoder(6, 2, 8, 1, sampling="local")
    with pytest.raises(ValueError, match="`rank` is required for kind 'low_rank'; got None"):
        make_transformer_encoder("low_rank", 6, 2, 8, 1)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['dropout'\]"):
        make_transformer_encoder("deterministic", 6, 2, 8, 1, dropout=0.1)
