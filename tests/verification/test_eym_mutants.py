"""The eym mutants (verification.mutation.eym): each perturbs what its description says, and the
bound mutants change the bound and its twin alike (a one-sided change is a toolkit bug that the
checks stop on, not a statement). Whether each mutant is killed is tested for the whole registry
in tests/verification/test_mutants.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import verification.claims.eym.loss_gap as el
from theory.eym import BiasNorm, rank_bias_bound, truncated_svd
from theory.losses.constants import paper_claims
from verification.claims.eym.loss_tools import loss_on_outputs
from verification.claims.eym.smooth import smooth_loss
from verification.mutation import eym as mut

_EYM = ("C3", "C4", "T3.6", "T3.6s", "C5p", "T3.7", "C7", "C8", "C9", "CT")
_EPS = float(np.finfo(np.float64).eps)


def test_every_eym_claim_has_mutants_with_unique_names() -> None:
    ids = [m.id for m in mut.MUTANTS]
    assert len(ids) == len(set(ids))
    assert {m.claim for m in mut.MUTANTS} == set(_EYM)
    for m in mut.MUTANTS:
        with m.applied():
            pass  # every patch target resolves


def test_wrong_triplet_keeps_the_next_singular_triplet(rng: np.random.Generator) -> None:
    u, _ = np.linalg.qr(rng.standard_normal((5, 4)))
    v, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    s = np.array([4.0, 3.0, 2.0, 1.0])
    w = (u * s) @ v.T
    wrong = mut._wrong_triplet(truncated_svd)
    expected = (u[:, [0, 2]] * s[[0, 2]]) @ v[:, [0, 2]].T
    np.testing.assert_allclose(wrong(w, 2), expected, atol=1e-12)
    # No (r+1)-th triplet at r = min(m, n), none to replace at r = 0.
    np.testing.assert_allclose(wrong(w, 4), w, atol=1e-12)
    assert not wrong(w, 0).any()


@pytest.mark.parametrize("which", list(BiasNorm))
@pytest.mark.parametrize("how", [{"factor": 1 - 1e-6}, {"shift": 1}])
def test_tail_mutants_move_the_bound_and_its_twin_alike(
    which: BiasNorm, how: dict[str, float], rng: np.random.Generator
) -> None:
    s = np.array([1.0, 0.7, 0.5, 0.2])
    u, _ = np.linalg.qr(rng.standard_normal((6, 4)))
    v, _ = np.linalg.qr(rng.standard_normal((5, 4)))
    w = (u * s) @ v.T
    bound = mut._bound_tail(which, **how)(rank_bias_bound)
    twin = mut._twin_tail(which, **how)(el.spectrum_tail)
    for norm in BiasNorm:
        for r in range(4):
            got = bound(w, r, lipschitz=2.0, radius=3.0, norm=norm)
            want = 6.0 * twin(s, r, norm)
            assert got == pytest.approx(want, rel=64 * _EPS, abs=1e-15)
            if norm is not which:
                assert want == 6.0 * el.spectrum_tail(s, r, norm)
    # The perturbation is the one named: smaller where the tail is one value.
    assert twin(np.array([1.0, 0.5]), 1, which) < el.spectrum_tail(np.array([1.0, 0.5]), 1, which)


def test_negative_norm_loss_satisfies_the_pointwise_inequality(rng: np.random.Generator) -> None:
    """C5p's mutant loss -||z||: ||W_r x|| <= ||W x|| for every x (projection on U_r)."""
    values = mut._negative_output_norm(None)
    for _ in range(20):
        m, n = (int(d) for d in rng.integers(2, 7, size=2))
        w = rng.standard_normal((m, n))
        x = rng.standard_normal((50, n))
        r = int(rng.integers(1, min(m, n)))
        diff = values(None, x @ truncated_svd(w, r).T, None) - values(None, x @ w.T, None)
        assert (diff >= -64 * (m + n) * _EPS * np.linalg.norm(x @ w.T, axis=1)).all()


def test_table_mutants_change_only_softmax_ce_smoothness() -> None:
    for ce_beta in (0.5, None):
        table = mut._table(ce_smoothness=ce_beta)(paper_claims)
        assert table("softmax_ce", {}, k=3) == (math.sqrt(2.0), ce_beta)
        for name, params, k in (("mae", {}, 1), ("mse", {"radius": 3.0}, 2), ("bce", {}, 1)):
            assert table(name, params, k=k) == paper_claims(name, params, k=k)


def test_paper_ce_smoothness_replaces_only_the_truth_of_softmax_ce() -> None:
    make = mut._paper_ce_smoothness(smooth_loss)
    ce = make("softmax_ce", 2)
    assert (ce.true_smoothness, ce.claimed_smoothness, ce.true_lipschitz) == (
        0.25,
        0.25,
        math.sqrt(2.0),
    )
    assert make("mse", 3).true_smoothness == 1.0
    assert loss_on_outputs("softmax_ce", 2).true_smoothness == 0.5  # nothing leaked
