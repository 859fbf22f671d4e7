"""Training by the ELBO (lrbnn_core.training.loop) on the tiny models of
:mod:`tests.lrbnn_core.training.tiny`, and once with the package's own low-rank layer."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Normal, kl_divergence

from lrbnn_core.base import SamplingMode
from lrbnn_core.training import TrainConfig, data_nll, kl_weight, predict, train
from tests.lrbnn_core.training.tiny import (
    F64_RTOL,
    X8,
    Y8,
    TinyBayesLinear,
    params,
    quiet,
    separable,
)


class NanAfter(nn.Module):
    """A linear model whose ``bomb``-th training forward pass returns NaN."""

    def __init__(self, bomb: int) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 2, dtype=torch.float64)
        self.calls, self.bomb = 0, bomb

    def forward(self, x: Tensor) -> Tensor:
        out = self.lin(x)
        if self.training:
            self.calls += 1
            if self.calls == self.bomb:
                return out * math.nan
        return out


@pytest.mark.parametrize("sampling", ["shared", "local"])
def test_train_same_seed_gives_bit_identical_parameters(sampling: str) -> None:
    x, y = separable(20, seed=1)
    config = quiet(epochs=3, batch_size=8, lr=0.05, seed=3)
    models = [TinyBayesLinear(2, 2, sampling=sampling) for _ in range(3)]
    runs = [train(models[0], x, y, config), train(models[1], x, y, config)]
    train(models[2], x, y, quiet(epochs=3, batch_size=8, lr=0.05, seed=4))
    assert runs[0].steps == runs[1].steps
    first, second, other = (params(m) for m in models)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    # a different seed must change something, or the test above could not fail
    assert not all(torch.equal(a, c) for a, c in zip(first, other, strict=True))


def test_train_monte_carlo_kl_is_reproducible_and_differs_from_closed_form() -> None:
    x, y = separable(12, seed=2)
    mc = quiet(epochs=2, batch_size=6, lr=0.05, kl_method="monte_carlo", kl_samples=3, seed=5)
    a, b = TinyBayesLinear(2, 2), TinyBayesLinear(2, 2)
    ra, rb = train(a, x, y, mc), train(b, x, y, mc)
    assert ra.steps == rb.steps
    closed = train(TinyBayesLinear(2, 2), x, y, quiet(epochs=2, batch_size=6, lr=0.05, seed=5))
    assert ra.steps[0].kl != closed.steps[0].kl  # an estimate, not the closed form
    assert all(math.isfinite(s.kl) for s in ra.steps)


def test_train_loss_decreases_on_separable_data() -> None:
    """Margin-1 separable classes: a linear classifier at chance has NLL ln 2, and one that
    separates the data with weight norm w has NLL <= ln(1 + e^{-w}); training must go from
    near chance to below half of ln 2 (|w| >= ~1.8), which no untrained model reaches."""
    x, y = separable(64, seed=0)
    x_val, y_val = separable(64, seed=1)
    model = TinyBayesLinear(2, 2, seed=0)
    with torch.no_grad():
        model.weight_mean.mul_(0.1)  # start close to chance
    config = quiet(epochs=25, batch_size=16, lr=0.05, seed=0)
    history = train(model, x, y, config, x_val=x_val, y_val=y_val).history
    assert history[0].nll > 0.9 * math.log(2.0)
    assert history[-1].nll < 0.5 * math.log(2.0)
    assert history[-1].val_accuracy == 1.0  # the posterior mean separates held-out data
    assert history[-1].val_nll is not None and history[-1].val_nll < 0.5 * math.log(2.0)


def test_kl_weight_warmup_values_exact() -> None:
    assert [kl_weight(t, beta=2.0, warmup_steps=4) for t in range(7)] == [
        0.0,
        0.5,
        1.0,
        1.5,
        2.0,
        2.0,
        2.0,
    ]
    assert [kl_weight(t, beta=0.3, warmup_steps=0) for t in range(3)] == [0.3, 0.3, 0.3]


def test_train_warmup_is_per_step_and_reaches_beta() -> None:
    """8 examples, batches of 4: 2 steps per epoch; warm-up over 2 epochs is T = 4 steps."""
    x, y = separable(8, seed=3)
    result = train(
        TinyBayesLinear(2, 2),
        x,
        y,
        quiet(epochs=3, batch_size=4, lr=0.01, beta=2.0, warmup_epochs=2, n_train=10),
    )
    assert [s.beta_t for s in result.steps] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    expected_steps = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2)]
    assert [(s.epoch, s.step) for s in result.steps] == expected_steps
    assert [e.beta_t for e in result.history] == [0.5, 1.5, 2.0]
    for s in result.steps:
        assert s.loss == pytest.approx(s.nll + s.beta_t / 10 * s.kl, rel=F64_RTOL)
    for e in result.history:  # equal batches: the epoch loss is the plain mean of its steps
        mine = [s.loss for s in result.steps if s.epoch == e.epoch]
        assert e.loss == pytest.approx(sum(mine) / 2, rel=F64_RTOL)


def test_train_loss_is_nll_plus_beta_over_n_times_kl() -> None:
    """One full-batch step of the posterior-mean network (no draw): the recorded loss, NLL and
    KL against a hand-written cross-entropy and ``torch.distributions``' Gaussian KL, with
    n_train = 50 != 20 examples so that the 1/n scaling is visible."""
    x, y = separable(20, seed=4)
    model = TinyBayesLinear(2, 3, sampling="mean", std=0.2)
    y = y + (x[:, 1] > 1.0).long()  # a third class
    before = copy.deepcopy(model)
    step = train(model, x, y, quiet(epochs=1, batch_size=20, beta=0.7, n_train=50)).steps[0]
    with torch.no_grad():
        logits = x @ before.weight_mean.T + before.bias
        nll = (torch.logsumexp(logits, dim=1) - logits[torch.arange(20), y]).mean().item()
        kl = kl_divergence(Normal(before.weight_mean, before.std()), Normal(0.0, 1.0)).sum().item()
    assert step.beta_t == 0.7
    assert step.nll == pytest.approx(nll, rel=F64_RTOL)
    assert step.kl == pytest.approx(kl, rel=F64_RTOL)
    assert step.loss == pytest.approx(nll + 0.7 / 50 * kl, rel=F64_RTOL)


def test_data_nll_regression_matches_torch_normal() -> None:
    g = torch.Generator().manual_seed(0)
    f, t = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g)
    t = t.double()
    twin = -Normal(f, 0.3).log_prob(t).sum(dim=1).mean()
    assert data_nll(f, t, "regression", noise_std=0.3).item() == pytest.approx(
        twin.item(), rel=F64_RTOL
    )


def test_train_regression_loss_uses_gaussian_nll() -> None:
    x = torch.linspace(-1, 1, 10, dtype=torch.float64).reshape(10, 1)
    y = 2.0 * x
    model = TinyBayesLinear(1, 1, sampling="mean")
    before = copy.deepcopy(model)
    step = train(
        model, x, y, quiet(epochs=1, batch_size=10, task="regression", noise_std=0.5)
    ).steps[0]
    with torch.no_grad():
        twin = -Normal(before(x), 0.5).log_prob(y).sum(dim=1).mean().item()
    assert step.nll == pytest.approx(twin, rel=F64_RTOL)


def test_train_deterministic_model_has_zero_kl() -> None:
    x, y = separable(16, seed=5)
    model = nn.Linear(2, 2, dtype=torch.float64)
    start = params(model)
    result = train(model, x, y, quiet(epochs=2, batch_size=8, lr=0.1))
    assert all(s.kl == 0.0 and s.loss == s.nll for s in result.steps)
    assert not all(torch.equal(a, b) for a, b in zip(start, params(model), strict=True))


def test_train_seed_drives_the_shuffling() -> None:
    """A deterministic model: the batch order is the only randomness, so a second seed must
    change the result and a repeated seed must not."""
    x, y = separable(16, seed=5)
    init = nn.Linear(2, 2, dtype=torch.float64)
    runs = [copy.deepcopy(init) for _ in range(3)]
    for model, seed in zip(runs, [0, 0, 1], strict=True):
        train(model, x, y, quiet(epochs=2, batch_size=4, lr=0.1, seed=seed))
    same, other = params(runs[1]), params(runs[2])
    assert all(torch.equal(a, b) for a, b in zip(params(runs[0]), same, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(same, other, strict=True))


def test_train_nan_loss_raises_naming_epoch_and_step() -> None:
    x, y = separable(8, seed=6)
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 2/3, step 1/2"):
        train(NanAfter(bomb=3), x, y, quiet(epochs=3, batch_size=4))


def test_train_restores_generator_sampling_and_training_flag() -> None:
    x, y = separable(8, seed=7)
    model = TinyBayesLinear(2, 2, sampling="local")
    own = torch.Generator()
    model.generator = own
    model.eval()
    train(model, x, y, quiet(epochs=1, batch_size=4))
    assert model.generator is own and model.sampling is SamplingMode.LOCAL and not model.training


def test_train_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = separable(8, seed=8)
    train(TinyBayesLinear(2, 2), x, y, TrainConfig(epochs=2, batch_size=4, progress=True))
    err = capsys.readouterr().err
    assert "train" in err and "loss=" in err
    train(TinyBayesLinear(2, 2), x, y, quiet(epochs=2, batch_size=4))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("x", "y", "error", "match"),
    [
        (X8.float(), Y8, TypeError, r"`x` has dtype torch.float32 but .* torch.float64"),
        (X8.long(), Y8, TypeError, r"`x` must be a floating-point tensor; got dtype torch.int64"),
        (X8[:, 0], Y8, ValueError, r"`x` must have shape \(N, ...\) .*; got \(8,\)"),
        (X8[:0], Y8[:0], ValueError, r"`x` is empty: shape \(0, 2\)"),
        (X8.clone().fill_(math.inf), Y8, ValueError, r"`x` contains NaN or infinite values"),
        (X8, Y8.double(), TypeError, r"`y` must be an integer tensor .*; got torch.float64"),
        (X8, Y8[:5], ValueError, r"`y` must have shape \(8,\) to match `x`; got \(5,\)"),
        (X8, Y8 + 1, ValueError, r"`y` labels must be in \[0, 1\] .*; got 2"),
        (X8, Y8 - 1, ValueError, r"`y` labels must be in \[0, 1\] .*; got -1"),
        ([[0.0, 1.0]], Y8, TypeError, r"`x` must be a torch.Tensor; got list"),
    ],
)
def test_train_rejects_bad_data(x: Any, y: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        train(TinyBayesLinear(2, 2), x, y, quiet(epochs=1, batch_size=4))


def test_train_rejects_bad_validation_and_regression_targets() -> None:
    model = TinyBayesLinear(2, 2)
    with pytest.raises(ValueError, match=r"`x_val` and `y_val` must be given together"):
        train(model, X8, Y8, quiet(epochs=1), x_val=X8)
    with pytest.raises(ValueError, match=r"`y_val` labels must be in \[0, 1\] .*; got 2"):
        train(model, X8, Y8, quiet(epochs=1), x_val=X8, y_val=Y8 + 1)
    reg = quiet(epochs=1, task="regression")
    with pytest.raises(ValueError, match=r"`y` must have shape \(8, 2\) .*; got \(8,\)"):
        train(model, X8, Y8.double(), reg)
    with pytest.raises(TypeError, match=r"`y` must be a floating-point tensor for regression"):
        train(model, X8, torch.zeros(8, 2, dtype=torch.long), reg)
    with pytest.raises(ValueError, match=r"has no trainable parameters"):
        train(nn.Identity(), X8, Y8, quiet(epochs=1))
    with pytest.raises(TypeError, match=r"`config` must be a TrainConfig; got dict"):
        train(model, X8, Y8, {"epochs": 1})  # type: ignore[arg-type]


def test_train_and_predict_low_rank_layer_smoke() -> None:
    layers = pytest.importorskip("lrbnn_core.layers")
    x, y = separable(16, seed=10)
    x, y = torch.cat([x, x.flip(1)], dim=1).float(), y

    def make() -> nn.Module:
        return layers.LowRankBayesLinear(4, 3, 2, generator=torch.Generator().manual_seed(0))

    a, b = make(), make()
    config = quiet(epochs=2, batch_size=8, lr=0.01, seed=1)
    ra, rb = train(a, x, y, config), train(b, x, y, config)
    assert ra.steps == rb.steps and all(s.kl > 0.0 for s in ra.steps)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    probs = predict(a, x, n_samples=3, generator=torch.Generator())
    assert probs.shape == (3, 16, 3) and not torch.equal(probs[0], probs[1])
