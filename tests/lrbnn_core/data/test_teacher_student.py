"""The teacher-student task (lrbnn_core.data.teacher_student): the teacher's spectrum against
numpy's SVD, noise laws against chi-square and Hoeffding bounds, determinism and fresh draws."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from scipy import stats

from lrbnn_core.data import (
    DatasetName,
    Decay,
    TaskKind,
    load_teacher_student,
    make_teacher_student_task,
    teacher_singular_values,
)
from tests.lrbnn_core.data.helpers import SMALL_SIZES, _tensors

#: false-failure probability of each statistical assertion below
P_FAIL = 1e-6
#: float64 SVD is backward stable: singular values are exact to a few eps times ||T||_2
SVD_RTOL = 1e-12
#: float32 rounding of the returned targets (a few ulps of a float32)
FLOAT32_RTOL = 4 * float(np.finfo(np.float32).eps)


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


def test_task_sample_rejects_bad_sizes_and_seeds() -> None:
    task = make_teacher_student_task(3, 2, kind=TaskKind.REGRESSION, seed=0)
    with pytest.raises(ValueError, match=r"`n` must be an int in \[1, inf\]; got 0"):
        task.sample(0, seed=0)
    with pytest.raises(TypeError, match="`seed` must be an int; got 'a'"):
        task.sample_ood(3, seed="a")  # type: ignore[arg-type]
