"""Every dataset by name (lrbnn_core.data.loading): shapes, dtypes, determinism, and the
loaders' refusals of bad input."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lrbnn_core.data import (
    DatasetName,
    load_dataset,
    load_digits,
    load_mnist1d,
    load_teacher_student,
)
from tests.lrbnn_core.data.helpers import SMALL_SIZES, _tensors


# co2 is a fixed real record (the seed does not change it): tests/lrbnn_core/data/test_timeseries.py
@pytest.mark.parametrize("name", [n for n in DatasetName if n is not DatasetName.CO2])
def test_load_dataset_shapes_dtypes_and_determinism(name: DatasetName) -> None:
    sizes = SMALL_SIZES[name]
    ds = load_dataset(name.value, seed=1, **sizes)
    again = load_dataset(name, seed=1, **sizes)
    other = load_dataset(name, seed=2, **sizes)
    assert ds.name is name
    assert all(torch.equal(s, t) for s, t in zip(_tensors(ds), _tensors(again), strict=True))
    assert not torch.equal(ds.x_train, other.x_train)
    assert ds.x_train.shape[0] == sizes["n_train"] and ds.x_test.shape[0] == sizes["n_test"]
    assert ds.x_ood.shape[0] == sizes.get("n_ood", sizes["n_test"])
    assert ds.x_ood.shape[1:] == ds.x_train.shape[1:] == ds.x_test.shape[1:]
    assert {t.dtype for t in (ds.x_train, ds.x_test, ds.x_ood)} == {torch.float32}
    if name is DatasetName.TEACHER_STUDENT_REGRESSION:
        assert ds.n_classes is None and ds.y_train.dtype == torch.float32
        assert ds.y_train.shape == (sizes["n_train"], 10)
    else:
        assert ds.n_classes == 10 and ds.y_train.dtype == torch.int64
        assert ds.y_train.shape == (sizes["n_train"],)
        assert 0 <= int(ds.y_train.min()) and int(ds.y_train.max()) < 10
    assert ds.describe().startswith(f"{name.value}: {sizes['n_train']} train")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: load_dataset("cifar10", seed=0), ValueError, "`name` must be one of .*'cifar10'"),
        (lambda: load_dataset("digits", seed=-1), ValueError, r"`seed` must be an int in \[0, "),
        (lambda: load_dataset("digits", seed=1.0), TypeError, "`seed` must be an int; got 1.0"),  # type: ignore[arg-type]
        (lambda: load_dataset("digits", seed=0, n_test=0), ValueError, "`n_test` must be an int"),
        (lambda: load_digits(seed=0, n_train=1500), ValueError, r"`n_train` .* \[10, 1437\]"),
        (lambda: load_digits(seed=2**32), ValueError, r"`seed` must be an int in \[0, 4294967295"),
        (
            lambda: load_mnist1d(seed=0, n_train=15, n_test=10),
            ValueError,
            r"`n_train \+ n_test` must be a multiple of 10.*got 15 \+ 10 = 25",
        ),
        (lambda: load_mnist1d(seed=0, n_train=-10), ValueError, "`n_train` must be an int"),
        (
            lambda: load_teacher_student(seed=0, n_ood=0),
            ValueError,
            r"`n_ood` must be an int in \[1, inf\]; got 0",
        ),
        (
            lambda: load_teacher_student(seed=0, in_features=4, decay="exact_low_rank", rank=5),
            ValueError,
            r"`rank` must be an int in \[1, 4\]; got 5",
        ),
        (
            lambda: load_teacher_student(seed=0, decay="exact_low_rank"),
            ValueError,
            "`rank` is required with decay='exact_low_rank'",
        ),
        (
            lambda: load_teacher_student(seed=0, decay="flat", rank=2),
            ValueError,
            "`rank` is only used with decay='exact_low_rank'; got rank=2",
        ),
        (
            lambda: load_teacher_student(seed=0, decay="flat", alpha=1.0),
            ValueError,
            "`alpha` is only used with decay='power_law'",
        ),
        (
            lambda: load_teacher_student(seed=0, alpha=0.0),
            ValueError,
            r"`alpha` must be a finite float in \(0, inf\); got 0.0",
        ),
        (lambda: load_teacher_student(seed=0, decay="cubic"), ValueError, "`decay` must be one"),
        (lambda: load_teacher_student(seed=0, kind="ranking"), ValueError, "`kind` must be one"),
        (
            lambda: load_teacher_student(seed=0, out_features=1),
            ValueError,
            "classification needs `out_features` >= 2 classes; got 1",
        ),
        (
            lambda: load_teacher_student(seed=0, noise_std=-0.1),
            ValueError,
            r"`noise_std` must be a finite float in \[0, inf\); got -0.1",
        ),
        (
            lambda: load_teacher_student(seed=0, ood_scale=float("nan")),
            ValueError,
            "`ood_scale` must be a finite float",
        ),
        (
            lambda: load_teacher_student(seed=0, signal_std=True),
            TypeError,
            "`signal_std` must be a real number; got True",
        ),
    ],
)
def test_loaders_reject_bad_input(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()
