r"""One (task, family, seed) of ``lrbnn compare``: train the family by its recipe, predict on the
test and OOD sets, score one :class:`~lrbnn_core.comparison.CompareRow`
(:func:`run_compare`).

Posterior draws: the recipe's ``n_test_samples`` at scale ``"full"`` (fewer at ``"quick"`` and
``"smoke"``, :data:`~lrbnn_core.comparison.SCALE_TABLE`), from a generator seeded by the run's
seed (test set first, then OOD). Training is seeded too, so one seed gives the same row every
time except its timing fields (``seconds_per_epoch``, ``train_seconds``).

References: ``CLAIMS.md`` X1-X6; issue 18.
"""

from __future__ import annotations

from dataclasses import asdict

from lrbnn_core._validation import check_int
from lrbnn_core.comparison.families import Family, parse_family, train_family
from lrbnn_core.comparison.scoring import (
    CompareArrays,
    CompareRow,
    score_classification,
    score_regression,
)
from lrbnn_core.comparison.tasks import (
    CO2_NOISE_STD,
    CompareTask,
    Scale,
    parse_scale,
    parse_task,
    task_data,
)

__all__ = ["run_compare"]


def run_compare(
    task: CompareTask | str,
    family: Family | str,
    seed: int,
    *,
    scale: Scale | str = Scale.FULL,
    progress: bool = False,
) -> tuple[CompareRow, CompareArrays]:
    """Train and score ``family`` on ``task`` at ``seed`` (module notes).

    Parameters
    ----------
    task : {"mlp_mnist1d", "mlp_digits", "lstm_co2", "transformer_mnist1d"}
    family : {"deterministic", "deep_ensemble", "mean_field", "low_rank", "lr_svd", "rank1"}
    seed : int
        >= 0: initialisation, validation split, training and posterior draws (digits: also the
        train/test split).
    scale : {"smoke", "quick", "full"}
    progress : bool
        A progress bar per training run.

    Returns
    -------
    (CompareRow, CompareArrays)

    Examples
    --------
    >>> row, arrays = run_compare("mlp_digits", "deterministic", 0, scale="smoke")
    >>> row.n_samples, row.ood_auroc, row.mi_ratio, arrays.test_confidence.shape
    (1, 0.5, None, (100,))
    """
    chosen_task = parse_task(task)
    chosen = parse_family(family)
    seed = check_int(seed, "seed", 0)
    size = parse_scale(scale)
    if not isinstance(progress, bool):
        raise TypeError(f"`progress` must be a bool; got {progress!r}")
    data = task_data(chosen_task, seed, size)
    trained, laid = train_family(chosen_task, chosen, seed, size, data, progress=progress)
    test = trained.predictor(laid.x_test)
    ood = trained.predictor(laid.x_ood)
    if laid.n_classes is not None:
        scores, arrays = score_classification(test, laid.y_test, ood)
    else:
        scores, arrays = score_regression(test, laid.y_test, ood, noise_std=CO2_NOISE_STD)
    row = CompareRow(
        task=chosen_task.value,
        family=chosen.value,
        seed=seed,
        rank=trained.rank,
        params=trained.params,
        n_samples=trained.n_samples,
        epochs=trained.epochs,
        seconds_per_epoch=trained.seconds_per_epoch,
        train_seconds=trained.train_seconds,
        peak_memory_mb=trained.peak_memory_mb,
        n_test=len(laid.x_test),
        n_ood=len(laid.x_ood),
        **asdict(scores),
    )
    return row, arrays
