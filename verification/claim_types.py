r"""The types of the claim registry: verdicts, kinds, profiles, outcomes and claims.

A check is a function ``check(budget, rng) -> Outcome``: ``budget`` is the mapping of this claim's
budget for the chosen profile, ``rng`` a numpy Generator seeded from the claim id, so that every
run of ``lrbnn check`` gives the same evidence. The claims themselves live in one table per area
(:mod:`verification.claim_table`), assembled in the order of ``CLAIMS.md`` by
:mod:`verification.registry`.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHECKS",
    "Budget",
    "CheckFn",
    "Claim",
    "FigureSpec",
    "Kind",
    "Outcome",
    "Profile",
    "Verdict",
    "claim_rng",
    "make_claim",
]


class Verdict(str, Enum):
    """The verdicts of ``CLAIMS.md``."""

    #: the statement held on every case tried (the evidence says how many, over which ranges)
    VERIFIED = "verified"
    #: a concrete counterexample exists (the evidence gives the smallest one found)
    REFUTED = "refuted"
    #: the statement fails as printed but a corrected form holds (the evidence gives both)
    REFUTED_AS_STATED = "refuted-as-stated"
    #: a number or table of the paper was recomputed (ours beside theirs)
    REPRODUCED = "reproduced"
    #: our recomputation disagrees with the paper (both numbers)
    NOT_REPRODUCED = "not-reproduced"
    #: no finite computation can decide it (the evidence says why)
    UNTESTABLE = "untestable"
    #: no check is implemented yet
    PENDING = "pending"


class Kind(str, Enum):
    """How a claim is checked."""

    #: an identity or derivation done with sympy
    SYMBOLIC = "symbolic"
    #: a deterministic numerical comparison against an independent twin
    NUMERIC = "numeric"
    #: a Monte Carlo test with a stated false-failure probability
    STATISTICAL = "statistical"
    #: a search for counterexamples
    FALSIFICATION = "falsification"


class Profile(str, Enum):
    """How much work a check may do."""

    #: minutes for the whole registry on two cores (``lrbnn check``, CI)
    QUICK = "quick"
    #: larger samples and grids, for a release or a doubtful verdict
    THOROUGH = "thorough"


Budget = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a check found: the verdict and the evidence that carries it."""

    verdict: Verdict
    evidence: str
    #: numbers worth keeping in machine-readable form (counts, rates, counterexamples)
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.verdict, Verdict):
            raise TypeError(f"`verdict` must be a Verdict; got {self.verdict!r}")
        if not self.evidence.strip():
            raise ValueError("`evidence` must not be empty; a verdict needs its evidence")


CheckFn = Callable[[Budget, np.random.Generator], Outcome]


def _import(target: str) -> Any:
    """The object named ``"package.module:name"`` (imported on demand)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a claim: its file name, the function that draws it and its fixed seeds.

    Calling the spec draws the figure: ``spec(path)`` imports ``draw`` and calls it with the
    path. The claim tables name their figures, so listing every figure imports no check module.
    """

    #: File name, starting with the claim id (``"F4_pac_bayes_lstm.png"``).
    name: str
    #: ``"package.module:function"``: draws the figure to the given path and returns that path.
    draw: str
    #: Every seed given to ``numpy.random.default_rng`` while drawing (a ``SeedSequence`` by its
    #: entropy); empty: no random numbers.
    seeds: tuple[int, ...]
    #: One line: what the figure shows.
    summary: str
    #: Distributions the figure uses beyond matplotlib, numpy, Pillow and scipy (e.g. torch).
    extra_packages: tuple[str, ...] = ()

    def __call__(self, path: Path) -> Path:
        out: Path = _import(self.draw)(path)
        return out


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, as listed in ``CLAIMS.md``."""

    id: str
    statement: str
    kind: Kind
    #: ``"module:function"`` of the check, or ``None`` while the claim is pending
    check: str | None = None
    budgets: Mapping[Profile, Budget] = field(default_factory=dict)
    #: the test that checks this claim, besides ``lrbnn check --only ID``
    test: str | None = None
    #: the figures that illustrate this claim (``lrbnn figures`` draws them)
    figures: tuple[FigureSpec, ...] = ()

    def check_fn(self) -> CheckFn | None:
        """Import and return the check function (``None`` when pending)."""
        if self.check is None:
            return None
        fn: CheckFn = _import(self.check)
        return fn

    def budget(self, profile: Profile) -> Budget:
        return self.budgets.get(profile, self.budgets.get(Profile.QUICK, {}))

    @property
    def reproduce(self) -> str:
        """The exact command that reproduces this claim's row of ``paper_checks.md``."""
        cmd = f"lrbnn check --only {self.id}"
        if self.test is not None:
            cmd += f"; pytest {self.test}"
        return cmd


def claim_rng(claim_id: str) -> np.random.Generator:
    """A Generator seeded from the claim id alone (stable across runs and machines)."""
    seed = int.from_bytes(hashlib.sha256(claim_id.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def make_claim(
    id: str,
    statement: str,
    kind: Kind,
    check: str | None = None,
    quick: Budget | None = None,
    thorough: Budget | None = None,
    test: str | None = None,
    *,
    figures: tuple[FigureSpec, ...] = (),
) -> Claim:
    """A :class:`Claim` with the quick and thorough budgets given positionally (tables' form)."""
    budgets: dict[Profile, Budget] = {}
    if quick is not None:
        budgets[Profile.QUICK] = quick
    if thorough is not None:
        budgets[Profile.THOROUGH] = thorough
    return Claim(id, statement, kind, check, budgets, test, figures)


#: The package holding the check modules, one subpackage per area; claim tables name checks as
#: ``f"{CHECKS}.area.module:fn"``.
CHECKS = "verification.claims"
