r"""One-hot learning problems with exact risks and exact Gaussian complexities (E15, T3.9, E21).

The input :math:`x` is uniform on the K standard basis vectors of :math:`\mathbb R^K`, the label
:math:`y \in \{-1, +1\}` is :math:`+1` with probability q, independently of x. The loss is the
ramp at scale :math:`\varepsilon`,

.. math:: l_\varepsilon(u, y) = \mathrm{clip}\Big(\frac{1 - yu/\varepsilon}{2}, 0, 1\Big),
    \qquad L = \frac{1}{2\varepsilon}\text{-Lipschitz in } u,\ \text{values in } [0, 1],

equal to the 0-1 loss at :math:`u = \pm\varepsilon` and linear in between. A sample is summarised
by its cells: for each distinct point seen, its count :math:`n_x` and its number of positive
labels. Two classes of linear functions :math:`x \mapsto \langle w, x \rangle` are used:

- the box :math:`\|w\|_\infty \le \varepsilon` (E15): its empirical Gaussian complexity is
  :math:`\frac{\varepsilon}{m}\sum_x E|N(0, n_x)| = \frac{\varepsilon}{m}\sqrt{2/\pi}
  \sum_x \sqrt{n_x}` exactly, and since risks are linear in w on the box, the supremum over it
  of :math:`L(f) - \hat L(f)` is reached at a vertex and splits over the points;
- the Euclidean ball :math:`\|w\|_2 \le C` (T3.9, one layer with k = r = 1), with the
  interpolating predictor :math:`\hat w_x = \varepsilon\,\mathrm{sign}(\#\text{pos}_x -
  \#\text{neg}_x)` on the seen points, :math:`\varepsilon = C/\sqrt m`, so
  :math:`\|\hat w\|_2 \le C`.

With q = 1/2 every f has true risk exactly 1/2 (:math:`l(u, 1) + l(u, -1) = 1` for all u).

References: claims E15, T3.9 and E21 of ``CLAIMS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from theory._validation import check_int, check_interval, check_positive

__all__ = [
    "Cells",
    "OneHotProblem",
    "box_complexity",
    "box_sup_gap",
    "interpolant_empirical_risk",
    "prob_all_distinct",
]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Cells:
    """The sufficient statistics of one sample: counts and positive counts of each seen point."""

    counts: IntArray
    positives: IntArray

    @property
    def m(self) -> int:
        return int(self.counts.sum())

    @property
    def distinct(self) -> int:
        return int(self.counts.size)


@dataclass(frozen=True)
class OneHotProblem:
    r"""x uniform on K one-hot points, y = +1 with probability q, m points per sample.

    Examples
    --------
    >>> cells = OneHotProblem(10**6, 5, 1.0).sample(np.random.default_rng(0))
    >>> cells.m, int(cells.positives.sum())
    (5, 5)
    """

    n_points: int
    m: int
    q: float

    def __post_init__(self) -> None:
        check_int(self.n_points, "n_points")
        check_int(self.m, "m")
        check_interval(np.asarray(float(self.q)), "q", 0.0, 1.0)

    def sample(self, rng: np.random.Generator) -> Cells:
        x = rng.integers(self.n_points, size=self.m)
        y = rng.random(self.m) < self.q
        _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        positives = np.bincount(inverse, weights=y, minlength=counts.size).astype(np.int64)
        return Cells(counts.astype(np.int64), positives)


def box_complexity(cells: Cells, eps: float) -> float:
    r"""Exact :math:`\hat G` of the box :math:`\{x \mapsto \langle w, x\rangle :
    \|w\|_\infty \le \varepsilon\}` on the sample.

    .. math:: \hat G = \frac{1}{m} E \sup_w \sum_x w_x S_x = \frac{\varepsilon}{m}
        \sum_x E|S_x| = \frac{\varepsilon}{m}\sqrt{\frac{2}{\pi}} \sum_x \sqrt{n_x},
        \qquad S_x = \sum_{j : x_j = x} \gamma_j \sim N(0, n_x)

    References
    ----------
    Claim E15.

    Examples
    --------
    >>> cells = Cells(np.array([1, 1]), np.array([1, 0]))
    >>> round(box_complexity(cells, 1.0), 6)  # sqrt(2 / pi)
    0.797885
    """
    e = float(check_positive(eps, "eps"))
    return float(e / cells.m * np.sqrt(2.0 / np.pi) * np.sqrt(cells.counts).sum())


def box_sup_gap(cells: Cells, problem: OneHotProblem) -> float:
    r"""Exact :math:`\sup_{\|w\|_\infty \le \varepsilon} L(f_w) - \hat L(f_w)` for the ramp loss
    at the box's own scale (independent of :math:`\varepsilon`).

    At a vertex :math:`w = \varepsilon s`, :math:`s \in \{\pm 1\}^K`, the loss is the 0-1 loss of
    the sign s, so the gap splits over the points:

    .. math:: \sum_{x\ \mathrm{seen}} \max_{s = \pm 1} \Big(\frac{P(y \ne s)}{K}
        - \frac{\#\{j : x_j = x, y_j \ne s\}}{m}\Big) + \frac{K - U}{K}\max(q, 1 - q)

    References
    ----------
    Claim E15.

    Examples
    --------
    >>> prob = OneHotProblem(10, 2, 1.0)  # two distinct points, labels all +1
    >>> box_sup_gap(Cells(np.array([1, 1]), np.array([1, 1])), prob)  # f = -1 off the sample
    0.8
    """
    k, m, q = problem.n_points, cells.m, problem.q
    neg = cells.counts - cells.positives
    plus = (1.0 - q) / k - neg / m
    minus = q / k - cells.positives / m
    seen = np.maximum(plus, minus).sum()
    return float(seen + (k - cells.distinct) / k * max(q, 1.0 - q))


def interpolant_empirical_risk(cells: Cells) -> float:
    r"""Empirical ramp risk of :math:`\hat w_x = \varepsilon\,\mathrm{sign}(\#\mathrm{pos}_x -
    \#\mathrm{neg}_x)` (ties to +): each seen point costs its minority count.

    .. math:: \hat L(\hat w) = \frac1m \sum_x \min(\#\mathrm{pos}_x, \#\mathrm{neg}_x)

    References
    ----------
    Claim T3.9.

    Examples
    --------
    >>> interpolant_empirical_risk(Cells(np.array([3, 1]), np.array([1, 0])))
    0.25
    """
    neg = cells.counts - cells.positives
    return float(np.minimum(cells.positives, neg).sum() / cells.m)


def prob_all_distinct(n_points: int, m: int) -> float:
    r"""Exact :math:`P(\text{m uniform draws from K points are distinct}) = \prod_{i<m}(1 - i/K)`.

    References
    ----------
    Claims E15 and T3.9 (a lower bound of the probability of failure).

    Examples
    --------
    >>> prob_all_distinct(4, 2)
    0.75
    """
    k = check_int(n_points, "n_points")
    mm = check_int(m, "m")
    return float(np.exp(np.log1p(-np.arange(mm) / k).sum())) if mm <= k else 0.0
