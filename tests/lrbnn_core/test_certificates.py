"""Certificates of the Gibbs risk (lrbnn_core.certificates).

Twins: the per-network risks are recomputed by replaying the generator through each layer's own
``sample_factors`` / ``sample_weight`` and explicit matmuls on the whole data set at once (no
``predict``, no batching, no rewinding), with the losses written as plain Python loops; the KL
against ``theory.pac_bayes.gaussian_kl`` on the layers' ``factor_posteriors``; the bounds against
the ``theory.pac_bayes`` functions evaluated by hand at the recorded terms, and McAllester's
against its formula. Nothing here is statistical (the coverage of the certificate is tested
elsewhere).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import lrbnn_core.certificates as certify_module
from lrbnn_core.base import (
    KLMethod,
    SamplingMode,
    bayesian_modules,
    model_kl,
    set_prior,
    set_sampling,
    stochastic_parameter_count,
)
from lrbnn_core.certificates import (
    DEFAULT_CATONI_LAMBDAS,
    Certificate,
    Loss,
    certify,
    example_losses,
    gibbs_risks,
)
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear, inverse_softplus
from lrbnn_core.models import MLP
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior
from lrbnn_core.recurrent import LowRankBayesLSTM, SequenceClassifier
from lrbnn_core.transformer import MeanFieldBayesTransformerEncoder
from theory.pac_bayes import (
    catoni_bound,
    gaussian_kl,
    kl_bound,
    mcallester_bound,
    sample_convergence_bound,
)

_EPS = float(np.finfo(np.float64).eps)

#: float64 numbers that differ only by summation order or by a different but exact route (a
#: hand log-sum-exp against torch's log_softmax) agree to a few ulps; 1e-12 leaves plenty.
F64_RTOL = 1e-12

#: The hand bounded cross-entropy goes through exp then log: near p_y = 1 it loses an absolute
#: eps / ln(1/p_min) < eps, where a relative tolerance means nothing.
LOSS_ATOL = 8 * _EPS

#: ``kl_inv_upper`` is conservative with absolute error <= 1e-12 (API.md), so the kl-inverse
#: bound may exceed McAllester's, which it never does mathematically (Pinsker), by that much.
KL_INV_SLACK = 1e-12

#: The KL rounding slack of lrbnn_core.certificates: 16 eps per stochastic scalar.
KL_ROUNDING_ULPS = 16

WIDTHS = (4, 6, 3)


@pytest.fixture
def seed(rng: np.random.Generator) -> int:
    """A torch seed derived from the test's own seeded numpy Generator."""
    return int(rng.integers(0, 2**31))


def _mlp(
    kind: str, seed: int, *, dtype: torch.dtype = torch.float64, eta: float = 0.5
) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    return MLP(WIDTHS, kind, rank=2, eta=eta, generator=gen, dtype=dtype)


def _data(model: nn.Module, n: int, seed: int, flip: float = 1 / 3) -> tuple[Tensor, Tensor]:
    """Inputs and the posterior-mean network's labels, a fraction ``flip`` of them replaced at
    random, so that the drawn networks disagree with the labels at varied rates."""
    gen = torch.Generator().manual_seed(seed + 1)
    dtype = next(model.parameters()).dtype
    x = torch.randn(n, WIDTHS[0], generator=gen, dtype=dtype)
    set_sampling(model, "mean")
    with torch.no_grad():
        y = model(x).argmax(dim=-1)
    set_sampling(model, "shared")
    noise = torch.randint(0, WIDTHS[-1], (n,), generator=gen)
    flipped = torch.rand(n, generator=gen, dtype=torch.float64) < flip
    return x, torch.where(flipped, noise, y)


# --- twins ---------------------------------------------------------------------------------------


def _twin_logits(model: nn.Module, x: Tensor, gen: torch.Generator) -> Tensor:
    """One network drawn layer by layer through the layers' own samplers, applied to all of x."""
    assert isinstance(model, MLP)
    h = x
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, LowRankBayesLinear):
            a, b, bias = layer.sample_factors(gen)
            assert bias is not None
            h = (h @ b) @ a.T + bias
        else:
            assert isinstance(layer, MeanFieldBayesLinear)
            w = layer.sample_weight(gen)
            mean, std = layer.factor_posteriors()["bias"]
            bias = mean + std * torch.randn(mean.shape, generator=gen, dtype=mean.dtype)
            h = h @ w.T + bias
        if i < len(layers) - 1:
            h = torch.where(h > 0, h, torch.zeros_like(h))
    return h


def _twin_zero_one(row: list[float], label: int) -> float:
    prediction = max(range(len(row)), key=row.__getitem__)  # the first maximum, as argmax
    return float(prediction != label)


def _twin_bounded_ce(row: list[float], label: int, p_min: float) -> float:
    top = max(row)
    lse = top + math.log(math.fsum(math.exp(v - top) for v in row))
    p_y = math.exp(row[label] - lse)
    return -math.log(max(p_y, p_min)) / math.log(1.0 / p_min)


def _twin_risks(
    model: nn.Module, x: Tensor, y: Tensor, n_mc: int, seed: int, loss: str, p_min: float
) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    risks = []
    with torch.no_grad():
        for _ in range(n_mc):
            logits = _twin_logits(model, x, gen).tolist()
            labels = y.tolist()
            if loss == "zero_one":
                errors = sum(_twin_zero_one(r, t) for r, t in zip(logits, labels, strict=True))
                risks.append(errors / len(labels))
            else:
                values = [
                    _twin_bounded_ce(r, t, p_min) for r, t in zip(logits, labels, strict=True)
                ]
                risks.append(math.fsum(values) / len(labels))
    return risks


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


# --- the Monte Carlo risks -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
@pytest.mark.parametrize("batch_size", [5, 1000])
@pytest.mark.parametrize("chunked", [False, True])
def test_gibbs_risks_zero_one_equal_layer_by_layer_twin(
    kind: str, batch_size: int, chunked: bool, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One network per draw over the whole data set, whatever the data batches, the chunks of
    draws and the layers' own sampling mode ("local" here, put back afterwards): the 0-1 risks
    equal the twin's exactly (counts over n)."""
    model = _mlp(kind, seed)
    x, y = _data(model, 23, seed)
    set_sampling(model, "local")
    if chunked:  # two networks per predict call
        monkeypatch.setattr(certify_module, "_MAX_CHUNK_ELEMENTS", 2 * 23 * WIDTHS[-1])
    risks = gibbs_risks(
        model, x, y, n_mc=7, generator=torch.Generator().manual_seed(seed), batch_size=batch_size
    )
    twin = _twin_risks(model, x, y, 7, seed, "zero_one", 1e-4)
    assert risks.dtype == np.float64 and risks.shape == (7,)
    assert risks.tolist() == twin
    assert all(m.sampling is SamplingMode.LOCAL for m in bayesian_modules(model))
    assert len(set(twin)) > 1  # the draws differ, so a network reused or skipped would show


def test_gibbs_risks_bounded_ce_equal_hand_formula(seed: int) -> None:
    """The bounded cross-entropy per network against the hand log-sum-exp formula; p_min is
    chosen (between two middle values of the first network's p_y) so that both the clamped and
    the unclamped branch occur whatever the seed."""
    model = _mlp("low_rank", seed, eta=0.9)
    x, y = _data(model, 23, seed)
    with torch.no_grad():
        first = torch.softmax(_twin_logits(model, x, torch.Generator().manual_seed(seed)), -1)
    middle = first.gather(1, y[:, None]).flatten().sort().values[10:12]
    p_min = float(middle.mean())
    risks = gibbs_risks(
        model,
        x,
        y,
        n_mc=5,
        generator=torch.Generator().manual_seed(seed),
        loss="bounded_ce",
        p_min=p_min,
        batch_size=4,
    )
    twin = _twin_risks(model, x, y, 5, seed, "bounded_ce", p_min)
    np.testing.assert_allclose(risks, twin, rtol=F64_RTOL, atol=LOSS_ATOL)
    with torch.no_grad():
        probs = torch.softmax(_twin_logits(model, x, torch.Generator().manual_seed(seed)), -1)
    p_y = probs.gather(1, y[:, None])
    assert bool((p_y < p_min).any()) and bool((p_y > p_min).any())


def test_example_losses_equal_loop_twins_with_ties_and_clamps(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 9, 4, generator=gen, dtype=torch.float64) * 3.0
    logits[0, 0] = torch.tensor([1.0, 1.0, 0.0, 1.0])  # a three-way tie: argmax is class 0
    logits[1, 1] = torch.tensor([800.0, 0.0, -800.0, 0.0])  # log p_2 = -1600: clamped
    targets = torch.randint(0, 4, (9,), generator=gen)
    targets[0], targets[1] = 1, 2
    p_min = 0.05
    zero_one = example_losses(logits, targets, loss="zero_one")
    ce = example_losses(logits, targets, loss=Loss.BOUNDED_CE, p_min=p_min)
    assert zero_one.dtype == torch.float64 and ce.shape == (2, 9)
    for s in range(2):
        for i in range(9):
            row, t = logits[s, i].tolist(), int(targets[i])
            assert float(zero_one[s, i]) == _twin_zero_one(row, t)
            assert float(ce[s, i]) == pytest.approx(
                _twin_bounded_ce(row, t, p_min), rel=F64_RTOL, abs=LOSS_ATOL
            )
    assert float(zero_one[0, 0]) == 1.0  # the tie went to class 0, label 1
    assert float(ce[1, 1]) == 1.0  # a clamped example costs exactly 1
    assert bool(((ce >= 0) & (ce <= 1)).all())


# --- the certificate -----------------------------------------------------------------------------


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


def test_certificate_summary_and_as_dict(seed: int) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 20, seed)
    cert = certify(
        model,
        x,
        y,
        delta=0.05,
        mc_delta=0.01,
        n_mc=3,
        generator=torch.Generator().manual_seed(0),
        penalty=1.5,
        penalty_note="prior-scale grid of 4",
    )
    line = cert.summary()
    assert "\n" not in line
    for text in (f"{cert.best:.4f}", f"{cert.mcallester:.4f}", "prior-scale grid of 4"):
        assert text in line
    row = cert.as_dict()
    assert json.loads(json.dumps(row)) == row
    assert all(isinstance(v, (str, int, float)) for v in row.values())
    for name in ("n", "n_mc", "mc_risk", "mc_risk_bound", "kl", "penalty", "delta", "mc_delta"):
        assert row[name] == getattr(cert, name)
    assert row["loss"] == "zero_one" and row["best"] == cert.best
    assert row["confidence"] == cert.confidence
    lambdas = tuple(float(v) for v in row["catoni_lambdas"].split(","))
    assert lambdas == cert.catoni_lambdas


# --- bad input -----------------------------------------------------------------------------------


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


def test_example_losses_rejects_bad_logits_and_labels() -> None:
    with pytest.raises(ValueError, match=r"`targets` must have shape \(2,\) to match `logits`"):
        example_losses(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(FloatingPointError, match=r"NaN or infinite logits"):
        example_losses(torch.tensor([[math.inf, 0.0]]), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`logits` must be a tensor of shape \(\.\.\., N, C\)"):
        example_losses(torch.zeros(3), torch.zeros(3, dtype=torch.long))
