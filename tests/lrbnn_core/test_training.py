"""Training, prediction and checkpoints (lrbnn_core.training).

The models are tiny Bayesian layers written here (independent of ``lrbnn_core.layers``), so that
every formula the trainer uses has a twin: ``torch.distributions`` for the KL and the Gaussian
NLL, a hand-written log-sum-exp for the cross-entropy, hand-written lists for the warm-up.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.distributions import Normal, kl_divergence

from lrbnn_core.base import BayesianModule, KLMethod, SamplingMode, set_sampling
from lrbnn_core.priors import GaussianPrior, gaussian_kl_elementwise
from lrbnn_core.training import (
    Task,
    TrainConfig,
    data_nll,
    kl_weight,
    load_checkpoint,
    predict,
    save_checkpoint,
    train,
)

#: float64 results that differ only by summation order (a shuffled batch, a different blocking)
#: agree to a few ulps of their size; 1e-12 leaves three orders of magnitude to spare.
F64_RTOL = 1e-12

#: Two-sided standard normal quantile for a false-failure probability of 1e-6 per assertion.
Z_1E6 = 4.891638


class TinyBayesLinear(BayesianModule):
    """Mean-field Gaussian weight ``W ~ N(mu, softplus(rho)^2)`` with a deterministic bias, prior
    N(0, 1): ``"shared"`` (one W per pass), ``"local"`` (exact Gaussian pre-activations per
    example) and ``"mean"``."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        seed: int = 0,
        std: float = 0.05,
        sampling: str = "shared",
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__(sampling)
        g = torch.Generator().manual_seed(seed)
        self.weight_mean = nn.Parameter(0.3 * torch.randn(n_out, n_in, generator=g, dtype=dtype))
        rho = math.log(math.expm1(std))
        self.weight_rho = nn.Parameter(torch.full((n_out, n_in), rho, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n_out, dtype=dtype))
        self.prior = GaussianPrior(1.0)

    def std(self) -> Tensor:
        return nn.functional.softplus(self.weight_rho)

    def forward(self, x: Tensor) -> Tensor:
        if self.sampling is SamplingMode.LOCAL:
            mean = x @ self.weight_mean.T + self.bias
            var = x.square() @ self.std().square().T
            eps = torch.randn(mean.shape, generator=self.generator, dtype=x.dtype)
            return mean + var.sqrt() * eps
        if self.sampling is SamplingMode.SHARED:
            eps = torch.randn(self.weight_mean.shape, generator=self.generator, dtype=x.dtype)
            return x @ (self.weight_mean + self.std() * eps).T + self.bias
        return x @ self.weight_mean.T + self.bias

    def kl(
        self,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        if KLMethod(method) is KLMethod.CLOSED_FORM:
            return gaussian_kl_elementwise(self.weight_mean, self.std(), 0.0, 1.0).sum()
        return self.prior.kl(
            self.weight_mean, self.std(), method, n_samples=n_samples, generator=generator
        )

    def factor_posteriors(self) -> dict[str, tuple[Tensor, Tensor]]:
        return {"W": (self.weight_mean, self.std())}


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


class NotWeights:
    """Anything ``torch.load(weights_only=True)`` must refuse to unpickle."""


def separable(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """Two classes split by the sign of x0, pushed at least 1 away from the boundary."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    x[:, 0] += 2.0 * y - 1.0
    return x, y


def quiet(**kwargs: Any) -> TrainConfig:
    return TrainConfig(**{"progress": False, **kwargs})


def params(model: nn.Module) -> list[Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# --- training -------------------------------------------------------------------------------------


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
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"`epochs` must be an int in \[1, inf\]; got 0"),
        ({"epochs": 2.0}, TypeError, r"`epochs` must be an int; got 2.0"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be an int in \[1, inf\]; got 0"),
        ({"lr": 0.0}, ValueError, r"`lr` must be a finite number > 0; got 0.0"),
        ({"lr": math.nan}, ValueError, r"`lr` must be a finite number > 0; got nan"),
        ({"beta": -1.0}, ValueError, r"`beta` must be a finite number >= 0; got -1.0"),
        ({"beta": True}, TypeError, r"`beta` must be a real number; got True"),
        ({"epochs": 2, "warmup_epochs": 3}, ValueError, r"`warmup_epochs` .* \[0, 2\]; got 3"),
        ({"kl_method": "exact"}, ValueError, r"`method` must be one of .*; got 'exact'"),
        ({"kl_samples": 0}, ValueError, r"`kl_samples` must be an int in \[1, inf\]; got 0"),
        ({"seed": -1}, ValueError, r"`seed` must be an int in \[0, inf\]; got -1"),
        ({"progress": 1}, TypeError, r"`progress` must be a bool; got 1"),
        ({"task": "ranking"}, ValueError, r"`task` must be one of .*; got 'ranking'"),
        ({"n_train": 0}, ValueError, r"`n_train` must be an int in \[1, inf\]; got 0"),
        ({"noise_std": -0.1}, ValueError, r"`noise_std` must be a finite number > 0; got -0.1"),
    ],
)
def test_train_config_rejects_bad_fields(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_train_config_coerces_enums() -> None:
    config = TrainConfig(kl_method="monte_carlo", task="regression")
    assert config.kl_method is KLMethod.MONTE_CARLO and config.task is Task.REGRESSION


X8, Y8 = separable(8, seed=9)


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


# --- prediction -----------------------------------------------------------------------------------


def test_predict_shapes_probabilities_and_log_probs() -> None:
    model = TinyBayesLinear(2, 3, std=0.5)
    probs = predict(model, X8, n_samples=5, batch_size=3, generator=torch.Generator())
    assert probs.shape == (5, 8, 3) and bool((probs >= 0).all())
    assert torch.allclose(probs.sum(-1), torch.ones(5, 8, dtype=torch.float64), rtol=F64_RTOL)
    logs = predict(
        model, X8, n_samples=5, batch_size=3, generator=torch.Generator(), return_log_probs=True
    )
    assert torch.allclose(logs.exp(), probs, rtol=F64_RTOL)  # same draws: same default seed


@pytest.mark.parametrize("sampling", ["shared", "local"])
def test_predict_samples_are_distinct(sampling: str) -> None:
    model = TinyBayesLinear(2, 3, std=0.5, sampling=sampling)
    probs = predict(model, X8, n_samples=4, generator=torch.Generator().manual_seed(1))
    for s in range(4):
        for t in range(s):
            assert not torch.equal(probs[s], probs[t])


def test_predict_mean_mode_single_sample_equals_forward() -> None:
    model = TinyBayesLinear(2, 3, sampling="mean")
    with torch.no_grad():
        twin = torch.softmax(X8 @ model.weight_mean.T + model.bias, dim=-1)
    assert torch.equal(predict(model, X8, n_samples=1)[0], twin)


def test_predict_shared_samples_do_not_depend_on_batch_size() -> None:
    """Shared mode: sample s is one weight draw for the whole data set, however it is split."""
    model = TinyBayesLinear(2, 3, std=0.5)
    whole = predict(model, X8, n_samples=3, batch_size=8, generator=torch.Generator())
    split = predict(model, X8, n_samples=3, batch_size=3, generator=torch.Generator())
    assert torch.allclose(whole, split, rtol=F64_RTOL, atol=0.0)


def test_predict_same_generator_seed_is_reproducible() -> None:
    model = TinyBayesLinear(2, 3, std=0.5, sampling="local")
    a = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(7))
    b = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(7))
    c = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_predict_local_draws_are_independent_per_example() -> None:
    """y = w x with w ~ N(0.3, 0.5^2), x = 1 and 2, S = 4000 samples by input tiling.

    Local mode: the two examples' outputs are independent, so the sample correlation r has
    sqrt(S) r ~ N(0, 1); the mean of example 1 is 0.3 with standard error 0.5 / sqrt(S); the
    sample variance over 0.25 has standard error sqrt(2 / (S - 1)) (normal approximation of the
    chi-square, accurate at S = 4000). Each bound holds with false-failure probability 1e-6.
    Shared mode: one w per pass, so example 2's output is exactly twice example 1's."""
    s = 4000
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    model = TinyBayesLinear(1, 1, std=0.5, sampling="local")
    with torch.no_grad():
        model.weight_mean.fill_(0.3)
    out = predict(
        model, x, n_samples=s, generator=torch.Generator().manual_seed(0), task="regression"
    )
    assert out.shape == (s, 2, 1)
    y1, y2 = out[:, 0, 0], out[:, 1, 0]
    r = torch.corrcoef(torch.stack([y1, y2]))[0, 1].item()
    assert abs(r) < Z_1E6 / math.sqrt(s)
    assert abs(y1.mean().item() - 0.3) < Z_1E6 * 0.5 / math.sqrt(s)
    assert abs(y1.var().item() / 0.25 - 1.0) < Z_1E6 * math.sqrt(2.0 / (s - 1))
    set_sampling(model, "shared")
    shared = predict(model, x, n_samples=50, task="regression")
    assert torch.equal(shared[:, 1], 2.0 * shared[:, 0])


def test_predict_restores_model_state_even_after_an_error() -> None:
    model = TinyBayesLinear(2, 3, sampling="local")
    own = torch.Generator()
    model.generator = own
    model.train()
    predict(model, X8, n_samples=2, generator=torch.Generator())
    assert model.generator is own and model.sampling is SamplingMode.LOCAL and model.training
    model.sampling = SamplingMode.SHARED
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, ...\)"):
        predict(model, X8[0], n_samples=2)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied"):
        predict(model, torch.zeros(2, 5, dtype=torch.float64), n_samples=2)  # fails mid-pass
    assert model.generator is own and model.sampling is SamplingMode.SHARED and model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, r"`n_samples` must be an int in \[1, inf\]; got 0"),
        ({"n_samples": 1.0}, TypeError, r"`n_samples` must be an int; got 1.0"),
        ({"n_samples": 1, "batch_size": 0}, ValueError, r"`batch_size` .* \[1, inf\]; got 0"),
        (
            {"n_samples": 1, "return_log_probs": True, "task": "regression"},
            ValueError,
            r"`return_log_probs=True` needs task='classification'",
        ),
        ({"n_samples": 1, "generator": 0}, TypeError, r"`generator` must be a torch.Generator"),
        ({"n_samples": 1, "task": "rank"}, ValueError, r"`task` must be one of .*; got 'rank'"),
    ],
)
def test_predict_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        predict(TinyBayesLinear(2, 3), X8, **kwargs)


# --- checkpoints ----------------------------------------------------------------------------------


def trained(seed: int = 0) -> tuple[TinyBayesLinear, torch.optim.Optimizer]:
    model = TinyBayesLinear(2, 2, seed=seed, std=0.3)
    result = train(model, X8, Y8, quiet(epochs=2, batch_size=4, lr=0.05))
    return model, result.optimizer


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    model, opt = trained()
    path = tmp_path / "ck.pt"
    mask = torch.tensor([1, 0])
    extra: dict[str, Any] = {"epoch": 2, "name": "tiny", "curve": [0.5, 0.25], "mask": mask}
    save_checkpoint(path, model, optimizer=opt, extra=extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]  # no temporary file left
    fresh = TinyBayesLinear(2, 2, seed=1, std=0.3)
    fresh_opt = torch.optim.Adam(fresh.parameters(), lr=0.05)
    got = load_checkpoint(path, fresh, optimizer=fresh_opt)
    assert got.keys() == extra.keys() and got["curve"] == [0.5, 0.25]
    assert got["epoch"] == 2 and got["name"] == "tiny" and torch.equal(got["mask"], mask)
    p1 = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(2))
    p2 = predict(fresh, X8, n_samples=3, generator=torch.Generator().manual_seed(2))
    assert torch.equal(p1, p2)
    s1, s2 = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert s1.keys() == s2.keys()
    for k in s1:
        assert all(torch.equal(s1[k][name], s2[k][name]) for name in s1[k])


def test_checkpoint_with_nan_is_rejected_and_loads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, trained()[0])
    ckpt = torch.load(path, weights_only=True)
    ckpt["model"]["weight_rho"][0, 1] = math.nan
    torch.save(ckpt, path)
    target = TinyBayesLinear(2, 2, seed=5)
    before = params(target)
    with pytest.raises(ValueError, match=r"\['weight_rho'\] contains NaN or infinite values"):
        load_checkpoint(path, target)
    assert all(torch.equal(a, b) for a, b in zip(before, params(target), strict=True))


def test_checkpoint_with_inf_in_optimizer_state_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    model, opt = trained()
    save_checkpoint(path, model, optimizer=opt)
    ckpt = torch.load(path, weights_only=True)
    ckpt["optimizer"]["state"][0]["exp_avg"][0, 0] = -math.inf
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=r"\['optimizer'\]\['state'\]\[0\]\['exp_avg'\]"):
        load_checkpoint(path, TinyBayesLinear(2, 2))


def test_checkpoint_mismatch_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    save_checkpoint(path, trained()[0])
    with pytest.raises(ValueError, match=r"shape of 'weight_mean': checkpoint \(2, 2\), model"):
        load_checkpoint(path, TinyBayesLinear(3, 2))
    with pytest.raises(ValueError, match=r"missing key 'weight'.*unexpected key 'weight_mean'"):
        load_checkpoint(path, nn.Linear(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"dtype of 'weight_mean': checkpoint torch.float64"):
        load_checkpoint(path, TinyBayesLinear(2, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match=r"holds no optimizer state"):
        model = TinyBayesLinear(2, 2)
        load_checkpoint(path, model, optimizer=torch.optim.Adam(model.parameters()))


def test_checkpoint_rejects_foreign_files_and_unsaveable_extra(tmp_path: Path) -> None:
    path = tmp_path / "ck.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=r"is not an lrbnn checkpoint"):
        load_checkpoint(path, TinyBayesLinear(2, 2))
    torch.save({"format": "lrbnn-checkpoint", "model": {}, "obj": NotWeights()}, path)
    with pytest.raises(ValueError, match=r"is not a readable weights-only checkpoint"):
        load_checkpoint(path, TinyBayesLinear(2, 2))
    other = tmp_path / "other.pt"
    with pytest.raises(TypeError, match=r"`extra\['ids'\]` is a set"):
        save_checkpoint(other, TinyBayesLinear(2, 2), extra={"ids": {1, 2}})
    assert not other.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]
    with pytest.raises(FileNotFoundError, match=r"`path`: directory .* does not exist"):
        save_checkpoint(tmp_path / "missing" / "ck.pt", TinyBayesLinear(2, 2))


# --- with the package's own layer -----------------------------------------------------------------


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
