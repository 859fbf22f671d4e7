"""Claims E15 and T3.9: the one-hot problems, their exact twins, the verdicts and their power."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

import verification.claims.generalisation.generalisation as gg
from theory.gaussian_complexity import empirical_gaussian_complexity, gc_generalisation_bound
from theory.gaussian_complexity.corrected import (
    gc_generalisation_bound_corrected,
    pinto_bound_corrected,
)
from verification.claims.generalisation.generalisation import (
    check_e15,
    check_t39,
    e15_min_sample_size,
    t39_bounds,
    t39_min_sample_size,
)
from verification.claims.generalisation.onehot import (
    Cells,
    OneHotProblem,
    box_complexity,
    box_sup_gap,
    interpolant_empirical_risk,
    prob_all_distinct,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6
_EPS = float(np.finfo(np.float64).eps)


def _sample_arrays(problem: OneHotProblem, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    x = rng.integers(problem.n_points, size=problem.m)
    y = np.where(rng.random(problem.m) < problem.q, 1, -1)
    return x, y


def _cells(x: np.ndarray, y: np.ndarray) -> Cells:
    pts = np.unique(x)
    return Cells(
        np.array([np.sum(x == p) for p in pts]), np.array([np.sum((x == p) & (y > 0)) for p in pts])
    )


@pytest.mark.claim("E15")
@pytest.mark.parametrize(("k", "m", "q"), [(3, 5, 0.7), (5, 4, 1.0), (6, 9, 0.5), (4, 2, 0.2)])
def test_box_sup_gap_matches_enumeration_of_every_vertex(
    k: int, m: int, q: float, rng: np.random.Generator
) -> None:
    """E15: the split formula against max over all 2^K sign vectors of L(f) - L^(f), computed
    directly from the sample and the label law."""
    problem = OneHotProblem(k, m, q)
    for _ in range(5):
        x, y = _sample_arrays(problem, rng)
        best = -np.inf
        for signs in itertools.product((-1, 1), repeat=k):
            s = np.array(signs)
            true = np.mean(np.where(s > 0, 1 - q, q))
            emp = np.mean(s[x] != y)
            best = max(best, true - emp)
        assert box_sup_gap(_cells(x, y), problem) == pytest.approx(best, abs=8 * _EPS)


@pytest.mark.claim("E15")
def test_box_complexity_matches_monte_carlo_over_the_vertices(rng: np.random.Generator) -> None:
    """E15: eps sqrt(2/pi) sum sqrt(n_x) / m against the batched estimator on the 2^K vertices
    (the box is their convex hull, E9)."""
    k, m, eps = 5, 12, 0.3
    x = rng.integers(k, size=m)
    cells = _cells(x, np.ones(m))
    verts = np.array(list(itertools.product((-eps, eps), repeat=k)))
    outputs = verts[:, x][:, :, None]
    est, se = empirical_gaussian_complexity(outputs, n_draws=40_000, rng=rng)
    assert abs(est - box_complexity(cells, eps)) <= stats.norm.isf(ALPHA / 2) * se


def test_interpolant_risk_and_distinct_probability_match_direct_counts(
    rng: np.random.Generator,
) -> None:
    problem = OneHotProblem(7, 10, 0.5)
    for _ in range(5):
        x, y = _sample_arrays(problem, rng)
        cells = _cells(x, y)
        w = {int(p): (1 if np.sum(y[x == p]) >= 0 else -1) for p in np.unique(x)}
        direct = np.mean([w[int(xi)] != yi for xi, yi in zip(x, y, strict=True)])
        assert interpolant_empirical_risk(cells) == pytest.approx(direct, abs=8 * _EPS)
    assert prob_all_distinct(5, 3) == pytest.approx(1.0 * 4 / 5 * 3 / 5, rel=8 * _EPS)
    assert prob_all_distinct(3, 4) == 0.0


def test_one_hot_problem_samples_cells_consistently(rng: np.random.Generator) -> None:
    cells = OneHotProblem(4, 50, 0.3).sample(rng)
    assert cells.m == 50 and (cells.positives <= cells.counts).all() and cells.distinct <= 4
    with pytest.raises(ValueError, match=r"`q` must be a float in \[0, 1\]; got 1.5"):
        OneHotProblem(4, 5, 1.5)


def test_e15_min_sample_size_matches_a_scan() -> None:
    for lip in (0.6, 1.0, 4.0, 100.0):
        for delta in (0.01, 0.05, 0.5):
            m_star = e15_min_sample_size(lip, delta)
            assert m_star is not None

            def breaks(m: int, lip: float = lip, delta: float = delta) -> bool:
                quoted = math.sqrt(math.pi * lip) * (1 / (2 * lip)) * math.sqrt(2 / math.pi)
                return 1.0 > quoted + 3 * math.sqrt(math.log(2 / delta) / (2 * m))

            assert breaks(m_star) and not breaks(m_star - 1)
    assert e15_min_sample_size(0.5, 0.05) is None


def test_t39_min_sample_size_matches_a_scan() -> None:
    for delta in (0.01, 0.05, 0.3):
        m = t39_min_sample_size(delta)
        assert 3 * math.sqrt(math.log(2 / delta) / (2 * m)) < 0.5
        assert 3 * math.sqrt(math.log(2 / delta) / (2 * (m - 1))) >= 0.5


@pytest.mark.claim("E15")
def test_check_e15_quick_budget_refutes_the_quoted_constant() -> None:
    """E15: the quoted sqrt(pi L) fails (L >= 1) with certainty on distinct samples; ours and
    the quoted form at L = 1/2 (where ours implies it) are never violated."""
    outcome = check_e15(claim_by_id("E15").budget(Profile.QUICK), claim_rng("E15"))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert "|" not in outcome.evidence
    rows = outcome.data["rows"]
    assert all(r["corrected"] == 0 for r in rows)
    by_l = {(r["L"], r["m"], r["q"]): r for r in rows}
    assert by_l[(0.5, 400, 1.0)]["quoted"] == 0
    assert by_l[(1.0, 194, 1.0)]["quoted"] >= 0.9 * by_l[(1.0, 194, 1.0)]["n_trials"]


@pytest.mark.claim("E15")
def test_check_e15_refutes_a_constant_below_sqrt_two_pi(monkeypatch: pytest.MonkeyPatch) -> None:
    """E15: the check can fail our form too: sqrt(pi) L (below sqrt(2 pi) L) is rejected."""

    def too_small(emp: float, g: float, *, lipschitz: float, n: int, delta: float) -> float:
        return (
            emp + math.sqrt(math.pi) * lipschitz * g + 3 * math.sqrt(math.log(2 / delta) / (2 * n))
        )

    monkeypatch.setattr(gg, "gc_generalisation_bound_corrected", too_small)
    settings = ((1.0, 400, 10**6, 1.0, 0.05),)
    outcome = check_e15({"n_trials": 100, "settings": settings}, np.random.default_rng(3))
    assert outcome.verdict is Verdict.REFUTED


@pytest.mark.claim("E15")
def test_check_e15_verifies_when_the_quoted_form_is_replaced_by_ours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gg, "gc_generalisation_bound", gc_generalisation_bound_corrected)
    outcome = check_e15({"n_trials": 100}, np.random.default_rng(4))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence


@pytest.mark.claim("T3.9")
def test_check_t39_quick_budget_refutes_every_chain_but_the_corrected_one() -> None:
    """T3.9: as stated it fails for every C0; each faulty link (E15 quoted, E17 restated) breaks
    the chain on its own; our chain holds."""
    outcome = check_t39(claim_by_id("T3.9").budget(Profile.QUICK), claim_rng("T3.9"))
    assert outcome.verdict is Verdict.REFUTED_AS_STATED, outcome.evidence
    assert "|" not in outcome.evidence
    assert outcome.data["failing_chains"] == [
        "corrected_restated",
        "quoted_corrected",
        "quoted_restated",
    ]


@pytest.mark.claim("T3.9")
def test_check_t39_verifies_with_both_links_corrected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gg, "gc_generalisation_bound", gc_generalisation_bound_corrected)
    monkeypatch.setattr(gg, "pinto_bound_as_restated", pinto_bound_corrected)
    outcome = check_t39({"n_trials": 50, "c0s": (1.0,)}, np.random.default_rng(7))
    assert outcome.verdict is Verdict.VERIFIED


def test_t39_bounds_match_the_closed_forms() -> None:
    """On m distinct points: L^ = 0, and the stated term is 2.25 C0 sqrt(pi/2) C^(3/2) m^(-1/4)."""
    m, c, c0, delta = 100, 2e-3, 3.0, 0.05
    cells = Cells(np.ones(m, dtype=np.int64), np.arange(m, dtype=np.int64) % 2)
    b = t39_bounds(cells, c, c0, delta)
    conf = 3 * math.sqrt(math.log(2 / delta) / (2 * m))
    assert b["emp"] == 0.0
    want = 2.25 * c0 * math.sqrt(math.pi / 2) * c**1.5 * m**-0.25 + conf
    assert b["quoted_restated"] == pytest.approx(want, rel=64 * _EPS)
    assert b["corrected_corrected"] == pytest.approx(
        1.5 * math.sqrt(2 * math.pi) / 2 + conf, rel=64 * _EPS
    )
    assert gc_generalisation_bound(0.0, 0.0, lipschitz=1.0, n=m, delta=delta) == pytest.approx(
        conf, rel=8 * _EPS
    )
