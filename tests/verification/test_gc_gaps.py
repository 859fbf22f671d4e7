"""Claim E21: the one-layer gap comparison, its exact r-laws, its power and its twin."""

from __future__ import annotations

import math

import numpy as np
import pytest

import verification.claims.generalisation.gaps as ga
from theory.gaussian_complexity import one_layer_gaps
from verification.claims.generalisation.gaps import (
    E21_GRID,
    check_e21,
    gap_table,
    printed_gc_counterexample,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_EPS = float(np.finfo(np.float64).eps)


@pytest.mark.claim("E21")
def test_check_e21_quick_budget_finds_both_regions_and_the_printed_gc_gap_fails() -> None:
    """E21: each gap wins somewhere, both r-laws hold exactly, the printed Gap_GC is no bound."""
    outcome = check_e21(claim_by_id("E21").budget(Profile.QUICK), claim_rng("E21"))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert "|" not in outcome.evidence
    wins = outcome.data["wins"]
    assert 0.0 < wins["gc"]["pac"] < 1.0 and 0.0 < wins["gc_ours"]["pac"] < 1.0
    cex = outcome.data["counterexample"]
    assert cex["gap"] == 0.5 and cex["gap_gc_printed"] < 0.5


@pytest.mark.claim("E21")
def test_check_e21_refutes_a_gc_gap_that_grows_linearly_in_r(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E21: the check can fail: a GC gap proportional to r (not sqrt r) breaks the r-law."""

    def linear_in_r(**kw: float) -> tuple[float, float]:
        pac, gc = one_layer_gaps(**kw)  # type: ignore[arg-type]
        conf = 3 * math.sqrt(math.log(2 / kw["delta"]) / (2 * kw["n"]))
        return pac, (gc - conf) * math.sqrt(kw["rank"]) + conf

    monkeypatch.setattr(ga, "one_layer_gaps", linear_in_r)
    assert check_e21({}, np.random.default_rng(0)).verdict is Verdict.REFUTED


def test_gap_table_matches_the_printed_formulas_written_out() -> None:
    grid = {**E21_GRID, "widths": (0.1,), "sample_sizes": (5000,), "c1s": (1.5,)}
    table = gap_table(grid)
    s, m, c1, d_in, d_out, delta = 0.1, 5000, 1.5, grid["d_in"], grid["d_out"], 0.05
    c_max = math.log(1 / s) + (s**2 + ga.E21_MEAN**2) / 2 - 0.5
    assert table["c_max"][0] == pytest.approx(c_max, rel=16 * _EPS)
    for r in (1, 7, 16):
        pac = math.sqrt((c_max * r * (d_in + d_out) + math.log(2 * math.sqrt(m) / delta)) / (2 * m))
        conf = 3 * math.sqrt(math.log(2 / delta) / (2 * m))
        gc = math.sqrt(math.pi) * math.sqrt(m) * c1**2 * math.sqrt(r * d_out) / m + conf
        ours = math.sqrt(2 * math.pi) * math.sqrt(m) * c1 * math.sqrt(r * d_out) / m + conf
        assert table["pac"][0, 0, 0, r - 1] == pytest.approx(pac, rel=64 * _EPS)
        assert table["gc"][0, 0, 0, r - 1] == pytest.approx(gc, rel=64 * _EPS)
        assert table["gc_ours"][0, 0, 0, r - 1] == pytest.approx(ours, rel=64 * _EPS)


def test_printed_gc_counterexample_scales_with_c0() -> None:
    """The counterexample holds for every C0 because the class radius is taken as 1e-3 / C0."""
    for c0 in (1.0, 10.0, 1000.0):
        cex = printed_gc_counterexample(c0)
        assert cex["gap"] > cex["gap_gc_printed"]
