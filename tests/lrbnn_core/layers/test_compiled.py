"""The opt-in compiled step (lrbnn_core.layers.compiled) against its twin, the layer's eager step
(fused forward and KL, autograd's backward): the same loss and gradients on fixed seeds to float
rounding, with mutants the comparison must catch (swapped draws, a moved KL weight); the
finiteness guard naming every cause; the fallback without a compiler; bad arguments refused."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import Tensor

import lrbnn_core.layers.compiled as compiled
from lrbnn_core import GaussianPrior, LowRankBayesLinear, ScaleMixturePrior, set_generator
from lrbnn_core.layers.compiled import CompiledStep, compiled_step, compiler_available

needs_compiler = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler")
BIASES = ({}, {"bayesian_bias": False}, {"bias": False})


def mse(y: Tensor, target: Tensor) -> Tensor:
    """The loss of every test (one object: one compilation per layer structure)."""
    return (y - target).square().mean()


def _layer(seed: int = 0, **kw: Any) -> LowRankBayesLinear:
    layer = LowRankBayesLinear(12, 7, 3, generator=torch.Generator().manual_seed(seed), **kw)
    set_generator(layer, torch.Generator().manual_seed(seed + 1))
    return layer


def _data() -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(5)
    return torch.randn(9, 12, generator=gen), torch.randn(9, 7, generator=gen)


def _run(step: CompiledStep, n: int = 3) -> tuple[list[float], dict[str, Tensor]]:
    """``n`` steps with a plain SGD update between them; the losses and the last gradients."""
    x, t = _data()
    losses = []
    for _ in range(n):
        step.layer.zero_grad(set_to_none=True)
        losses.append(float(step(x, t)))
        with torch.no_grad():
            for p in step.layer.parameters():
                p -= 0.1 * p.grad
    return losses, {n: p.grad.clone() for n, p in step.layer.named_parameters()}


def _agree(
    a: tuple[list[float], dict[str, Tensor]], b: tuple[list[float], dict[str, Tensor]]
) -> bool:
    return torch.allclose(torch.tensor(a[0]), torch.tensor(b[0]), rtol=1e-5, atol=0) and all(
        torch.allclose(a[1][n], b[1][n], rtol=1e-4, atol=1e-6) for n in a[1]
    )


@needs_compiler
@pytest.mark.parametrize("bias", BIASES)
def test_compiled_step_matches_the_eager_step(bias: dict[str, bool]) -> None:
    kw = {"prior": GaussianPrior(0.3), **bias}
    fast = _run(compiled_step(_layer(**kw), mse, 0.05))
    twin = _run(compiled_step(_layer(**kw), mse, 0.05, compile=False))
    assert set(fast[1]) == set(twin[1]) and _agree(fast, twin)


@needs_compiler
def test_compiled_step_matches_with_a_prior_at_the_initialisation() -> None:
    kw = {"prior": GaussianPrior(0.5), "prior_at_init": True}
    assert _agree(
        _run(compiled_step(_layer(**kw), mse, 0.2)),
        _run(compiled_step(_layer(**kw), mse, 0.2, compile=False)),
    )


@needs_compiler
def test_a_replaced_parameter_is_seen_by_the_next_step() -> None:
    """The step reuses detached aliases of the parameters; a parameter given new storage
    (``p.data = ...``, as a checkpoint load may do) must not leave a stale alias behind."""
    x, t = _data()
    losses = []
    for compile_ in (True, False):
        step = compiled_step(_layer(), mse, 0.05, compile=compile_)
        step(x, t)
        for p in step.layer.parameters():
            p.data = p.data * 0.5  # new storage, new values
        step.layer.zero_grad(set_to_none=True)
        losses.append(float(step(x, t)))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


@needs_compiler
def test_the_twin_comparison_catches_mutants(monkeypatch: pytest.MonkeyPatch) -> None:
    twin = _run(compiled_step(_layer(), mse, 0.05, compile=False))
    assert _agree(_run(compiled_step(_layer(), mse, 0.05)), twin)
    # a KL weight 1 % off
    assert not _agree(_run(compiled_step(_layer(), mse, 0.0505)), twin)

    # the draws in another order than sample_factors' (A before the bias)
    def swapped(layer: LowRankBayesLinear) -> dict[str, Tensor]:
        gen = layer.generator
        a = torch.randn(layer.A_mean.shape, generator=gen)
        bias = torch.randn(layer.bias_mean.shape, generator=gen)
        return {"bias": bias, "A": a, "B": torch.randn(layer.B_mean.shape, generator=gen)}

    monkeypatch.setattr(compiled, "_draws", swapped)
    assert not _agree(_run(compiled_step(_layer(), mse, 0.05)), twin)


@needs_compiler
def test_the_guard_names_every_cause() -> None:
    x, t = _data()
    layer = _layer()
    step = compiled_step(layer, mse, 0.05)
    step(x, t)
    bad = x.clone()
    bad[2, 3] = float("nan")
    with pytest.raises(ValueError, match="`x` contains NaN"):
        step(bad, t)
    target = t.clone()
    target[0, 0] = float("inf")
    with pytest.raises(ValueError, match="the loss is non-finite"):
        step(x, target)
    with pytest.raises(ValueError, match="the loss is non-finite"):
        step(x * 1e30, t)  # the output is finite, its square overflows
    with torch.no_grad():
        layer.B_mean.fill_(1.0)
        layer.B_rho.fill_(-30.0)  # B is the mean
    with pytest.raises(ValueError, match="B\\^T x overflowed"):
        step(torch.full_like(x, 3e38), t)
    with torch.no_grad():
        layer.B_rho.fill_(-200.0)  # std 0 in float32: the KL's log is -inf
    with pytest.raises(ValueError, match="the KL is non-finite"):
        step(x, t)
    with torch.no_grad():
        layer.A_rho[1, 1] = float("nan")
    with pytest.raises(ValueError, match="parameter 'A_rho'"):
        step(x, t)


def test_without_a_compiler_the_eager_step_runs_and_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compiled, "compiler_available", lambda: False)
    monkeypatch.setattr(compiled, "_WARNED", [False])
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        step = compiled_step(_layer(), mse, 0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = compiled_step(_layer(), mse, 0.05)
        assert not step.compiled and not again.compiled
        fallback = _run(step)
    eager = _run(compiled_step(_layer(), mse, 0.05, compile=False))
    assert fallback[0] == eager[0] and all(
        torch.equal(fallback[1][n], eager[1][n]) for n in eager[1]
    )


def test_a_failed_compilation_falls_back_with_the_same_draw(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(loss: Any) -> Any:
        def fail(*args: Any) -> Any:
            raise torch._inductor.exc.InductorError(RuntimeError("no cc"), None)

        return fail

    monkeypatch.setattr(compiled, "_compiled", broken)
    monkeypatch.setattr(compiled, "compiler_available", lambda: True)
    monkeypatch.setattr(compiled, "_WARNED", [False])
    step = compiled_step(_layer(), mse, 0.05)
    with pytest.warns(RuntimeWarning, match="compiling failed \\(InductorError\\)"):
        fallen = _run(step)
    assert not step.compiled
    assert _agree(fallen, _run(compiled_step(_layer(), mse, 0.05, compile=False)))


def test_bad_arguments_are_refused() -> None:
    layer = _layer()
    with pytest.raises(TypeError, match="`layer`"):
        compiled_step(torch.nn.Linear(3, 3), mse, 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`loss`"):
        compiled_step(layer, 3, 0.1)  # type: ignore[arg-type]
    for weight in (float("nan"), -1.0, float("inf"), True, "0.1"):
        with pytest.raises(ValueError, match="`kl_weight`"):
            compiled_step(layer, mse, weight)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`compile`"):
        compiled_step(layer, mse, 0.1, compile="yes")  # type: ignore[arg-type]
    x, t = _data()
    local = _layer(sampling="local")
    with pytest.raises(ValueError, match="'shared' sampling; got 'local'"):
        compiled_step(local, mse, 0.1, compile=False)(x, t)
    mixture = _layer(prior=ScaleMixturePrior(0.5, 1.0, 0.1))
    with pytest.raises(ValueError, match="needs a GaussianPrior"):
        compiled_step(mixture, mse, 0.1, compile=False)(x, t)
