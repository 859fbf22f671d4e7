"""Load a dataset by name (:class:`~lrbnn_core.data.DatasetName`)."""

from __future__ import annotations

from typing import Any

from lrbnn_core.data.common import _enum
from lrbnn_core.data.dataset import Dataset, DatasetName
from lrbnn_core.data.digits import load_digits
from lrbnn_core.data.mnist_1d import load_mnist1d
from lrbnn_core.data.teacher import TaskKind
from lrbnn_core.data.teacher_student import load_teacher_student
from lrbnn_core.data.timeseries import load_co2

__all__ = ["load_dataset"]


def load_dataset(name: DatasetName | str, *, seed: int, **options: Any) -> Dataset:
    """Load a dataset by name; ``options`` (sizes and task settings) go to its loader.

    ``teacher_student_*``: :func:`load_teacher_student`; ``digits``: :func:`load_digits`;
    ``mnist1d``: :func:`load_mnist1d`; ``co2``: :func:`load_co2`.

    Examples
    --------
    >>> load_dataset("teacher_student_classification", seed=0, n_train=50).n_classes
    10
    """
    name = _enum(DatasetName, name, "name")
    if name is DatasetName.TEACHER_STUDENT_CLASSIFICATION:
        return load_teacher_student(seed=seed, kind=TaskKind.CLASSIFICATION, **options)
    if name is DatasetName.TEACHER_STUDENT_REGRESSION:
        return load_teacher_student(seed=seed, kind=TaskKind.REGRESSION, **options)
    if name is DatasetName.DIGITS:
        return load_digits(seed=seed, **options)
    if name is DatasetName.CO2:
        return load_co2(seed=seed, **options)
    return load_mnist1d(seed=seed, **options)
