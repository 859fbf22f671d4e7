"""MNIST-1D (lrbnn_core.data.mnist_1d) against a direct ``make_dataset`` call, and no leak of
global random state."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch

from lrbnn_core.data import load_mnist1d, mnist_1d


def _global_states() -> tuple[Any, Any]:
    return np.random.get_state(), random.getstate()  # noqa: NPY002


def _states_equal(a: tuple[Any, Any], b: tuple[Any, Any]) -> bool:
    (name_a, keys_a, pos_a, gauss_a, cached_a), py_a = a
    (name_b, keys_b, pos_b, gauss_b, cached_b), py_b = b
    return (
        name_a == name_b
        and np.array_equal(keys_a, keys_b)
        and (pos_a, gauss_a, cached_a) == (pos_b, gauss_b, cached_b)
        and py_a == py_b
    )


@pytest.fixture
def isolated_global_rng() -> Iterator[None]:
    """Restore numpy's and Python's global generators after a test that calls mnist1d itself."""
    saved = _global_states()
    yield
    np.random.set_state(saved[0])  # noqa: NPY002
    random.setstate(saved[1])


def _direct_make_dataset(n_samples: int, seed: int, **overrides: Any) -> dict[str, Any]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = n_samples
    args.seed = seed
    for key, value in overrides.items():
        setattr(args, key, value)
    return dict(make_dataset(args))


def test_mnist1d_equals_direct_make_dataset(isolated_global_rng: None) -> None:
    ds = load_mnist1d(seed=3, n_train=70, n_test=30)
    direct = _direct_make_dataset(100, 3)
    x = np.concatenate([direct["x"], direct["x_test"]]).astype(np.float32)
    y = np.concatenate([direct["y"], direct["y_test"]])
    assert torch.equal(torch.cat([ds.x_train, ds.x_test]), torch.from_numpy(x))
    assert torch.cat([ds.y_train, ds.y_test]).tolist() == y.tolist()
    assert np.bincount(y).tolist() == [10] * 10


def test_mnist1d_ood_is_the_shuffled_sequence_variant(isolated_global_rng: None) -> None:
    ds = load_mnist1d(seed=3, n_train=70, n_test=30)
    shuffled = _direct_make_dataset(100, 3, shuffle_seq=True, train_split=0.7)
    assert torch.equal(ds.x_ood, torch.from_numpy(shuffled["x_test"].astype(np.float32)))
    assert not torch.equal(ds.x_ood, ds.x_test)


def test_mnist1d_loader_leaves_global_rng_state_unchanged(isolated_global_rng: None) -> None:
    mnist_1d._mnist1d_arrays.cache_clear()
    before = _global_states()
    load_mnist1d(seed=11, n_train=20, n_test=10)
    assert _states_equal(before, _global_states())
    # the guard is needed: mnist1d itself reseeds the global generators
    _direct_make_dataset(30, 11)
    assert not _states_equal(before, _global_states())


def test_mnist1d_sequences_and_cache_returns_copies() -> None:
    ds = load_mnist1d(seed=5, n_train=30, n_test=10)
    seq = ds.as_sequences()
    assert seq.x_train.shape == (30, 40, 1) and seq.x_ood.shape == (10, 40, 1)
    assert torch.equal(seq.x_test[..., 0], ds.x_test)
    ds.x_train.zero_()
    assert not torch.equal(load_mnist1d(seed=5, n_train=30, n_test=10).x_train, ds.x_train)


@pytest.mark.slow
def test_mnist1d_default_seed_42_is_the_standard_dataset(isolated_global_rng: None) -> None:
    ds = load_mnist1d(seed=42)
    from mnist1d.data import make_dataset

    direct = make_dataset()
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert torch.equal(ds.x_train, torch.from_numpy(direct["x"].astype(np.float32)))
    assert ds.y_test.tolist() == direct["y_test"].tolist()
