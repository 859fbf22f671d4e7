"""The LSTM's fused pass (torch's LSTM kernel on the drawn dense matrices) against its twin, the
reference Python loop through the draws' factors: same draws, same outputs and same gradients
with respect to every parameter, at the sweep's sizes (hidden 32, rank 8, one input, 40 steps)."""

from __future__ import annotations

import pytest
import torch

from lrbnn_core import set_generator
from lrbnn_core.models import LayerKind, make_linear
from lrbnn_core.recurrent import SequenceClassifier, dense_draw, make_lstm, one_draw
from lrbnn_core.recurrent.lstm import _fused_lstm, _loop_lstm

KINDS = [k.value for k in LayerKind]
#: Largest difference allowed, relative to the largest entry (at least 1) of the reference
#: tensor. float64: the two paths add the same terms in another order (W x against (x B) A^T)
#: over 40 steps; the differences are ~1e-15 relative (measured: <= 6e-14), so 1e-10 leaves no
#: room for a real difference (a wrong gate, bias or draw moves the outputs by 1e-2 or more).
#: float32: measured <= 4e-6 (a gradient summed over 400 steps x sequences, with cancellation).
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}


def _close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, msg: str = "") -> None:
    scale = max(1.0, float(expected.detach().abs().max()))
    torch.testing.assert_close(actual, expected, rtol=0.0, atol=TOL[dtype] * scale, msg=msg or None)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _model(kind: str, dtype: torch.dtype, inputs: int, hidden: int, **kw) -> SequenceClassifier:
    lstm = make_lstm(
        kind, inputs, hidden, rank=8, input_rank=1, generator=_gen(0), dtype=dtype, eta=0.5, **kw
    )
    head = make_linear(kind, hidden, 3, 2, generator=_gen(1), dtype=dtype)
    return SequenceClassifier(lstm, 3, head=head)


def _run(model: SequenceClassifier, x: torch.Tensor, fused: bool, state=None):
    """Outputs, (h_T, c_T) and the gradient of every parameter that has one (not the std
    parameters in "mean" mode) of one pass of ``model.encoder`` on
    the fused or the loop path, the draws from the generator seeded 7."""
    model.zero_grad()
    set_generator(model, _gen(7))
    model.encoder._fused = fused
    try:
        out, (h, c) = model.encoder(x, state)
    finally:
        del model.encoder._fused  # back to the class default
    weights = torch.randn(out.shape, generator=_gen(2), dtype=out.dtype)
    (out * weights).sum().add(h.square().sum() + c.sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.encoder.named_parameters() if p.grad is not None}
    return out.detach(), h.detach(), c.detach(), grads


#: gradients of the encoder: (mean, rho) of A, B, bias (input), A, B (hidden); the means only
#: in "mean" mode; a deterministic LSTM's two weights and bias
N_GRADS = {
    ("low_rank", "shared"): 10,
    ("low_rank", "mean"): 5,
    ("mean_field", "shared"): 6,
    ("mean_field", "mean"): 3,
    ("deterministic", "shared"): 3,
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("kind", "sampling"), list(N_GRADS))
def test_fused_lstm_equals_the_loop_twin_outputs_and_gradients(kind, sampling, dtype) -> None:
    kw = {} if kind == "deterministic" else {"sampling": sampling}
    model = _model(kind, dtype, 1, 32, **kw)
    x = torch.randn(10, 40, 1, generator=_gen(3), dtype=dtype)
    fused, loop = _run(model, x, True), _run(model, x, False)
    for a, b in zip(fused[:3], loop[:3], strict=True):
        _close(a, b, dtype)
    assert fused[3].keys() == loop[3].keys() and len(fused[3]) >= 3
    # every parameter (the means only in "mean" mode) has a gradient on both paths
    assert len(loop[3]) == N_GRADS[kind, sampling]
    for name in loop[3]:
        _close(fused[3][name], loop[3][name], dtype, name)
        assert bool(loop[3][name].abs().sum() > 0), name


@pytest.mark.parametrize("kind", KINDS)
def test_fused_lstm_equals_the_loop_twin_with_a_state_and_time_major(kind) -> None:
    dtype = torch.float64
    kw = {} if kind == "deterministic" else {"input_rank": 2}
    lstm = make_lstm(kind, 3, 5, rank=2, batch_first=False, generator=_gen(0), dtype=dtype, **kw)
    model = SequenceClassifier.__new__(SequenceClassifier)
    torch.nn.Module.__init__(model)
    model.encoder = lstm
    x = torch.randn(6, 4, 3, generator=_gen(3), dtype=dtype)  # (time, batch, input)
    state = tuple(torch.randn(4, 5, generator=_gen(s), dtype=dtype) for s in (4, 5))
    fused, loop = _run(model, x, True, state), _run(model, x, False, state)
    assert fused[0].shape == (6, 4, 5)
    for a, b in zip(fused[:3], loop[:3], strict=True):
        _close(a, b, dtype)
    for name in loop[3]:
        _close(fused[3][name], loop[3][name], dtype, name)


def test_the_twin_comparison_catches_a_wrong_gate_order_or_a_hidden_bias() -> None:
    """Mutants of the fused pass (forget and input gates swapped; a hidden bias) are caught by
    the tolerance the twin tests use."""
    dtype = torch.float64
    lstm = make_lstm("low_rank", 1, 32, rank=8, input_rank=1, generator=_gen(0), dtype=dtype)
    x = torch.randn(10, 40, 1, generator=_gen(3), dtype=dtype)
    zeros = x.new_zeros(10, 32)
    with torch.no_grad():
        set_generator(lstm, _gen(7))
        w_ih, bias = dense_draw(lstm.input_linear)
        w_hh, _ = dense_draw(lstm.hidden_linear)
        set_generator(lstm, _gen(7))
        maps = one_draw(lstm.input_linear), one_draw(lstm.hidden_linear)
        reference = _loop_lstm(x, zeros, zeros, *maps)
        assert bias is not None
        _close(_fused_lstm(x, zeros, zeros, w_ih, w_hh, bias)[0], reference[0], dtype)
        swap = torch.cat([torch.arange(32, 64), torch.arange(32), torch.arange(64, 128)])
        mutants = [
            _fused_lstm(x, zeros, zeros, w_ih[swap], w_hh[swap], bias[swap]),
            _fused_lstm(x, zeros, zeros, w_ih, w_hh, bias + 0.01),
        ]
    for mutant in mutants:
        with pytest.raises(AssertionError):
            _close(mutant[0], reference[0], dtype)


def test_dense_draw_is_the_draw_one_draw_applies() -> None:
    """Same generator state, same draw: W x + b from dense_draw equals one_draw's map."""
    dtype = torch.float64
    for kind in KINDS:
        layer = make_linear(kind, 5, 12, 3, generator=_gen(0), dtype=dtype)
        x = torch.randn(4, 5, generator=_gen(1), dtype=dtype)
        if kind != "deterministic":
            layer.generator = _gen(9)
        w, b = dense_draw(layer)
        if kind != "deterministic":
            layer.generator = _gen(9)
        expected = one_draw(layer)(x)
        assert b is not None
        _close(x @ w.T + b, expected, dtype)
    with pytest.raises(TypeError, match="`layer` must be a layer built by make_linear"):
        dense_draw(torch.nn.Identity())
