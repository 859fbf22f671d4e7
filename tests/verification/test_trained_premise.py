"""T3.8p: the decision rule on hand-made tables, the check on a tiny budget, and measurement
mutants (the audit's injection among them) that must flip a verified verdict."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lrbnn_core.layers import LowRankBayesLinear
from verification.claim_types import CHECKS, Kind, make_claim
from verification.claims.trained import premise as trained_premise
from verification.claims.trained.premise import PREMISE_BAND, check_t38p, premise_summary
from verification.mutation import Aim, Mutant, run_mutants, wrap
from verification.registry import Verdict

#: Tiny budget under which the premise holds (N(0, 1) and the paper's prior, rank 2): the
#: measurement mutants below must turn it into a refutation.
HOLDS = {
    "ranks": (2,),
    "epochs": 4,
    "hidden": 32,
    "gaussian_stds": (1.0,),
    "mixture_readings": ("std",),
    "data_std_scales": (),
}


def _row(kind: str, layer: int, c_max: float, c_mean: float, seed: int = 0, **extra: Any) -> dict:
    d = 100 if kind == "mean_field" else 25
    return {
        "setting": "S",
        "seed": seed,
        "kind": kind,
        "rank": None if kind == "mean_field" else 2,
        "layer": layer,
        "D": d,
        "kl": c_mean * d,
        "c_mean": c_mean,
        "c_max": c_max,
        **extra,
    }


@pytest.mark.claim("T3.8p")
@pytest.mark.parametrize(
    ("ratio", "holds"),
    [(1.0, True), (PREMISE_BAND, True), (1 / PREMISE_BAND, True), (2.01, False), (0.49, False)],
)
def test_rule_band_is_closed_and_symmetric(ratio: float, holds: bool) -> None:
    rows = [_row("mean_field", 0, 4.0, 1.0), _row("low_rank", 0, 4.0 * ratio, 1.0)]
    assert premise_summary(rows)[0]["holds"] is holds
    rows = [_row("mean_field", 0, 4.0, 1.0), _row("low_rank", 0, 4.0, ratio)]
    assert premise_summary(rows)[0]["holds"] is holds


@pytest.mark.claim("T3.8p")
def test_rule_needs_every_layer_and_averages_seeds_geometrically() -> None:
    rows = [
        _row("mean_field", 0, 1.0, 1.0),
        _row("mean_field", 1, 1.0, 1.0),
        _row("low_rank", 0, 1.0, 1.0),
        _row("low_rank", 1, 3.0, 1.0),  # one layer out of the band fails the setting
    ]
    (entry,) = premise_summary(rows)
    assert [e["holds"] for e in entry["layers"]] == [True, False] and not entry["holds"]
    assert entry["predicted_ratio"] == pytest.approx(0.5)  # sqrt(50 / 200)
    assert entry["measured_ratio"] == pytest.approx(math.sqrt(50 / 200))
    # seeds: ratios 4 and 1/2 have geometric mean sqrt 2 (inside the band), arithmetic 2.25
    seeds = [
        _row("mean_field", 0, 1.0, 1.0, seed=0),
        _row("low_rank", 0, 4.0, 1.0, seed=0),
        _row("mean_field", 0, 1.0, 1.0, seed=1),
        _row("low_rank", 0, 0.5, 1.0, seed=1),
    ]
    (entry,) = premise_summary(seeds)
    assert entry["layers"][0]["rho_max"] == pytest.approx(math.sqrt(2.0))
    assert entry["holds"]


def test_a_failing_twin_stops_the_check() -> None:
    rows = [_row("mean_field", 0, 1.0, 1.0, quadrature_error=0.0, bound_excess=0.0, mc_z=9.0)]
    with pytest.raises(RuntimeError, match="twin"):
        trained_premise._twins(rows)
    rows = [_row("mean_field", 0, 1.0, 1.0, quadrature_error=0.0, bound_excess=1e-6, mc_z=0.0)]
    with pytest.raises(RuntimeError, match="declared bound"):
        trained_premise._twins(rows)


@pytest.mark.claim("T3.8p")
def test_check_reports_the_rule_every_setting_and_the_failures() -> None:
    budget = {**HOLDS, "gaussian_stds": (0.1, 1.0)}
    outcome = check_t38p(budget, np.random.default_rng(0))
    assert outcome.evidence.startswith("Rule (fixed before the runs)")
    for label in ("N(0, 0.1^2)", "N(0, 1^2)", "mixture, s2 = e^-6"):
        assert label in outcome.evidence
    summary = outcome.data["summary"]
    assert len(summary) == 3
    failing = [f"{e['setting']} at r = {e['rank']}" for e in summary if not e["holds"]]
    assert outcome.data["failing"] == failing
    assert outcome.verdict is (Verdict.REFUTED if failing else Verdict.VERIFIED)
    assert "Monte Carlo" in outcome.evidence and "|" not in outcome.evidence.replace("|z|", "")


def _scaled(factor: float) -> Any:
    """The low-rank per-coordinate KLs multiplied by ``factor`` (the mean-field ones kept)."""

    def make(f: Any) -> Any:
        def mutated(layer: Any, rng: Any = None) -> Any:
            kls, info = f(layer, rng)
            return (kls * factor if isinstance(layer, LowRankBayesLinear) else kls), info

        return mutated

    return make


@pytest.mark.claim("T3.8p")
def test_measurement_mutants_flip_a_verified_premise() -> None:
    """The audit's injection (x1000) and a modest factor 3 either way must each turn the tiny
    verified setting into a refutation."""
    claim = make_claim(
        "T3.8p", "premise", Kind.STATISTICAL, f"{CHECKS}.trained.premise:check_t38p", HOLDS, HOLDS
    )
    target = "verification.claims.trained.kl:layer_coordinate_kls"
    mutants = [
        Mutant("T3.8p", f"low_rank_x{f:g}", Aim.MEASUREMENT, "scaled", (wrap(target, _scaled(f)),))
        for f in (1000.0, 3.0, 1 / 3)
    ]
    results = run_mutants(mutants, progress=False, lookup=lambda _id: claim)
    assert {r.before for r in results} == {Verdict.VERIFIED}
    assert [r.after for r in results] == [Verdict.REFUTED] * len(mutants)
