"""Run mutants: each claim's check under each of its mutants, verdict before -> after."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from tqdm import tqdm

from verification.mutation.core import _OURS, Mutant
from verification.registry import Claim, Profile, Verdict, claim_by_id, claim_rng

__all__ = ["MutantResult", "clear_caches", "render_mutants", "run_mutants"]


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    #: the check's verdict without the mutant
    before: Verdict
    #: its verdict under the mutant; ``None`` when the check raised
    after: Verdict | None
    #: ``repr`` of the exception when the check raised under the mutant
    error: str | None
    seconds: float

    @property
    def killed(self) -> bool:
        """The verdict changed. A crash is not a verdict, so it does not kill a mutant."""
        return self.after is not None and self.after is not self.before

    @property
    def status(self) -> str:
        if self.after is None:
            return "crashed"
        return "killed" if self.killed else "survived"


def clear_caches() -> None:
    """Empty every ``functools`` cache at module level in the toolkit's packages.

    A cached result computed before a mutant is applied would hide the mutant; one computed
    under a mutant would leak into later runs.
    """
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in _OURS:
            continue
        for value in list(vars(module).values()):
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def _verdict(claim: Claim, profile: Profile) -> Verdict:
    fn = claim.check_fn()
    if fn is None:
        return Verdict.PENDING
    return fn(claim.budget(profile), claim_rng(claim.id)).verdict


def run_mutants(
    mutants: Sequence[Mutant],
    *,
    profile: Profile = Profile.QUICK,
    baseline: Mapping[str, Verdict] | None = None,
    progress: bool = True,
    lookup: Callable[[str], Claim] = claim_by_id,
) -> list[MutantResult]:
    """Run each mutant's claim check with the mutant applied, at ``profile``'s budget.

    ``baseline`` maps claim ids to their unmutated verdicts; claims missing from it are run once
    without mutants first. Caches are cleared around every mutated run.
    """
    before: dict[str, Verdict] = dict(baseline or {})
    results = []
    bar = tqdm(
        mutants,
        desc=f"lrbnn check --mutants ({profile.value})",
        unit="mutant",
        disable=not progress,
    )
    for mutant in bar:
        bar.set_postfix_str(mutant.id)
        claim = lookup(mutant.claim)
        if claim.id not in before:
            clear_caches()
            before[claim.id] = _verdict(claim, profile)
        fn = claim.check_fn()
        if fn is None:
            raise ValueError(f"mutant {mutant.id} targets the pending claim {claim.id}")
        start = time.perf_counter()
        after: Verdict | None
        error = None
        clear_caches()
        try:
            with mutant.applied():
                after = fn(claim.budget(profile), claim_rng(claim.id)).verdict
        except Exception as exc:  # a crash is recorded, never mistaken for a verdict
            after, error = None, repr(exc)
        finally:
            clear_caches()
        results.append(
            MutantResult(mutant, before[claim.id], after, error, time.perf_counter() - start)
        )
    return results


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", r"\|")


def render_mutants(results: Iterable[MutantResult]) -> str:
    """A markdown table (claim, mutant, aim, verdict before -> after, status, what it perturbs)
    ending with the mutation score."""
    results = list(results)
    lines = [
        "| claim | mutant | aim | verdict before -> after | status | what the mutant perturbs |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        after = r.after.value if r.after is not None else f"crash: {r.error}"
        lines.append(
            f"| {r.mutant.claim} | `{r.mutant.name}` | {r.mutant.aim.value} | "
            f"{r.before.value} -> {_cell(after)} | {r.status} | {_cell(r.mutant.description)} |"
        )
    killed = sum(r.killed for r in results)
    claims = len({r.mutant.claim for r in results})
    lines += ["", f"Mutation score: {killed}/{len(results)} mutants killed ({claims} claims)."]
    return "\n".join(lines) + "\n"
