r"""One grid point: train, certify and measure it (:func:`compute_point`), single-threaded and
timed (:func:`run_point`, the function every executor runs).

A point is one model of one family (low-rank at one rank, or the mean-field baseline) at one
hidden width and one seed with one prior mode. With the data-dependent prior (the default) it is
trained and certified by the recipe of :mod:`lrbnn_core.certified_training`
(:func:`~lrbnn_core.certified_training.train_and_certify`): the seed splits the training set into
a prior part and a bound part (half each); a model trained on the prior part centres the
Gaussian prior (its stds times each prior scale); the posterior starts there and minimises the
kl-bound on the whole training set; low-rank posteriors are gauge-balanced; the 0-1 Gibbs risk
is certified on the bound part (``n = n_bound``) against each prior scale, and the best scale is
kept. With a data-free prior (``init``, ``zero``, ``scale_mixture``) it is trained and certified
by :func:`lrbnn_core.prior_modes.train_and_certify_data_free`: no split, one posterior per prior
std trained on the whole training set from the seeded initialisation, the certificate on all
``n`` examples (``n_bound = n_train``). The seed also generates the dataset (MNIST-1D and
teacher-student draw new examples for every seed; digits takes a new stratified split), so seeds
are independent repetitions.

Every point runs with one torch thread and one BLAS thread so that no reduction order depends on
the machine's load (the BLAS limit goes through threadpoolctl; OpenBLAS can ignore a limit set
from a thread other than the main one, so export ``OPENBLAS_NUM_THREADS=1`` on dask workers that
run several threads).

References: issue 8 (the sweep); claims C3/T3.6 (tail energy), E13/E17 (Gaussian complexity) of
``CLAIMS.md``.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from verification.sweep.budgets import PINTO_C0, _budget, _settings
from verification.sweep.premise import coordinate_kls, layer_kls
from verification.sweep.spec import Arch, PointSpec, SweepDataset, SweepPrior

__all__ = ["compute_point", "run_point", "tail_from_singular_values"]

#: The format and version of a point's record (``DIR/points/<point_id>.json``; checked on resume
#: by :func:`verification.sweep.storage.read_record`). Version 2: the file carries its digest.
_POINT_FORMAT = "lrbnn-sweep-point"
_VERSION = 2


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


def _load(point: PointSpec) -> Any:
    from lrbnn_core.data import load_dataset

    data_name = SweepDataset(point.dataset)
    sizes = _budget(point.profile, point.arch).sizes.get(data_name, {})
    name = (
        "teacher_student_classification" if data_name is SweepDataset.TEACHER_STUDENT else data_name
    )
    data = load_dataset(name, seed=point.seed, **sizes)
    return data if point.arch == Arch.MLP.value else data.as_sequences()


def _builder(point: PointSpec, data: Any) -> Callable[[Any], Any]:
    """The point's untrained model, built by its architecture's recipe
    (:meth:`lrbnn_core.recipes.Recipe.build`: App. F initialisation) at the point's width and
    rank, one Transformer block reading one value per token."""
    from lrbnn_core.recipes import recipe

    # the PBB recipe's posterior is a mean-field network
    kind = "mean_field" if point.family == "pbb" else point.family
    rec = replace(recipe(point.arch, kind), hidden=point.width, rank=point.rank, layers=1, patch=1)
    return lambda gen: rec.build(data, gen)


def grid_choices(penalty: float) -> int:
    """The number K of choices a grid's union bound pays ``penalty = ln K`` nats for: every
    posterior of the grid is among them, so each point's Monte Carlo budget is split K ways
    (:func:`lrbnn_core.certificates.certify`, ``mc_choices``) and all the grid's certificates,
    and the best, hold at once with probability ``>= 1 - delta - mc_delta``.

    Examples
    --------
    >>> grid_choices(math.log(14))
    14
    """
    k = round(math.exp(penalty))
    if k < 1 or abs(math.log(k) - penalty) > 1e-9:
        raise ValueError(f"`penalty` must be ln of a count of choices; got {penalty!r}")
    return k


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
    fit: Callable[..., Any] = train_and_certify
    recipe_settings: Any = settings
    prior = SweepPrior(point.prior)
    data_free = prior is not SweepPrior.DATA_DEPENDENT
    if data_free:
        from functools import partial

        from lrbnn_core.prior_modes import train_and_certify_data_free

        fit = partial(
            train_and_certify_data_free, prior=prior.value, epochs=budget.data_free_epochs
        )
    elif point.family == "pbb":
        from lrbnn_core.pbb import PBBSettings, train_and_certify_pbb

        # the same split, confidence, Monte Carlo sizes and epochs as the other families
        fit = train_and_certify_pbb
        recipe_settings = PBBSettings.from_grid(
            settings, prior_epochs=budget.prior_epochs, posterior_epochs=budget.posterior_epochs
        )
    run, model = fit(
        data,
        family=point.family,
        rank=point.rank,
        penalty=point.penalty,
        penalty_note=point.penalty_note,
        settings=recipe_settings,
        seed=point.seed,
        build=_builder(point, data),
        progress=False,
        mc_choices=grid_choices(point.penalty),
    )
    cert = run.certificate
    s = point.seed

    def draws(x: torch.Tensor, offset: int, log: bool = False) -> torch.Tensor:
        gen = torch.Generator().manual_seed(s + offset)
        return predict(model, x, n_samples=settings.n_test_mc, generator=gen, return_log_probs=log)

    # seed + 2 is the generator of the run's test errors: test_error repeats its predictive error.
    # The test draws once: the same networks' log-probabilities, and their exp as probabilities
    # (equal to a softmax of the same logits within rounding; a test compares them)
    test_log_probs = draws(data.x_test, 2, log=True)
    metrics = evaluate(
        test_log_probs.exp(),
        data.y_test,
        ood_probs_samples=draws(data.x_ood, 3),
        log_probs_samples=test_log_probs,
    )
    kls = coordinate_kls(model)
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
        "prior": prior.value,
        # the scale mixture chooses no scale: blank
        "prior_scale": None if prior is SweepPrior.SCALE_MIXTURE else run.prior_scale,
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
        **layer_kls(model),  # claim T3.8p per layer: verification.sweep.premise
    }
    if point.arch == Arch.MLP.value:
        # the certificate's sample: the bound part, or every example under a data-free prior
        _, bound_idx = split_for_prior(len(data.x_train), settings.prior_fraction, s)
        x_cert = data.x_train if data_free else data.x_train[bound_idx]
        x_bound = x_cert.double().numpy()
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
