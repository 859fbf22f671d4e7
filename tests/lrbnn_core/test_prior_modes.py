"""Certificates with data-free priors (issue 17): every mode runs at smoke size, certifies on all
n training examples, pays for its std grid, and says whether its KL is exact; the prior at the
initialisation is the posterior's start (KL 0, against an independent numpy twin) and a prior
centred at another seed's initialisation is not."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from lrbnn_core.base import bayesian_modules, model_kl
from lrbnn_core.certificates import certify
from lrbnn_core.certified_training import GridSettings
from lrbnn_core.data import load_teacher_student
from lrbnn_core.models import MLP
from lrbnn_core.prior_modes import (
    INIT_STDS,
    MIXTURE,
    PRIOR_STDS,
    ZERO_STDS,
    PriorMode,
    data_free_start,
    prior_choices,
    train_and_certify_data_free,
)
from lrbnn_core.recipes import recipe
from theory.pac_bayes import gaussian_kl

TINY = GridSettings(hidden=(8,), n_mc=20, n_test_mc=10, posterior_epochs=1, batch_size=32)
DATA_FREE = ("init", "zero", "scale_mixture")
#: float32 posterior stds go through softplus(inverse_softplus(s)): a relative error of a few
#: float32 ulps per entry, whose KL is quadratic in it (~1e-13 per entry); 1e-6 nats in all is
#: far above that and far below the KL of any move a test makes
START_KL_ATOL = 1e-6


@pytest.fixture(scope="module")
def data():
    return load_teacher_student(
        seed=0, kind="classification", in_features=6, out_features=3, n_train=80, n_test=40,
        n_ood=10,
    )  # fmt: skip


def _build(data, family: str, rank: int | None):
    rec = replace(recipe("mlp", family), hidden=8, rank=rank)
    return lambda gen: rec.build(data, gen)


def _w0(data, family: str = "low_rank", rank: int | None = 2, seed: int = 0):
    return _build(data, family, rank)(torch.Generator().manual_seed(seed))


def _numpy_kl(posterior, centre, std: float) -> float:
    """The twin: KL(Q || N(centre's means, std^2)) summed in numpy by theory.pac_bayes."""
    total = 0.0
    for q, p in zip(bayesian_modules(posterior), bayesian_modules(centre), strict=True):
        centres = p.factor_posteriors()
        for name, (mean, sd) in q.factor_posteriors().items():
            mu0 = centres[name][0].detach().double().numpy()
            total += gaussian_kl(mean.detach().double().numpy(), sd.detach().double().numpy(),
                                 mu0, std)  # fmt: skip
    return total


@pytest.mark.parametrize("prior", DATA_FREE)
@pytest.mark.parametrize("family", ["low_rank", "mean_field"])
def test_every_mode_certifies_on_all_examples_and_pays_its_grid(data, prior, family) -> None:
    rank = 2 if family == "low_rank" else None
    k = prior_choices(prior)
    penalty = math.log(2 * k)  # a grid of two points times the mode's priors
    run, posterior = train_and_certify_data_free(
        data, prior=prior, family=family, rank=rank, penalty=penalty, penalty_note="test",
        settings=TINY, seed=0, build=_build(data, family, rank), progress=False,
    )  # fmt: skip
    cert = run.certificate
    assert cert.n == len(data.x_train) == 80  # no split: every training example
    assert cert.penalty == penalty and cert.penalty_note == "test"
    assert cert.kl_is_exact is (prior != "scale_mixture")
    assert run.prior_scale in (PRIOR_STDS[PriorMode(prior)] or (MIXTURE.std1,))
    assert cert.kl_inverse <= cert.mcallester + 1e-12
    assert cert.confidence == pytest.approx(1 - TINY.delta - TINY.mc_delta)
    # the prior is fixed before the data: centred at the seeded initialisation (init), at 0
    w0 = _w0(data, family, rank, seed=0)
    for layer, first in zip(bayesian_modules(posterior), bayesian_modules(w0), strict=True):
        centres = layer.prior_means()
        if prior == "init":
            for name, (mean, _) in first.factor_posteriors().items():
                assert torch.equal(centres[name], mean.detach())
        else:
            assert not centres
    # the returned posterior carries the certified prior: its closed-form KL is the certificate's
    kl = float(model_kl(posterior, dtype=torch.float64).detach())
    assert kl == pytest.approx(cert.kl, rel=1e-9, abs=1e-9)
    # and the certificate comes from the draws of seed + 1, never the selection draws
    again = certify(posterior, data.x_train, data.y_train, delta=TINY.delta,
                    mc_delta=TINY.mc_delta, n_mc=TINY.n_mc, penalty=penalty,
                    generator=torch.Generator().manual_seed(1))  # fmt: skip
    assert again.network_risks == cert.network_risks


def test_scale_mixture_certifies_its_declared_bound(data) -> None:
    """The KL of a scale-mixture certificate is the closed-form upper bound, never an estimate:
    every scalar pays at least ln(1/pi) = ln 2, and the value equals a numpy twin of
    sum_i min_k [KL(q_i || N(0, s_k^2)) + ln(1/pi_k)]."""
    run, posterior = train_and_certify_data_free(
        data, prior="scale-mixture", family="low_rank", rank=1, penalty=0.0, penalty_note="",
        settings=TINY, seed=0, build=_build(data, "low_rank", 1), progress=False,
    )  # fmt: skip
    cert = run.certificate
    assert cert.kl_is_exact is False and "(upper bound)" in cert.summary()
    assert cert.kl >= run.stochastic * math.log(2.0)
    twin = 0.0
    for layer in bayesian_modules(posterior):
        assert layer.prior == MIXTURE
        for mean, sd in layer.factor_posteriors().values():
            m, s = mean.detach().double().numpy(), sd.detach().double().numpy()
            terms = [
                np.array([gaussian_kl(mi, si, 0.0, std) for mi, si in zip(m.ravel(), s.ravel(),
                                                                           strict=True)])
                - math.log(w)
                for std, w in ((MIXTURE.std1, MIXTURE.pi), (MIXTURE.std2, 1 - MIXTURE.pi))
            ]  # fmt: skip
            twin += float(np.minimum(*terms).sum())
    assert cert.kl == pytest.approx(twin, rel=1e-9)


@pytest.mark.parametrize("family", ["low_rank", "mean_field"])
@pytest.mark.parametrize("std", INIT_STDS)
def test_init_prior_is_the_posterior_at_its_start(data, family, std) -> None:
    """KL 0 at the initialisation (the numpy twin agrees); centred at another seed's
    initialisation (a mutant of the prior's centre) it is far from 0."""
    rank = 2 if family == "low_rank" else None
    w0 = _w0(data, family, rank)
    start = data_free_start(w0, "init", std)
    kl = float(model_kl(start, dtype=torch.float64).detach())
    assert abs(kl) <= START_KL_ATOL
    assert _numpy_kl(start, w0, std) == pytest.approx(kl, abs=START_KL_ATOL)
    for layer in bayesian_modules(start):
        for _, sd in layer.factor_posteriors().values():
            assert torch.allclose(sd, torch.full_like(sd, std), rtol=1e-6)
    other = _w0(data, family, rank, seed=1)
    mutant = data_free_start(other, "init", std)
    # the mutant's prior is centred at seed 1's initialisation, the posterior at seed 0's
    mutant_kl = _numpy_kl(start, other, std)
    assert mutant_kl > 1.0
    assert float(model_kl(mutant, dtype=torch.float64).detach()) <= START_KL_ATOL  # its own start


def test_zero_and_mixture_start_at_the_recipe_initialisation(data) -> None:
    w0 = _w0(data)
    for mode, std in (("zero", ZERO_STDS[0]), ("scale_mixture", None)):
        start = data_free_start(w0, mode, std)
        for a, b in zip(bayesian_modules(start), bayesian_modules(w0), strict=True):
            for (m, s), (m0, s0) in zip(a.factor_posteriors().values(),
                                        b.factor_posteriors().values(), strict=True):  # fmt: skip
                assert torch.equal(m, m0) and torch.equal(s, s0)
        assert float(model_kl(start).detach()) > 0.0  # a prior the initialisation is not
    zero = data_free_start(w0, "zero", 0.3)
    twin = sum(
        gaussian_kl(m.detach().double().numpy(), s.detach().double().numpy(), 0.0, 0.3)
        for layer in bayesian_modules(zero)
        for m, s in layer.factor_posteriors().values()
    )
    assert float(model_kl(zero, dtype=torch.float64).detach()) == pytest.approx(twin, rel=1e-9)


def test_the_grid_is_paid_for(data) -> None:
    """A certificate that chose among 3 stds without paying ln 3 is refused (the mutant "std
    grid not paid" is caught before any training)."""
    assert prior_choices("init") == len(INIT_STDS) == 3
    assert prior_choices("zero") == len(ZERO_STDS) == 3
    assert prior_choices("scale_mixture") == 1
    assert prior_choices("data-dependent", GridSettings(std_scales=(0.5, 1.0))) == 2
    for prior in ("init", "zero"):
        with pytest.raises(ValueError, match=r"`penalty` must be finite and >= ln\(3\) = 1.09861"):
            train_and_certify_data_free(
                data, prior=prior, family="mean_field", rank=None, penalty=math.log(2),
                penalty_note="", settings=TINY, build=_build(data, "mean_field", None),
                progress=False,
            )  # fmt: skip


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"prior": "flat"}, ValueError, r"`prior` must be one of 'data-dependent', 'init', "),
        ({"prior": "data_dependent"}, ValueError, r"`prior` must be 'init', 'zero' or 'scale_m"),
        ({"family": "deterministic"}, ValueError, r"`family` must be 'low_rank' or 'mean_field'"),
        ({"seed": -1}, ValueError, r"`seed` must be an int in \[0, inf\]; got -1"),
        ({"epochs": 0}, ValueError, r"`epochs` must be an int in \[1, inf\]; got 0"),
        ({"lr": 0.0}, ValueError, r"`lr` must be a finite number in \(0, 10\]"),
        ({"penalty": float("inf")}, ValueError, r"`penalty` must be finite and >= ln\(3\)"),
        ({"settings": "tiny"}, TypeError, r"`settings` must be a GridSettings or None; got str"),
    ],
)
def test_bad_arguments_are_refused_by_name(data, options, error, message) -> None:
    kwargs = {"prior": "init", "family": "low_rank", "rank": 2, "penalty": 2.0,
              "penalty_note": "", "settings": TINY, "progress": False} | options  # fmt: skip
    with pytest.raises(error, match=message):
        train_and_certify_data_free(data, build=_build(data, "low_rank", 2), **kwargs)


def test_data_free_start_refuses_a_std_that_does_not_fit_the_mode(data) -> None:
    w0 = _w0(data)
    with pytest.raises(ValueError, match=r"`std` must be None for the prior mode 'scale_mix"):
        data_free_start(w0, "scale_mixture", 0.1)
    with pytest.raises(ValueError, match=r"`std` must be a number > 0 for the prior mode 'init'"):
        data_free_start(w0, "init", None)
    with pytest.raises(ValueError, match=r"`std` must be a finite number > 0; got -0.1"):
        data_free_start(w0, "zero", -0.1)
    with pytest.raises(ValueError, match=r"`mode` must be a data-free prior mode"):
        data_free_start(w0, "data_dependent", 0.1)


def test_default_model_comes_from_the_recipe(data) -> None:
    """Without ``build`` the architecture's recipe builds the model (hidden widths of the
    settings), as train_and_certify does."""
    run, posterior = train_and_certify_data_free(
        data, prior="init", family="low_rank", rank=1, penalty=math.log(3), penalty_note="",
        settings=TINY, seed=0, progress=False,
    )  # fmt: skip
    assert isinstance(posterior, MLP)
    assert [layer.rank for layer in bayesian_modules(posterior)] == [1, 1]
    assert run.rank == 1 and run.family == "low_rank"
