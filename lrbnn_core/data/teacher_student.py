"""The teacher-student dataset: train, test and OOD sets drawn from one random teacher
(:func:`load_teacher_student`; the teacher: :mod:`lrbnn_core.data.teacher`)."""

from __future__ import annotations

from typing import Any

from lrbnn_core.data.common import _streams
from lrbnn_core.data.dataset import Dataset, DatasetName
from lrbnn_core.data.teacher import TaskKind, make_teacher_student_task
from theory._validation import check_int

__all__ = ["load_teacher_student"]


def load_teacher_student(
    *,
    seed: int,
    kind: TaskKind | str = TaskKind.CLASSIFICATION,
    in_features: int = 20,
    out_features: int = 10,
    n_train: int = 1000,
    n_test: int = 1000,
    n_ood: int = 1000,
    **task_options: Any,
) -> Dataset:
    r"""A teacher-student dataset; ``seed`` fixes the teacher and every split.

    ``SeedSequence(seed).spawn(4)`` gives the teacher, train, test and OOD streams.
    ``task_options`` go to :func:`make_teacher_student_task` (``decay``, ``rank``, ``alpha``,
    ``signal_std``, ``noise_std``, ``ood_shift``, ``ood_scale``). Fresh samples for the true
    risk: ``dataset.task.sample(n, seed=k)`` for any int ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = load_teacher_student(seed=0, kind="regression", decay="exact_low_rank", rank=2)
    >>> int(np.linalg.matrix_rank(ds.task.teacher)), tuple(ds.y_train.shape)
    (2, (1000, 10))
    """
    seed = check_int(seed, "seed", low=0)
    n_train = check_int(n_train, "n_train", low=1)
    n_test = check_int(n_test, "n_test", low=1)
    n_ood = check_int(n_ood, "n_ood", low=1)
    teacher_ss, train_ss, test_ss, ood_ss = _streams(seed, 4)
    task = make_teacher_student_task(
        in_features, out_features, kind=kind, seed=teacher_ss, **task_options
    )
    x_train, y_train = task.sample(n_train, seed=train_ss)
    x_test, y_test = task.sample(n_test, seed=test_ss)
    classification = task.kind is TaskKind.CLASSIFICATION
    return Dataset(
        name=DatasetName.TEACHER_STUDENT_CLASSIFICATION
        if classification
        else DatasetName.TEACHER_STUDENT_REGRESSION,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        x_ood=task.sample_ood(n_ood, seed=ood_ss),
        n_classes=task.out_features if classification else None,
        ood=(
            f"x ~ N(mu, {task.ood_scale:g}^2 I), mu = {task.ood_shift:g} * ones/sqrt(in): "
            "a shifted and scaled input distribution"
        ),
        task=task,
    )
