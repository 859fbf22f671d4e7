"""Claim B1 (Thm B.1): every W of rank <= r factors as A B^T with r-column factors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

import verification.claims.geometry.factorisation as gf
from verification.claims.geometry.factorisation import (
    check_b1,
    exact_factors,
    exact_rank_matrix,
    nonzero_minor,
    padded_svd_factors,
    rank_factors,
    zero_pad,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

_EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(scope="module")
def quick() -> Any:
    return check_b1(claim_by_id("B1").budget(Profile.QUICK), claim_rng("B1"))


@pytest.mark.claim("B1")
def test_check_b1_quick_budget_verifies(quick: Any) -> None:
    """B1: exact factors for every rank 0..r, refusals with minor certificates above r."""
    assert quick.verdict is Verdict.VERIFIED, quick.evidence
    assert "|" not in quick.evidence and "\n" not in quick.evidence
    exact, flt = quick.data["exact"], quick.data["float"]
    # Every rank from 0 (the zero matrix: factors all padding) up to the largest shape's.
    assert set(exact["per_rank"]) == set(range(max(exact["per_rank"]) + 1))
    assert max(exact["per_rank"]) >= 4
    assert exact["padded"] > 0 and exact["sharp"] > 0 and 0 < exact["rational"] < exact["cases"]
    assert flt["rank_mismatch"] == 0
    assert max(flt["worst_units"].values()) <= quick.data["tol_units"]
    assert flt["sharp_min"] > 1e6


@pytest.mark.claim("B1")
@given(
    m=st.integers(1, 5),
    n=st.integers(1, 5),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
    rational=st.booleans(),
)
@example(m=1, n=1, data=None, seed=0, rational=False)
def test_exact_factors_reproduce_w_exactly(
    m: int, n: int, data: Any, seed: int, rational: bool
) -> None:
    """B1: A (m x r), B (n x r), A B^T == W in rational arithmetic; columns k.. are zero."""
    r = data.draw(st.integers(1, min(m, n))) if data is not None else 1
    k = data.draw(st.integers(0, r)) if data is not None else 0
    w = exact_rank_matrix(m, n, k, np.random.default_rng(seed), rational=rational)
    a, b = exact_factors(w, r)
    assert a.shape == (m, r) and b.shape == (n, r)
    assert a * b.T == w
    assert a[:, k:] == sp.zeros(m, r - k) and b[:, k:] == sp.zeros(n, r - k)


@pytest.mark.claim("B1")
def test_rank_factors_are_a_column_basis() -> None:
    w = sp.Matrix([[1, 2, 3], [2, 4, 6], [1, 0, 1]])
    c, ft = rank_factors(w)
    assert c == w[:, [0, 1]] and c * ft.T == w
    assert c.rank() == c.cols == 2


@pytest.mark.claim("B1")
def test_rank_above_r_is_refused_with_a_minor_certificate() -> None:
    """The converse: rank r + 1 has a nonzero (r+1)-minor, so no r-column factors exist."""
    rng = np.random.default_rng(3)
    for m, n, r in ((2, 2, 1), (4, 3, 2), (5, 5, 3)):
        w = exact_rank_matrix(m, n, r + 1, rng, rational=True)
        with pytest.raises(ValueError, match=rf"`w` has rank {r + 1} > r = {r}"):
            exact_factors(w, r)
        minor = nonzero_minor(w, r + 1)
        assert minor is not None
        rows, cols, det = minor
        assert det != 0 and w.extract(list(rows), list(cols)).det() == det
        # Above the rank there is no nonzero minor to find.
        assert nonzero_minor(w, r + 2) is None
    with pytest.raises(ValueError, match="more than r = 1"):
        zero_pad(sp.ones(3, 2), 1)


@pytest.mark.claim("B1")
@pytest.mark.parametrize(("m", "n", "r"), [(6, 4, 3), (3, 9, 3), (5, 5, 5)])
def test_padded_svd_factors_float(m: int, n: int, r: int) -> None:
    rng = np.random.default_rng(m * n * r)
    for k in range(r + 1):
        w = rng.standard_normal((m, k)) @ rng.standard_normal((k, n))
        a, b, k_hat = padded_svd_factors(w, r)
        assert k_hat == k and a.shape == (m, r) and b.shape == (n, r)
        assert not a[:, k:].any() and not b[:, k:].any()
        scale = np.linalg.norm(w, 2) if k else 1.0
        assert np.linalg.norm(a @ b.T - w, 2) <= 16 * _EPS * max(m, n) * scale


@pytest.mark.claim("B1")
def test_check_b1_refutes_an_overstated_theorem(monkeypatch: pytest.MonkeyPatch) -> None:
    """B1 check can fail: "rank <= r + 1 factors with r columns" is refuted by a W of rank
    r + 1 with its nonzero (r+1)-minor."""
    monkeypatch.setattr(gf, "claimed_rank_bound", lambda r: r + 1)
    outcome = check_b1({"n_shapes": 6, "n_float_shapes": 4}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert "has no factors with r columns" in outcome.evidence
    assert "nonzero minor" in outcome.evidence
    m, n, r = outcome.data["counterexample"]["shape"]
    assert outcome.data["counterexample"]["rank"] == r + 1 <= min(m, n)


@pytest.mark.claim("B1")
def test_check_b1_refutes_a_construction_that_pads_with_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gf, "zero_pad", lambda x, r: x.row_join(sp.ones(x.rows, r - x.cols)))
    outcome = check_b1({"n_shapes": 4, "n_float_shapes": 2}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("The constructive proof fails")


def test_check_b1_is_deterministic_and_checks_its_budget() -> None:
    budget = {"n_shapes": 3, "n_float_shapes": 3}
    first = check_b1(budget, np.random.default_rng(8))
    assert first.evidence == check_b1(budget, np.random.default_rng(8)).evidence
    with pytest.raises(ValueError, match=r"`budget\['max_dim'\]` must be an int in \[1, 8\]"):
        check_b1({"max_dim": 9}, np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"`budget\['n_shapes'\]` must be an int"):
        check_b1({"n_shapes": 2.0}, np.random.default_rng(0))


@pytest.mark.slow
@pytest.mark.claim("B1")
def test_check_b1_thorough_budget_verifies() -> None:
    """B1 at the thorough budget."""
    outcome = check_b1(claim_by_id("B1").budget(Profile.THOROUGH), claim_rng("B1"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
