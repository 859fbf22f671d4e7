"""The fused training step of the Bayesian linear layers (lrbnn_core.layers.fused) against the
autograd path it replaces: the same draws, outputs and KL bit for bit, the same gradients to
float rounding; the hand-written gradients against finite differences (gradcheck), with
mutants that gradcheck must catch; the finiteness guard moved off the training step."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import lrbnn_core.layers.fused as fused
from lrbnn_core import (
    MLP,
    GaussianPrior,
    LowRankBayesLinear,
    MeanFieldBayesLinear,
    TrainConfig,
    set_prior,
    train,
)
from lrbnn_core.base import check_finite_through, deferred_finite_checks
from lrbnn_core.layers.fused import gaussian_kl, low_rank_shared, mean_field_shared

F32, F64 = torch.float32, torch.float64
KINDS = ("low_rank", "mean_field")
BIASES = ({}, {"bayesian_bias": False}, {"bias": False})
PRIORS = ("default", "shifted", "per_entry")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _layer(kind: str, dtype: torch.dtype, prior: str, **kw: Any) -> nn.Module:
    kw = {"generator": _gen(0), "dtype": dtype, "eta": 0.5, **kw}
    if prior == "shifted":
        kw["prior"] = GaussianPrior(0.7, mean=0.1)
    layer = (
        LowRankBayesLinear(6, 5, 3, **kw)
        if kind == "low_rank"
        else MeanFieldBayesLinear(6, 5, **kw)
    )
    if prior == "per_entry":  # centred at the means, std twice the posterior's
        set_prior(layer, GaussianPrior(1.0), centre=layer, centre_std_scale=2.0)
        with torch.no_grad():  # move the posterior off its prior
            for p in layer.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=_gen(9), dtype=dtype))
    return layer


def _reference_forward(layer: nn.Module, x: Tensor) -> Tensor:
    """The layers' ``"shared"`` pass before the fused step: the draws of ``sample_factors`` /
    ``sample_weight`` (and the bias after W) on autograd, then the products."""
    if isinstance(layer, LowRankBayesLinear):
        a, b, bias = layer.sample_factors()
        y = (x @ b) @ a.T
    else:
        y = x @ layer.sample_weight().T
        post = layer.factor_posteriors()
        bias = getattr(layer, "bias", None)
        if "bias" in post:
            mean, std = post["bias"]
            eps = torch.randn(mean.shape, generator=layer.generator, dtype=mean.dtype)
            bias = mean + std * eps
    return y if bias is None else y + bias


def _reference_kl(layer: nn.Module) -> Tensor:
    """``kl()`` before the fused step: the prior's closed form block by block, then summed."""
    means, stds = layer.prior_means() or {}, layer.prior_stds() or {}
    terms = [
        layer.prior.kl(mean, std, prior_mean=means.get(name), prior_std=stds.get(name))
        for name, (mean, std) in layer.factor_posteriors().items()
    ]
    return torch.stack(terms).sum()


def _step(layer: nn.Module, x: Tensor, forward: Any, kl: Any) -> tuple[Tensor, Tensor, dict]:
    """One training step from a fixed generator: output, KL and every gradient (x's too)."""
    layer.generator = _gen(5)
    layer.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    y, k = forward(layer, x), kl(layer)
    (y.square().mean() + k / 100.0).backward()
    grads = {name: p.grad for name, p in layer.named_parameters()}
    return y.detach(), k.detach(), {**grads, "x": x.grad}


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("prior", PRIORS)
@pytest.mark.parametrize("shape", [(7, 6), (2, 3, 6)])
def test_fused_step_matches_the_autograd_path(dtype, kind, bias, prior, shape) -> None:
    """Fixed seeds: the draws and the output bit for bit, the KL bit for bit (it is the
    certificate's ``kl(dtype=...)`` too), the gradients to float rounding."""
    layer = _layer(kind, dtype, prior, **bias)
    x = torch.randn(*shape, generator=_gen(1), dtype=dtype)
    y, k, grads = _step(layer, x, lambda m, v: m(v), lambda m: m.kl())
    y_ref, k_ref, grads_ref = _step(layer, x, _reference_forward, _reference_kl)
    assert torch.equal(y, y_ref)
    assert torch.equal(k, k_ref)
    assert torch.equal(k, layer.kl(dtype=dtype).detach())
    assert grads.keys() == grads_ref.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, grads_ref[name], msg=name)


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_kl_is_bitwise_on_large_blocks(kind: str, dtype: torch.dtype) -> None:
    """Blocks longer than a vector register and of odd length: the elementwise kernels take
    the same (vectorised or scalar) path as the reference on every entry."""
    kw = {"generator": _gen(2), "prior": GaussianPrior(0.3), "dtype": dtype}
    layer = (
        LowRankBayesLinear(257, 131, 7, **kw)
        if kind == "low_rank"
        else MeanFieldBayesLinear(257, 131, **kw)
    )
    assert torch.equal(layer.kl().detach(), _reference_kl(layer).detach())


def test_fused_kl_is_zero_where_the_posterior_is_the_prior() -> None:
    layer = _layer("low_rank", F64, "default")
    set_prior(layer, GaussianPrior(1.0), centre=layer, centre_std_scale=1.0)
    assert float(layer.kl().detach()) == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_fused_forward_without_grad_is_the_same_draw(kind: str) -> None:
    layer = _layer(kind, F32, "default")
    x = torch.randn(4, 6, generator=_gen(3))
    layer.generator = _gen(4)
    y = layer(x)
    layer.generator = _gen(4)
    with torch.no_grad():
        assert torch.equal(layer(x), y.detach())


def test_fused_step_with_frozen_means_gives_only_the_scales_gradients() -> None:
    layer = _layer("low_rank", F64, "default")
    x = torch.randn(4, 6, generator=_gen(3), dtype=F64)
    reference = _step(layer, x, _reference_forward, _reference_kl)[2]
    for name, p in layer.named_parameters():
        p.requires_grad_(name.endswith("_rho"))
    grads = _step(layer, x, lambda m, v: m(v), lambda m: m.kl())[2]
    for name, grad in grads.items():
        if name.endswith("_mean"):
            assert grad is None, name
        else:
            torch.testing.assert_close(grad, reference[name], msg=name)


def test_fused_step_refuses_a_second_derivative() -> None:
    layer = _layer("low_rank", F64, "default")
    y = layer(torch.randn(3, 6, generator=_gen(3), dtype=F64))
    (g,) = torch.autograd.grad(y.square().sum(), layer.A_mean, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked"):
        g.sum().backward()


# --- the hand-written gradients against finite differences --------------------------------------


def _params(*shapes: tuple[int, ...], seed: int) -> list[Tensor]:
    """Means and ``rho`` s in float64, ``rho`` in (-2, 1) (away from softplus' threshold)."""
    gen = _gen(seed)
    out = []
    for i, shape in enumerate(shapes):
        t = torch.randn(shape, generator=gen, dtype=F64)
        out.append((t if i % 2 == 0 else -0.5 + t.clamp(-1.5, 1.5)).requires_grad_())
    return out


def _low_rank(x: Tensor, *p: Tensor) -> Tensor:
    # a fresh generator per call: every evaluation of gradcheck sees the same draw
    return low_rank_shared(x, (p[0], p[1]), (p[2], p[3]), (p[4], p[5]), _gen(7))[0]


def _mean_field(x: Tensor, *p: Tensor) -> Tensor:
    return mean_field_shared(x, (p[0], p[1]), (p[2], p[3]), _gen(7))


def _kl(*p: Tensor) -> Tensor:
    loc, scale = torch.linspace(-0.5, 0.5, 15, dtype=F64).reshape(5, 3), 0.7
    per_entry = torch.linspace(0.5, 2.0, 5, dtype=F64)
    return gaussian_kl([(p[0], p[1], loc, scale), (p[2], p[3], 0.0, per_entry)])


def _cases() -> list[tuple[Any, tuple[Tensor, ...]]]:
    x = torch.randn(4, 6, generator=_gen(8), dtype=F64).requires_grad_()
    return [
        (_low_rank, (x, *_params((5, 2), (5, 2), (6, 2), (6, 2), (5,), (5,), seed=10))),
        (_mean_field, (x, *_params((5, 6), (5, 6), (5,), (5,), seed=11))),
        (_kl, tuple(_params((5, 3), (5, 3), (5,), (5,), seed=12))),
    ]


@pytest.mark.parametrize(("function", "inputs"), _cases(), ids=["low_rank", "mean_field", "kl"])
def test_fused_gradients_pass_gradcheck(function: Any, inputs: tuple[Tensor, ...]) -> None:
    assert torch.autograd.gradcheck(function, inputs)


def _flipped_sign(grad_std: Tensor, rho: Tensor) -> Tensor:
    return -torch.ops.aten.softplus_backward(grad_std, rho, 1.0, 20.0)


def _sigmoid_of_minus_rho(grad_std: Tensor, rho: Tensor) -> Tensor:
    return grad_std * torch.sigmoid(-rho)


@pytest.mark.parametrize("mutant", [_flipped_sign, _sigmoid_of_minus_rho])
@pytest.mark.parametrize(("function", "inputs"), _cases(), ids=["low_rank", "mean_field", "kl"])
def test_fused_gradcheck_catches_a_wrong_rho_gradient(
    function: Any, inputs: tuple[Tensor, ...], mutant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fused, "softplus_grad", mutant)
    assert not torch.autograd.gradcheck(function, inputs, raise_exception=False)


# --- the finiteness guard -----------------------------------------------------------------------


def test_finite_check_sees_every_non_finite_entry_and_no_overflowed_sum() -> None:
    x = torch.ones(2)
    big = torch.full((4,), 3e38)  # finite, but its float32 sum overflows
    assert check_finite_through(big, x, "w") is big
    for bad in (math.inf, -math.inf, math.nan):
        t = big.clone()
        t[2] = bad
        with pytest.raises(ValueError, match=r"w overflowed \(non-finite\) for a finite `x`"):
            check_finite_through(t, x, "w")
    with pytest.raises(ValueError, match=r"w overflowed"):
        check_finite_through(torch.tensor([math.inf, -math.inf]), x, "w")


@pytest.mark.parametrize("kind", KINDS)
def test_deferred_finite_checks_skip_the_layer_check_only_inside(kind: str) -> None:
    layer = _layer(kind, F32, "default")
    x = torch.full((2, 6), math.nan)
    with deferred_finite_checks():
        with deferred_finite_checks():
            assert bool(layer(x).isnan().all())
        assert bool(layer(x).isnan().all())
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values"):
        layer(x)


def test_train_replays_a_non_finite_step_to_name_the_parameter() -> None:
    """The loop defers the layers' checks to its loss check; when that fails it replays the
    step with the checks on, so the error names the parameter as a layer's check would."""
    model = MLP((2, 4, 2), "low_rank", rank=1, generator=_gen(0), dtype=F64)
    with torch.no_grad():
        model.layers[1].B_mean[0, 0] = math.nan
    x = torch.randn(8, 2, generator=_gen(1), dtype=F64)
    y = torch.tensor([0, 1] * 4)
    config = TrainConfig(epochs=1, batch_size=4, progress=False)
    with pytest.raises(ValueError, match=r"parameter 'B_mean' of the LowRankBayesLinear"):
        train(model, x, y, config)


def test_train_is_reproducible_with_the_replay_state() -> None:
    """Reading the generator's state every step (for a replay) draws nothing: two runs from
    one seed agree bit for bit, records and parameters."""
    x = torch.randn(16, 2, generator=_gen(1), dtype=F64)
    y = (x[:, 0] > 0).long()
    config = TrainConfig(epochs=2, batch_size=8, progress=False, seed=3)
    runs = []
    for _ in range(2):
        model = MLP((2, 4, 2), "low_rank", rank=1, generator=_gen(0), dtype=F64)
        runs.append((train(model, x, y, config).steps, [p.detach() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))
