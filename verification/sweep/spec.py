r"""The arguments of a sweep and its grid: the option enums, the defaults, :class:`SweepSpec`
(validated and sorted by :func:`make_spec`, refusing nonsense with a one-line
:class:`SweepError`), :class:`PointSpec` (one grid point, plain values) and :func:`grid` (the
points in results order, each paying the union bound of :func:`grid_penalty`).

References: issue 8 (the sweep); issue 17 (prior modes); claim T3.8 of ``CLAIMS.md`` (the union
bound over the grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_PRIORS",
    "DEFAULT_RANKS",
    "DEFAULT_SEEDS",
    "DEFAULT_SEQUENCE_WIDTHS",
    "DEFAULT_WIDTHS",
    "PAPER_PRIORS",
    "PAPER_RANKS",
    "PAPER_WIDTHS",
    "Arch",
    "PointSpec",
    "SweepDataset",
    "SweepError",
    "SweepPrior",
    "SweepProfile",
    "SweepSpec",
    "grid",
    "grid_penalty",
    "make_spec",
    "max_rank",
]

#: Ranks of the default grid (those that fit every factorised layer; see :func:`max_rank`).
DEFAULT_RANKS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
#: Hidden widths of the default grid (MLP).
DEFAULT_WIDTHS: tuple[int, ...] = (64, 128)
#: Widths of the default grid for the LSTM (hidden size) and the Transformer (d_model).
DEFAULT_SEQUENCE_WIDTHS: tuple[int, ...] = (32, 64)
#: Seeds of the default grid.
DEFAULT_SEEDS: tuple[int, ...] = (0, 1)
#: Largest seed: MNIST-1D and scikit-learn take numpy's legacy 32-bit seeds.
_MAX_SEED = 2**32 - 1


class SweepError(ValueError):
    """An argument of the sweep that does not make sense (the message is one line)."""


class SweepDataset(str, Enum):
    """The datasets a sweep runs on."""

    #: MNIST-1D (4000 training, 1000 test examples, 40 features, 10 classes)
    MNIST1D = "mnist1d"
    #: scikit-learn's 8 x 8 digits (1437 training, 360 test, 64 features, 10 classes)
    DIGITS = "digits"
    #: the teacher-student classification task (1000 training, 1000 test, 20 features, 10 classes)
    TEACHER_STUDENT = "teacher_student"


class Arch(str, Enum):
    """The model of every grid point."""

    #: MLP with two hidden layers of the grid's width, every linear layer Bayesian
    MLP = "mlp"
    #: one LSTM layer (hidden size = width) on the inputs as sequences, Bayesian head
    LSTM = "lstm"
    #: one Transformer encoder block (d_model = width, d_ff = 2 width), Bayesian head
    TRANSFORMER = "transformer"


class SweepPrior(str, Enum):
    """Where the prior of a grid point comes from (the values of
    :class:`lrbnn_core.prior_modes.PriorMode`; on the command line with hyphens)."""

    #: learnt on the prior half of the training set; certificates on the other half (the default)
    DATA_DEPENDENT = "data_dependent"
    #: Gaussian centred at the seeded random initialisation, for each std of
    #: :data:`lrbnn_core.prior_modes.INIT_STDS`; certificates on every training example
    INIT = "init"
    #: Gaussian centred at zero, for each std of :data:`lrbnn_core.prior_modes.ZERO_STDS`
    ZERO = "zero"
    #: the paper's 0.5 N(0, 1) + 0.5 N(0, (e^-6)^2), through its declared closed-form KL bound
    SCALE_MIXTURE = "scale_mixture"

    @property
    def suffix(self) -> str:
        """What this mode appends to a point id: nothing for the data-dependent default (ids
        as before prior modes existed), ``-init``, ``-zero``, ``-scale-mixture``."""
        return "" if self is SweepPrior.DATA_DEPENDENT else "-" + self.value.replace("_", "-")


#: Prior modes of the default grid: the data-dependent prior only.
DEFAULT_PRIORS: tuple[SweepPrior, ...] = (SweepPrior.DATA_DEPENDENT,)

#: Defaults of ``--profile paper`` (issue 17; each can still be given on the command line).
#: Widths from 64 to 1024 (at 1024, r(m + n) / (mn) is 1/128 at rank 4 and 1/16 at rank 32).
PAPER_WIDTHS: tuple[int, ...] = (64, 256, 1024)
#: Ranks that every factorised layer of both data sets takes (MNIST-1D's first layer has 40
#: inputs, so rank 64 would be refused there: see :func:`max_rank`); the 10-class head is capped
#: at 10 (its ``min(m, n)``), which ``layer_ranks`` records (rank 16: 16;16;10).
PAPER_RANKS: tuple[int, ...] = (4, 16, 32)
#: Prior modes of the paper grid: the data-dependent prior, the data-free Gaussian at the
#: initialisation and the paper's own scale mixture.
PAPER_PRIORS: tuple[SweepPrior, ...] = (
    SweepPrior.DATA_DEPENDENT,
    SweepPrior.INIT,
    SweepPrior.SCALE_MIXTURE,
)


class SweepProfile(str, Enum):
    """Training and Monte Carlo budget of every grid point."""

    #: the default: minutes for the default grid on two cores (see ``verification.sweep.budgets``)
    QUICK = "quick"
    #: certified_training's full budget (60 + 20 epochs, 2000 networks) and more complexity draws
    THOROUGH = "thorough"
    #: seconds: tiny data and epochs, for tests and for trying the command (no claim to accuracy)
    SMOKE = "smoke"
    #: issue 17's grid (widths 64 to 1024, data-dependent, init and scale-mixture priors: the
    #: ``PAPER_*`` defaults; MLP only), with budgets sized so that the grid runs in about 18 min
    #: on MNIST-1D and 7 min on digits with ``--workers 2`` (see ``verification.sweep.budgets``)
    PAPER = "paper"


#: (input features, classes) of each dataset as the loaders give them
_DATA_SHAPES: dict[SweepDataset, tuple[int, int]] = {
    SweepDataset.MNIST1D: (40, 10),
    SweepDataset.DIGITS: (64, 10),
    SweepDataset.TEACHER_STUDENT: (20, 10),
}


# --- the grid --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepSpec:
    """The arguments that decide a sweep's results (validated and sorted by :func:`make_spec`)."""

    dataset: SweepDataset
    arch: Arch
    ranks: tuple[int, ...]
    widths: tuple[int, ...]
    seeds: tuple[int, ...]
    mean_field: bool
    profile: SweepProfile
    #: add the PBB recipe (Perez-Ortiz et al. 2021: :mod:`lrbnn_core.pbb`) as a baseline family
    pbb: bool = False
    #: the prior modes, each a dimension of the grid, in :class:`SweepPrior` order
    priors: tuple[SweepPrior, ...] = DEFAULT_PRIORS
    #: train the low-rank points' dropout ERM and bound training as compiled graphs (MLP, the
    #: data-dependent prior: :attr:`lrbnn_core.certified_training.GridSettings.compile`; the
    #: numbers equal up to rounding); mean-field, PBB and data-free points run eagerly
    compile: bool = False

    def arguments(self) -> dict[str, Any]:
        """The spec as JSON values (what ``meta.json`` records and compares)."""
        return {
            "dataset": self.dataset.value,
            "arch": self.arch.value,
            "ranks": list(self.ranks),
            "widths": list(self.widths),
            "seeds": list(self.seeds),
            "mean_field": self.mean_field,
            "profile": self.profile.value,
            "pbb": self.pbb,
            "priors": [p.value for p in self.priors],
            "compile": self.compile,
        }


@dataclass(frozen=True)
class PointSpec:
    """Everything one grid point needs (plain values: pickled to worker processes and dask)."""

    dataset: str
    arch: str
    family: str
    rank: int | None
    width: int
    seed: int
    profile: str
    #: union-bound cost in nats, and what it pays for
    penalty: float
    penalty_note: str
    #: the prior mode (a :class:`SweepPrior` value)
    prior: str = SweepPrior.DATA_DEPENDENT.value
    #: compiled training loops (:attr:`SweepSpec.compile`)
    compile: bool = False

    @property
    def point_id(self) -> str:
        """``w<width>-s<seed>-r<rank>``, ``w<width>-s<seed>-mf`` or ``w<width>-s<seed>-pbb``,
        then the prior mode's :attr:`SweepPrior.suffix` (``w64-s0-r4-init``; none for the
        data-dependent prior)."""
        tail = f"r{self.rank}" if self.rank is not None else "pbb" if self.family == "pbb" else "mf"
        return f"w{self.width}-s{self.seed}-{tail}{SweepPrior(self.prior).suffix}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _enum(cls: type[Enum], value: Any, option: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in cls)
        raise SweepError(f"`{option}` must be one of {known}; got {value!r}") from None


def _int_list(values: Sequence[Any], option: str, low: int, high: int | None = None) -> list[int]:
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise SweepError(f"`{option}` must hold ints; got {v!r}")
        if v < low or (high is not None and v > high):
            upper = "inf" if high is None else str(high)
            raise SweepError(f"`{option}` values must be ints in [{low}, {upper}]; got {int(v)}")
        if int(v) in out:
            raise SweepError(f"`{option}` lists {int(v)} twice")
        out.append(int(v))
    return sorted(out)


def max_rank(dataset: SweepDataset | str, arch: Arch | str, width: int) -> tuple[int, str]:
    """The largest rank every factorised layer takes at this width, and which layer sets it.

    The classifier head is capped at its full rank (the number of classes) rather than refused,
    as :func:`lrbnn_core.models.layer_ranks` does; the LSTM's input matrix has rank 1.

    Examples
    --------
    >>> max_rank("mnist1d", "mlp", 64)
    (40, 'min(in, out) of the first layer (40 -> 64)')
    >>> max_rank("mnist1d", "lstm", 16)[0]
    16
    """
    data = SweepDataset(dataset)
    model = Arch(arch)
    features, _ = _DATA_SHAPES[data]
    if model is Arch.MLP:
        if features < width:
            return features, f"min(in, out) of the first layer ({features} -> {width})"
        return width, f"the width {width}"
    return width, f"the width {width}"


def _choices(prior: SweepPrior, scales: int) -> tuple[int, str]:
    """How many priors a certificate of ``prior`` is chosen among, and what they are."""
    from lrbnn_core.prior_modes import PRIOR_STDS, PriorMode

    if prior is SweepPrior.DATA_DEPENDENT:
        return scales, f"{scales} prior scale{'s' if scales != 1 else ''}"
    stds = PRIOR_STDS[PriorMode(prior.value)]
    return (len(stds), f"{len(stds)} stds") if stds else (1, "1 prior")


def grid_penalty(spec: SweepSpec, n_scales: int | None = None) -> tuple[float, str]:
    r"""The union-bound cost every certificate of the sweep pays, and its note: every choice a
    reader selects among, with uniform weights.

    .. math:: \ln\big(\#\text{widths} \cdot ((\#\text{ranks} + 1_{MF}) \cdot
        \textstyle\sum_{\text{prior modes}} \#\text{priors} + 1_{PBB} \cdot \#\sigma_{PBB})\big)

    where a prior mode counts the priors it chooses among: the data-dependent mode its prior
    scales (``n_scales``, default those of
    :class:`~lrbnn_core.certified_training.GridSettings`), ``init`` and ``zero`` their stds
    (:data:`lrbnn_core.prior_modes.PRIOR_STDS`), the scale mixture 1.

    Examples
    --------
    >>> spec = make_spec(ranks=[1, 2], widths=[8], seeds=[0], dataset="teacher_student")
    >>> round(grid_penalty(spec)[0], 12) == round(math.log(3 * 1 * 1), 12)
    True
    >>> spec = make_spec(ranks=[1, 2], widths=[8], seeds=[0], dataset="teacher_student",
    ...                  priors=["data-dependent", "init", "scale-mixture"])
    >>> round(grid_penalty(spec)[0], 12) == round(math.log(3 * (1 + 3 + 1)), 12)
    True
    """
    from lrbnn_core.certified_training import GridSettings
    from lrbnn_core.pbb import PBBSettings

    scales = len(GridSettings().std_scales) if n_scales is None else n_scales
    families = len(spec.ranks) + (1 if spec.mean_field else 0)
    sigmas = len(PBBSettings().sigmas) if spec.pbb else 0
    choices = [_choices(p, scales) for p in spec.priors]
    priors = sum(c for c, _ in choices)
    k = len(spec.widths) * (families * priors + sigmas)
    widths = len(spec.widths)
    head = f"uniform union over {families} ranks (mean field counted as one) x {widths} widths"
    if spec.priors == DEFAULT_PRIORS:
        note = f"{head} x {scales} prior scales"
    else:
        parts = ", ".join(
            f"{p.value.replace('_', '-')}: {what}"
            for p, (_, what) in zip(spec.priors, choices, strict=True)
        )
        note = f"{head} x {priors} priors ({parts})"
    if spec.pbb:
        note += f", plus {widths} widths x {sigmas} PBB prior stds"
    return math.log(k), note


def _priors(
    values: Sequence[Any] | None, default: tuple[SweepPrior, ...] = DEFAULT_PRIORS
) -> tuple[SweepPrior, ...]:
    if values is None:
        return default
    if isinstance(values, (str, bytes)):
        raise SweepError(f"`--prior` must be a list of prior modes; got {values!r}")
    known = ", ".join(repr(p.value.replace("_", "-")) for p in SweepPrior)
    chosen: list[SweepPrior] = []
    for v in values:
        try:
            mode = SweepPrior(v.replace("-", "_") if isinstance(v, str) else v)
        except ValueError:
            raise SweepError(f"`--prior` must be one of {known}; got {v!r}") from None
        if mode in chosen:
            raise SweepError(f"`--prior` lists {mode.value.replace('_', '-')} twice")
        chosen.append(mode)
    if not chosen:
        raise SweepError("`--prior` is empty: the grid has no point")
    order = list(SweepPrior)
    return tuple(sorted(chosen, key=order.index))


def make_spec(
    *,
    dataset: str = SweepDataset.MNIST1D.value,
    arch: str = Arch.MLP.value,
    ranks: Sequence[int] | None = None,
    widths: Sequence[int] | None = None,
    seeds: Sequence[int] | None = None,
    mean_field: bool = True,
    profile: str = SweepProfile.QUICK.value,
    pbb: bool = False,
    priors: Sequence[str] | None = None,
    compile: bool = False,
) -> SweepSpec:
    """Validate the sweep's arguments (raising :class:`SweepError` with a one-line reason) and
    sort them. ``ranks=None``: the :data:`DEFAULT_RANKS` that fit every width; ``priors``
    (:class:`SweepPrior` values, hyphens accepted) ``None``: :data:`DEFAULT_PRIORS`. With
    ``profile="paper"`` (MLP only) the defaults are :data:`PAPER_WIDTHS`, :data:`PAPER_RANKS`
    (those that fit every width) and :data:`PAPER_PRIORS`.

    Examples
    --------
    >>> make_spec(dataset="teacher_student", widths=[64]).ranks
    (1, 2, 4, 8, 16)
    >>> paper = make_spec(profile="paper")
    >>> paper.widths, paper.ranks, [p.value for p in paper.priors]
    ((64, 256, 1024), (4, 16, 32), ['data_dependent', 'init', 'scale_mixture'])
    """
    data = _enum(SweepDataset, dataset, "--dataset")
    model = _enum(Arch, arch, "--arch")
    prof = _enum(SweepProfile, profile, "--profile")
    if not isinstance(mean_field, bool):
        raise SweepError(f"`mean_field` must be a bool; got {mean_field!r}")
    if not isinstance(pbb, bool):
        raise SweepError(f"`pbb` must be a bool; got {pbb!r}")
    if not isinstance(compile, bool):
        raise SweepError(f"`compile` must be a bool; got {compile!r}")
    if compile and model is not Arch.MLP:
        raise SweepError(
            f"`--compile` compiles MLPs' training loops only; got --arch {model.value}"
        )
    if pbb and model is not Arch.MLP:
        raise SweepError(f"`--pbb` runs the PBB recipe on MLPs only; got --arch {model.value}")
    paper = prof is SweepProfile.PAPER
    if paper and model is not Arch.MLP:
        raise SweepError(f"`--profile paper` runs MLPs only; got --arch {model.value}")
    modes = _priors(priors, PAPER_PRIORS if paper else DEFAULT_PRIORS)
    if pbb and SweepPrior.DATA_DEPENDENT not in modes:
        raise SweepError(
            "`--pbb` is a data-dependent recipe, run once beside the data-dependent points: it "
            "needs data-dependent among `--prior`"
        )
    default_widths = (
        PAPER_WIDTHS if paper else DEFAULT_WIDTHS if model is Arch.MLP else DEFAULT_SEQUENCE_WIDTHS
    )
    ws = _int_list(default_widths if widths is None else widths, "--widths", 1)
    ss = _int_list(DEFAULT_SEEDS if seeds is None else seeds, "--seeds", 0, _MAX_SEED)
    if not ws:
        raise SweepError("`--widths` is empty: the grid has no point")
    if not ss:
        raise SweepError("`--seeds` is empty: the grid has no point")
    cap, why = min((max_rank(data, model, w) for w in ws), key=lambda t: t[0])
    if ranks is None:
        rs = [r for r in (PAPER_RANKS if paper else DEFAULT_RANKS) if r <= cap]
    else:
        rs = _int_list(ranks, "--ranks", 1)
        if rs and rs[-1] > cap:
            raise SweepError(
                f"`--ranks` {rs[-1]} is above {why}: every factorised layer of the "
                f"{model.value} on {data.value} must take it (the head is capped at the classes)"
            )
    if not rs and not mean_field:
        raise SweepError("the grid is empty: no `--ranks` and `--no-mean-field`")
    return SweepSpec(
        data, model, tuple(rs), tuple(ws), tuple(ss), mean_field, prof, pbb, modes, compile
    )


def grid(spec: SweepSpec) -> list[PointSpec]:
    """The grid points in results order: widths, then seeds, then prior modes (in
    :class:`SweepPrior` order), then ranks ascending, mean field, then PBB (once, with the
    data-dependent prior).

    Examples
    --------
    >>> spec = make_spec(ranks=[1, 2], widths=[8], seeds=[0], dataset="teacher_student")
    >>> [p.point_id for p in grid(spec)]
    ['w8-s0-r1', 'w8-s0-r2', 'w8-s0-mf']
    >>> spec = make_spec(ranks=[1], widths=[8], seeds=[0], dataset="teacher_student",
    ...                  priors=["init", "data-dependent"])
    >>> [p.point_id for p in grid(spec)]
    ['w8-s0-r1', 'w8-s0-mf', 'w8-s0-r1-init', 'w8-s0-mf-init']
    """
    penalty, note = grid_penalty(spec)
    families: list[tuple[str, int | None, SweepPrior]] = []
    for prior in spec.priors:
        families += [("low_rank", r, prior) for r in spec.ranks]
        if spec.mean_field:
            families.append(("mean_field", None, prior))
        if spec.pbb and prior is SweepPrior.DATA_DEPENDENT:
            families.append(("pbb", None, prior))
    return [
        PointSpec(
            dataset=spec.dataset.value,
            arch=spec.arch.value,
            family=family,
            rank=rank,
            width=width,
            seed=seed,
            profile=spec.profile.value,
            penalty=penalty,
            penalty_note=note,
            prior=prior.value,
            compile=spec.compile,
        )
        for width in spec.widths
        for seed in spec.seeds
        for family, rank, prior in families
    ]
