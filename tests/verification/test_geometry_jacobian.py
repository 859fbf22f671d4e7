"""Claims G1, G2: the Jacobian of (A, B) -> A B^T, its rank, and the GL(r) gauge."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import verification.claims.geometry.jacobian as gj
from theory.geometry import factor_jacobian, gauge_transform, jacobian_rank, manifold_dimension
from verification.claims.geometry.jacobian import (
    check_g1,
    check_g2,
    gauge_directions,
    generic_point,
    jacobian_case,
    jacobian_twin,
)
from verification.registry import Profile, Verdict, claim_by_id, claim_rng
from verification.testing.strategies import factor_matrices, layer_shapes

_EPS = float(np.finfo(np.float64).eps)


@pytest.fixture(scope="module")
def g1_outcome() -> Any:
    return check_g1(claim_by_id("G1").budget(Profile.QUICK), claim_rng("G1"))


@pytest.mark.claim("G1")
def test_check_g1_quick_budget_verifies(g1_outcome: Any) -> None:
    """G1: rank r(m+n-r) at generic points, null space = the r^2 gauge directions."""
    assert g1_outcome.verdict is Verdict.VERIFIED, g1_outcome.evidence
    assert "|" not in g1_outcome.evidence and "\n" not in g1_outcome.evidence
    cases = g1_outcome.data["cases"]
    assert cases and all(c["shape"][2] < min(c["shape"][:2]) for c in cases)
    for c in cases:
        m, n, r = c["shape"]
        assert c["jacobian_rank"] == c["twin_rank"] == r * (m + n - r)
        assert c["null_dim"] == c["gauge_rank"] == r * r
        # The numerical rank is unambiguous: a gap of many orders between the two sides.
        assert c["first_zero"] < 1e3 * c["numpy_threshold"] < 1e-6 * c["last_nonzero"]
    assert g1_outcome.data["degenerate_rank"] < manifold_dimension(3, 3, 2)


@pytest.mark.claim("G2")
def test_check_g2_quick_budget_verifies() -> None:
    """G2: rank mn for r >= min(m, n), and full-rank samples stay off R_(r-1)."""
    outcome = check_g2(claim_by_id("G2").budget(Profile.QUICK), claim_rng("G2"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    for c in outcome.data["cases"]:
        m, n, r = c["shape"]
        assert r >= min(m, n)
        assert c["jacobian_rank"] == m * n
        assert c["null_dim"] == r * (m + n) - m * n
    assert outcome.data["min_sigma_min_units"] > 1e6


@pytest.mark.claim("G1")
@given(factor_matrices(max_dim=8))
def test_factor_jacobian_equals_its_entrywise_twin(ab: tuple[np.ndarray, np.ndarray]) -> None:
    """G1 twin: the two Jacobians are copies of the same entries, so exactly equal."""
    a, b = ab
    assert np.array_equal(factor_jacobian(a, b), jacobian_twin(a, b))


@pytest.mark.claim("G1")
def test_jacobian_twin_matches_finite_differences(rng: np.random.Generator) -> None:
    """G1 twin: A B^T is affine in each coordinate, so a difference quotient with step 1 is
    exact up to the rounding of the products."""
    m, n, r = 4, 3, 2
    a, b = rng.standard_normal((m, r)), rng.standard_normal((n, r))
    x = np.concatenate([a.reshape(-1), b.reshape(-1)])

    def f(v: np.ndarray) -> np.ndarray:
        return (v[: m * r].reshape(m, r) @ v[m * r :].reshape(n, r).T).reshape(-1)

    fd = np.stack([f(x + e) - f(x) for e in np.eye(x.size)], axis=1)
    scale = np.abs(x).max() + 1.0
    np.testing.assert_allclose(fd, jacobian_twin(a, b), rtol=0, atol=8 * r * _EPS * scale**2)


@pytest.mark.claim("G1")
@given(layer_shapes(max_dim=12), st.integers(0, 2**32 - 1))
def test_jacobian_rank_at_generic_points(shape: tuple[int, int, int], seed: int) -> None:
    """G1 and G2 over every admissible shape: r(m+n-r), which is mn at r = min(m, n)."""
    m, n, r = shape
    a, b = generic_point(m, n, r, np.random.default_rng(seed))
    assert jacobian_rank(a, b) == manifold_dimension(m, n, r)
    if r == min(m, n):
        assert manifold_dimension(m, n, r) == m * n


@pytest.mark.claim("G1")
@given(factor_matrices(max_dim=8, max_abs=10.0))
@example((np.array([[1.46875]]), np.array([[1.47593803]])))  # FMA: a b - b a != 0 exactly
def test_gauge_directions_are_in_the_null_space_at_every_point(
    ab: tuple[np.ndarray, np.ndarray],
) -> None:
    """G1: d/dt A(I+tE) (B(I+tE)^-T)^T = A E B^T - A E B^T = 0 at every point, generic or not.
    Each entry of J (A E, -B E^T) is one product minus the same product: zero up to the
    rounding of a dot product (with FMA the two roundings need not cancel exactly)."""
    a, b = ab
    jac, gauge = jacobian_twin(a, b), gauge_directions(a, b)
    k = jac.shape[1]
    bound = k * _EPS / (1.0 - k * _EPS) * (np.abs(jac) @ np.abs(gauge))
    assert (np.abs(jac @ gauge) <= bound).all()


@pytest.mark.claim("G1")
@given(layer_shapes(max_dim=8), st.integers(0, 2**32 - 1))
def test_gauge_transform_leaves_the_product_unchanged(
    shape: tuple[int, int, int], seed: int
) -> None:
    """G1: A G (B G^-T)^T = A B^T to the documented rounding tolerance."""
    m, n, r = shape
    rng = np.random.default_rng(seed)
    a, b = generic_point(m, n, r, rng)
    g = rng.standard_normal((r, r))
    a2, b2 = gauge_transform(a, b, g)
    bound = gj.GAUGE_TOL_FACTOR * r * _EPS * np.linalg.cond(g)
    assert np.linalg.norm(a2 @ b2.T - a @ b.T) <= bound * np.linalg.norm(a) * np.linalg.norm(b)


def test_jacobian_case_reports_consistent_numbers(rng: np.random.Generator) -> None:
    case = jacobian_case(*generic_point(5, 4, 2, rng), rng)
    assert case["shape"] == (5, 4, 2) and case["expected"] == 14
    assert case["twin_equal"] and case["sine_ok"]
    assert 0.0 <= case["gauge_residual"] <= 1.0


@pytest.mark.claim("G1")
def test_check_g1_refutes_at_non_generic_points(monkeypatch: pytest.MonkeyPatch) -> None:
    """G1 check can fail: at points with a zero column in A the rank is below r(m+n-r)."""

    def degenerate(m: int, n: int, r: int, rng: np.random.Generator) -> Any:
        a, b = generic_point(m, n, r, rng)
        a[:, 0] = 0.0
        return a, b

    monkeypatch.setattr(gj, "generic_point", degenerate)
    outcome = check_g1({"n_shapes": 3}, np.random.default_rng(2))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("At (m, n, r) =")


@pytest.mark.claim("G1")
@pytest.mark.claim("G2")
@pytest.mark.parametrize("check", [check_g1, check_g2])
@pytest.mark.parametrize(
    ("name", "wrong", "match"),
    [
        ("jacobian_rank", lambda a, b: jacobian_rank(a, b) + 1, "jacobian_rank = "),
        ("gauge_transform", lambda a, b, g: (a @ g, b @ g), "gauge_transform changes"),
        ("factor_jacobian", lambda a, b: 2.0 * factor_jacobian(a, b), "differs from its"),
    ],
)
def test_check_g1_g2_refute_the_toolkit_when_it_disagrees_with_its_twins(
    monkeypatch: pytest.MonkeyPatch, check: Any, name: str, wrong: Any, match: str
) -> None:
    """G1, G2: a toolkit function that disagrees with its twin makes the verdict refuted, and
    the evidence blames the toolkit's code, not the paper."""
    monkeypatch.setattr(gj, name, wrong)
    outcome = check({"n_shapes": 3}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("The toolkit's implementation of G")
    assert match in outcome.data["toolkit_error"]
    assert "not the paper's statement" in outcome.evidence


@pytest.mark.claim("G2")
def test_check_g2_refutes_singular_full_rank_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """G2 check can fail: if samples at r = min(m, n) had a zero column, they would lie on
    R_(r-1)."""

    def rank_deficient(*args: Any, n_samples: int, rng: np.random.Generator) -> Any:
        mu_a, _, mu_b, sigma_b = args
        mu_a = mu_a.copy()
        mu_a[:, 0] = 0.0
        a = mu_a + 0.0 * rng.standard_normal((n_samples, *mu_a.shape))
        b = mu_b + sigma_b * rng.standard_normal((n_samples, *mu_b.shape))
        return a @ np.swapaxes(b, 1, 2)

    monkeypatch.setattr(gj, "sample_weights", rank_deficient)
    outcome = check_g2({"n_shapes": 4, "n_samples": 5}, np.random.default_rng(0))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("A full-rank-factor sample fell on R_(r-1)")


@pytest.mark.slow
@pytest.mark.claim("G1")
@pytest.mark.claim("G2")
def test_check_g1_g2_thorough_budget_verify() -> None:
    """G1 and G2 at the thorough budgets."""
    for claim_id, check in (("G1", check_g1), ("G2", check_g2)):
        budget = claim_by_id(claim_id).budget(Profile.THOROUGH)
        assert check(budget, claim_rng(claim_id)).verdict is Verdict.VERIFIED
