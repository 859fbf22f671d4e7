"""scikit-learn's 8 x 8 digits (1797 images, shipped with scikit-learn): a stratified split
and the pixel-permuted OOD set (notes: :mod:`lrbnn_core.data`)."""

from __future__ import annotations

import functools

import numpy as np
import torch
from numpy.typing import NDArray

from lrbnn_core.data.common import _legacy_seed, _streams
from lrbnn_core.data.dataset import Dataset, DatasetName
from theory._validation import check_int

__all__ = ["digits_split", "load_digits"]


_DIGITS_N_CLASSES = 10


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    from sklearn.datasets import load_digits as sk_load_digits

    x, y = sk_load_digits(return_X_y=True)
    # pixel counts are integers in [0, 16]
    xs = (np.asarray(x, dtype=np.float64) / 16.0).astype(np.float32)
    ys = np.asarray(y, dtype=np.int64)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


def digits_split(
    *, seed: int, n_train: int | None = None, n_test: int = 360
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Stratified, disjoint train and test row indices into scikit-learn's 1797 digits.

    scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)``: each class gets
    the floor or the ceiling of its proportional share of each split.

    Parameters
    ----------
    seed : int
        In [0, 2**32 - 1].
    n_train : int, optional
        At least 10; default all rows not in the test set (1797 - n_test).
    n_test : int
        At least 10 (one per class); ``n_train + n_test <= 1797``.

    Examples
    --------
    >>> train, test = digits_split(seed=0, n_train=100, n_test=50)
    >>> len(train), len(test), len(set(train) & set(test))
    (100, 50, 0)
    """
    from sklearn.model_selection import train_test_split

    _, y = _digits_arrays()
    total = len(y)
    seed = _legacy_seed(seed)
    n_test = check_int(n_test, "n_test", low=_DIGITS_N_CLASSES, high=total - _DIGITS_N_CLASSES)
    n_train = check_int(
        total - n_test if n_train is None else n_train,
        "n_train",
        low=_DIGITS_N_CLASSES,
        high=total - n_test,
    )
    train, test = train_test_split(
        np.arange(total), train_size=n_train, test_size=n_test, stratify=y, random_state=seed
    )
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


def load_digits(*, seed: int, n_train: int | None = None, n_test: int = 360) -> Dataset:
    """scikit-learn's 8 x 8 digits: 64 pixel features scaled to [0, 1], 10 classes.

    The split is :func:`digits_split`. OOD set: the test images with their 64 pixels permuted
    by one fixed permutation drawn from ``seed`` (pixel intensities kept, spatial structure
    destroyed; labels have no meaning there, so none are returned).

    Examples
    --------
    >>> ds = load_digits(seed=0, n_train=500, n_test=100)
    >>> tuple(ds.x_train.shape), ds.y_train.dtype, float(ds.x_train.max()) <= 1.0
    ((500, 64), torch.int64, True)
    """
    train, test = digits_split(seed=seed, n_train=n_train, n_test=n_test)
    x, y = _digits_arrays()
    (perm_ss,) = _streams(seed, 1)
    perm = np.random.default_rng(perm_ss).permutation(x.shape[1])
    x_test = x[test]
    return Dataset(
        name=DatasetName.DIGITS,
        x_train=torch.tensor(x[train]),
        y_train=torch.tensor(y[train]),
        x_test=torch.tensor(x_test),
        y_test=torch.tensor(y[test]),
        x_ood=torch.tensor(x_test[:, perm]),
        n_classes=_DIGITS_N_CLASSES,
        ood="the test images with their 64 pixels permuted by one fixed permutation",
    )
