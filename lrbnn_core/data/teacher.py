r"""The teacher of the teacher-student task: a teacher matrix
:math:`T = U \operatorname{diag}(\sigma) V^\top` (out x in) with Haar-random orthonormal
:math:`U, V` and a chosen singular-value :class:`Decay`, and the distribution it defines
(:class:`TeacherStudentTask`): regression targets :math:`y = T x + \epsilon` or classification
labels :math:`\arg\max_j (T x + \epsilon)_j` (notes: :mod:`lrbnn_core.data`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from torch import Tensor

from lrbnn_core.data.common import FloatArray, SeedLike, _enum, _real, _seed
from theory._validation import check_int

__all__ = [
    "Decay",
    "TaskKind",
    "TeacherStudentTask",
    "make_teacher_student_task",
    "teacher_singular_values",
]


class Decay(str, Enum):
    r"""Singular-value profile of the teacher matrix (before scaling to ``signal_std``).

    With :math:`k = \min(\mathrm{out}, \mathrm{in})` singular values. For classification note
    that a teacher of rank :math:`r_0` can only produce the classes whose rows of
    :math:`U \operatorname{diag}(\sigma)` are vertices of their convex hull in
    :math:`\mathbb{R}^{r_0}`: at :math:`r_0 = 1` only two classes ever occur.
    """

    #: exactly rank ``rank`` (:math:`r_0`): :math:`r_0` equal singular values, the rest zero
    EXACT_LOW_RANK = "exact_low_rank"
    #: :math:`\sigma_i \propto i^{-\alpha}`, :math:`i = 1, \dots, k`, ``alpha`` > 0 (full rank)
    POWER_LAW = "power_law"
    #: all :math:`k` singular values equal (full rank, no low-rank structure)
    FLAT = "flat"


class TaskKind(str, Enum):
    """What the teacher-student task asks the student to predict."""

    #: real targets :math:`y = T x + \epsilon`, float32 of shape (n, out)
    REGRESSION = "regression"
    #: int64 labels :math:`\arg\max_j (T x + \epsilon)_j` in [0, out)
    CLASSIFICATION = "classification"


def teacher_singular_values(
    k: int,
    decay: Decay | str,
    *,
    rank: int | None = None,
    alpha: float | None = None,
    frobenius_norm: float = 1.0,
) -> FloatArray:
    r"""The teacher's :math:`k` singular values, non-increasing, scaled to a Frobenius norm.

    .. math::

        \sigma_i = c\,\tilde\sigma_i, \quad c = \frac{\|T\|_F}{\|\tilde\sigma\|_2}, \quad
        \tilde\sigma_i = \begin{cases}
            1[i \le r_0] & \text{exact\_low\_rank} \\
            i^{-\alpha} & \text{power\_law} \\
            1 & \text{flat}
        \end{cases}

    Parameters
    ----------
    k : int
        Number of singular values, :math:`\min(\mathrm{out}, \mathrm{in}) \ge 1`.
    decay : Decay or str
        The profile.
    rank : int, optional
        :math:`r_0 \in [1, k]`; required for ``exact_low_rank`` and refused otherwise.
    alpha : float, optional
        Power-law exponent, > 0; only for ``power_law`` (default 1.0), refused otherwise.
    frobenius_norm : float
        :math:`\|\sigma\|_2 = \|T\|_F > 0`.

    Returns
    -------
    ndarray of shape (k,), float64

    Examples
    --------
    >>> teacher_singular_values(4, "exact_low_rank", rank=2, frobenius_norm=2.0).tolist()
    [1.414213562373095, 1.414213562373095, 0.0, 0.0]
    """
    k = check_int(k, "k", low=1)
    decay = _enum(Decay, decay, "decay")
    norm = _real(frobenius_norm, "frobenius_norm", low=0.0, low_open=True)
    if rank is not None and decay is not Decay.EXACT_LOW_RANK:
        raise ValueError(f"`rank` is only used with decay='exact_low_rank'; got rank={rank!r}")
    if alpha is not None and decay is not Decay.POWER_LAW:
        raise ValueError(f"`alpha` is only used with decay='power_law'; got alpha={alpha!r}")
    i = np.arange(1, k + 1, dtype=np.float64)
    if decay is Decay.EXACT_LOW_RANK:
        if rank is None:
            raise ValueError("`rank` is required with decay='exact_low_rank'; got None")
        r0 = check_int(rank, "rank", low=1, high=k)
        base = (i <= r0).astype(np.float64)
    elif decay is Decay.POWER_LAW:
        base = i ** -_real(1.0 if alpha is None else alpha, "alpha", low=0.0, low_open=True)
    else:
        base = np.ones(k)
    return base * (norm / float(np.linalg.norm(base)))


def _haar_columns(rng: np.random.Generator, m: int, k: int) -> FloatArray:
    # QR of a Gaussian matrix, with R's diagonal made positive, is Haar on the Stiefel manifold
    q, r = np.linalg.qr(rng.standard_normal((m, k)))
    return q * np.sign(np.diag(r))


@dataclass(frozen=True, eq=False)
class TeacherStudentTask:
    r"""A fixed teacher and the distribution it defines; draws samples for any seed.

    Inputs :math:`x \sim N(0, I_{\mathrm{in}})`; OOD inputs
    :math:`x \sim N(\mu\,\mathbf{1}/\sqrt{\mathrm{in}},\ \lambda^2 I)` (mean of norm
    ``ood_shift`` :math:`\mu` along the all-ones direction, scale ``ood_scale`` :math:`\lambda`).
    Targets use float64 arithmetic on the float32-rounded inputs that are returned, so they are
    exactly the teacher's function of the returned ``x``.

    Attributes
    ----------
    teacher : ndarray of shape (out, in), float64
    singular_values : ndarray of shape (min(out, in),), float64
        The singular values the teacher was built with (non-increasing).
    kind : TaskKind
    noise_std : float
        :math:`\nu \ge 0`: std of the Gaussian noise added to :math:`T x` (to the logits before
        the argmax, for classification).
    ood_shift, ood_scale : float
        :math:`\mu \ge 0` and :math:`\lambda > 0` of the OOD input distribution.
    """

    teacher: FloatArray
    singular_values: FloatArray
    kind: TaskKind
    noise_std: float
    ood_shift: float = 0.0
    ood_scale: float = 3.0

    def __post_init__(self) -> None:
        t = np.asarray(self.teacher)
        if t.ndim != 2 or 0 in t.shape or not np.all(np.isfinite(t)):
            raise ValueError(f"`teacher` must be a finite non-empty 2-D array; got shape {t.shape}")
        object.__setattr__(self, "kind", _enum(TaskKind, self.kind, "kind"))
        if self.kind is TaskKind.CLASSIFICATION and t.shape[0] < 2:
            raise ValueError(f"classification needs `out_features` >= 2 classes; got {t.shape[0]}")
        _real(self.noise_std, "noise_std", low=0.0, low_open=False)
        _real(self.ood_shift, "ood_shift", low=0.0, low_open=False)
        _real(self.ood_scale, "ood_scale", low=0.0, low_open=True)

    @property
    def in_features(self) -> int:
        return int(self.teacher.shape[1])

    @property
    def out_features(self) -> int:
        """Output dimension; the number of classes for classification."""
        return int(self.teacher.shape[0])

    def sample(self, n: int, *, seed: SeedLike) -> tuple[Tensor, Tensor]:
        """``n`` fresh pairs ``(x, y)``: x float32 (n, in); y int64 (n,) or float32 (n, out).

        Examples
        --------
        >>> task = make_teacher_student_task(5, 3, kind="classification", seed=0)
        >>> x, y = task.sample(4, seed=1)
        >>> tuple(x.shape), y.dtype
        ((4, 5), torch.int64)
        """
        n = check_int(n, "n", low=1)
        rng = np.random.default_rng(_seed(seed))
        x = rng.standard_normal((n, self.in_features)).astype(np.float32)
        z = x.astype(np.float64) @ self.teacher.T
        if self.noise_std > 0:
            z = z + self.noise_std * rng.standard_normal(z.shape)
        if self.kind is TaskKind.CLASSIFICATION:
            return torch.from_numpy(x), torch.from_numpy(np.argmax(z, axis=1).astype(np.int64))
        return torch.from_numpy(x), torch.from_numpy(z.astype(np.float32))

    def sample_ood(self, n: int, *, seed: SeedLike) -> Tensor:
        """``n`` OOD inputs (float32, (n, in)) from the shifted and scaled Gaussian."""
        n = check_int(n, "n", low=1)
        rng = np.random.default_rng(_seed(seed))
        mean = self.ood_shift / math.sqrt(self.in_features)
        x = mean + self.ood_scale * rng.standard_normal((n, self.in_features))
        return torch.from_numpy(x.astype(np.float32))


def make_teacher_student_task(
    in_features: int,
    out_features: int,
    *,
    kind: TaskKind | str,
    decay: Decay | str = Decay.POWER_LAW,
    rank: int | None = None,
    alpha: float | None = None,
    signal_std: float = 1.0,
    noise_std: float = 0.1,
    ood_shift: float = 0.0,
    ood_scale: float = 3.0,
    seed: SeedLike,
) -> TeacherStudentTask:
    r"""A random teacher :math:`T = U \operatorname{diag}(\sigma) V^\top` with the chosen decay.

    :math:`U` (out x k) and :math:`V` (in x k) have Haar-random orthonormal columns,
    :math:`\sigma` = :func:`teacher_singular_values` with
    :math:`\|T\|_F = s\sqrt{\mathrm{out}}` (``signal_std`` :math:`s > 0`).

    Parameters
    ----------
    in_features, out_features : int
        Teacher shape (out x in), both >= 1; ``out_features`` >= 2 is the number of classes for
        classification.
    kind : TaskKind or str
    decay, rank, alpha : see :func:`teacher_singular_values`
    signal_std : float
        RMS over outputs of the std of :math:`(T x)_j`, > 0.
    noise_std, ood_shift, ood_scale : float
        See :class:`TeacherStudentTask`.
    seed : int or numpy.random.SeedSequence
        Seeds the teacher only; samples take their own seeds.

    Examples
    --------
    >>> task = make_teacher_student_task(6, 4, kind="regression", decay="flat", seed=0)
    >>> np.round(np.linalg.svd(task.teacher, compute_uv=False), 6).tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    in_features = check_int(in_features, "in_features", low=1)
    out_features = check_int(out_features, "out_features", low=1)
    s = _real(signal_std, "signal_std", low=0.0, low_open=True)
    k = min(in_features, out_features)
    sigma = teacher_singular_values(
        k, decay, rank=rank, alpha=alpha, frobenius_norm=s * math.sqrt(out_features)
    )
    rng = np.random.default_rng(_seed(seed))
    u = _haar_columns(rng, out_features, k)
    v = _haar_columns(rng, in_features, k)
    return TeacherStudentTask(
        teacher=(u * sigma) @ v.T,
        singular_values=sigma,
        kind=_enum(TaskKind, kind, "kind"),
        noise_std=noise_std,
        ood_shift=ood_shift,
        ood_scale=ood_scale,
    )
