"""The arguments of ``lrbnn compare`` and its grid: the profiles (:class:`CompareProfile`), the
task and family names, :class:`CompareSpec` (validated and sorted by :func:`make_compare_spec`,
refusing nonsense with a one-line :class:`CompareError`), :class:`ComparePoint` (one task x
family x seed, plain values) and :func:`compare_grid` (the points in results order).

The task and family names are this module's own tuples, so that the command line can check its
arguments without importing torch; a test keeps them equal to the values of
:class:`lrbnn_core.comparison.CompareTask` and :class:`lrbnn_core.comparison.Family`.

References: issue 18 (``lrbnn compare``); claims X1-X6 of ``CLAIMS.md`` section 8.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import numpy as np

from verification.sweep.spec import SweepError

__all__ = [
    "CLASSIFICATION_TASKS",
    "FAMILIES",
    "PROFILE_SEEDS",
    "REGRESSION_TASKS",
    "TASKS",
    "CompareError",
    "ComparePoint",
    "CompareProfile",
    "CompareSpec",
    "compare_grid",
    "make_compare_spec",
]

#: The tasks, in results order (the values of ``lrbnn_core.comparison.CompareTask``).
TASKS: tuple[str, ...] = ("mlp_mnist1d", "mlp_digits", "lstm_co2", "transformer_mnist1d")
#: The tasks scored as regression (MAE, PICP; predictive std as the OOD score).
REGRESSION_TASKS: frozenset[str] = frozenset({"lstm_co2"})
#: The tasks scored as classification (accuracy, reliability diagrams; MI as the OOD score).
CLASSIFICATION_TASKS: frozenset[str] = frozenset(TASKS) - REGRESSION_TASKS
#: The model families, in results order (the values of ``lrbnn_core.comparison.Family``).
FAMILIES: tuple[str, ...] = (
    "deterministic",
    "deep_ensemble",
    "mean_field",
    "low_rank",
    "lr_svd",
    "rank1",
)
#: Largest seed (numpy's legacy 32-bit seeds, as the sweep).
_MAX_SEED = 2**32 - 1


class CompareError(SweepError):
    """An argument or a folder of ``lrbnn compare`` that cannot be used (the message is one
    line); a :class:`~verification.sweep.SweepError`, so the command line reports it as one."""


class CompareProfile(str, Enum):
    """How much each point of ``lrbnn compare`` trains (``run_compare``'s ``scale``) and over
    which seeds."""

    #: seconds per point on tiny data, every task x family, seeds 0 and 1: for trying the
    #: command and for CI (no claim to accuracy)
    SMOKE = "smoke"
    #: seeds 0-3 at ``run_compare``'s quick scale (what ``lrbnn check`` can afford)
    QUICK = "quick"
    #: seeds 0-3 at the full scale: the run whose summary the X rows cite
    FULL = "full"


#: The seeds of each profile (``--seeds`` narrows them).
PROFILE_SEEDS: dict[CompareProfile, tuple[int, ...]] = {
    CompareProfile.SMOKE: (0, 1),
    CompareProfile.QUICK: (0, 1, 2, 3),
    CompareProfile.FULL: (0, 1, 2, 3),
}


@dataclass(frozen=True)
class CompareSpec:
    """The arguments that decide a comparison's results (see :func:`make_compare_spec`)."""

    profile: CompareProfile
    tasks: tuple[str, ...]
    families: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def scale(self) -> str:
        """``run_compare``'s ``scale``: the profile's name."""
        return self.profile.value

    def arguments(self) -> dict[str, Any]:
        """The spec as JSON values (what ``meta.json`` records and compares)."""
        return {
            "profile": self.profile.value,
            "scale": self.scale,
            "tasks": list(self.tasks),
            "families": list(self.families),
            "seeds": list(self.seeds),
        }


@dataclass(frozen=True)
class ComparePoint:
    """One task x family x seed (plain values: pickled to worker processes)."""

    task: str
    family: str
    seed: int
    scale: str
    #: BLAS and torch threads while this point runs (``--threads``; timings, not results)
    threads: int = 1

    @property
    def point_id(self) -> str:
        """``<task>_<family>_<seed>``: the name of its point record and its arrays.

        Examples
        --------
        >>> ComparePoint("mlp_digits", "low_rank", 3, "smoke").point_id
        'mlp_digits_low_rank_3'
        """
        return f"{self.task}_{self.family}_{self.seed}"

    def identity(self) -> dict[str, Any]:
        """What a stored record must match (the threads change timings only)."""
        return {k: v for k, v in asdict(self).items() if k != "threads"}


def _names(values: Sequence[Any] | None, known: tuple[str, ...], option: str) -> tuple[str, ...]:
    if values is None:
        return known
    if isinstance(values, (str, bytes)):
        raise CompareError(f"`{option}` must be a list of names; got {values!r}")
    chosen: list[str] = []
    for v in values:
        value = v.value if isinstance(v, Enum) else v
        if value not in known:
            raise CompareError(f"`{option}` must be among {', '.join(known)}; got {v!r}")
        if value in chosen:
            raise CompareError(f"`{option}` lists {value} twice")
        chosen.append(value)
    if not chosen:
        raise CompareError(f"`{option}` is empty: the comparison has no point")
    return tuple(sorted(chosen, key=known.index))


def _seeds(values: Sequence[Any] | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if values is None:
        return default
    if isinstance(values, (str, bytes)):
        raise CompareError(f"`--seeds` must be a list of ints; got {values!r}")
    out: list[int] = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise CompareError(f"`--seeds` must hold ints; got {v!r}")
        if not 0 <= v <= _MAX_SEED:
            raise CompareError(f"`--seeds` values must be ints in [0, {_MAX_SEED}]; got {int(v)}")
        if int(v) in out:
            raise CompareError(f"`--seeds` lists {int(v)} twice")
        out.append(int(v))
    if not out:
        raise CompareError("`--seeds` is empty: the comparison has no point")
    return tuple(sorted(out))


def make_compare_spec(
    *,
    profile: str = CompareProfile.SMOKE.value,
    tasks: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> CompareSpec:
    """Validate the arguments (raising :class:`CompareError` with a one-line reason) and sort
    them; ``None`` keeps the profile's default (every task, every family, the profile's seeds).

    Examples
    --------
    >>> spec = make_compare_spec(profile="quick", families=["low_rank", "deterministic"])
    >>> spec.families, spec.seeds
    (('deterministic', 'low_rank'), (0, 1, 2, 3))
    >>> try:
    ...     make_compare_spec(profile="huge")
    ... except CompareError as exc:
    ...     print(exc)
    `--profile` must be one of smoke, quick, full; got 'huge'
    """
    try:
        prof = CompareProfile(profile)
    except ValueError:
        known = ", ".join(p.value for p in CompareProfile)
        raise CompareError(f"`--profile` must be one of {known}; got {profile!r}") from None
    return CompareSpec(
        profile=prof,
        tasks=_names(tasks, TASKS, "--tasks"),
        families=_names(families, FAMILIES, "--families"),
        seeds=_seeds(seeds, PROFILE_SEEDS[prof]),
    )


def compare_grid(spec: CompareSpec, *, threads: int = 1) -> list[ComparePoint]:
    """The points in results order: tasks, then families, then seeds.

    Examples
    --------
    >>> spec = make_compare_spec(tasks=["mlp_digits"], families=["low_rank"], seeds=[1, 0])
    >>> [p.point_id for p in compare_grid(spec)]
    ['mlp_digits_low_rank_0', 'mlp_digits_low_rank_1']
    """
    return [
        ComparePoint(task, family, seed, spec.scale, threads)
        for task in spec.tasks
        for family in spec.families
        for seed in spec.seeds
    ]
