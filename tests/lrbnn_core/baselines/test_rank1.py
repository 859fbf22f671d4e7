"""Rank-1 multiplicative perturbations (lrbnn_core.baselines.rank1): every sampling mode against a
dense twin that forms W * r s^T from replayed draws, the closed-form KL against
torch.distributions, and the toolkit's machinery (model_kl, set_prior, set_sampling, train)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

from lrbnn_core.base import (
    bayesian_modules,
    model_kl,
    set_generator,
    set_prior,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.baselines import DEFAULT_RANK1_PRIOR, Rank1BayesLinear, rank1_mlp
from lrbnn_core.priors import GaussianPrior
from lrbnn_core.training import TrainConfig, train

#: float64 products of a few dozen terms
RTOL = 1e-12


def _layer(sampling: str = "shared", **kw: object) -> Rank1BayesLinear:
    layer = Rank1BayesLinear(
        5,
        3,
        sampling=sampling,
        generator=torch.Generator().manual_seed(0),
        dtype=torch.float64,
        **kw,  # type: ignore[arg-type]
    )
    with torch.no_grad():  # move r, s and the bias away from their initial values
        for p in layer.parameters():
            p.add_(
                0.3
                * torch.randn(
                    p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype
                )
            )
    return layer


def _std(rho: torch.Tensor) -> torch.Tensor:
    return torch.log1p(torch.exp(rho))


def _twin_dense(
    layer: Rank1BayesLinear, x: torch.Tensor, eps_s: torch.Tensor, eps_r: torch.Tensor
) -> torch.Tensor:
    """Row by row: y_n = (W * r_n s_n^T) x_n + b with r = mu + std eps, the matrix formed."""
    w, b = layer.weight.detach(), layer.bias.detach()
    rows = []
    for n in range(x.shape[0]):
        s = layer.s_mean.detach() + _std(layer.s_rho.detach()) * eps_s[n]
        r = layer.r_mean.detach() + _std(layer.r_rho.detach()) * eps_r[n]
        w_n = w * r[:, None] * s[None, :]
        rows.append(w_n @ x[n] + b)
    return torch.stack(rows)


def _output_and_noise(
    mode: str, seed: int, *, r_first: bool = False
) -> tuple[Any, Tensor, Tensor, Tensor, Tensor]:
    """A layer in ``mode``, inputs, its output, and the noise of ``s`` and ``r`` redrawn from the
    same generator state (``r_first``: in the wrong order, the mutant), one row per example."""
    layer = _layer(mode)
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    layer.generator = gen
    state = gen.get_state()
    y = layer(x).detach()
    gen.set_state(state)
    rows = 1 if mode == "shared" else 4
    draws = {}
    for name, size in (("r", 3), ("s", 5)) if r_first else (("s", 5), ("r", 3)):
        draws[name] = torch.randn(rows, size, generator=gen, dtype=torch.float64).expand(4, size)
    return layer, x, y, draws["s"], draws["r"]


def test_rank1_shared_matches_dense_twin() -> None:
    layer, x, y, eps_s, eps_r = _output_and_noise("shared", 7)
    torch.testing.assert_close(y, _twin_dense(layer, x, eps_s, eps_r), rtol=RTOL, atol=RTOL)
    # one draw for the whole batch: equal inputs give equal outputs
    same = layer(x[:1].expand(3, 5)).detach()
    assert torch.equal(same[0], same[1]) and torch.equal(same[1], same[2])


def test_rank1_local_matches_dense_twin_per_example() -> None:
    layer, x, y, eps_s, eps_r = _output_and_noise("local", 8)
    torch.testing.assert_close(y, _twin_dense(layer, x, eps_s, eps_r), rtol=RTOL, atol=RTOL)
    same = layer(x[:1].expand(2, 5)).detach()
    assert not torch.equal(same[0], same[1])  # independent draws per example


def test_rank1_twin_catches_a_swapped_draw_order() -> None:
    """The mutant: r drawn before s. The comparison above would see it."""
    layer, x, y, eps_s, eps_r = _output_and_noise("shared", 7, r_first=True)
    assert not torch.allclose(y, _twin_dense(layer, x, eps_s, eps_r), rtol=1e-3)


def test_rank1_mean_mode_and_mean_weight() -> None:
    layer = _layer("mean")
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    zeros_s, zeros_r = (
        torch.zeros(4, 5, dtype=torch.float64),
        torch.zeros(4, 3, dtype=torch.float64),
    )
    twin = _twin_dense(layer, x, zeros_s, zeros_r)
    torch.testing.assert_close(layer(x).detach(), twin, rtol=RTOL, atol=RTOL)
    torch.testing.assert_close(
        (x @ layer.mean_weight().T + layer.bias).detach(), twin, rtol=RTOL, atol=RTOL
    )


def test_rank1_sample_weight_mean_converges() -> None:
    """E[W * r s^T] = W * mu_r mu_s^T: the Monte Carlo mean of 20,000 draws is within 6 standard
    errors of it entry by entry (false failure < 1e-7 per entry)."""
    layer = _layer("shared")
    gen = torch.Generator().manual_seed(3)
    draws = torch.stack([layer.sample_weight(gen).detach() for _ in range(20_000)])
    se = draws.std(0) / 20_000**0.5
    assert bool(((draws.mean(0) - layer.mean_weight().detach()).abs() <= 6 * se).all())


def test_rank1_kl_matches_torch_distributions() -> None:
    layer = _layer("shared")
    twin = sum(
        kl_divergence(
            Normal(getattr(layer, f"{b}_mean").detach(), _std(getattr(layer, f"{b}_rho").detach())),
            Normal(torch.tensor(1.0, dtype=torch.float64), torch.tensor(0.1, dtype=torch.float64)),
        ).sum()
        for b in ("r", "s")
    )
    assert layer.prior == DEFAULT_RANK1_PRIOR == GaussianPrior(0.1, mean=1.0)
    torch.testing.assert_close(layer.kl().detach(), twin, rtol=RTOL, atol=0.0)
    torch.testing.assert_close(layer.kl(dtype=torch.float64).detach(), twin, rtol=RTOL, atol=0.0)
    # W and b carry no prior: moving them leaves the KL alone
    before = layer.kl().detach()
    with torch.no_grad():
        layer.weight.mul_(3.0)
        layer.bias.add_(1.0)
    assert torch.equal(layer.kl().detach(), before)


def test_rank1_mlp_machinery_model_kl_prior_sampling() -> None:
    net = rank1_mlp((6, 5, 3), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    layers = bayesian_modules(net)
    assert len(layers) == 2 and all(isinstance(m, Rank1BayesLinear) for m in layers)
    assert stochastic_parameter_count(net) == (6 + 5) + (5 + 3)
    torch.testing.assert_close(model_kl(net), layers[0].kl() + layers[1].kl(), rtol=RTOL, atol=0.0)
    set_prior(net, GaussianPrior(0.5, mean=1.0))
    twin = sum(
        kl_divergence(Normal(m, s), Normal(torch.ones_like(m), torch.full_like(s, 0.5))).sum()
        for layer in layers
        for m, s in layer.factor_posteriors().values()
    )
    torch.testing.assert_close(model_kl(net), twin, rtol=RTOL, atol=0.0)
    set_prior(net, GaussianPrior(0.5), centre=net)  # centred at the current posterior means
    twin0 = sum(
        kl_divergence(Normal(m, s), Normal(m, torch.full_like(s, 0.5))).sum()
        for layer in layers
        for m, s in layer.factor_posteriors().values()
    )
    torch.testing.assert_close(model_kl(net), twin0, rtol=RTOL, atol=0.0)
    set_sampling(net, "mean")
    x = torch.randn(3, 6, dtype=torch.float64)
    assert torch.equal(net(x), net(x))
    set_sampling(net, "shared")
    set_generator(net, torch.Generator().manual_seed(5))
    assert not torch.equal(net(x), net(x))


def test_rank1_mlp_trains_with_the_elbo() -> None:
    """train's tempered ELBO uses model_kl: the recorded KL of the first step is the model's."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=gen)
    y = (x[:, 0] > 0).long()
    net = rank1_mlp((4, 16, 2), generator=gen)
    kl0 = model_kl(net).detach().item()
    result = train(net, x, y, TrainConfig(epochs=30, batch_size=16, lr=1e-2, progress=False))
    assert result.steps[0].kl == pytest.approx(kl0, rel=1e-6, abs=1e-9)
    assert result.steps[-1].kl == pytest.approx(model_kl(net).detach().item(), rel=0.05)
    assert result.history[-1].nll < 0.5 * result.history[0].nll
    assert all(s.kl > 0 for s in result.steps[1:])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_features": 0}, ValueError, "`in_features` must be an int >= 1; got 0"),
        ({"eta": 1.5}, ValueError, r"`eta` must be a number in \(0, 1\); got 1.5"),
        ({"bias": 1}, TypeError, "`bias` must be a bool; got 1"),
        ({"prior": "N(1, 1)"}, TypeError, "`prior` must be a GaussianPrior"),
        ({"warm_start": torch.zeros(2, 2)}, ValueError, r"`warm_start` must have shape .*\(3, 5\)"),
        ({"sampling": "per-batch"}, ValueError, "`sampling` must be one of"),
    ],
)
def test_rank1_refuses_bad_arguments(kwargs: dict[str, object], error: type, match: str) -> None:
    args: dict[str, object] = {"in_features": 5, "out_features": 3, **kwargs}
    with pytest.raises(error, match=match):
        Rank1BayesLinear(**args)  # type: ignore[arg-type]


def test_rank1_names_non_finite_input_and_parameter() -> None:
    layer = _layer("shared")
    with pytest.raises(ValueError, match=r"must have shape \(\.\.\., 5\)"):
        layer(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="`x` contains NaN or infinite values"):
        layer(torch.full((2, 5), float("nan"), dtype=torch.float64))
    with torch.no_grad():
        layer.weight[0, 0] = float("inf")
    with pytest.raises(ValueError, match="parameter 'weight' of the Rank1BayesLinear"):
        layer(torch.ones(2, 5, dtype=torch.float64))
