"""scikit-learn's digits (lrbnn_core.data.digits): the split against scikit-learn, the OOD
permutation."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits as sk_load_digits

from lrbnn_core.data import digits_split, load_digits


def test_digits_split_stratified_disjoint_and_equal_to_sklearn_data() -> None:
    x_sk, y_sk = sk_load_digits(return_X_y=True)
    counts = np.bincount(y_sk)
    train, test = digits_split(seed=7)
    assert len(test) == 360 and len(train) == len(y_sk) - 360
    assert set(train.tolist()).isdisjoint(test.tolist())
    assert sorted(train.tolist() + test.tolist()) == list(range(len(y_sk)))
    for idx in (train, test):
        share = counts * len(idx) / len(y_sk)
        got = np.bincount(y_sk[idx], minlength=10)
        assert np.all(got >= np.floor(share)) and np.all(got <= np.ceil(share))
    ds = load_digits(seed=7)
    assert torch.equal(ds.x_train, torch.tensor(x_sk[train] / 16.0, dtype=torch.float32))
    assert ds.y_test.tolist() == y_sk[test].tolist()
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0


def test_digits_ood_is_one_pixel_permutation_of_the_test_images() -> None:
    ds = load_digits(seed=0, n_train=300, n_test=100)
    ood, test = ds.x_ood.numpy(), ds.x_test.numpy()
    assert not np.array_equal(ood, test)
    # one permutation for every image: the columns (pixels) are the same multiset
    assert sorted(map(tuple, ood.T.tolist())) == sorted(map(tuple, test.T.tolist()))
