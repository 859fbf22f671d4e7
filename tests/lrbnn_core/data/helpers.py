"""Helpers shared by the dataset tests."""

from __future__ import annotations

import torch

from lrbnn_core.data import Dataset, DatasetName

SMALL_SIZES: dict[DatasetName, dict[str, int]] = {
    DatasetName.TEACHER_STUDENT_CLASSIFICATION: {"n_train": 60, "n_test": 30, "n_ood": 20},
    DatasetName.TEACHER_STUDENT_REGRESSION: {"n_train": 60, "n_test": 30, "n_ood": 20},
    DatasetName.DIGITS: {"n_train": 200, "n_test": 50},
    DatasetName.MNIST1D: {"n_train": 80, "n_test": 40},
}


def _tensors(ds: Dataset) -> list[torch.Tensor]:
    return [ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.x_ood]
