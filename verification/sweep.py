r"""``lrbnn sweep``: certificates, test metrics and theory terms over a grid of ranks x widths x
seeds, resumable, byte-reproducible, run in one process, a local process pool or a dask cluster.

**One grid point** (:func:`compute_point`) is one model of one family (low-rank at one rank, or
the mean-field baseline) at one hidden width and one seed, trained and certified by the
data-dependent-prior recipe of :mod:`lrbnn_core.certified_training`
(:func:`~lrbnn_core.certified_training.train_and_certify`): the seed splits the training set into
a prior part and a bound part (half each); an ELBO model trained on the prior part centres the
Gaussian prior (its stds times 0.5, 1 or 2); the posterior starts there and minimises the
kl-bound on the whole training set; low-rank posteriors are gauge-balanced; the 0-1 Gibbs risk is
certified on the bound part (``n = n_bound``) against each prior scale, and the best scale is
kept. The seed also generates the dataset (MNIST-1D and teacher-student draw new examples for
every seed; digits takes a new stratified split), so seeds are independent repetitions.

**The union bound** (``penalty`` column). Every certificate of the sweep pays
:math:`\ln(K)` nats with :math:`K = (\#\text{ranks} + 1_{\text{mean field}}) \times
\#\text{widths} \times \#\text{prior scales}`: a reader may pick the best certificate over ranks,
the mean-field baseline, widths and prior scales, and every certificate of one seed holds at once
with probability :math:`\ge 1 - \delta - \delta_{MC}` (``confidence``). Seeds are not selected
among: they are repetitions (the figures show their mean and range); picking the best seed would
need :math:`\ln(\#\text{seeds})` more nats.

**Reliability.** Each finished point is written atomically to ``DIR/points/<point_id>.json``
(temporary file, fsync, ``os.replace``); a restarted sweep recomputes only the missing points.
``DIR/results.csv`` is assembled from the point files in grid order, with repr-exact floats
(:data:`COLUMNS`); it depends only on the arguments (and the hardware and package versions:
identical bits need the same floating-point code paths), never on the executor, the number of
workers, the order of completion or interruptions. Every point runs with one torch thread and one
BLAS thread so that no reduction order depends on the machine's load (the BLAS limit goes through
threadpoolctl; OpenBLAS can ignore a limit set from a thread other than the main one, so export
``OPENBLAS_NUM_THREADS=1`` on dask workers that run several threads). Wall times go to
``DIR/timings.csv`` only.

References: issue 8 (the sweep); claims T3.8, T3.8c (complexity ratio), C3/T3.6 (tail energy),
E13/E17 (Gaussian complexity) of ``CLAIMS.md``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "COLUMNS",
    "DEFAULT_RANKS",
    "DEFAULT_SEEDS",
    "DEFAULT_SEQUENCE_WIDTHS",
    "DEFAULT_WIDTHS",
    "Arch",
    "PointSpec",
    "SweepDataset",
    "SweepError",
    "SweepProfile",
    "SweepReport",
    "SweepSpec",
    "assemble_rows",
    "compute_point",
    "grid",
    "grid_penalty",
    "make_spec",
    "max_rank",
    "prepare_output",
    "run_point",
    "run_sweep",
    "tail_from_singular_values",
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
_FORMAT = "lrbnn-sweep"
_POINT_FORMAT = "lrbnn-sweep-point"
_VERSION = 1
#: The universal constant C_0 of the restated Pinto bound (the paper does not give it): 1.
PINTO_C0 = 1.0

# One row per grid point of DIR/results.csv, in this order (pinned by a test: append, never
# reorder). Blank cells: not defined for that row (stated per column). Floats are repr-exact;
# per-layer lists are ';'-separated, layers in module order (MLP: input layer first, head last).
COLUMNS: tuple[str, ...] = (
    # stable id of the grid point: w<width>-s<seed>-r<rank> (low rank) or w<width>-s<seed>-mf
    "point_id",
    # dataset as loaded by lrbnn_core.data (mnist1d, digits, teacher_student_classification)
    "dataset",
    # mlp (two hidden layers of `width`), lstm (hidden size `width`) or transformer (d_model)
    "arch",
    # low_rank or mean_field (the full-rank Bayes-by-Backprop baseline)
    "family",
    # the grid's rank r (blank for mean-field)
    "rank",
    # rank of every factorised layer: r, except the classifier head, capped at its full rank
    # (the number of classes), and the LSTM's input matrix (rank 1: scalar inputs); blank for MF
    "layer_ranks",
    # hidden width
    "width",
    # seed of the data, the prior/bound split, the initialisation, training and Monte Carlo
    "seed",
    # out x in of every Bayesian weight matrix, e.g. 64x40;64x64;10x64
    "layer_shapes",
    # training examples (prior part + bound part)
    "n_train",
    # examples the certificate uses (the bound part, never seen by the prior): the bound's n
    "n_bound",
    # trainable parameters (posterior means and scales, deterministic parts)
    "params",
    # stochastic scalars D of the posterior (factor entries or weights, Bayesian biases)
    "stochastic",
    # the prior: data_dependent (learnt on the prior part; see the module docstring)
    "prior",
    # the chosen multiple of the prior model's stds (0.5, 1 or 2; paid for in `penalty`)
    "prior_scale",
    # 0-1 error of the posterior predictive (mean probabilities of n_test_mc networks), test split
    "test_error",
    # mean 0-1 error of n_test_mc networks drawn from the posterior (the Gibbs error), test split
    "test_gibbs_error",
    # NLL of the posterior predictive, nats per test example
    "test_nll",
    # top-label ECE of the posterior predictive, 15 equal-width bins
    "test_ece",
    # AUROC of predictive entropy separating the dataset's OOD set from the test split
    "ood_auroc",
    # KL(Q || P) in nats over every stochastic scalar, to the chosen prior (float64 closed form)
    "kl",
    # kl / stochastic: the average per-coordinate KL
    "kl_per_coord_mean",
    # largest per-coordinate KL (the paper's C_max for this posterior)
    "kl_per_coord_max",
    # Monte Carlo estimate of the empirical 0-1 Gibbs risk on the bound part (n_mc networks)
    "mc_risk",
    # its sample-convergence upper bound (probability >= 1 - mc_delta)
    "mc_risk_bound",
    # union-bound cost in nats added to the KL: ln(rank choices incl. MF x widths x scales)
    "penalty",
    # McAllester certificate of the 0-1 Gibbs risk (the paper's bound; raw, may exceed 1)
    "mcallester",
    # kl-inverse (Seeger/Maurer) certificate of the 0-1 Gibbs risk (raw)
    "kl_inverse",
    # Catoni certificate (min over its lambda grid, paid for inside)
    "catoni",
    # probability with which each certificate holds: 1 - delta - mc_delta
    "confidence",
    # KL removed by gauge balancing before certifying, nats (0 for mean-field)
    "gauge_gain",
    # spectral norm ||E[W_l]||_2 of each layer's mean weight
    "spectral_norms",
    # sigma_{>r_l}(E[W_l]) of this model's mean weights at its layer ranks: zero up to rounding
    # (a check that E[W] = mu_A mu_B^T has rank <= r); blank for mean-field
    "tail_energy",
    # sigma_{>r_l} of the mean-field model's mean weights (same width and seed) at this row's
    # layer ranks: the Eckart-Young-Mirsky bias the rank leaves out; blank for MF rows or
    # without the mean-field baseline
    "mf_tail_energy",
    # mf_tail_energy / ||E[W_l^MF]||_F per layer (the fraction of the Frobenius norm left out)
    "mf_tail_energy_rel",
    # predicted complexity ratio sqrt(D_LR / D_MF) of claim T3.8 (stochastic scalars, same
    # width and seed); blank for MF rows or without the mean-field baseline
    "predicted_ratio",
    # measured ratio sqrt(KL_LR / KL_MF) (same width and seed); blank as predicted_ratio
    "measured_ratio",
    # Pinto et al.'s Gaussian-complexity bound as the paper restates it (claim E17), with
    # C_l = spectral_norms, the layer ranks (full rank for MF), the layers' output widths,
    # X = the bound part (m = n_bound) and C_0 = 1 (the paper gives no value); MLP only
    "gc_restated",
    # exact first-layer term: Monte Carlo estimate of the empirical Gaussian complexity of
    # {x -> W x : ||W||_2 <= ||E[W_1]||_2, rank W <= r_1} on the first gc_points examples of the
    # bound part (exact supremum; seeded draws; theory.gaussian_complexity.linear_class_complexity)
    "gc_first_layer",
    # its Monte Carlo standard error
    "gc_first_layer_se",
    # the restated bound for that same one-layer class and sample (depth 1), for comparison
    "gc_first_layer_restated",
)


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


class SweepProfile(str, Enum):
    """Training and Monte Carlo budget of every grid point."""

    #: the default: minutes for the default grid on two cores (see ``_BUDGETS``)
    QUICK = "quick"
    #: certified_training's full budget (60 + 20 epochs, 2000 networks) and more complexity draws
    THOROUGH = "thorough"
    #: seconds: tiny data and epochs, for tests and for trying the command (no claim to accuracy)
    SMOKE = "smoke"


#: (input features, classes) of each dataset as the loaders give them
_DATA_SHAPES: dict[SweepDataset, tuple[int, int]] = {
    SweepDataset.MNIST1D: (40, 10),
    SweepDataset.DIGITS: (64, 10),
    SweepDataset.TEACHER_STUDENT: (20, 10),
}


@dataclass(frozen=True)
class _Budget:
    prior_epochs: int
    posterior_epochs: int
    n_mc: int
    n_test_mc: int
    #: examples of the bound part on which the exact first-layer complexity is estimated
    gc_points: int
    #: Monte Carlo draws of that estimate
    gc_draws: int
    #: loader size options per dataset (empty: the loader's defaults)
    sizes: dict[SweepDataset, dict[str, int]] = field(default_factory=dict)


#: Budgets of the MLP; see :data:`_SEQUENCE_BUDGETS` for the LSTM and the Transformer.
_BUDGETS: dict[SweepProfile, _Budget] = {
    SweepProfile.QUICK: _Budget(
        prior_epochs=40, posterior_epochs=15, n_mc=500, n_test_mc=100, gc_points=500, gc_draws=50
    ),
    SweepProfile.THOROUGH: _Budget(
        prior_epochs=60, posterior_epochs=20, n_mc=2000, n_test_mc=200, gc_points=1000, gc_draws=200
    ),
    SweepProfile.SMOKE: _Budget(
        prior_epochs=2,
        posterior_epochs=1,
        n_mc=20,
        n_test_mc=10,
        gc_points=50,
        gc_draws=4,
        sizes={
            SweepDataset.MNIST1D: {"n_train": 200, "n_test": 100},
            SweepDataset.DIGITS: {"n_train": 200, "n_test": 100},
            SweepDataset.TEACHER_STUDENT: {"n_train": 200, "n_test": 100, "n_ood": 100},
        },
    ),
}


#: The LSTM and the Transformer read 40-step sequences: one epoch costs about 1 s (LSTM) and
#: 2 s (Transformer) at width 32 on one core, against 0.1 s for the MLP, so their budgets are
#: smaller: with ``quick`` a point at width 32 takes about 40 s (LSTM) and 2 min (Transformer)
#: on one core, so the default grid (28 points) takes about 20 min and 1 h with one worker.
_SEQUENCE_BUDGETS: dict[SweepProfile, _Budget] = {
    SweepProfile.QUICK: _Budget(
        prior_epochs=10, posterior_epochs=5, n_mc=200, n_test_mc=50, gc_points=0, gc_draws=0
    ),
    SweepProfile.THOROUGH: _Budget(
        prior_epochs=30, posterior_epochs=10, n_mc=1000, n_test_mc=100, gc_points=0, gc_draws=0
    ),
    SweepProfile.SMOKE: replace(_BUDGETS[SweepProfile.SMOKE], gc_points=0, gc_draws=0),
}


def _budget(profile: SweepProfile | str, arch: Arch | str) -> _Budget:
    table = _BUDGETS if Arch(arch) is Arch.MLP else _SEQUENCE_BUDGETS
    return table[SweepProfile(profile)]


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

    @property
    def point_id(self) -> str:
        """``w<width>-s<seed>-r<rank>`` or ``w<width>-s<seed>-mf``."""
        tail = "mf" if self.rank is None else f"r{self.rank}"
        return f"w{self.width}-s{self.seed}-{tail}"

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


def grid_penalty(spec: SweepSpec, n_scales: int | None = None) -> tuple[float, str]:
    r"""The union-bound cost every certificate of the sweep pays, and its note.

    .. math:: \ln\big((\#\text{ranks} + 1_{MF}) \cdot \#\text{widths} \cdot \#\text{scales}\big)

    Examples
    --------
    >>> spec = make_spec(ranks=[1, 2], widths=[8], seeds=[0], dataset="teacher_student")
    >>> round(grid_penalty(spec)[0], 12) == round(math.log(3 * 1 * 3), 12)
    True
    """
    from lrbnn_core.certified_training import GridSettings

    scales = len(GridSettings().std_scales) if n_scales is None else n_scales
    families = len(spec.ranks) + (1 if spec.mean_field else 0)
    k = families * len(spec.widths) * scales
    note = (
        f"uniform union over {families} ranks (mean field counted as one) x "
        f"{len(spec.widths)} widths x {scales} prior scales"
    )
    return math.log(k), note


def make_spec(
    *,
    dataset: str = SweepDataset.MNIST1D.value,
    arch: str = Arch.MLP.value,
    ranks: Sequence[int] | None = None,
    widths: Sequence[int] | None = None,
    seeds: Sequence[int] | None = None,
    mean_field: bool = True,
    profile: str = SweepProfile.QUICK.value,
) -> SweepSpec:
    """Validate the sweep's arguments (raising :class:`SweepError` with a one-line reason) and
    sort them. ``ranks=None``: the :data:`DEFAULT_RANKS` that fit every width.

    Examples
    --------
    >>> make_spec(dataset="teacher_student", widths=[64]).ranks
    (1, 2, 4, 8, 16)
    """
    data = _enum(SweepDataset, dataset, "--dataset")
    model = _enum(Arch, arch, "--arch")
    prof = _enum(SweepProfile, profile, "--profile")
    if not isinstance(mean_field, bool):
        raise SweepError(f"`mean_field` must be a bool; got {mean_field!r}")
    default_widths = DEFAULT_WIDTHS if model is Arch.MLP else DEFAULT_SEQUENCE_WIDTHS
    ws = _int_list(default_widths if widths is None else widths, "--widths", 1)
    ss = _int_list(DEFAULT_SEEDS if seeds is None else seeds, "--seeds", 0, _MAX_SEED)
    if not ws:
        raise SweepError("`--widths` is empty: the grid has no point")
    if not ss:
        raise SweepError("`--seeds` is empty: the grid has no point")
    cap, why = min((max_rank(data, model, w) for w in ws), key=lambda t: t[0])
    if ranks is None:
        rs = [r for r in DEFAULT_RANKS if r <= cap]
    else:
        rs = _int_list(ranks, "--ranks", 1)
        if rs and rs[-1] > cap:
            raise SweepError(
                f"`--ranks` {rs[-1]} is above {why}: every factorised layer of the "
                f"{model.value} on {data.value} must take it (the head is capped at the classes)"
            )
    if not rs and not mean_field:
        raise SweepError("the grid is empty: no `--ranks` and `--no-mean-field`")
    return SweepSpec(data, model, tuple(rs), tuple(ws), tuple(ss), mean_field, prof)


def grid(spec: SweepSpec) -> list[PointSpec]:
    """The grid points in results order: widths, then seeds, then ranks ascending, mean field last.

    Examples
    --------
    >>> spec = make_spec(ranks=[1, 2], widths=[8], seeds=[0], dataset="teacher_student")
    >>> [p.point_id for p in grid(spec)]
    ['w8-s0-r1', 'w8-s0-r2', 'w8-s0-mf']
    """
    penalty, note = grid_penalty(spec)
    families: list[tuple[str, int | None]] = [("low_rank", r) for r in spec.ranks]
    if spec.mean_field:
        families.append(("mean_field", None))
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
        )
        for width in spec.widths
        for seed in spec.seeds
        for family, rank in families
    ]


# --- one grid point --------------------------------------------------------------------------


class _ThreadLimit:
    """One torch thread and one BLAS thread while a point runs, so that no reduction order
    depends on the machine's load. Torch's count (OpenMP's) belongs to the calling thread and is
    set and restored there; the BLAS limit is process-wide, so points sharing a process (a dask
    worker with several threads) count themselves in and out: the first sets it and the last
    restores it (best effort from a non-main thread: see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._blas: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        import torch
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        with self._lock:
            if self._users == 0:
                self._blas = threadpool_limits(limits=1)
            self._users += 1
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._blas.restore_original_limits()
                    self._blas = None


_single_threaded = _ThreadLimit()


def _settings(point: PointSpec) -> Any:
    from lrbnn_core.certified_training import GridSettings

    budget = _budget(point.profile, point.arch)
    hidden = (point.width, point.width) if point.arch == Arch.MLP.value else ()
    return GridSettings(
        hidden=hidden,
        prior_epochs=budget.prior_epochs,
        posterior_epochs=budget.posterior_epochs,
        n_mc=budget.n_mc,
        n_test_mc=budget.n_test_mc,
    )


def _load(point: PointSpec) -> Any:
    from lrbnn_core.data import load_dataset

    data_name = SweepDataset(point.dataset)
    sizes = _budget(point.profile, point.arch).sizes.get(data_name, {})
    name = (
        "teacher_student_classification" if data_name is SweepDataset.TEACHER_STUDENT else data_name
    )
    data = load_dataset(name, seed=point.seed, **sizes)
    return data if point.arch == Arch.MLP.value else data.as_sequences()


def _builder(point: PointSpec, n_features: int, n_classes: int) -> Callable[[Any], Any]:
    from torch import nn

    from lrbnn_core.models import MLP, make_linear
    from lrbnn_core.recurrent import SequenceClassifier, make_lstm
    from lrbnn_core.transformer import make_transformer_encoder

    w, r, kind = point.width, point.rank, point.family
    head_rank = None if r is None else min(r, n_classes)

    def build(gen: Any) -> Any:
        if point.arch == Arch.MLP.value:
            return MLP((n_features, w, w, n_classes), kind, rank=r, generator=gen)
        encoder: nn.Module
        if point.arch == Arch.LSTM.value:
            encoder = make_lstm(kind, 1, w, rank=r, input_rank=1, generator=gen)
        else:
            heads = 4 if w % 4 == 0 else (2 if w % 2 == 0 else 1)
            encoder = make_transformer_encoder(
                kind, w, heads, 2 * w, 1, rank=r, input_size=1, generator=gen
            )
        head = make_linear(kind, w, n_classes, head_rank, generator=gen)
        return SequenceClassifier(encoder, n_classes, head=head)

    return build


def tail_from_singular_values(s: Any, r: int) -> float:
    r""":math:`\sigma_{>r} = \sqrt{\sum_{i > r} \sigma_i^2}` from singular values in decreasing
    order (as :func:`theory.eym.tail_energy` computes it from the matrix).

    Examples
    --------
    >>> round(tail_from_singular_values([3.0, 2.0, 1.0], 1) ** 2, 12)
    5.0
    """
    tail = np.asarray(s, dtype=np.float64)[r:]
    if tail.size == 0 or tail[0] == 0.0:
        return 0.0
    top = float(tail[0])
    # as theory.eym.tail_energy: scaled by the largest term, summed from the smallest up
    return top * float(np.sqrt(np.sum(np.sort((tail / top) ** 2))))


def compute_point(point: PointSpec) -> dict[str, Any]:
    """Train, certify and measure one grid point; returns its record (JSON values): ``row``
    (the columns of :data:`COLUMNS` known at the point) and what assembly needs
    (``singular_values`` of every layer's mean weight, ``layer_ranks``)."""
    import torch

    from lrbnn_core.base import bayesian_modules
    from lrbnn_core.certified_training import split_for_prior, train_and_certify
    from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear
    from lrbnn_core.metrics import evaluate
    from lrbnn_core.training import predict
    from theory.eym import singular_values
    from theory.gaussian_complexity import linear_class_complexity, pinto_bound_as_restated

    settings = _settings(point)
    budget = _budget(point.profile, point.arch)
    data = _load(point)
    n_classes = int(data.n_classes)
    n_features = int(data.x_train.shape[-1])
    run, model = train_and_certify(
        data,
        family=point.family,
        rank=point.rank,
        penalty=point.penalty,
        penalty_note=point.penalty_note,
        settings=settings,
        seed=point.seed,
        build=_builder(point, n_features, n_classes),
        progress=False,
    )
    cert = run.certificate
    s = point.seed

    def draws(x: torch.Tensor, offset: int, log: bool = False) -> torch.Tensor:
        gen = torch.Generator().manual_seed(s + offset)
        return predict(model, x, n_samples=settings.n_test_mc, generator=gen, return_log_probs=log)

    # seed + 2 is the generator of the run's test errors: test_error repeats its predictive error
    metrics = evaluate(
        draws(data.x_test, 2),
        data.y_test,
        ood_probs_samples=draws(data.x_ood, 3),
        log_probs_samples=draws(data.x_test, 2, log=True),
    )
    from lrbnn_core.priors import per_coordinate_kls

    kls = per_coordinate_kls(model)
    layers = bayesian_modules(model)
    weights = []
    for layer in layers:
        if not isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
            raise TypeError(f"the sweep needs Bayesian linear layers; got {type(layer).__name__}")
        weights.append(layer.mean_weight().detach().double().numpy())
    svals = [singular_values(w) for w in weights]
    shapes = [tuple(int(d) for d in w.shape) for w in weights]
    low_rank = point.family == "low_rank"
    ranks = [
        int(layer.rank) if isinstance(layer, LowRankBayesLinear) else min(shape)
        for layer, shape in zip(layers, shapes, strict=True)
    ]
    row: dict[str, Any] = {
        "point_id": point.point_id,
        "dataset": str(data.name.value),
        "arch": point.arch,
        "family": point.family,
        "rank": point.rank,
        "layer_ranks": ranks if low_rank else None,
        "width": point.width,
        "seed": point.seed,
        "layer_shapes": ";".join(f"{m}x{n}" for m, n in shapes),
        "n_train": len(data.x_train),
        "n_bound": cert.n,
        "params": run.params,
        "stochastic": run.stochastic,
        "prior": "data_dependent",
        "prior_scale": run.prior_scale,
        "test_error": 1.0 - metrics.accuracy,
        "test_gibbs_error": run.test_gibbs_error,
        "test_nll": metrics.nll,
        "test_ece": metrics.ece,
        "ood_auroc": metrics.ood_auroc,
        "kl": cert.kl,
        "kl_per_coord_mean": cert.kl / run.stochastic,
        "kl_per_coord_max": float(kls.max()),
        "mc_risk": cert.mc_risk,
        "mc_risk_bound": cert.mc_risk_bound,
        "penalty": cert.penalty,
        "mcallester": cert.mcallester,
        "kl_inverse": cert.kl_inverse,
        "catoni": cert.catoni,
        "confidence": cert.confidence,
        "gauge_gain": run.gauge_gain,
        "spectral_norms": [float(sv[0]) for sv in svals],
        "tail_energy": (
            [tail_from_singular_values(sv, r) for sv, r in zip(svals, ranks, strict=True)]
            if low_rank
            else None
        ),
    }
    if point.arch == Arch.MLP.value:
        _, bound_idx = split_for_prior(len(data.x_train), settings.prior_fraction, s)
        x_bound = data.x_train[bound_idx].double().numpy()
        x_sub = x_bound[: budget.gc_points]
        row["gc_restated"] = pinto_bound_as_restated(
            x_bound,
            spectral_bounds=row["spectral_norms"],
            ranks=ranks,
            widths=[m for m, _ in shapes],
            c0=PINTO_C0,
        )
        c1, r1, h1 = row["spectral_norms"][0], ranks[0], shapes[0][0]
        est, se = linear_class_complexity(
            x_sub,
            spectral_bound=c1,
            rank=r1,
            out_dim=h1,
            n_draws=budget.gc_draws,
            rng=np.random.default_rng([s, 17]),
        )
        row["gc_first_layer"], row["gc_first_layer_se"] = est, se
        row["gc_first_layer_restated"] = pinto_bound_as_restated(
            x_sub, spectral_bounds=[c1], ranks=[r1], widths=[h1], c0=PINTO_C0
        )
    return {
        "format": _POINT_FORMAT,
        "version": _VERSION,
        "point": point.as_dict(),
        "row": row,
        "singular_values": [[float(v) for v in sv] for sv in svals],
        "layer_ranks": ranks,
        "kl_sum_check": float(kls.sum()),
    }


def run_point(point: PointSpec) -> dict[str, Any]:
    """:func:`compute_point` single-threaded, with its wall time and where it ran (``timing``:
    for ``timings.csv`` only). The function every executor runs (module-level: picklable)."""
    start = time.perf_counter()
    with _single_threaded():
        record = compute_point(point)
    record["timing"] = {
        "seconds": time.perf_counter() - start,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    return record


# --- storage ---------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then ``os.replace``: a reader (or a
    restarted sweep) sees the old file or the new one, never a torn one, even after kill -9."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): give it the mode a plain open() would
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _point_path(out: Path, point: PointSpec) -> Path:
    return out / "points" / f"{point.point_id}.json"


def write_record(out: Path, point: PointSpec, record: dict[str, Any]) -> Path:
    """Store one finished point atomically; returns its path."""
    if record.get("point") != point.as_dict():
        raise ValueError(f"the record does not belong to grid point {point.point_id}")
    path = _point_path(out, point)
    # json writes floats with repr: they read back bit for bit
    _atomic_write(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return path


def read_record(out: Path, point: PointSpec) -> dict[str, Any] | None:
    """The stored record of ``point``, or ``None`` when it is missing or unusable (unreadable,
    or written for another point: it is then recomputed and replaced)."""
    path = _point_path(out, point)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        print(f"lrbnn sweep: {path} is unreadable; recomputing it", file=sys.stderr)
        return None
    ok = (
        isinstance(record, dict)
        and record.get("format") == _POINT_FORMAT
        and record.get("version") == _VERSION
        and record.get("point") == point.as_dict()
    )
    if not ok:
        print(f"lrbnn sweep: {path} belongs to another grid point; recomputing it", file=sys.stderr)
        return None
    return record


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else "unknown"


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in (
        "lrbnn-toolkit",
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "mnist1d",
        "matplotlib",
        "pillow",
        "tqdm",
        "threadpoolctl",
        "dask",
        "distributed",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _meta(spec: SweepSpec) -> dict[str, Any]:
    from lrbnn_core.certified_training import GridSettings

    penalty, note = grid_penalty(spec)
    budget = _budget(spec.profile, spec.arch)
    settings = asdict(replace(GridSettings(), hidden=()))
    settings.pop("hidden")
    settings.update(
        {
            "prior_epochs": budget.prior_epochs,
            "posterior_epochs": budget.posterior_epochs,
            "n_mc": budget.n_mc,
            "n_test_mc": budget.n_test_mc,
            "gc_points": budget.gc_points,
            "gc_draws": budget.gc_draws,
            "pinto_c0": PINTO_C0,
            "data_sizes": {k.value: v for k, v in budget.sizes.items()},
        }
    )
    return {
        "format": _FORMAT,
        "version": _VERSION,
        "arguments": spec.arguments(),
        "seeds": list(spec.seeds),
        "grid": [p.point_id for p in grid(spec)],
        "prior": (
            "data-dependent: Gaussian centred at an ELBO model trained on the prior half of the "
            "training set, stds scaled by each of std_scales; certificates on the other half"
        ),
        "penalty": penalty,
        "penalty_note": note,
        "settings": settings,
        "columns": list(COLUMNS),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def prepare_output(out: Path, spec: SweepSpec) -> bool:
    """Check that ``out`` can hold this sweep and write ``meta.json`` if it is new; returns
    whether a sweep with the same arguments was there. Raises :class:`SweepError` (before any
    training) when ``out`` is a file, holds another sweep, or holds sweep files without
    ``meta.json``. Stale temporary files of an interrupted run are removed."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"`--out` {out} is a file, not a folder")
    meta_path = out / "meta.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            there = meta["arguments"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SweepError(f"`--out` {out} holds an unreadable meta.json") from None
        here = spec.arguments()
        if there != here:
            diff = (
                ", ".join(
                    f"{k}: {there.get(k)!r} there, {here[k]!r} here"
                    for k in here
                    if there.get(k) != here[k]
                )
                or "unknown keys"
            )
            raise SweepError(
                f"`--out` {out} holds a different sweep ({diff}); use another --out or delete it"
            )
        existing = True
    else:
        if (out / "points").exists() or (out / "results.csv").exists():
            raise SweepError(f"`--out` {out} holds sweep files but no meta.json; delete them")
        existing = False
    points = out / "points"
    points.mkdir(parents=True, exist_ok=True)
    for tmp in points.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    if not existing:
        text = json.dumps(_meta(spec), indent=1, sort_keys=True) + "\n"
        _atomic_write(meta_path, text.encode())
    return existing


# --- assembly --------------------------------------------------------------------------------


def assemble_rows(spec: SweepSpec, records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per grid point, in grid order, with the columns that join a low-rank point to
    the mean-field point of the same width and seed (tail energies, complexity ratios)."""
    rows = []
    for point in grid(spec):
        record = records[point.point_id]
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(record["row"])
        mf_id = f"w{point.width}-s{point.seed}-mf"
        mf = records.get(mf_id) if point.family == "low_rank" else None
        if mf is not None:
            ranks = record["layer_ranks"]
            tails = [
                tail_from_singular_values(sv, r)
                for sv, r in zip(mf["singular_values"], ranks, strict=True)
            ]
            norms = [float(np.sqrt(np.sum(np.sort(np.square(sv))))) for sv in mf["singular_values"]]
            row["mf_tail_energy"] = tails
            row["mf_tail_energy_rel"] = [
                t / f if f > 0 else 0.0 for t, f in zip(tails, norms, strict=True)
            ]
            row["predicted_ratio"] = math.sqrt(row["stochastic"] / mf["row"]["stochastic"])
            kl_mf = mf["row"]["kl"]
            # a zero mean-field KL leaves the ratio undefined: the cell stays blank
            row["measured_ratio"] = math.sqrt(row["kl"] / kl_mf) if kl_mf > 0 else None
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"a results cell is not finite: {v!r}")
        return repr(v)
    if isinstance(value, (list, tuple)):
        return ";".join(_cell(v) for v in value)
    return str(value)


def results_csv(rows: Sequence[dict[str, Any]]) -> bytes:
    """The bytes of ``results.csv``: header :data:`COLUMNS`, one line per row, ``\\n`` endings."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return buf.getvalue().encode()


def _timings_csv(
    points: Sequence[PointSpec], records: dict[str, dict[str, Any]], fresh: set[str], total: float
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["point_id", "seconds", "computed", "host", "pid"])
    for p in points:
        t = records[p.point_id].get("timing", {})
        when = "this run" if p.point_id in fresh else "earlier run"
        writer.writerow(
            [p.point_id, repr(float(t.get("seconds", 0.0))), when, t.get("host"), t.get("pid")]
        )
    writer.writerow(
        ["total (this run, wall)", repr(total), "this run", socket.gethostname(), os.getpid()]
    )
    return buf.getvalue().encode()


# --- the driver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    """What one invocation did."""

    out: Path
    n_points: int
    #: points computed by this invocation
    computed: int
    #: points found in ``out/points`` from an earlier, interrupted or finished run
    reused: int
    results: Path
    timings: Path
    figures: tuple[Path, ...]
    seconds: float


def run_sweep(
    spec: SweepSpec,
    out: Path | str,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    figures: bool = True,
    point_fn: Callable[[PointSpec], dict[str, Any]] | None = None,
) -> SweepReport:
    """Run (or finish) the sweep into ``out`` and assemble its outputs.

    ``workers > 1``: a local pool of spawned processes; ``scheduler``: the address of a running
    dask.distributed scheduler. ``point_fn`` (default :func:`run_point`) computes one point;
    the driver writes each record as it arrives.
    """
    from verification.sweep_exec import execute

    start = time.perf_counter()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"`--workers` must be an int >= 1; got {workers!r}")
    if scheduler is not None and workers != 1:
        raise SweepError(
            "`--workers` is for local runs; with `--scheduler` the cluster's workers run the points"
        )
    folder = Path(out)
    prepare_output(folder, spec)
    points = grid(spec)
    records: dict[str, dict[str, Any]] = {}
    for p in points:
        found = read_record(folder, p)
        if found is not None:
            records[p.point_id] = found
    todo = [p for p in points if p.point_id not in records]
    fresh: set[str] = set()

    def on_result(point: PointSpec, record: dict[str, Any]) -> None:
        write_record(folder, point, record)
        records[point.point_id] = record
        fresh.add(point.point_id)

    execute(
        todo,
        point_fn or run_point,
        on_result,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        total=len(points),
        initial=len(points) - len(todo),
    )
    # assemble from the files on disk, whoever computed them: one path to the bytes
    stored = {p.point_id: read_record(folder, p) for p in points}
    missing = [k for k, v in stored.items() if v is None]
    if missing:
        raise RuntimeError(f"grid points missing after the run: {', '.join(missing)}")
    complete = {k: v for k, v in stored.items() if v is not None}
    rows = assemble_rows(spec, complete)
    results = folder / "results.csv"
    _atomic_write(results, results_csv(rows))
    made: tuple[Path, ...] = ()
    if figures:
        from verification.sweep_figures import make_sweep_figures

        made = tuple(make_sweep_figures(folder))
    seconds = time.perf_counter() - start
    timings = folder / "timings.csv"
    _atomic_write(timings, _timings_csv(points, complete, fresh, seconds))
    return SweepReport(
        out=folder,
        n_points=len(points),
        computed=len(fresh),
        reused=len(points) - len(todo),
        results=results,
        timings=timings,
        figures=made,
        seconds=seconds,
    )
