"""The PBB certificate recipe (lrbnn_core.pbb, issue 15) at smoke size: its certificates are valid
(the KL is the closed form to the chosen prior, the penalty pays for the prior grid, the prior
never sees the bound part), it is deterministic from its seed, and it refuses bad arguments. A
mutant (a prior trained on the whole training set) shows that the leak test can fail."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
import torch
from torch import nn

import lrbnn_core.pbb as pbb
from lrbnn_core.base import bayesian_modules
from lrbnn_core.certified_training import GridSettings, split_for_prior
from lrbnn_core.data import Dataset, load_teacher_student
from lrbnn_core.models import MLP
from lrbnn_core.pbb import PBBSettings, train_and_certify_pbb, train_prior
from tests.lrbnn_core.certificates.twins import F64_RTOL
from theory.pac_bayes import gaussian_kl, kl_bound, sample_convergence_bound

TINY = PBBSettings(
    hidden=(8,),
    sigmas=(0.01, 0.1),
    n_mc=20,
    n_test_mc=10,
    prior_epochs=3,
    posterior_epochs=2,
    batch_size=16,
    # larger steps than PBB's, so that two epochs on 40 examples move the posterior visibly
    posterior_lr=0.05,
)
LN2 = math.log(len(TINY.sigmas))


def _data(seed: int = 0) -> Dataset:
    return load_teacher_student(
        seed=seed, kind="classification", in_features=6, out_features=3, n_train=80, n_test=40,
        n_ood=10,
    )  # fmt: skip


def _run(data: Dataset, **kw: Any) -> tuple[Any, nn.Module]:
    args: dict[str, Any] = {"penalty": LN2, "penalty_note": "2 prior stds", "settings": TINY}
    return train_and_certify_pbb(data, **(args | {"progress": False} | kw))


def _prior_means(model: nn.Module) -> list[torch.Tensor]:
    return [m for layer in bayesian_modules(model) for m in (layer.prior_means() or {}).values()]


def _differ(xs: Any, ys: Any) -> bool:
    """Whether two sequences of tensors (of one length) differ anywhere."""
    return any(not torch.equal(a, b) for a, b in zip(list(xs), list(ys), strict=True))


def _with_bound_labels_permuted(data: Dataset, seed: int) -> Dataset:
    _, bound = split_for_prior(len(data.x_train), TINY.prior_fraction, seed)
    y = data.y_train.clone()
    y[bound] = y[bound][torch.randperm(len(bound), generator=torch.Generator().manual_seed(1))]
    assert not torch.equal(y, data.y_train)
    return dataclasses.replace(data, y_train=y)


def test_pbb_certificate_kl_is_the_closed_form_to_the_chosen_prior(seed: int) -> None:
    """KL(Q || N(w_prior, sigma^2 I)) by theory.pac_bayes.gaussian_kl on the returned posterior,
    and the kl-inverse bound recomputed from the recorded terms."""
    run, post = _run(_data(), seed=seed)
    cert = run.certificate
    assert run.family == "pbb" and run.rank is None and run.prior_scale in TINY.sigmas
    twin = 0.0
    for layer in bayesian_modules(post):
        assert layer.prior.std == run.prior_scale and layer.prior_stds() is None
        centres = layer.prior_means()
        for name, (mean, std) in layer.factor_posteriors().items():
            loc = centres[name].detach().numpy()
            twin += gaussian_kl(mean.detach().numpy(), std.detach().numpy(), loc, run.prior_scale)
    assert cert.kl == pytest.approx(twin, rel=F64_RTOL)
    assert cert.n == 40 and cert.n_mc == TINY.n_mc  # the bound part: half of 80
    # one posterior per prior std, each on its own draws: the Monte Carlo budget split between them
    k = len(TINY.sigmas)
    assert cert.mc_choices == k
    assert cert.mc_risk_bound == sample_convergence_bound(
        cert.mc_risk, cert.n_mc, TINY.mc_delta / k
    )
    assert cert.kl_inverse == kl_bound(cert.mc_risk_bound, cert.kl + LN2, cert.n, TINY.delta)
    assert cert.confidence == pytest.approx(1 - TINY.delta - TINY.mc_delta, rel=F64_RTOL)


def test_pbb_posterior_starts_at_the_prior() -> None:
    """With no posterior epoch, Q = P_sigma: every std is sigma and the KL is rounding."""
    cfg = dataclasses.replace(TINY, posterior_epochs=0)
    run, post = _run(_data(), settings=cfg)
    assert 0.0 <= run.certificate.kl < 1e-6 * run.stochastic
    for layer in bayesian_modules(post):
        for _, std in layer.factor_posteriors().values():
            torch.testing.assert_close(std, torch.full_like(std, run.prior_scale))


def test_pbb_penalty_pays_for_the_sigma_grid_times_other_choices() -> None:
    data = _data()
    run, _ = _run(data, penalty=math.log(2 * 3), penalty_note="2 stds x 3 widths")
    assert run.certificate.penalty == math.log(6)
    assert run.certificate.penalty_note == "2 stds x 3 widths"
    with pytest.raises(ValueError, match=r"`penalty` must be finite and >= ln\(len\(sigmas\)\)"):
        _run(data, penalty=0.5)  # < ln 2: the choice among 2 prior stds left unpaid
    with pytest.raises(ValueError, match="got nan"):
        _run(data, penalty=math.nan)


def test_pbb_prior_never_sees_the_bound_part(seed: int) -> None:
    """Permuting the bound part's labels leaves the prior means bit-identical (and changes the
    certificate: the bound part is used)."""
    data = _data()
    run_a, post_a = _run(data, seed=seed)
    run_b, post_b = _run(_with_bound_labels_permuted(data, seed), seed=seed)
    assert _prior_means(post_a) and not _differ(_prior_means(post_a), _prior_means(post_b))
    assert run_a.certificate.mc_risk != run_b.certificate.mc_risk


def test_pbb_leak_test_catches_a_prior_trained_on_the_whole_set(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: the prior part is the whole training set; the observable of the test above
    (the prior means under permuted bound labels) then changes."""

    def leaky(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.arange(n), split_for_prior(n, fraction, seed)[1]

    monkeypatch.setattr(pbb, "split_for_prior", leaky)
    data = _data()
    _, post_a = _run(data, seed=seed)
    _, post_b = _run(_with_bound_labels_permuted(data, seed), seed=seed)
    assert _differ(_prior_means(post_a), _prior_means(post_b))


def test_pbb_is_deterministic_from_its_seed() -> None:
    data = _data()
    (run_a, post_a), (run_b, post_b) = _run(data, seed=3), _run(data, seed=3)
    assert run_a.as_dict() == run_b.as_dict()
    assert not _differ(post_a.parameters(), post_b.parameters())
    assert _run(data, seed=4)[0].as_dict() != run_a.as_dict()


def test_pbb_posterior_on_all_trains_on_every_example() -> None:
    data = _data()
    cfg = dataclasses.replace(TINY, posterior_on_all=True)
    run_all, post_all = _run(data, settings=cfg)
    run_bound, post_bound = _run(data)
    assert run_all.certificate.n == run_bound.certificate.n == 40
    assert _differ(post_all.parameters(), post_bound.parameters())
    # the prior is the same: only the posterior sees more
    assert not _differ(_prior_means(post_all), _prior_means(post_bound))


def test_pbb_matches_grid_settings_confidence() -> None:
    grid = GridSettings(hidden=(8,), n_mc=15, n_test_mc=5, delta=0.03, mc_delta=0.02)
    cfg = PBBSettings.from_grid(grid, sigmas=TINY.sigmas, prior_epochs=1, posterior_epochs=1)
    assert (cfg.hidden, cfg.delta, cfg.mc_delta, cfg.n_mc) == ((8,), 0.03, 0.02, 15)
    run, _ = _run(_data(), settings=cfg, family="pbb")
    assert (run.certificate.delta, run.certificate.mc_delta, run.certificate.n_mc) == (
        0.03, 0.02, 15,
    )  # fmt: skip


def test_train_prior_applies_dropout_and_leaves_no_hook(seed: int) -> None:
    data = _data()
    nets, state = [], torch.random.get_rng_state()
    for rate in (0.0, 0.5):
        net = MLP((6, 8, 3), "mean_field", generator=torch.Generator().manual_seed(seed))
        cfg = dataclasses.replace(TINY, dropout=rate)
        nets.append(train_prior(net, data.x_train, data.y_train, settings=cfg, seed=seed,
                                progress=False))  # fmt: skip
        assert all(not layer._forward_pre_hooks for layer in bayesian_modules(net))
    assert _differ(nets[0].parameters(), nets[1].parameters())
    assert torch.equal(torch.random.get_rng_state(), state)  # masks from the seeded generator


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"family": "low_rank"}, ValueError, "`family` must be 'mean_field' or 'pbb'"),
        ({"rank": 2}, ValueError, r"`rank` must be None .*; got 2"),
        ({"settings": {"n_mc": 3}}, TypeError, "`settings` must be a PBBSettings"),
        ({"seed": -1}, ValueError, r"`seed` must be an int in \[0, inf\]; got -1"),
        ({"penalty": "1"}, TypeError, "`penalty` must be a real number; got '1'"),
    ],
)
def test_pbb_refuses_bad_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _run(_data(), **kwargs)


def test_pbb_refuses_regression_data() -> None:
    reg = load_teacher_student(
        seed=0, kind="regression", in_features=4, out_features=3, n_train=20, n_test=10, n_ood=5
    )
    with pytest.raises(ValueError, match="must be a classification dataset"):
        _run(reg)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("sigmas", (), "`sigmas` must be a non-empty grid"),
        ("sigmas", (0.1, -0.1), r"finite stds > 0; got \(0.1, -0.1\)"),
        ("sigmas", (0.1, 0.1), "`sigmas` must be distinct"),
        ("dropout", 1.0, r"`dropout` must be a number in \[0, 1\); got 1.0"),
        ("prior_lr", 0.0, r"`prior_lr` must be a number in \(0, 10\]; got 0.0"),
        ("posterior_momentum", -0.1, r"`posterior_momentum` must be a number in \[0, 1\)"),
        ("p_min", 1.0, r"`p_min` must be a number in \(0, 1\); got 1.0"),
        ("mc_delta", 0.97, r"`delta` \+ `mc_delta` must be < 1"),
        ("posterior_epochs", -1, r"`posterior_epochs` must be an int in \[0, inf\]; got -1"),
        ("posterior_on_all", 1, "`posterior_on_all` must be a bool; got 1"),
        ("objective", "f_quad", "`objective` must be one of"),
        ("hidden", "8", "`hidden` must be a sequence of ints"),
    ],
)
def test_pbb_settings_refuse_bad_values(field: str, value: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        dataclasses.replace(TINY, **{field: value})


def test_pbb_settings_from_grid_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="`grid` must be a GridSettings; got dict"):
        PBBSettings.from_grid({})  # type: ignore[arg-type]


def test_pbb_posterior_keeps_deterministic_parameters_at_the_prior() -> None:
    """A point-estimate parameter (here a deterministic bias) belongs to the prior: the posterior
    stage must not move it on the bound part (its KL would not be counted)."""

    def build(gen: torch.Generator) -> nn.Module:
        return MLP((6, 8, 3), "mean_field", bayesian_bias=False, generator=gen)

    data = _data()
    start = dataclasses.replace(TINY, posterior_epochs=0)
    _, post_0 = _run(data, settings=start, build=build)
    _, post_2 = _run(data, build=build)
    biases = [[m.bias for m in post.layers] for post in (post_0, post_2)]
    assert not _differ(*biases)
    assert _differ(post_0.parameters(), post_2.parameters())  # the means and scales did move
