"""The mutation registry: every claim has a mutant, and every mutant changes its check's verdict.

A mutant that survives means a check whose verdict does not follow from what it measured: the
worst defect this toolkit can have (``CLAIMS.md``).
"""

from __future__ import annotations

import pytest

from tests.verification.test_registry import EXPECTED
from verification.mutation import MUTANTS, Aim, Mutant, mutants_for, replace, run_mutants, wrap
from verification.mutation.runner import clear_caches, render_mutants
from verification.registry import CLAIMS, Profile, Verdict, claim_by_id


def test_every_claim_has_a_mutant_and_every_mutant_a_claim() -> None:
    ids = [c.id for c in CLAIMS]
    missing = [i for i in ids if not mutants_for(i)]
    assert missing == []
    assert {m.claim for m in MUTANTS} <= set(ids)
    names = [m.id for m in MUTANTS]
    assert len(names) == len(set(names)), "mutant names must be unique per claim"


def test_mutants_are_in_registry_order() -> None:
    order = {c.id: i for i, c in enumerate(CLAIMS)}
    assert [order[m.claim] for m in MUTANTS] == sorted(order[m.claim] for m in MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_is_killed_at_the_quick_budget(mutant: Mutant) -> None:
    (result,) = run_mutants([mutant], profile=Profile.QUICK, baseline=EXPECTED, progress=False)
    assert result.error is None, result.error
    assert result.killed, f"{mutant.id} survived: the verdict stayed {result.before.value}"


def _p3_target_mutant(value: int) -> Mutant:
    return Mutant(
        "P3",
        "probe",
        Aim.TARGET,
        "test probe",
        (replace("verification.claims.counts.layer_counts:_PAPER_MNIST_LOW_RANK", value),),
    )


def test_runner_reports_survivors_crashes_and_restores_patches() -> None:
    import verification.claims.counts.layer_counts as counts

    original = counts._PAPER_MNIST_LOW_RANK
    same = _p3_target_mutant(original)
    wrong = _p3_target_mutant(original + 1)
    crash = Mutant(
        "P3",
        "crash",
        Aim.IMPLEMENTATION,
        "test probe",
        (wrap("verification.claims.counts.layer_counts:mlp_counts", lambda f: lambda *a: 1 / 0),),
    )
    results = run_mutants([same, wrong, crash], baseline={"P3": Verdict.REPRODUCED}, progress=False)
    assert [r.status for r in results] == ["survived", "killed", "crashed"]
    assert results[1].after is Verdict.NOT_REPRODUCED
    assert "ZeroDivisionError" in (results[2].error or "")
    assert counts._PAPER_MNIST_LOW_RANK == original
    table = render_mutants(results)
    assert "| P3 | `probe` | target | reproduced -> not-reproduced | killed |" in table
    assert table.rstrip().endswith("Mutation score: 1/3 mutants killed (1 claims).")


def test_runner_computes_a_missing_baseline() -> None:
    (result,) = run_mutants([_p3_target_mutant(1)], progress=False)
    assert result.before is claim_by_id("P3").check_fn()({}, None).verdict  # type: ignore[arg-type]
    assert result.killed


def test_patch_targets_are_validated() -> None:
    with pytest.raises(ValueError, match=r"`target` must look like .package\.module:name."):
        replace("verification.claims.counts.layer_counts", 1)
    bad = Mutant(
        "P3", "bad", Aim.TARGET, "x", (replace("verification.claims.counts.layer_counts:nope", 1),)
    )
    with pytest.raises(AttributeError, match="does not exist"):
        with bad.applied():
            pass
    with pytest.raises(ValueError, match="has no patches"):
        Mutant("P3", "empty", Aim.TARGET, "x", ())


def test_clear_caches_empties_module_level_caches() -> None:
    from theory.symbolic import pac_bayes as sym

    cached = [v for v in vars(sym).values() if hasattr(v, "cache_info")]
    assert cached
    cached[0].cache_clear()
    clear_caches()
    assert all(v.cache_info().currsize == 0 for v in cached)


def test_modules_first_imported_under_a_mutant_are_forgotten() -> None:
    """A module imported while a mutant is applied would keep the mutated names it imported;
    the mutant forgets it on exit, so the next import sees the originals."""
    import sys

    import theory.pac_bayes

    name = "verification.claims.pac_bayes.coverage_worst_case"
    sys.modules.pop(name, None)
    original = theory.pac_bayes.log_term
    mutant = Mutant(
        "D2", "probe", Aim.STATEMENT, "x", (wrap("theory.pac_bayes:log_term", lambda f: abs),)
    )
    with mutant.applied():
        import verification.claims.pac_bayes.coverage_worst_case as mod

        assert mod.log_term is abs
    assert name not in sys.modules
    import verification.claims.pac_bayes.coverage_worst_case as fresh

    assert fresh.log_term is original
