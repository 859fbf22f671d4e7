"""run_compare (lrbnn_core.comparison): every (task, family) at scale "smoke" gives a finite,
in-range row; one seed gives one row (timing aside); bad input is refused by name."""

from __future__ import annotations

import math
from dataclasses import asdict, fields

import numpy as np
import pytest

from lrbnn_core.comparison import (
    SCALE_TABLE,
    CompareRow,
    CompareTask,
    Family,
    Scale,
    compare_recipe,
    run_compare,
)

#: the fields that are wall-clock measurements (the only ones that may differ between runs)
TIMING = {"seconds_per_epoch", "train_seconds"}
#: the row's fields, exactly these names (the verification side reads them)
FIELDS = (
    "task family seed rank params n_samples accuracy mae nll brier ece picp mi_in mi_ood "
    "mi_ratio ood_auroc ood_aupr ood_score selective_90 selective_80 epochs seconds_per_epoch "
    "train_seconds peak_memory_mb n_test n_ood"
).split()
CLASSIFICATION_ONLY = ("accuracy", "brier", "mi_in", "mi_ood")
REGRESSION_ONLY = ("mae", "picp")


def test_compare_row_has_exactly_the_agreed_fields() -> None:
    assert [f.name for f in fields(CompareRow)] == FIELDS


@pytest.mark.parametrize("family", list(Family))
@pytest.mark.parametrize("task", list(CompareTask))
def test_run_compare_smoke_row_is_finite_and_in_range(task: CompareTask, family: Family) -> None:
    row, arrays = run_compare(task, family, 1, scale="smoke")
    sizes = SCALE_TABLE[Scale.SMOKE].data[task]
    assert sizes is not None
    assert (row.task, row.family, row.seed) == (task.value, family.value, 1)
    assert (row.n_test, row.n_ood) == sizes[1:]
    regression = task is CompareTask.LSTM_CO2
    values = asdict(row)
    for name in CLASSIFICATION_ONLY:
        assert (values[name] is None) == regression, name
    for name in REGRESSION_ONLY:
        assert (values[name] is None) != regression, name
    for name, value in values.items():
        if isinstance(value, float):
            assert math.isfinite(value), (name, value)
    assert row.ood_score == ("std" if regression else "mi")
    for name in ("ece", "ood_auroc", "ood_aupr", "accuracy", "brier", "picp"):
        value = values[name]
        assert value is None or 0.0 <= value <= (2.0 if name == "brier" else 1.0), (name, value)
    assert row.nll > 0.0 if not regression else math.isfinite(row.nll)
    assert row.params > 0 and row.epochs >= 1 and row.peak_memory_mb > 0.0
    assert row.train_seconds > 0.0 and row.seconds_per_epoch > 0.0
    deterministic = family is Family.DETERMINISTIC
    expected_samples = {Family.DETERMINISTIC: 1, Family.DEEP_ENSEMBLE: 5}
    assert row.n_samples == expected_samples.get(family, SCALE_TABLE[Scale.SMOKE].n_test_samples)
    if deterministic:
        # a constant score: AUROC 0.5 (the paper's .500), no MI ratio
        assert row.ood_auroc == 0.5 and row.mi_ratio is None
    if not regression and not deterministic:
        assert row.mi_in is not None and row.mi_in > 0.0 and row.mi_ratio is not None
    rank = SCALE_TABLE[Scale.SMOKE].rank
    assert row.rank == (rank if family in (Family.LOW_RANK, Family.LR_SVD) else None)
    for name in ("test_confidence", "test_correct"):
        a = getattr(arrays, name)
        assert a.dtype == np.float32 and a.shape == (row.n_test,) and np.isfinite(a).all()
    assert arrays.ood_score_in.shape == (row.n_test,)
    assert arrays.ood_score_out.shape == (row.n_ood,)
    if not regression:
        assert float(arrays.test_correct.mean()) == pytest.approx(row.accuracy, abs=1e-6)


def test_run_compare_parameter_counts_follow_the_families() -> None:
    """Deep ensemble = 5 deterministic models; mean-field = twice the deterministic weights."""
    task = CompareTask.MLP_DIGITS
    params = {f: run_compare(task, f, 0, scale="smoke")[0].params for f in Family}
    assert params[Family.DEEP_ENSEMBLE] == 5 * params[Family.DETERMINISTIC]
    assert params[Family.MEAN_FIELD] == 2 * params[Family.DETERMINISTIC]
    assert params[Family.LOW_RANK] == params[Family.LR_SVD] < params[Family.DETERMINISTIC]
    # rank-1: W and b point estimates plus (mean, rho) of r and s per layer (64-16-16-10)
    extra = 2 * sum(a + b for a, b in ((64, 16), (16, 16), (16, 10)))
    assert params[Family.RANK1] == params[Family.DETERMINISTIC] + extra


@pytest.mark.parametrize(
    ("task", "family"),
    [
        (CompareTask.LSTM_CO2, Family.LOW_RANK),
        (CompareTask.MLP_DIGITS, Family.DEEP_ENSEMBLE),
        (CompareTask.TRANSFORMER_MNIST1D, Family.RANK1),
        (CompareTask.MLP_MNIST1D, Family.LR_SVD),
    ],
)
def test_run_compare_same_seed_same_row(task: CompareTask, family: Family) -> None:
    first, a1 = run_compare(task, family, 3, scale="smoke")
    second, a2 = run_compare(task, family, 3, scale="smoke")
    other, _ = run_compare(task, family, 4, scale="smoke")
    d1, d2, d3 = asdict(first), asdict(second), asdict(other)
    for name in TIMING:
        d1.pop(name), d2.pop(name), d3.pop(name)
    assert d1 == d2
    for name in ("test_confidence", "test_correct", "ood_score_in", "ood_score_out"):
        np.testing.assert_array_equal(getattr(a1, name), getattr(a2, name))
    # the check can fail: another seed gives another row
    assert {k: v for k, v in d1.items() if k != "seed"} != {
        k: v for k, v in d3.items() if k != "seed"
    }


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"task": "mlp_cifar"}, ValueError, "`task` must be one of .*got 'mlp_cifar'"),
        ({"family": "swag"}, ValueError, "`family` must be one of .*got 'swag'"),
        ({"scale": "huge"}, ValueError, "`scale` must be one of .*got 'huge'"),
        ({"seed": -1}, ValueError, r"`seed` must be an int in \[0, inf\]; got -1"),
        ({"seed": 1.5}, TypeError, "`seed` must be an int; got 1.5"),
        ({"progress": 1}, TypeError, "`progress` must be a bool; got 1"),
    ],
)
def test_run_compare_refuses_bad_input_by_name(
    kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    args: dict[str, object] = {
        "task": "mlp_digits",
        "family": "deterministic",
        "seed": 0,
        "scale": "smoke",
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        run_compare(**args)  # type: ignore[arg-type]


def test_compare_recipe_reads_the_scale_table() -> None:
    full = compare_recipe("transformer_mnist1d", "low_rank", "full")
    quick = compare_recipe("transformer_mnist1d", "low_rank", "quick")
    smoke = compare_recipe("transformer_mnist1d", "low_rank", "smoke")
    assert (full.epochs, full.hidden, full.rank, full.n_test_samples) == (100, 64, 16, 100)
    assert (quick.epochs, quick.hidden, quick.n_test_samples) == (25, 64, 30)
    assert (smoke.epochs, smoke.hidden, smoke.rank, smoke.layers) == (2, 16, 2, 1)
    assert compare_recipe("lstm_co2", "mean_field", "smoke").rank is None
