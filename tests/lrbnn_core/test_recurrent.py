"""The LSTMs of lrbnn_core.recurrent against twins: an unoptimised gate-by-gate loop on dense
weights, torch.nn.LSTM, and an explicit replay of one weight draw reused at every step."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats
from torch import nn

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
from lrbnn_core.recurrent import (
    DeterministicLSTM,
    LowRankBayesLSTM,
    MeanFieldBayesLSTM,
    SequenceClassifier,
    make_lstm,
)

F64 = torch.float64
#: The twins add the same float64 terms in another order over a few steps: rounding errors are
#: of order 1e-15 (relative), so 1e-12 cannot hide a real difference (those are O(0.01) or more).
TOL = {"rtol": 1e-12, "atol": 1e-12}
#: False-failure probability of the statistical test in this file.
ALPHA = 1e-6
KINDS = [k.value for k in LayerKind]
IN, HID, RANK, BATCH, STEPS = 3, 4, 2, 3, 5


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _lstm(kind: str, seed: int = 0, **kw):
    kw.setdefault("eta", 0.5)
    kw.setdefault("dtype", F64)
    return make_lstm(kind, IN, HID, rank=RANK, input_rank=RANK, generator=_gen(seed), **kw)


def _x(seed: int = 1, batch: int = BATCH, steps: int = STEPS) -> torch.Tensor:
    return torch.randn(batch, steps, IN, generator=_gen(seed), dtype=F64)


def _dense_mean(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(E[W], E[b]) of any kind of layer, the bias as zeros where there is none."""
    if isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
        w = layer.mean_weight()
        post = layer.factor_posteriors()
        b = post["bias"][0] if "bias" in post else layer.bias
    else:
        w, b = layer.weight, layer.bias
    return w.detach(), (torch.zeros(w.shape[0], dtype=w.dtype) if b is None else b.detach())


def _replay_draw(layer: nn.Module, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One dense (W, b) draw in the documented order: sample_factors for the low-rank layer;
    W, then the bias, for the mean-field layer."""
    if isinstance(layer, LowRankBayesLinear):
        a, b, bias = layer.sample_factors(gen)
        w = a @ b.T
    else:
        w = layer.sample_weight(gen)
        post = layer.factor_posteriors()
        if "bias" in post:
            mean, std = post["bias"]
            bias = mean + std * torch.randn(mean.shape, generator=gen, dtype=mean.dtype)
        else:
            bias = layer.bias
    return w.detach(), (torch.zeros(w.shape[0], dtype=w.dtype) if bias is None else bias.detach())


def _twin_lstm(x, w_ih, w_hh, b, h0=None, c0=None):
    """Unoptimised LSTM: sequence by sequence, step by step, gate by gate (order i, f, g, o)."""
    batch, steps, _ = x.shape
    hs = w_hh.shape[1]
    out = torch.zeros(batch, steps, hs, dtype=x.dtype)
    h_last, c_last = torch.zeros(batch, hs, dtype=x.dtype), torch.zeros(batch, hs, dtype=x.dtype)
    for n in range(batch):
        h = torch.zeros(hs, dtype=x.dtype) if h0 is None else h0[n]
        c = torch.zeros(hs, dtype=x.dtype) if c0 is None else c0[n]
        for t in range(steps):
            gate = {}
            for k, name in enumerate("ifgo"):
                rows = slice(k * hs, (k + 1) * hs)
                gate[name] = w_ih[rows] @ x[n, t] + w_hh[rows] @ h + b[rows]
            i, f, o = (1.0 / (1.0 + torch.exp(-gate[g])) for g in "ifo")
            c = f * c + i * torch.tanh(gate["g"])
            h = o * torch.tanh(c)
            out[n, t] = h
        h_last[n], c_last[n] = h, c
    return out, h_last, c_last


@pytest.mark.parametrize("kind", KINDS)
def test_lstm_mean_mode_equals_gate_loop_twin_and_torch_lstm(kind) -> None:
    lstm = _lstm(kind, sampling="mean")
    x = _x()
    h0 = torch.randn(BATCH, HID, generator=_gen(2), dtype=F64)
    c0 = torch.randn(BATCH, HID, generator=_gen(3), dtype=F64)
    out, (h, c) = lstm(x, (h0, c0))
    w_ih, b = _dense_mean(lstm.input_linear)
    w_hh, _ = _dense_mean(lstm.hidden_linear)
    twin_out, twin_h, twin_c = _twin_lstm(x, w_ih, w_hh, b, h0, c0)
    torch.testing.assert_close(out, twin_out, **TOL)
    torch.testing.assert_close(h, twin_h, **TOL)
    torch.testing.assert_close(c, twin_c, **TOL)

    ref = nn.LSTM(IN, HID, batch_first=True, dtype=F64)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(w_ih)
        ref.weight_hh_l0.copy_(w_hh)
        ref.bias_ih_l0.copy_(b)
        ref.bias_hh_l0.zero_()
        ref_out, (ref_h, ref_c) = ref(x, (h0[None], c0[None]))
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(h, ref_h[0], **TOL)
    torch.testing.assert_close(c, ref_c[0], **TOL)


def test_lstm_time_major_layout_equals_batch_major() -> None:
    first = _lstm("low_rank", sampling="mean")
    second = _lstm("low_rank", sampling="mean", batch_first=False)
    second.load_state_dict(first.state_dict())
    x = _x()
    out, (h, c) = first(x)
    out_t, (h_t, c_t) = second(x.transpose(0, 1))
    assert out_t.shape == (STEPS, BATCH, HID)
    assert torch.equal(out_t.transpose(0, 1), out) and torch.equal(h_t, h) and torch.equal(c_t, c)


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_lstm_shared_mode_draws_once_per_sequence_pass(kind) -> None:
    """The output equals the twin run on ONE replayed draw (input layer, then hidden layer)
    used at every step; a draw per step would already differ at the second step."""
    lstm = _lstm(kind)
    x = _x()
    set_generator(lstm, _gen(7))
    out, (h, c) = lstm(x)
    replay = _gen(7)
    w_ih, b = _replay_draw(lstm.input_linear, replay)
    w_hh, _ = _replay_draw(lstm.hidden_linear, replay)
    twin_out, twin_h, twin_c = _twin_lstm(x, w_ih, w_hh, b)
    torch.testing.assert_close(out, twin_out, **TOL)
    torch.testing.assert_close(h, twin_h, **TOL)
    torch.testing.assert_close(c, twin_c, **TOL)
    # the draw is a real one: the next pass draws again, and differs from the mean network
    again, _ = lstm(x)
    set_sampling(lstm, "mean")
    mean_out, _ = lstm(x)
    assert not torch.allclose(again, out, **TOL) and not torch.allclose(mean_out, out, **TOL)


@pytest.mark.parametrize("kind", KINDS)
def test_lstm_forget_gate_bias_starts_at_one(kind) -> None:
    lstm = _lstm(kind)
    _, b = _dense_mean(lstm.input_linear)
    expected = torch.zeros(4 * HID, dtype=F64)
    expected[HID : 2 * HID] = 1.0
    assert torch.equal(b, expected)
    assert lstm.hidden_linear.bias is None  # one bias per gate, not PyTorch's redundant two


@pytest.mark.parametrize("kind", KINDS)
def test_sequence_classifier_gradients_reach_every_parameter(kind) -> None:
    lstm = _lstm(kind)
    head = make_linear(kind, HID, 3, rank=RANK, generator=_gen(4), dtype=F64)
    model = SequenceClassifier(lstm, 3, head=head)
    set_generator(model, _gen(5))
    logits = model(_x())
    loss = nn.functional.cross_entropy(logits, torch.tensor([0, 1, 2]))
    if kind != "deterministic":
        loss = loss + model_kl(model)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()) and bool(p.grad.abs().sum() > 0), name


@pytest.mark.parametrize("pool", ["last", "mean"])
def test_sequence_classifier_pools_then_applies_the_head(pool) -> None:
    lstm = _lstm("mean_field", sampling="mean")
    model = SequenceClassifier(lstm, 3, pool=pool, generator=_gen(4))  # dtype: the encoder's
    assert model.pool.value == pool and type(model.head) is nn.Linear
    x = _x()
    out, (h, _) = lstm(x)
    assert torch.equal(out[:, -1], h)
    features = h if pool == "last" else out.mean(dim=1)
    expected = features @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(model(x), expected, **TOL)
    assert SequenceClassifier(lstm, 3).pool.value == "last"  # the LSTM's default


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_model_kl_counts_every_bayesian_layer_once(kind) -> None:
    lstm = _lstm(kind)
    head = make_linear(kind, HID, 3, rank=RANK, generator=_gen(4), dtype=F64)
    model = SequenceClassifier(lstm, 3, head=head)
    layers = bayesian_modules(model)
    assert [id(m) for m in layers] == [id(lstm.input_linear), id(lstm.hidden_linear), id(head)]
    manual = lstm.input_linear.kl() + lstm.hidden_linear.kl() + head.kl()
    torch.testing.assert_close(model_kl(model), manual, **TOL)
    h4 = 4 * HID
    if kind == "low_rank":  # P1: (m + n) r per factorised matrix, plus the Bayesian biases
        count = (h4 + IN) * RANK + (h4 + HID) * RANK + h4 + (3 + HID) * RANK + 3
    else:
        count = h4 * IN + h4 * HID + h4 + 3 * HID + 3
    assert stochastic_parameter_count(model) == count


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_lstm_is_deterministic_given_the_seeds(kind) -> None:
    def run(init_seed: int, draw_seed: int) -> torch.Tensor:
        lstm = _lstm(kind, seed=init_seed)
        set_generator(lstm, _gen(draw_seed))
        return lstm(_x())[0]

    assert torch.equal(run(0, 3), run(0, 3))
    assert not torch.equal(run(0, 3), run(0, 4)) and not torch.equal(run(0, 3), run(1, 3))


def test_make_linear_builds_each_kind_and_the_deterministic_init_has_the_target_variance() -> None:
    """The deterministic weights are i.i.d. N(0, 2/(m+n)): (N-1) S^2 / s^2 ~ chi2(N-1), two-sided
    test at level ALPHA."""
    kinds = [type(make_linear(k, 6, 4, rank=2, generator=_gen(0))) for k in KINDS]
    assert kinds == [LowRankBayesLinear, MeanFieldBayesLinear, nn.Linear]
    m, n = 300, 200
    layer = make_linear("deterministic", n, m, generator=_gen(0), dtype=F64)
    assert isinstance(layer, nn.Linear) and torch.equal(layer.bias, torch.zeros(m, dtype=F64))
    w = layer.weight.detach().flatten()
    dof = w.numel() - 1
    statistic = dof * float(w.var()) / (2.0 / (m + n))
    low, high = stats.chi2.ppf([ALPHA / 2, 1 - ALPHA / 2], dof)
    assert low <= statistic <= high


def test_lstm_classes_match_make_lstm() -> None:
    assert type(make_lstm("low_rank", 2, 3, rank=2)) is LowRankBayesLSTM
    assert type(make_lstm("mean_field", 2, 3, rank=2, eta=0.2)) is MeanFieldBayesLSTM
    assert type(make_lstm("deterministic", 2, 3, rank=2, eta=0.2)) is DeterministicLSTM
    assert LowRankBayesLSTM(1, 8, 3, input_rank=1).input_linear.rank == 1


def test_lstm_rejects_bad_input() -> None:
    lstm = _lstm("low_rank")
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 3\) with at least 3 axes"):
        lstm(torch.zeros(2, IN, dtype=F64))
    with pytest.raises(ValueError, match=r"`x` must have shape \(\.\.\., 3\)"):
        lstm(torch.zeros(2, 4, IN + 1, dtype=F64))
    with pytest.raises(
        ValueError, match=r"`x` must have shape \(batch, time, 3\).*got \(2, 0, 3\)"
    ):
        lstm(torch.zeros(2, 0, IN, dtype=F64))
    with pytest.raises(
        ValueError, match=r"`x` must have shape \(batch, time, 3\).*got \(1, 2, 2, 3"
    ):
        lstm(torch.zeros(1, 2, 2, IN, dtype=F64))
    with pytest.raises(
        TypeError, match=r"`x` must be a floating-point tensor; got dtype torch\.int64"
    ):
        lstm(torch.zeros(2, 4, IN, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"`x` must have the model's dtype torch\.float64"):
        lstm(torch.zeros(2, 4, IN, dtype=torch.float32))
    with pytest.raises(ValueError, match="`x` contains NaN"):
        lstm(torch.full((2, 4, IN), math.nan, dtype=F64))
    with pytest.raises(ValueError, match=r"`state\[0\]` must have shape \(batch, hidden_size\)"):
        lstm(_x(), (torch.zeros(BATCH + 1, HID, dtype=F64), torch.zeros(BATCH, HID, dtype=F64)))
    with pytest.raises(TypeError, match="`state` must be a pair"):
        lstm(_x(), torch.zeros(BATCH, HID, dtype=F64))  # type: ignore[arg-type]
    set_sampling(lstm, "local")
    with pytest.raises(ValueError, match="`sampling` of layer 'input_linear' is 'local'"):
        lstm(_x())


def test_lstm_rejects_bad_construction() -> None:
    with pytest.raises(ValueError, match=r"`rank` must be an int in \[1, hidden_size = 4\]; got 5"):
        LowRankBayesLSTM(8, 4, 5)
    with pytest.raises(ValueError, match=r"`input_rank` defaults to `rank` = 2, .* = 1; pass"):
        LowRankBayesLSTM(1, 4, 2)
    with pytest.raises(
        ValueError,
        match=r"`input_rank` must be an int in \[1, min\(input_size, 4 \* hidden_size\) = 2\]; "
        "got 3",
    ):
        LowRankBayesLSTM(2, 4, 2, input_rank=3)
    with pytest.raises(ValueError, match=r"`rank` must be an int in \[1, hidden_size = 4\]; got 0"):
        LowRankBayesLSTM(8, 4, 0)
    with pytest.raises(ValueError, match=r"`hidden_size` must be an int in \[1, inf\]; got 2.0"):
        MeanFieldBayesLSTM(3, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`sampling` must be 'shared' or 'mean' for an LSTM"):
        MeanFieldBayesLSTM(3, 2, sampling="local")
    with pytest.raises(TypeError, match="`batch_first` must be a bool; got 1"):
        DeterministicLSTM(3, 2, batch_first=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`kind` must be one of 'low_rank', 'mean_field', "):
        make_lstm("dense", 3, 2)
    with pytest.raises(ValueError, match="`rank` is required for kind 'low_rank'; got None"):
        make_lstm("low_rank", 3, 2)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['ranks'\]"):
        make_lstm("deterministic", 3, 2, ranks=2)
    with pytest.raises(ValueError, match="`rank` is required for kind 'low_rank'; got None"):
        make_linear("low_rank", 3, 2)
    with pytest.raises(ValueError, match="`init` must be one of 'glorot', 'he'; got 'lecun'"):
        make_linear("deterministic", 3, 2, init="lecun")
    with pytest.raises(TypeError, match=r"`generator` must be a torch\.Generator or None; got 3"):
        make_linear("deterministic", 3, 2, generator=3)  # type: ignore[arg-type]


def test_sequence_classifier_rejects_bad_input() -> None:
    lstm = _lstm("deterministic")
    with pytest.raises(ValueError, match=r"`n_classes` must be an int in \[2, inf\]; got 1"):
        SequenceClassifier(lstm, 1)
    with pytest.raises(ValueError, match=r"`head` must map encoder.output_size = 4 features to "):
        SequenceClassifier(lstm, 3, head=nn.Linear(HID, 5))
    with pytest.raises(ValueError, match="`pool` must be one of 'last', 'mean'; got 'max'"):
        SequenceClassifier(lstm, 3, pool="max")
    with pytest.raises(ValueError, match="`encoder` must be batch-first"):
        SequenceClassifier(_lstm("deterministic", batch_first=False), 3)
    with pytest.raises(TypeError, match="`encoder` must have an int attribute `output_size`"):
        SequenceClassifier(nn.LSTM(IN, HID, batch_first=True), 3)
