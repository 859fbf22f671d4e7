"""The common return type of the loaders (lrbnn_core.data.dataset)."""

from __future__ import annotations

import pytest

from lrbnn_core.data import Dataset, load_digits


def test_dataset_rejects_inconsistent_tensors() -> None:
    ds = load_digits(seed=0, n_train=100, n_test=50)
    with pytest.raises(ValueError, match=r"`y_train` must be int64 class indices in \[0, 10\)"):
        Dataset(**{**ds.__dict__, "y_train": ds.y_train.float()})
    with pytest.raises(ValueError, match="`x_ood` must be a non-empty float32 tensor"):
        Dataset(**{**ds.__dict__, "x_ood": ds.x_ood[:, :10]})
    with pytest.raises(ValueError, match="`y_test` must have 50 rows; got 49"):
        Dataset(**{**ds.__dict__, "y_test": ds.y_test[:49]})
