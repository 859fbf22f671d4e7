"""Claim E22 (Remarks E.22-E.26): the exact crossover of the printed gaps vs the remark's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import verification.claims.generalisation.crossover as gx
from theory.gaussian_complexity import one_layer_gaps
from theory.gaussian_complexity.crossover import (
    crossover_kl,
    leading_crossover_kl,
    remark_crossover_kl,
    symbolic_crossover,
)
from verification.claims.generalisation.crossover import check_e22, printed_crossover
from verification.claims.generalisation.figures import e22_curves, plot_e22
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_EPS = float(np.finfo(np.float64).eps)
_SMALL = {"shapes": ((64, 16),), "ranks": (1, 4), "sample_sizes": (1000,), "c1s": (0.5, 2.0)}


@pytest.mark.claim("E22")
def test_check_e22_quick_budget_sufficient_but_crossover_misplaced() -> None:
    """E22: the twin agrees everywhere; the remark's condition is sufficient (C* > C_remark at
    every point), so the paper's statement is verified; the leading-order crossover is twice the
    remark's, and a grid point exists where the remark (read as the crossover, our reading)
    predicts GC while the printed PAC gap is smaller: a note, not the verdict."""
    outcome = check_e22(claim_by_id("E22").budget(Profile.QUICK), claim_rng("E22"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "Note (ours, not the paper's claim)" in outcome.evidence
    assert outcome.data["ratio_range"][0] > 2.0
    assert "|" not in outcome.evidence
    assert outcome.data["twin_failures"] == 0
    lo, hi = outcome.data["leading_over_remark"]
    assert lo == pytest.approx(2.0, rel=8 * _EPS) and hi == pytest.approx(2.0, rel=8 * _EPS)
    w = outcome.data["witness"]
    assert w["pac"] < w["gc"] and w["c_max"] > w["c_remark"]
    assert all(abs(v - 0.5) < 0.01 for v in outcome.data["large_rank_slopes"].values())


@pytest.mark.claim("E22")
def test_check_e22_refutes_a_threshold_above_the_crossover(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """E22: the verdict comes from the remark's threshold: the exact crossover itself is still
    sufficient (verified), 1.01 times it is not (refuted, with the counterexample)."""

    def exact(point: dict[str, float]) -> float:
        return crossover_kl(
            rank=int(point["rank"]),
            d_in=int(point["d_in"]),
            d_out=int(point["d_out"]),
            n=int(point["n"]),
            delta=gx.E22_DELTA,
            lipschitz=gx.E22_LIPSCHITZ,
            c0=gx.E22_C0,
            c1=point["c1"],
            radius=point["radius"],
        )

    monkeypatch.setattr(gx, "remark_threshold", exact)
    assert check_e22(_SMALL, np.random.default_rng(0)).verdict is Verdict.VERIFIED
    monkeypatch.setattr(gx, "remark_threshold", lambda point: 1.01 * exact(point))
    out = check_e22(_SMALL, np.random.default_rng(0))
    assert out.verdict is Verdict.REFUTED
    assert out.evidence.startswith("PAC-Bayes loses where the remark's condition holds")


@pytest.mark.claim("E22")
def test_check_e22_refutes_when_the_printed_gaps_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """E22: the check can fail: a Gap_PAC off by 1e-8 relative breaks the closed form's twin."""

    def perturbed(**kw: float) -> tuple[float, float]:
        pac, gc = one_layer_gaps(**kw)  # type: ignore[arg-type]
        return pac * (1.0 + 1e-8), gc

    monkeypatch.setattr(gx, "one_layer_gaps", perturbed)
    assert check_e22(_SMALL, np.random.default_rng(0)).verdict is Verdict.REFUTED


@pytest.mark.claim("E22")
def test_symbolic_crossover_matches_the_closed_form() -> None:
    """E22: sympy solves Gap_PAC^2 = Gap_GC^2; its solution equals crossover_kl's expanded
    form, the confidence-free crossover is 2 pi K d_out/(d_in + d_out), twice the remark's."""
    sym = symbolic_crossover()
    assert sym["residual"] == 0
    assert sym["remark_over_leading"] == sp.Rational(1, 2)
    assert sym["large_rank_limit"] == 1
    names = ("r", "d_in", "d_out", "m", "L", "C_0", "C_1", "R", "delta")
    free = {s.name: s for s in sym["c_star"].free_symbols}
    f = sp.lambdify([free[n] for n in names], sym["c_star"])
    for r, di, do, m, c1, rad in ((1, 64, 16, 1000, 0.5, 1.0), (10, 784, 10, 10**5, 2.0, 4.0)):
        closed = crossover_kl(
            rank=r, d_in=di, d_out=do, n=m, delta=0.05, lipschitz=1.0, c0=1.0, c1=c1, radius=rad
        )
        assert closed == pytest.approx(f(r, di, do, m, 1.0, 1.0, c1, rad, 0.05), rel=1e-12)


def test_crossover_is_where_the_printed_gaps_meet() -> None:
    """Just below C*, Gap_PAC < Gap_GC; just above, the reverse (the printed gaps of E21)."""
    point = {"d_in": 64, "d_out": 16, "rank": 4, "n": 10_000, "c1": 1.0, "radius": 1.0}
    c_star = crossover_kl(
        rank=4, d_in=64, d_out=16, n=10_000, delta=0.05, lipschitz=1.0, c0=1.0, c1=1.0, radius=1.0
    )
    assert printed_crossover(point) == pytest.approx(c_star, rel=1e-12)
    for factor, pac_smaller in ((1 - 1e-6, True), (1 + 1e-6, False)):
        pac, gc = one_layer_gaps(
            c_max=factor * c_star,
            rank=4,
            d_in=64,
            d_out=16,
            n=10_000,
            delta=0.05,
            lipschitz=1.0,
            x_fro=math.sqrt(10_000),
            c0=1.0,
            c1=1.0,
        )
        assert (pac < gc) is pac_smaller


def test_remark_and_leading_thresholds_and_their_validation() -> None:
    kw: dict[str, Any] = {
        "d_in": 64,
        "d_out": 16,
        "lipschitz": 2.0,
        "c0": 0.5,
        "c1": 1.5,
        "radius": 3.0,
    }
    k = 2.0 * 0.25 * 1.5**4 * 9.0
    assert remark_crossover_kl(**kw) == pytest.approx(math.pi * k * 16 / 80, rel=8 * _EPS)
    assert leading_crossover_kl(**kw) == pytest.approx(2 * remark_crossover_kl(**kw), rel=_EPS)
    with pytest.raises(ValueError, match="`c1`"):
        remark_crossover_kl(**{**kw, "c1": -1.0})
    with pytest.raises(ValueError, match="`rank`"):
        crossover_kl(rank=20, n=100, delta=0.05, **kw)
    with pytest.raises(ValueError, match="`delta`"):
        crossover_kl(rank=1, n=100, delta=1.5, **kw)


def test_printed_crossover_is_minus_infinity_when_gc_always_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond m = (2/delta)^16 (with K -> 0) Gap_PAC's log term alone exceeds Gap_GC: the closed
    form is negative and the root search finds no crossing (GC smaller for every C_max)."""
    delta, m = 0.9, 10**9  # (log m)/2 = 10.4 > 8 log(2/0.9) = 6.4
    monkeypatch.setattr(gx, "E22_DELTA", delta)
    point = {"d_in": 4, "d_out": 4, "rank": 1, "n": m, "c1": 0.01, "radius": 0.01}
    c_star = crossover_kl(
        rank=1, d_in=4, d_out=4, n=m, delta=delta, lipschitz=1.0, c0=1.0, c1=0.01, radius=0.01
    )
    assert c_star < 0
    assert printed_crossover(point) == -math.inf
    monkeypatch.setattr(gx, "E22_DELTA", 0.05)
    assert printed_crossover(point) > 0


def test_e22_figure_draws_and_its_ratio_tends_to_two(tmp_path: Path) -> None:
    cv = e22_curves()
    for ratio in cv["ratio"].values():
        assert ratio[-1] == pytest.approx(2.0, abs=0.02) and np.all(np.diff(ratio) < 0)
    assert np.all(cv["exact"][1] > cv["leading"]) and np.all(cv["leading"] > cv["remark"])
    out = plot_e22(tmp_path / "E22_crossover.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
