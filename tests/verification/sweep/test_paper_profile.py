"""``lrbnn sweep --profile paper`` (issue 17): its grid defaults, its union bound (a twin that
counts the choices by hand), its budget, and one-line refusals. The profile's points are not
run here (minutes each at width 1024): a width-64 subset is run by hand (see the report)."""

from __future__ import annotations

import math

import pytest

from lrbnn_core.models import layer_ranks
from lrbnn_core.prior_modes import INIT_STDS
from verification.sweep import SweepError, SweepPrior, grid, grid_penalty, make_spec
from verification.sweep.budgets import _budget, sweep_settings
from verification.sweep.point import grid_choices
from verification.sweep.spec import PAPER_PRIORS, PAPER_RANKS, PAPER_WIDTHS, SweepProfile


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_paper_defaults_and_union_bound(dataset: str) -> None:
    spec = make_spec(profile="paper", dataset=dataset)
    assert spec.widths == PAPER_WIDTHS == (64, 256, 1024)
    assert spec.ranks == PAPER_RANKS and spec.seeds == (0, 1) and spec.mean_field
    assert spec.priors == PAPER_PRIORS
    assert set(spec.priors) == {SweepPrior.DATA_DEPENDENT, SweepPrior.INIT,
                                SweepPrior.SCALE_MIXTURE}  # fmt: skip
    points = grid(spec)
    # 3 widths x 2 seeds x 3 prior modes x (3 ranks + mean field)
    assert len(points) == 3 * 2 * 3 * 4 == 72
    assert len({p.point_id for p in points}) == 72
    # the union: every width, rank (MF as one) and prior a reader chooses among, counted by hand:
    # data-dependent 1 prior scale, init its stds, the scale mixture 1 prior
    k = 3 * 4 * (1 + len(INIT_STDS) + 1)
    assert k == 60
    penalty, note = grid_penalty(spec)
    assert penalty == math.log(k) and "3 widths" in note
    assert {p.penalty for p in points} == {penalty}
    # the Monte Carlo budget is split the same K ways (point.py's grid_choices)
    assert grid_choices(penalty) == k
    # the widths' regime: at width 1024 the hidden layer's r(m + n) / (mn) is at most 1/16
    assert max(r * 2048 / 1024**2 for r in spec.ranks) == 1 / 16


def test_paper_ranks_are_given_per_layer_the_head_capped() -> None:
    """Every factorised layer takes each rank, but the 10-class head, capped at min(m, n) = 10
    (what the rows' layer_ranks record)."""
    for features in (40, 64):  # MNIST-1D, digits
        for width in PAPER_WIDTHS:
            for r in PAPER_RANKS:
                expected = (r, r, min(r, 10))
                assert layer_ranks((features, width, width, 10), r) == expected


def test_explicit_arguments_override_the_paper_defaults() -> None:
    spec = make_spec(profile="paper", widths=[64], seeds=[0], ranks=[4], priors=["init"])
    assert (spec.widths, spec.seeds, spec.ranks, spec.priors) == ((64,), (0,), (4,),
                                                                  (SweepPrior.INIT,))  # fmt: skip
    assert [p.point_id for p in grid(spec)] == ["w64-s0-r4-init", "w64-s0-mf-init"]
    assert grid_penalty(spec)[0] == math.log(1 * 2 * 3)


def test_paper_profile_refuses_sequence_models() -> None:
    with pytest.raises(SweepError, match="`--profile paper` runs MLPs only; got --arch lstm"):
        make_spec(profile="paper", arch="lstm")


def test_paper_budget_is_sized_and_recorded() -> None:
    """The budget sized for width 1024 (verification.sweep.budgets: its comment gives the
    timings): fewer epochs and networks than quick, every data-free posterior still trained."""
    paper, quick = _budget("paper", "mlp"), _budget("quick", "mlp")
    assert SweepProfile("paper") is SweepProfile.PAPER
    assert 1 <= paper.posterior_epochs <= quick.posterior_epochs
    assert paper.data_free_epochs is not None and paper.data_free_epochs >= 1
    assert paper.n_mc >= 100 and paper.n_test_mc >= 10 and not paper.sizes
    settings = sweep_settings("paper", "mlp", 1024)
    assert settings.hidden == (1024, 1024)
    assert (settings.n_mc, settings.posterior_epochs) == (paper.n_mc, paper.posterior_epochs)
