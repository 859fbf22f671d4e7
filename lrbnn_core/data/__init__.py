r"""Offline, deterministic datasets: a teacher-student task, scikit-learn's digits, MNIST-1D.

Every loader takes an explicit ``seed`` and returns a :class:`Dataset`: float32 inputs, int64
class labels (float32 targets for regression), and an out-of-distribution (OOD) input set for
uncertainty scores (OOD AUROC). Nothing touches the network and nothing leaks random state: the
numpy and Python global generators are the same after a loader as before it.

* **Teacher-student** (:class:`TeacherStudentTask`): a teacher matrix
  :math:`T = U \operatorname{diag}(\sigma) V^\top` (out x in) with Haar-random orthonormal
  :math:`U, V` and a chosen singular-value :class:`Decay`, scaled so that
  :math:`\|T\|_F = s \sqrt{\mathrm{out}}` (``signal_std`` :math:`s`: for :math:`x \sim N(0, I)`,
  :math:`E\|T x\|^2 / \mathrm{out} = s^2`). Regression targets :math:`y = T x + \epsilon`,
  classification labels :math:`\arg\max_j (T x + \epsilon)_j`, :math:`\epsilon \sim N(0,
  \nu^2 I)`. The task keeps the teacher, so fresh samples (the true risk) come from
  :meth:`TeacherStudentTask.sample`.
* **Digits**: scikit-learn's 8 x 8 digits (1797 images, ships with scikit-learn), 64 features in
  [0, 1], 10 classes, a stratified train/test split.
* **MNIST-1D**: ``mnist1d.data.make_dataset`` (never its download path), 40-step sequences,
  10 classes; :meth:`Dataset.as_sequences` gives the (n, 40, 1) layout for LSTMs/Transformers.

Seeds: a loader's ``seed`` feeds ``numpy.random.SeedSequence(seed)``, whose spawned children
give independent streams (teacher, train, test, OOD). A fresh draw
``task.sample(n, seed=k)`` with an integer ``k`` uses ``SeedSequence(k)``, which is a different
stream from every spawned child even when ``k`` equals the loader's seed.

Modules: :mod:`~lrbnn_core.data.common` (the checks and seed streams the loaders share),
:mod:`~lrbnn_core.data.dataset` (:class:`Dataset` and the names), :mod:`~lrbnn_core.data.teacher`
(the teacher, :class:`TeacherStudentTask`) and :mod:`~lrbnn_core.data.teacher_student` (its
dataset), :mod:`~lrbnn_core.data.digits`, :mod:`~lrbnn_core.data.mnist_1d` and
:mod:`~lrbnn_core.data.timeseries` (:func:`load_co2`, a real weekly CO2 series for the LSTM
regression task, with El Nino as OOD) and :mod:`~lrbnn_core.data.loading` (:func:`load_dataset`).
"""

from __future__ import annotations

from lrbnn_core.data.common import FloatArray, SeedLike
from lrbnn_core.data.dataset import Dataset, DatasetName
from lrbnn_core.data.digits import digits_split, load_digits
from lrbnn_core.data.loading import load_dataset
from lrbnn_core.data.mnist_1d import load_mnist1d
from lrbnn_core.data.teacher import (
    Decay,
    TaskKind,
    TeacherStudentTask,
    make_teacher_student_task,
    teacher_singular_values,
)
from lrbnn_core.data.teacher_student import load_teacher_student
from lrbnn_core.data.timeseries import SeriesSplit, load_co2, split_series

__all__ = [
    "Dataset",
    "DatasetName",
    "Decay",
    "FloatArray",
    "SeedLike",
    "SeriesSplit",
    "TaskKind",
    "TeacherStudentTask",
    "digits_split",
    "load_co2",
    "load_dataset",
    "load_digits",
    "load_mnist1d",
    "load_teacher_student",
    "make_teacher_student_task",
    "split_series",
    "teacher_singular_values",
]
