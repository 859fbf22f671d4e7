"""Datasets: determinism, shapes, the teacher's spectrum against numpy's SVD, noise laws against
chi-square and Hoeffding bounds, the digits split against scikit-learn, MNIST-1D against a direct
``make_dataset`` call, and no leak of global random state."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.datasets import load_digits as sk_load_digits

from lrbnn_core import data
from lrbnn_core.data import (
    Dataset,
    DatasetName,
    Decay,
    TaskKind,
    digits_split,
    load_dataset,
    load_digits,
    load_mnist1d,
    load_teacher_student,
    make_teacher_student_task,
    teacher_singular_values,
)

#: false-failure probability of each statistical assertion below
P_FAIL = 1e-6
#: float64 SVD is backward stable: singular values are exact to a few eps times ||T||_2
SVD_RTOL = 1e-12
#: float32 rounding of the returned targets (a few ulps of a float32)
FLOAT32_RTOL = 4 * float(np.finfo(np.float32).eps)

SMALL_SIZES: dict[DatasetName, dict[str, int]] = {
    DatasetName.TEACHER_STUDENT_CLASSIFICATION: {"n_train": 60, "n_test": 30, "n_ood": 20},
    DatasetName.TEACHER_STUDENT_REGRESSION: {"n_train": 60, "n_test": 30, "n_ood": 20},
    DatasetName.DIGITS: {"n_train": 200, "n_test": 50},
    DatasetName.MNIST1D: {"n_train": 80, "n_test": 40},
}


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


def _tensors(ds: Dataset) -> list[torch.Tensor]:
    return [ds.x_train, ds.y_train, ds.x_test, ds.y_test, ds.x_ood]


# ------------------------------------------------------------------------------------------
# teacher-student


@pytest.mark.parametrize(
    ("decay", "options"),
    [
        (Decay.FLAT, {}),
        (Decay.POWER_LAW, {}),
        (Decay.POWER_LAW, {"alpha": 2.5}),
        (Decay.EXACT_LOW_RANK, {"rank": 3}),
    ],
)
@pytest.mark.parametrize(("n_in", "n_out"), [(12, 7), (5, 9)])
def test_teacher_singular_values_match_numpy_svd(
    decay: Decay, options: dict[str, Any], n_in: int, n_out: int
) -> None:
    signal_std = 1.7
    task = make_teacher_student_task(
        n_in, n_out, kind="regression", decay=decay, signal_std=signal_std, seed=5, **options
    )
    k = min(n_in, n_out)
    # the twin: the decay written out from its definition, normalised by hand
    i = np.arange(1, k + 1, dtype=np.float64)
    if decay is Decay.FLAT:
        profile = np.ones(k)
    elif decay is Decay.POWER_LAW:
        profile = i ** -options.get("alpha", 1.0)
    else:
        profile = np.where(i <= options["rank"], 1.0, 0.0)
    expected = profile * signal_std * math.sqrt(n_out) / math.sqrt(float(np.sum(profile**2)))
    svd = np.linalg.svd(task.teacher, compute_uv=False)
    atol = SVD_RTOL * expected[0]
    assert task.teacher.shape == (n_out, n_in)
    np.testing.assert_allclose(svd, expected, rtol=0, atol=atol)
    np.testing.assert_allclose(task.singular_values, expected, rtol=0, atol=atol)
    assert np.linalg.norm(task.teacher) == pytest.approx(signal_std * math.sqrt(n_out), rel=1e-12)


@pytest.mark.parametrize("rank", [1, 2, 4, 6])
def test_teacher_exact_low_rank_has_exact_rank(rank: int) -> None:
    task = make_teacher_student_task(
        10, 6, kind="classification", decay="exact_low_rank", rank=rank, seed=rank
    )
    assert np.linalg.matrix_rank(task.teacher) == rank
    assert np.count_nonzero(task.singular_values) == rank


def test_teacher_singular_values_doc_example_and_monotone() -> None:
    s = teacher_singular_values(6, Decay.POWER_LAW, alpha=0.5, frobenius_norm=3.0)
    assert np.all(np.diff(s) < 0)
    np.testing.assert_allclose(s[1:] / s[0], np.arange(2, 7) ** -0.5, rtol=1e-15)


def test_teacher_student_regression_noise_variance_chi_square() -> None:
    r"""Residuals y - T x are N(0, nu^2): sum of squares / nu^2 ~ chi2(n * out).

    Two-sided, P_FAIL in total; the float32 rounding of y moves the statistic by about 1e-6
    relative, far inside the interval (width ~ 10 sqrt(2 N) / N relative).
    """
    nu = 0.3
    task = make_teacher_student_task(8, 5, kind="regression", noise_std=nu, seed=1)
    x, y = task.sample(2000, seed=2)
    residual = y.double().numpy() - x.double().numpy() @ task.teacher.T
    dof = residual.size
    statistic = float(np.sum(residual**2)) / nu**2
    assert stats.chi2.ppf(P_FAIL / 2, dof) <= statistic <= stats.chi2.isf(P_FAIL / 2, dof)
    # the noise is centred: its mean is N(0, nu^2 / N)
    z = stats.norm.isf(P_FAIL / 2)
    assert abs(float(residual.mean())) <= z * nu / math.sqrt(dof)


def test_teacher_student_regression_noiseless_targets_equal_teacher_map() -> None:
    task = make_teacher_student_task(8, 5, kind="regression", noise_std=0.0, seed=1)
    x, y = task.sample(100, seed=3)
    assert y.dtype == torch.float32 and y.shape == (100, 5)
    np.testing.assert_allclose(
        y.numpy(), x.double().numpy() @ task.teacher.T, rtol=FLOAT32_RTOL, atol=1e-7
    )


def test_teacher_student_classification_labels_are_teacher_argmax() -> None:
    task = make_teacher_student_task(8, 5, kind="classification", noise_std=0.0, seed=1)
    x, y = task.sample(500, seed=3)
    expected = np.argmax(x.double().numpy() @ task.teacher.T, axis=1)
    assert y.dtype == torch.int64
    assert y.tolist() == expected.tolist()


def test_teacher_student_classification_label_noise_matches_monte_carlo() -> None:
    r"""The label flip rate against an independent Monte Carlo twin on the same inputs.

    d_i = 1[y_i != argmax T x_i] - 1[argmax(T x_i + nu e_i) != argmax T x_i] has mean 0 and
    lies in [-1, 1]; Hoeffding: P(|mean d| >= t) <= 2 exp(-n t^2 / 2) = P_FAIL.
    """
    nu, n = 1.0, 20000
    task = make_teacher_student_task(6, 4, kind="classification", noise_std=nu, seed=4)
    x, y = task.sample(n, seed=5)
    logits = x.double().numpy() @ task.teacher.T
    clean = np.argmax(logits, axis=1)
    twin_rng = np.random.default_rng(99)
    twin = np.argmax(logits + nu * twin_rng.standard_normal(logits.shape), axis=1)
    flips = (y.numpy() != clean).astype(float)
    twin_flips = (twin != clean).astype(float)
    t = math.sqrt(2 * math.log(2 / P_FAIL) / n)
    assert flips.mean() > 0.1  # nu = 1 flips many labels: the comparison below has power
    assert abs(flips.mean() - twin_flips.mean()) <= t


def test_teacher_student_ood_inputs_follow_shifted_scaled_gaussian() -> None:
    """Projection on ones/sqrt(d) ~ N(shift, scale^2 / n); standardised squares ~ chi2(n d)."""
    shift, scale, d, n = 2.0, 3.0, 7, 3000
    task = make_teacher_student_task(
        d, 3, kind="classification", ood_shift=shift, ood_scale=scale, seed=0
    )
    x = task.sample_ood(n, seed=1).double().numpy()
    u = np.ones(d) / math.sqrt(d)
    z = stats.norm.isf(P_FAIL / 4)
    assert abs(float((x @ u).mean()) - shift) <= z * scale / math.sqrt(n)
    statistic = float(np.sum(((x - shift * u) / scale) ** 2))
    dof = n * d
    assert stats.chi2.ppf(P_FAIL / 4, dof) <= statistic <= stats.chi2.isf(P_FAIL / 4, dof)


def test_teacher_student_same_seed_identical_different_seed_differs() -> None:
    sizes = SMALL_SIZES[DatasetName.TEACHER_STUDENT_REGRESSION]
    a = load_teacher_student(seed=3, kind="regression", **sizes)
    b = load_teacher_student(seed=3, kind="regression", **sizes)
    c = load_teacher_student(seed=4, kind="regression", **sizes)
    assert a.task is not None and b.task is not None and c.task is not None
    assert np.array_equal(a.task.teacher, b.task.teacher)
    assert all(torch.equal(s, t) for s, t in zip(_tensors(a), _tensors(b), strict=True))
    assert not np.array_equal(a.task.teacher, c.task.teacher)
    assert not any(torch.equal(s, t) for s, t in zip(_tensors(a), _tensors(c), strict=True))


def test_teacher_student_fresh_samples_are_new_draws_of_the_same_teacher() -> None:
    ds = load_teacher_student(seed=3, noise_std=0.0, n_train=50, n_test=50, n_ood=10)
    assert ds.task is not None
    fresh_x, fresh_y = ds.task.sample(50, seed=3)  # the loader's own integer: still a new stream
    again_x, _ = ds.task.sample(50, seed=3)
    assert torch.equal(fresh_x, again_x)
    assert not torch.equal(fresh_x, ds.x_train) and not torch.equal(fresh_x, ds.x_test)
    teacher_labels = np.argmax(fresh_x.double().numpy() @ ds.task.teacher.T, axis=1)
    assert fresh_y.tolist() == teacher_labels.tolist()


# ------------------------------------------------------------------------------------------
# every dataset


@pytest.mark.parametrize("name", list(DatasetName))
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


def test_dataset_rejects_inconsistent_tensors() -> None:
    ds = load_digits(seed=0, n_train=100, n_test=50)
    with pytest.raises(ValueError, match=r"`y_train` must be int64 class indices in \[0, 10\)"):
        Dataset(**{**ds.__dict__, "y_train": ds.y_train.float()})
    with pytest.raises(ValueError, match="`x_ood` must be a non-empty float32 tensor"):
        Dataset(**{**ds.__dict__, "x_ood": ds.x_ood[:, :10]})
    with pytest.raises(ValueError, match="`y_test` must have 50 rows; got 49"):
        Dataset(**{**ds.__dict__, "y_test": ds.y_test[:49]})


# ------------------------------------------------------------------------------------------
# digits


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


# ------------------------------------------------------------------------------------------
# MNIST-1D


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
    data._mnist1d_arrays.cache_clear()
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


# ------------------------------------------------------------------------------------------
# bad input


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


def test_task_sample_rejects_bad_sizes_and_seeds() -> None:
    task = make_teacher_student_task(3, 2, kind=TaskKind.REGRESSION, seed=0)
    with pytest.raises(ValueError, match=r"`n` must be an int in \[1, inf\]; got 0"):
        task.sample(0, seed=0)
    with pytest.raises(TypeError, match="`seed` must be an int; got 'a'"):
        task.sample_ood(3, seed="a")  # type: ignore[arg-type]
