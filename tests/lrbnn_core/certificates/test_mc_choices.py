"""Several posteriors certified together, each on its own Monte Carlo draws, split the Monte
Carlo budget between them (``mc_choices``): the best of K certificates holds with probability
>= 1 - delta - mc_delta only if each Monte Carlo step is taken at mc_delta / K."""

from __future__ import annotations

import math

import pytest
import torch

from lrbnn_core.certificates import certify
from lrbnn_core.certified_training import GridSettings, certify_grid
from lrbnn_core.data import load_teacher_student
from lrbnn_core.erm_prior import DropoutERM
from lrbnn_core.models import MLP
from lrbnn_core.pbb import PBBSettings, train_and_certify_pbb
from theory.pac_bayes import empirical_bernstein_bound, sample_convergence_bound
from verification.sweep.point import grid_choices


def _net() -> MLP:
    return MLP((3, 4, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(0))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(60, 3, generator=g)
    return x, (x[:, 0] > 0).long()


@pytest.mark.parametrize("mc_bound", ["kl", "bernstein"])
def test_each_posterior_gets_its_share_of_the_monte_carlo_budget(mc_bound: str) -> None:
    x, y = _data()
    kw = {"delta": 0.04, "mc_delta": 0.01, "n_mc": 40, "mc_bound": mc_bound}
    one = certify(_net(), x, y, generator=torch.Generator().manual_seed(1), **kw)
    five = certify(_net(), x, y, generator=torch.Generator().manual_seed(1), mc_choices=5, **kw)
    assert one.network_risks == five.network_risks  # the same draws
    risks = torch.tensor(five.network_risks, dtype=torch.float64)
    if mc_bound == "kl":  # twin: the bound at the split budget
        want = float(sample_convergence_bound(five.mc_risk, 40, 0.01 / 5))
    else:
        var = float(risks.var(unbiased=True))
        want = float(empirical_bernstein_bound(five.mc_risk, var, 40, 0.01 / 5))
    assert five.mc_risk_bound == pytest.approx(want, rel=1e-12)
    assert five.mc_risk_bound > one.mc_risk_bound  # a mutant ignoring mc_choices fails here
    assert five.kl_inverse >= one.kl_inverse and five.confidence == one.confidence
    assert five.as_dict()["mc_choices"] == 5 and "delta split 5 ways" in five.summary()
    assert "split" not in one.summary()
    with pytest.raises(ValueError, match="`mc_choices`"):
        certify(_net(), x, y, mc_choices=0, **kw)


def test_a_rank_grid_pays_for_every_model_it_compares() -> None:
    data = load_teacher_student(seed=0, kind="classification", n_train=60, n_test=20, n_ood=10)
    tiny = GridSettings(
        hidden=(8,),
        n_mc=10,
        n_test_mc=4,
        prior_epochs=1,
        posterior_epochs=1,
        batch_size=32,
        prior_erm=DropoutERM(epochs=1),
    )
    runs = certify_grid(data, family="low_rank", ranks=(1, 2), settings=tiny, progress=False)
    for run in runs:  # two ranks and the mean-field baseline: K = 3
        assert run.certificate.penalty == pytest.approx(math.log(3))
        assert run.certificate.mc_choices == 3
    (mf,) = certify_grid(data, family="mean_field", ranks=(1, 2), settings=tiny, progress=False)
    assert mf.certificate.mc_choices == 3
    with pytest.raises(ValueError, match="`n_models` must count every rank"):
        certify_grid(data, family="low_rank", ranks=(1, 2), settings=tiny, n_models=1)


def test_pbb_splits_between_its_prior_stds() -> None:
    data = load_teacher_student(seed=0, kind="classification", n_train=60, n_test=20, n_ood=10)
    cfg = PBBSettings(hidden=(8,), n_mc=10, n_test_mc=4, prior_epochs=1, posterior_epochs=1)
    run, _ = train_and_certify_pbb(
        data, penalty=math.log(3), penalty_note="3 stds", settings=cfg, progress=False
    )
    assert run.certificate.mc_choices == len(cfg.sigmas)
    with pytest.raises(ValueError, match="`mc_choices` must count the 3"):
        train_and_certify_pbb(data, penalty=math.log(3), penalty_note="", settings=cfg,
                              mc_choices=2)  # fmt: skip


def test_grid_choices_reads_the_count_back_from_the_penalty() -> None:
    assert [grid_choices(math.log(k)) for k in (1, 3, 14, 1000)] == [1, 3, 14, 1000]
    with pytest.raises(ValueError, match="ln of a count"):
        grid_choices(1.0)
