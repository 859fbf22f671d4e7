"""LowRankBayesLinear and MeanFieldBayesLinear against their twins: a dense materialised W,
independent (A, B) draws, the exact output moments of theory.geometry, the KLs of theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from lrbnn_core import (
    MLP,
    GaussianPrior,
    LowRankBayesLinear,
    MeanFieldBayesLinear,
    ScaleMixturePrior,
    model_kl,
    set_generator,
    set_prior,
)
from theory import scale_mixture_kl_mc, scale_mixture_kl_upper
from theory.geometry import output_moments
from theory.pac_bayes import gaussian_kl

F64 = torch.float64
#: Family-wise false-failure probability of each statistical test in this file.
ALPHA = 1e-6


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _lowrank(n: int = 7, m: int = 5, r: int = 2, **kw) -> LowRankBayesLinear:
    kw.setdefault("eta", 0.5)
    return LowRankBayesLinear(n, m, r, generator=_gen(0), dtype=F64, **kw)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def _f(t: torch.Tensor) -> float:
    return float(t.detach())


@given(n=st.integers(1, 8), m=st.integers(1, 8), data=st.data(), seed=st.integers(0, 2**31))
def test_lowrank_shared_forward_matches_dense_weight(n, m, data, seed) -> None:
    """One shared draw: (x B) A^T + b equals x W^T + b with W = A B^T formed from the same draw
    (the generator is replayed: the layer draws A, then B, then the bias)."""
    r = data.draw(st.integers(1, min(m, n)))
    layer = LowRankBayesLinear(n, m, r, generator=_gen(seed), dtype=F64, eta=0.5)
    x = torch.randn(4, n, generator=_gen(seed + 1), dtype=F64)
    set_generator(layer, _gen(seed + 2))
    y = layer(x)
    a, b, bias = layer.sample_factors(_gen(seed + 2))
    expected = x @ (a @ b.T).T + bias
    torch.testing.assert_close(y, expected, rtol=1e-12, atol=1e-12)
    assert torch.linalg.matrix_rank(a @ b.T) <= r


def test_mean_mode_is_the_mean_weight_and_sample_weight_has_rank_at_most_r() -> None:
    layer = _lowrank(9, 6, 3, sampling="mean")
    x = torch.randn(5, 9, generator=_gen(3), dtype=F64)
    torch.testing.assert_close(layer(x), x @ layer.mean_weight().T + layer.bias_mean)
    for seed in range(5):
        assert int(torch.linalg.matrix_rank(layer.sample_weight(_gen(seed)))) == 3
    mf = MeanFieldBayesLinear(9, 6, generator=_gen(0), dtype=F64, sampling="mean")
    torch.testing.assert_close(mf(x), x @ mf.mean_weight().T + mf.bias_mean)


def _ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.ks_2samp(a, b).pvalue)


@pytest.mark.parametrize("cls", ["low_rank", "mean_field"])
def test_local_mode_has_the_law_of_independent_draws(cls) -> None:
    """Per example, "local" outputs have the law of outputs under a fresh weight draw.

    Twin: 20,000 explicit draws of (A, B) (or W) and bias, one per example, applied to the same
    input. Statistics: each output coordinate, the product of the first two (their dependence
    through the shared z) and the squared norm; two-sample Kolmogorov-Smirnov tests, Bonferroni
    over the statistics at family-wise ALPHA."""
    n_draws = 20_000
    if cls == "low_rank":
        layer = _lowrank(6, 3, 2, sampling="local")
    else:
        layer = MeanFieldBayesLinear(6, 3, generator=_gen(0), dtype=F64, eta=0.5, sampling="local")
    x = torch.randn(6, generator=_gen(4), dtype=F64)
    set_generator(layer, _gen(5))
    with torch.no_grad():
        local = layer(x.expand(n_draws, 6)).numpy()
        twin_gen = _gen(6)
        explicit = []
        for _ in range(n_draws):
            w = layer.sample_weight(twin_gen)
            bias = layer.bias_mean + layer.factor_posteriors()["bias"][1] * torch.randn(
                3, generator=twin_gen, dtype=F64
            )
            explicit.append((w @ x + bias).numpy())
        twin = np.array(explicit)

    def statistics(y: np.ndarray) -> list[np.ndarray]:
        return [y[:, 0], y[:, 1], y[:, 2], y[:, 0] * y[:, 1], (y**2).sum(axis=1)]

    pvalues = [_ks_pvalue(a, b) for a, b in zip(statistics(local), statistics(twin), strict=True)]
    assert min(pvalues) > ALPHA / len(pvalues)


def test_local_mode_matches_the_exact_output_moments() -> None:
    """The local outputs' mean and total variance against theory.geometry.output_moments (no
    bias): z-tests on the mean of each coordinate and on the total variance (its SE from the
    sample fourth moments), Bonferroni over 4 tests at ALPHA."""
    layer = _lowrank(6, 3, 2, sampling="local", bias=False)
    x = torch.randn(6, generator=_gen(7), dtype=F64)
    set_generator(layer, _gen(8))
    n_draws = 40_000
    with torch.no_grad():
        y = layer(x.expand(n_draws, 6)).numpy()
    post = layer.factor_posteriors()
    mean, total_var = output_moments(
        _np(post["A"][0]), _np(post["A"][1]), _np(post["B"][0]), _np(post["B"][1]), _np(x)
    )
    z = float(stats.norm.isf(ALPHA / 8))
    se_mean = y.std(axis=0, ddof=1) / math.sqrt(n_draws)
    assert np.all(np.abs(y.mean(axis=0) - mean) <= z * se_mean)
    sq = ((y - mean) ** 2).sum(axis=1)
    assert abs(sq.mean() - total_var) <= z * sq.std(ddof=1) / math.sqrt(n_draws)


@pytest.mark.parametrize("prior_at_init", [False, True])
def test_kl_matches_theory_gaussian_kl(prior_at_init) -> None:
    prior = GaussianPrior(0.7)
    layer = _lowrank(prior=prior, prior_at_init=prior_at_init)
    with torch.no_grad():  # move the means away from the prior centre
        layer.A_mean.add_(0.3)
        layer.bias_mean.sub_(0.2)
    expected = 0.0
    for name, (mean, std) in layer.factor_posteriors().items():
        centre = getattr(layer, f"{name}_prior_mean", None)
        loc = 0.0 if centre is None else _np(centre)
        expected += gaussian_kl(_np(mean), _np(std), loc, 0.7)
    assert _f(layer.kl()) == pytest.approx(expected, rel=1e-12)
    mf = MeanFieldBayesLinear(5, 4, generator=_gen(1), dtype=F64, prior=prior)
    expected_mf = sum(
        gaussian_kl(_np(m), _np(s), 0.0, 0.7) for m, s in mf.factor_posteriors().values()
    )
    assert _f(mf.kl()) == pytest.approx(expected_mf, rel=1e-12)


def test_kl_monte_carlo_agrees_with_closed_form() -> None:
    """Unbiased MC estimate vs the exact KL: the sampled part is sum_i (theta_i - mu0)^2 / 2s^2,
    whose variance per draw is sum_i (2 sigma_i^4 + 4 sigma_i^2 mu_i^2) / (4 s^4); z-test at
    ALPHA."""
    s_p = 0.8
    layer = _lowrank(prior=GaussianPrior(s_p))
    n_samples = 4000
    got = _f(layer.kl("monte_carlo", n_samples=n_samples, generator=_gen(9)))
    exact = _f(layer.kl())
    var = 0.0
    for mean, std in layer.factor_posteriors().values():
        m2, s2 = _np(mean) ** 2, _np(std) ** 2
        var += float(np.sum((2 * s2**2 + 4 * s2 * m2) / (4 * s_p**4)))
    assert abs(got - exact) <= stats.norm.isf(ALPHA / 2) * math.sqrt(var / n_samples)


def test_mixture_prior_closed_form_is_the_declared_upper_bound() -> None:
    prior = ScaleMixturePrior(0.5, 1.0, math.exp(-6))
    layer = _lowrank(prior=prior)
    expected = sum(
        scale_mixture_kl_upper(_np(m), _np(s), pi=0.5, std1=1.0, std2=math.exp(-6))
        for m, s in layer.factor_posteriors().values()
    )
    assert _f(layer.kl()) == pytest.approx(expected, rel=1e-12)
    assert prior.kl_is_exact is False
    # Monte Carlo: the torch estimate against theory's (numpy draws, with its SE; the torch one
    # has the same SE for the same number of draws), and both below the bound: z-tests at ALPHA.
    n_samples = 2000
    mc = _f(layer.kl("monte_carlo", n_samples=n_samples, generator=_gen(10)))
    blocks = list(layer.factor_posteriors().values())
    mu = np.concatenate([_np(m).ravel() for m, _ in blocks])
    sd = np.concatenate([_np(s).ravel() for _, s in blocks])
    twin, se = scale_mixture_kl_mc(
        mu,
        sd,
        pi=0.5,
        std1=1.0,
        std2=math.exp(-6),
        n_samples=n_samples,
        rng=np.random.default_rng(0),
    )
    z = stats.norm.isf(ALPHA / 2)
    assert abs(mc - twin) <= z * math.sqrt(2) * se
    assert twin <= expected + z * se


@pytest.mark.parametrize("sampling", ["shared", "local", "mean"])
@pytest.mark.parametrize("cls", [LowRankBayesLinear, MeanFieldBayesLinear])
def test_gradients_reach_every_parameter_and_stay_finite(cls, sampling) -> None:
    """Including an all-zero input row (where the local standard deviation is 0)."""
    args = (6, 4, 2) if cls is LowRankBayesLinear else (6, 4)
    layer = cls(*args, generator=_gen(0), sampling=sampling)
    x = torch.randn(5, 6, generator=_gen(1))
    x[0] = 0.0
    loss = layer(x).square().mean() + layer.kl()
    loss.backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()), name
        assert bool(p.grad.abs().sum() > 0), name  # in "mean" mode, rho learns from the KL


def test_same_seed_gives_identical_outputs_and_initialisation() -> None:
    x = torch.randn(3, 7, generator=_gen(2))
    outs = []
    for _ in range(2):
        layer = LowRankBayesLinear(7, 5, 2, generator=_gen(11))
        set_generator(layer, _gen(12))
        outs.append(torch.cat([layer(x), layer(x)]))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0][:3], outs[0][3:])  # two passes, two draws


def test_warm_start_gives_the_rank_r_truncation() -> None:
    w = torch.randn(5, 7, generator=_gen(13), dtype=F64)
    layer = LowRankBayesLinear(7, 5, 2, warm_start=w, dtype=F64)
    u, s, vh = torch.linalg.svd(w)
    torch.testing.assert_close(layer.mean_weight(), (u[:, :2] * s[:2]) @ vh[:2])
    mf = MeanFieldBayesLinear(7, 5, warm_start=w, dtype=F64)
    torch.testing.assert_close(mf.mean_weight(), w)


def test_deterministic_bias_is_not_stochastic() -> None:
    layer = _lowrank(bayesian_bias=False)
    assert set(layer.factor_posteriors()) == {"A", "B"}
    assert layer.bias is not None and layer.bias.requires_grad
    no_bias = _lowrank(bias=False)
    x = torch.zeros(2, 7, dtype=F64)
    assert torch.equal(no_bias(x), torch.zeros(2, 5, dtype=F64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"rank": 6},
            ValueError,
            r"`rank` must be an int in \[1, min\(in, out\)\] = \[1, 5\]; got 6",
        ),
        (
            {"rank": 0},
            ValueError,
            r"`rank` must be an int in \[1, min\(in, out\)\] = \[1, 5\]; got 0",
        ),
        ({"eta": 1.5}, ValueError, r"`eta` must be a number in \(0, 1\); got 1.5"),
        ({"init": "xavier"}, ValueError, r"`init` must be one of 'glorot', 'he'; got 'xavier'"),
        ({"sampling": "both"}, ValueError, r"`sampling` must be one of 'shared', 'local', 'mean'"),
        ({"prior": 1.0}, TypeError, r"`prior` must be a GaussianPrior or a ScaleMixturePrior"),
        ({"warm_start": torch.zeros(3, 3)}, ValueError, r"`warm_start` must have shape"),
    ],
)
def test_lowrank_rejects_bad_arguments(kwargs, error, match) -> None:
    kw = {"rank": 2, **kwargs}
    rank = kw.pop("rank")
    with pytest.raises(error, match=match):
        LowRankBayesLinear(7, 5, rank, **kw)


def test_priors_reject_non_positive_scales() -> None:
    with pytest.raises(ValueError, match=r"`std` must be a finite number > 0; got 0.0"):
        GaussianPrior(0.0)
    with pytest.raises(ValueError, match=r"`std2` must be a finite number > 0; got -1.0"):
        ScaleMixturePrior(0.5, 1.0, -1.0)
    with pytest.raises(ValueError, match=r"`pi` must be in \(0, 1\); got 1.0"):
        ScaleMixturePrior(1.0, 1.0, 0.1)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.ones(3, 6), ValueError, r"`x` must have shape \(\.\.\., 7\) with at least 2 axes"),
        (torch.ones(7), ValueError, r"`x` must have shape \(\.\.\., 7\)"),
        (torch.ones(3, 7, dtype=torch.int64), TypeError, r"`x` must be a floating-point tensor"),
        (
            torch.ones(3, 7, dtype=torch.float64),
            TypeError,
            r"`x` must have the layer's dtype torch.float32; got torch.float64",
        ),
        (np.ones((3, 7)), TypeError, r"`x` must be a torch.Tensor; got ndarray"),
        (torch.full((3, 7), float("nan")), ValueError, r"`x` contains NaN or infinite values"),
    ],
)
def test_forward_rejects_bad_inputs(x, error, match) -> None:
    layer = LowRankBayesLinear(7, 5, 2, generator=_gen(0))
    with pytest.raises(error, match=match):
        layer(x)


def test_forward_names_overflow_and_infinite_inputs() -> None:
    """The finiteness check runs on B^T x (the cheap place): an infinite x is reported as such,
    a finite x whose product overflows float32 as an overflow."""
    layer = LowRankBayesLinear(7, 5, 2, generator=_gen(0), warm_start=torch.ones(5, 7))
    x = torch.ones(2, 7)
    x[1, 3] = float("inf")
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values"):
        layer(x)
    with pytest.raises(ValueError, match=r"B\^T x overflowed \(non-finite\) for a finite `x`"):
        layer(torch.full((2, 7), 3e38))
    set_sampling_local = LowRankBayesLinear(7, 5, 2, generator=_gen(0), sampling="local")
    with pytest.raises(ValueError, match=r"`x` contains NaN or infinite values"):
        set_sampling_local(x)


def test_set_prior_centres_the_prior_at_another_models_means() -> None:
    """A data-dependent prior: the KL to N(centre, s^2) against theory's gaussian_kl, with the
    centres read from a second model; centre=None restores the zero-mean prior."""

    post = MLP((5, 4, 3), "low_rank", rank=2, generator=_gen(20), dtype=F64)
    source = MLP((5, 4, 3), "low_rank", rank=2, generator=_gen(21), dtype=F64)
    set_prior(post, GaussianPrior(0.3), centre=source)
    expected = 0.0
    for layer, src in zip(post.layers, source.layers, strict=True):
        for name, (mean, std) in layer.factor_posteriors().items():
            centre = _np(src.factor_posteriors()[name][0])
            expected += gaussian_kl(_np(mean), _np(std), centre, 0.3)
    assert _f(sum(layer.kl() for layer in post.layers)) == pytest.approx(expected, rel=1e-12)
    set_prior(post, GaussianPrior(0.3), centre=post)  # at its own means: only the std terms
    for layer in post.layers:
        for name, (mean, _) in layer.factor_posteriors().items():
            assert torch.equal(layer.prior_means()[name], mean.detach())
    set_prior(post, GaussianPrior(1.0))
    assert all(layer.prior_means() is None for layer in post.layers)
    other = MLP((5, 4, 3), "mean_field", generator=_gen(22), dtype=F64)
    with pytest.raises(ValueError, match=r"`centre` must have the architecture of `model`"):
        set_prior(post, GaussianPrior(1.0), centre=other)
    with pytest.raises(ValueError, match=r"`means` must map every block \['A', 'B', 'bias'\]"):
        post.layers[0].set_prior(GaussianPrior(1.0), means={"A": torch.zeros(4, 2)})
    with pytest.raises(ValueError, match=r"`means` needs a GaussianPrior"):
        post.layers[0].set_prior(ScaleMixturePrior(0.5, 1.0, 0.1), means={})


def test_learnt_prior_stds_give_zero_kl_at_the_centre_and_match_theory() -> None:
    """A prior learnt from a model (its means and, scaled, its stds): the posterior equal to it
    has KL 0; with the stds doubled the KL is theory's gaussian_kl entry by entry."""
    post = MLP((5, 4, 3), "low_rank", rank=2, generator=_gen(23), dtype=F64)
    set_prior(post, GaussianPrior(1.0), centre=post, centre_std_scale=1.0)
    assert _f(model_kl(post)) == pytest.approx(0.0, abs=1e-12)
    set_prior(post, GaussianPrior(1.0), centre=post, centre_std_scale=2.0)
    expected = sum(
        gaussian_kl(_np(m), _np(s), _np(m), 2 * _np(s))
        for layer in post.layers
        for m, s in layer.factor_posteriors().values()
    )
    assert _f(model_kl(post)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"`centre_std_scale` must be a finite number > 0; got 0"):
        set_prior(post, GaussianPrior(1.0), centre=post, centre_std_scale=0)
    with pytest.raises(ValueError, match=r"`centre_std_scale` needs a `centre` model"):
        set_prior(post, GaussianPrior(1.0), centre_std_scale=1.0)
