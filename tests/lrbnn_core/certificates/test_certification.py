"""Certify a model (lrbnn_core.certificates.certification): the bounds against the
``theory.pac_bayes`` functions evaluated by hand at the recorded terms, and McAllester's against its
formula; the KL against ``theory.pac_bayes.gaussian_kl`` on the layers' ``factor_posteriors``;
determinism, dtypes, sequence models and bad input."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from lrbnn_core.base import (
    KLMethod,
    SamplingMode,
    bayesian_modules,
    model_kl,
    set_prior,
    stochastic_parameter_count,
)
from lrbnn_core.certificates import DEFAULT_CATONI_LAMBDAS, Certificate, Loss, certify
from lrbnn_core.layers import inverse_softplus
from lrbnn_core.models import MLP
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior
from lrbnn_core.recurrent import LowRankBayesLSTM, SequenceClassifier
from lrbnn_core.transformer import MeanFieldBayesTransformerEncoder
from tests.lrbnn_core.certificates.twins import _EPS, F64_RTOL, LOSS_ATOL, _data, _mlp, _twin_risks
from theory.pac_bayes import (
    catoni_bound,
    gaussian_kl,
    kl_bound,
    mcallester_bound,
    sample_convergence_bound,
)

#: ``kl_inv_upper`` is conservative with absolute error <= 1e-12 (API.md), so the kl-inverse
#: bound may exceed McAllester's, which it never does mathematically (Pinsker), by that much.
KL_INV_SLACK = 1e-12

#: The KL rounding slack of lrbnn_core.certificates: 16 eps per stochastic scalar.
KL_ROUNDING_ULPS = 16


def _twin_kl(model: nn.Module) -> float:
    terms = []
    for layer in bayesian_modules(model):
        prior = layer.prior
        centres = layer.prior_means()
        for name, (mean, std) in layer.factor_posteriors().items():
            loc: Any = prior.mean if centres is None else centres[name].detach().numpy()
            terms.append(gaussian_kl(mean.detach().numpy(), std.detach().numpy(), loc, prior.std))
    return math.fsum(terms)


def _mlp_with_prior_at_posterior(seed: int, std: float) -> nn.Module:
    """A low-rank MLP whose posterior is its prior: N(means, std^2) on every scalar."""
    model = _mlp("low_rank", seed)
    rho = float(inverse_softplus(torch.tensor([std], dtype=torch.float64))[0])
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("_rho"):
                p.fill_(rho)
    set_prior(model, GaussianPrior(std), centre=model)
    return model


@pytest.mark.parametrize("loss", ["zero_one", "bounded_ce"])
@pytest.mark.parametrize("penalty", [0.0, 3.5])
def test_certify_terms_equal_theory_functions_at_recorded_values(
    loss: str, penalty: float, seed: int
) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 40, seed)
    delta, mc_delta, n_mc = 0.03, 0.02, 9
    cert = certify(
        model,
        x,
        y,
        delta=delta,
        mc_delta=mc_delta,
        n_mc=n_mc,
        generator=torch.Generator().manual_seed(seed),
        loss=loss,
        penalty=penalty,
        penalty_note="rank grid of 6",
    )
    twin = _twin_risks(model, x, y, n_mc, seed, loss, 1e-4)
    np.testing.assert_allclose(cert.network_risks, twin, rtol=F64_RTOL, atol=LOSS_ATOL)
    assert cert.mc_risk == pytest.approx(math.fsum(twin) / n_mc, rel=F64_RTOL, abs=LOSS_ATOL)
    assert (cert.loss, cert.n, cert.n_mc, cert.delta, cert.mc_delta) == (
        Loss(loss),
        40,
        n_mc,
        delta,
        mc_delta,
    )
    assert (cert.penalty, cert.penalty_note) == (penalty, "rank grid of 6")
    assert cert.catoni_lambdas == tuple(2.0**k for k in range(-3, 7)) == DEFAULT_CATONI_LAMBDAS
    assert cert.kl == float(model_kl(model, KLMethod.CLOSED_FORM).detach())
    assert cert.kl == pytest.approx(_twin_kl(model), rel=F64_RTOL)
    assert cert.kl_is_exact is True

    assert cert.mc_risk_bound == sample_convergence_bound(cert.mc_risk, n_mc, mc_delta)
    k = cert.kl + penalty
    assert cert.complexity == k
    assert cert.mcallester == mcallester_bound(cert.mc_risk_bound, k, 40, delta)
    assert cert.kl_inverse == kl_bound(cert.mc_risk_bound, k, 40, delta)
    assert cert.catoni == catoni_bound(
        cert.mc_risk_bound, k, 40, delta, lambdas=list(DEFAULT_CATONI_LAMBDAS)
    )
    by_hand = cert.mc_risk_bound + math.sqrt((k + math.log(2 * math.sqrt(40) / delta)) / 80)
    assert cert.mcallester == pytest.approx(by_hand, rel=F64_RTOL)

    assert cert.mc_risk <= cert.mc_risk_bound
    assert cert.kl_inverse <= cert.mcallester + KL_INV_SLACK
    assert cert.best == min(cert.mcallester, cert.kl_inverse, cert.catoni)
    assert getattr(cert, cert.best_name) == cert.best
    assert cert.non_vacuous == (cert.best < 1.0)
    assert cert.confidence == 1.0 - delta - mc_delta
    assert cert.best_confidence == 1.0 - 2 * delta - mc_delta


def test_certify_penalty_raises_every_bound(seed: int) -> None:
    """Same draws (same seed), more complexity: each bound strictly larger. The posterior sits
    at its prior (KL 0), the labels are the mean network's and n = 300, so no bound saturates
    at 1 and 'strictly' can fail."""
    model = _mlp_with_prior_at_posterior(seed, std=0.05)
    x, y = _data(model, 300, seed, flip=0.0)

    def run(penalty: float) -> Certificate:
        return certify(
            model,
            x,
            y,
            delta=0.05,
            mc_delta=0.01,
            n_mc=50,
            generator=torch.Generator().manual_seed(seed),
            penalty=penalty,
        )

    low, high = run(0.0), run(4.0)
    assert low.network_risks == high.network_risks
    assert low.kl == high.kl == 0.0
    for name in ("mcallester", "kl_inverse", "catoni"):
        assert getattr(low, name) < getattr(high, name) < 1.0, name


def test_certify_posterior_equal_to_prior_has_zero_kl(seed: int) -> None:
    model = _mlp_with_prior_at_posterior(seed, std=0.2)
    x, y = _data(model, 30, seed)
    cert = certify(
        model, x, y, delta=0.05, mc_delta=0.05, n_mc=3, generator=torch.Generator().manual_seed(1)
    )
    slack = KL_ROUNDING_ULPS * _EPS * stochastic_parameter_count(model)
    assert abs(float(model_kl(model).detach())) <= slack
    assert 0.0 <= cert.kl <= slack
    assert cert.kl_is_exact is True


def test_certify_records_mixture_kl_as_upper_bound(seed: int) -> None:
    model = _mlp("mean_field", seed)
    set_prior(model, ScaleMixturePrior(0.5, 1.0, math.exp(-6)))
    x, y = _data(model, 20, seed)
    cert = certify(
        model, x, y, delta=0.05, mc_delta=0.05, n_mc=2, generator=torch.Generator().manual_seed(1)
    )
    assert cert.kl_is_exact is False
    assert cert.kl == float(model_kl(model, "closed_form").detach())
    assert "(upper bound)" in cert.summary()


def test_certify_is_deterministic_and_restores_the_model(seed: int) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 25, seed)
    first, second = bayesian_modules(model)
    own = torch.Generator().manual_seed(99)
    first.sampling, first.generator = SamplingMode.LOCAL, own
    second.sampling, second.generator = SamplingMode.MEAN, None
    model.train()
    own_state = own.get_state()

    def run(s: int | None) -> Certificate:
        gen = None if s is None else torch.Generator().manual_seed(s)
        return certify(model, x, y, delta=0.05, mc_delta=0.05, n_mc=6, generator=gen)

    a, b, c = run(seed), run(seed), run(seed + 1)
    # the first call balanced the gauge in place (same networks, lower KL); the second finds
    # nothing left to gain and certifies the very same risks
    assert a.gauge_gain >= 0.0 and b.gauge_gain == 0.0
    assert dataclasses.replace(a, gauge_gain=0.0) == b
    assert a.network_risks != c.network_risks  # the generator does drive the draws
    assert (first.sampling, second.sampling) == (SamplingMode.LOCAL, SamplingMode.MEAN)
    assert first.generator is own and second.generator is None
    assert torch.equal(own.get_state(), own_state)  # the layer's own stream was not used
    assert all(m.training for m in model.modules())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        d = run(None)
        torch.manual_seed(seed)
        e = run(None)
    assert d == e


def test_certify_float32_model(seed: int) -> None:
    model = _mlp("low_rank", seed, dtype=torch.float32)
    x, y = _data(model, 30, seed)
    cert = certify(
        model, x, y, delta=0.05, mc_delta=0.05, n_mc=4, generator=torch.Generator().manual_seed(2)
    )
    twin = _twin_risks(model, x, y, 4, 2, "zero_one", 1e-4)
    assert list(cert.network_risks) == twin
    # the certified KL is evaluated in float64 (no float32 rounding in the sum)
    assert cert.kl == float(model_kl(model, dtype=torch.float64).detach())
    # float32 rounding of a sum of ~60 terms: about 60 * 1.2e-7 relative
    assert cert.kl == pytest.approx(float(model_kl(model).detach()), rel=1e-5)


def test_certify_sequence_models_one_network_per_draw(seed: int) -> None:
    """LSTM and Transformer classifiers: every stochastic parameter is in the KL, and the risks do
    not depend on the data batches (one network covers every sequence)."""
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64
    lstm = SequenceClassifier(
        LowRankBayesLSTM(2, 5, 2, generator=gen, dtype=f64, eta=0.5),
        3,
        head=MLP((5, 3), "low_rank", rank=2, generator=gen, dtype=f64).layers[0],
    )
    transformer = SequenceClassifier(
        MeanFieldBayesTransformerEncoder(4, 2, 8, 1, input_size=2, generator=gen, dtype=f64),
        3,
        generator=gen,
    )
    x = torch.randn(13, 6, 2, generator=gen, dtype=f64)
    y = torch.randint(0, 3, (13,), generator=gen)
    for model in (lstm, transformer):
        certs = [
            certify(
                model,
                x,
                y,
                delta=0.05,
                mc_delta=0.05,
                n_mc=5,
                generator=torch.Generator().manual_seed(seed),
                batch_size=bs,
            )
            for bs in (1, 13)
        ]
        assert certs[1].gauge_gain == 0.0  # balanced in place by the first call
        assert dataclasses.replace(certs[0], gauge_gain=0.0) == certs[1]
        assert certs[0].kl == pytest.approx(_twin_kl(model), rel=F64_RTOL)
        assert certs[0].kl == float(model_kl(model).detach())


_BAD_CALLS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"delta": 0.6, "mc_delta": 0.5}, ValueError, r"`delta` \+ `mc_delta` must be < 1.*0\.6.*0\.5"),
    ({"delta": 0.0}, ValueError, r"`delta` must be a float in \(0, 1\); got 0\.0"),
    ({"mc_delta": 1.5}, ValueError, r"`mc_delta` must be a float in \(0, 1\); got 1\.5"),
    ({"delta": "0.1"}, TypeError, r"`delta` must be a real number; got '0\.1'"),
    ({"n_mc": 0}, ValueError, r"`n_mc` must be an int in \[1, inf\]; got 0"),
    ({"n_mc": 2.0}, TypeError, r"`n_mc` must be an int; got 2\.0"),
    ({"penalty": -1.0}, ValueError, r"`penalty` must be a finite number >= 0.*-1\.0"),
    ({"penalty": math.inf}, ValueError, r"`penalty` must be a finite number >= 0.*inf"),
    ({"penalty_note": 3}, TypeError, r"`penalty_note` must be a str; got int"),
    ({"loss": "hinge"}, ValueError, r"`loss` must be one of 'zero_one', 'bounded_ce'; got 'hinge'"),
    ({"p_min": 1.0}, ValueError, r"`p_min` must be a float in \(0, 1\); got 1\.0"),
    ({"catoni_lambdas": []}, ValueError, r"`catoni_lambdas` must be a non-empty 1-D grid"),
    ({"catoni_lambdas": [1.0, -2.0]}, ValueError, r"`catoni_lambdas` must hold .* > 0; got -2\.0"),
    ({"batch_size": 0}, ValueError, r"`batch_size` must be an int in \[1, inf\]; got 0"),
    ({"generator": 7}, TypeError, r"`generator` must be a torch\.Generator or None; got 7"),
]


@pytest.mark.parametrize(("override", "error", "match"), _BAD_CALLS)
def test_certify_rejects_bad_arguments(
    override: dict[str, Any], error: type[Exception], match: str, seed: int
) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 10, seed)
    kwargs: dict[str, Any] = {"delta": 0.05, "mc_delta": 0.05, "n_mc": 2} | override
    with pytest.raises(error, match=match):
        certify(model, x, y, **kwargs)


def test_certify_rejects_bad_data_and_models(seed: int) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 10, seed)
    kw: dict[str, Any] = {"delta": 0.05, "mc_delta": 0.05, "n_mc": 2}
    with pytest.raises(ValueError, match=r"`inputs` is empty: shape \(0, 4\)"):
        certify(model, x[:0], y[:0], **kw)
    with pytest.raises(ValueError, match=r"`targets` labels must be in \[0, 2\].*got 3"):
        certify(model, x, torch.full((10,), 3), **kw)
    with pytest.raises(ValueError, match=r"`targets` labels must be in \[0, 2\].*got -1"):
        certify(model, x, torch.full((10,), -1), **kw)
    with pytest.raises(TypeError, match=r"`targets` must be an integer tensor.*torch\.float64"):
        certify(model, x, y.double(), **kw)
    with pytest.raises(ValueError, match=r"`targets` must have shape \(10,\).*got \(9,\)"):
        certify(model, x, y[:9], **kw)
    bad = x.clone()
    bad[3, 1] = math.nan
    with pytest.raises(ValueError, match=r"`inputs` contains NaN or infinite values"):
        certify(model, bad, y, **kw)
    with pytest.raises(TypeError, match=r"`inputs` has dtype torch\.float32.*torch\.float64"):
        certify(model, x.float(), y, **kw)
    deterministic = _mlp("deterministic", seed)
    with pytest.raises(ValueError, match=r"`model` \(MLP\) has no stochastic parameters"):
        certify(deterministic, x, y, **kw)
    with pytest.raises(TypeError, match=r"`model` must be a torch\.nn\.Module; got str"):
        certify("net", x, y, **kw)  # type: ignore[arg-type]


def test_certify_bernstein_step_uses_the_networks_variance(seed: int) -> None:
    """``mc_bound="bernstein"``: the same networks (same generator) and KL as ``"kl"``; the
    Monte Carlo bound is the empirical Bernstein bound of their risks (a by-hand twin), every
    PAC-Bayes bound is recomputed from it, and the choice is recorded."""
    model = _mlp("low_rank", seed)
    x, y = _data(model, 40, seed)

    def run(mc_bound: str) -> Certificate:
        return certify(
            model,
            x,
            y,
            delta=0.03,
            mc_delta=0.02,
            n_mc=30,
            generator=torch.Generator().manual_seed(seed),
            mc_bound=mc_bound,
        )

    kl_cert, bern = run("kl"), run("bernstein")
    assert bern.network_risks == kl_cert.network_risks and bern.kl == kl_cert.kl
    r = np.asarray(bern.network_risks)
    var = float(np.sum((r - r.mean()) ** 2) / 29)
    log = math.log(2 / 0.02)
    by_hand = min(1.0, bern.mc_risk + math.sqrt(2 * var * log / 30) + 7 * log / (3 * 29))
    assert bern.mc_risk_bound == pytest.approx(by_hand, rel=1e-12)
    assert bern.kl_inverse == kl_bound(bern.mc_risk_bound, bern.complexity, 40, 0.03)
    assert (bern.mc_bound, kl_cert.mc_bound) == ("bernstein", "kl")
    assert "(bernstein)" in bern.summary() and bern.as_dict()["mc_bound"] == "bernstein"
    with pytest.raises(
        ValueError, match="`mc_bound` must be one of kl, bernstein; got 'hoeffding'"
    ):
        certify(model, x, y, delta=0.03, mc_delta=0.02, n_mc=30, mc_bound="hoeffding")
    with pytest.raises(ValueError, match="`mc_bound` 'bernstein' needs `n_mc` >= 2"):
        certify(model, x, y, delta=0.03, mc_delta=0.02, n_mc=1, mc_bound="bernstein")


def test_certify_priors_draws_once_and_equals_certify_per_prior(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against three priors: the networks are drawn once (one call of gibbs_risks) and every
    certificate equals the one ``certify`` gives after setting that prior by itself (same
    generator seed: the same networks, gauge balancing never changes one)."""
    import lrbnn_core.certificates.certification as cc
    from lrbnn_core.certificates import certify_priors

    stds = (0.3, 1.0, 3.0)
    model = _mlp("low_rank", seed)
    x, y = _data(model, 40, seed)
    options = {"delta": 0.03, "mc_delta": 0.02, "n_mc": 12, "penalty": math.log(3)}
    calls: list[int] = []
    real = cc.gibbs_risks

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cc, "gibbs_risks", counting)
    setters = [lambda m, s=s: set_prior(m, GaussianPrior(s)) for s in stds]
    together = certify_priors(
        model, x, y, setters, generator=torch.Generator().manual_seed(seed), **options
    )
    assert len(calls) == 1 and len(together) == 3
    for s, cert in zip(stds, together, strict=True):
        set_prior(model, GaussianPrior(s))
        alone = certify(model, x, y, generator=torch.Generator().manual_seed(seed), **options)
        assert cert.kl == pytest.approx(alone.kl, rel=1e-12)
        np.testing.assert_allclose(cert.network_risks, alone.network_risks, rtol=0, atol=1e-12)
        assert cert.kl_inverse == pytest.approx(alone.kl_inverse, rel=1e-12)
    assert len({c.kl for c in together}) == 3
    with pytest.raises(ValueError, match="`set_priors` must be a non-empty sequence"):
        certify_priors(model, x, y, [], **options)
    with pytest.raises(TypeError, match="needs the keyword argument `n_mc`"):
        certify_priors(model, x, y, setters, delta=0.03, mc_delta=0.02)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['nmc'\]"):
        certify_priors(model, x, y, setters, nmc=3, **options)
