r"""Lipschitz and smoothness constants of the losses of :mod:`theory.losses`: the paper's and ours.

The constants are suprema over the loss's domain, with respect to the Euclidean norm of the
output :math:`z \in \mathbb R^k` (the norm of theorem T3.6):

.. math::

    L = \sup \|\nabla_z l(z, y)\|_2, \qquad \beta = \sup \lambda_{max}(\nabla_z^2 l(z, y)).

Each ``_<loss>`` function derives its pair in its docstring; :mod:`theory.losses.search` finds the
same suprema by numerical maximisation (the twin) and :mod:`theory.symbolic.losses` checks the
identities the derivations use.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory._validation import FloatArray

__all__ = ["LossConstants", "paper_claims", "true_constants"]

Point = tuple[FloatArray, FloatArray]


@dataclass(frozen=True)
class LossConstants:
    """The true constants of one loss on one :math:`\\mathbb R^k`, and where they are reached.

    ``*_attained`` says whether the supremum is a maximum; ``*_where`` says where it is attained
    or how it is approached; ``*_witness`` is one point ``(z, y)`` attaining it (``None`` if
    none does). ``smoothness = inf`` when the gradient jumps.
    """

    lipschitz: float
    smoothness: float
    lipschitz_attained: bool
    smoothness_attained: bool
    lipschitz_where: str
    smoothness_where: str
    #: the supremum as a formula in k and the loss's parameters (for reports)
    lipschitz_formula: str = ""
    smoothness_formula: str = ""
    lipschitz_witness: Point | None = None
    smoothness_witness: Point | None = None


def _pt(z: list[float], y: list[float]) -> Point:
    return np.array(z, dtype=np.float64), np.array(y, dtype=np.float64)


def _mae(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""The paper's MAE is scalar (k = 1): :math:`|z - y|` has derivative
    :math:`\mathrm{sign}(z - y)`, so L = 1, attained at every z != y. Our k-output extension
    (no claim in the paper): gradient :math:`c\,\mathrm{sign}(z - y)`, c = 1 (sum) or 1/k
    (mean), of norm :math:`c \sqrt{\#\{i: z_i \ne y_i\}} \le c\sqrt k`, attained when every
    coordinate differs (equivalently :math:`\|r\|_1 \le \sqrt k \|r\|_2`, equality at
    r = (1, ..., 1)); against the l1 norm of z (dual: the l_inf norm of the gradient) the sum is
    1-Lipschitz for every k. The gradient jumps by 2c across :math:`z_i = y_i`: no finite
    smoothness."""
    mean = p["reduction"] == "mean"
    c = 1.0 / k if mean else 1.0
    if k == 1:
        formula = "1"
    else:
        formula = "1/sqrt k" if mean else "sqrt k"
    return LossConstants(
        lipschitz=c * math.sqrt(k),
        smoothness=math.inf,
        lipschitz_attained=True,
        smoothness_attained=False,
        lipschitz_where="every z with z_i != y_i for all i",
        lipschitz_formula=formula,
        smoothness_formula="inf",
        smoothness_where="none: the gradient jumps across z_i = y_i",
        lipschitz_witness=_pt([1.0] * k, [0.0] * k),
    )


def _mse(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""Gradient z - y: :math:`\|z - y\|_2 \le \|z\|_2 + \|y\|_2 \le 2B`, equality iff z = -y
    on the sphere of radius B. Hessian :math:`I_k`: :math:`\beta = 1` everywhere."""
    b = float(p["radius"])
    pad = [0.0] * (k - 1)
    return LossConstants(
        lipschitz=2.0 * b,
        smoothness=1.0,
        lipschitz_attained=True,
        smoothness_attained=True,
        lipschitz_where="z = -y with norm B",
        lipschitz_formula="2B",
        smoothness_formula="1",
        smoothness_where="everywhere (Hessian = identity)",
        lipschitz_witness=_pt([-b, *pad], [b, *pad]),
        smoothness_witness=_pt([0.0] * k, [0.0] * k),
    )


def _huber(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""Gradient :math:`\mathrm{clip}(z - y, -\delta, \delta)`: norm :math:`\le \delta\sqrt k`,
    attained when every :math:`|z_i - y_i| \ge \delta`. Hessian
    :math:`\mathrm{diag}(1[|z_i - y_i| \le \delta])`: :math:`\beta = 1`, attained at z = y (the
    gradient is 1-Lipschitz: clip is a contraction)."""
    d = float(p["delta"])
    return LossConstants(
        lipschitz=d * math.sqrt(k),
        smoothness=1.0,
        lipschitz_attained=True,
        smoothness_attained=True,
        lipschitz_where="every z with abs(z_i - y_i) >= delta for all i",
        lipschitz_formula="delta sqrt k",
        smoothness_formula="1",
        smoothness_where="any z with some abs(z_i - y_i) <= delta",
        lipschitz_witness=_pt([d] * k, [0.0] * k),
        smoothness_witness=_pt([0.0] * k, [0.0] * k),
    )


def _softmax_ce(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""Gradient :math:`g = \pi - q`, :math:`\pi = \mathrm{softmax}(z)` in the open simplex.
    For one-hot :math:`q = e_y`, using :math:`(\sum_i \pi_i)^2 = 1`,

    .. math:: 2 - \|g\|^2 = 2\pi_y + 2\sum_{i<j}\pi_i\pi_j > 0,

    so :math:`\|g\| < \sqrt 2`, and :math:`\|g\| \to \sqrt 2` as :math:`\pi \to e_j`, j != y:
    L = sqrt(2), not attained. Soft q: :math:`\|\pi - q\|^2` is convex in q, maximal at a vertex.
    Hessian :math:`H = \mathrm{diag}(\pi) - \pi\pi^T`, :math:`v^T H v = \mathrm{Var}_\pi(v)`:

    .. math::

        \tfrac12\|v\|^2 - v^T H v = 2\sum_i v_i^2 (\pi_i - \tfrac12)^2
            + \sum_{i<j} \pi_i \pi_j (v_i + v_j)^2 \ge 0,

    so :math:`\lambda_{max} \le 1/2`, with equality iff :math:`\pi_i = 1/2` wherever
    :math:`v_i \ne 0` and every pair with :math:`\pi_i\pi_j > 0` has :math:`v_i = -v_j`:
    attained for k = 2 at :math:`z_1 = z_2` (eigenvector :math:`(1, -1)/\sqrt 2`), approached
    for k >= 3 (two equal logits, the others to -inf). The printed 1/4 is the one-logit sigmoid
    value: for k = 2 the loss is softplus of the gap :math:`t = z_1 - z_2`, with curvature 1/4
    per unit of t, but a unit Euclidean step along :math:`(1, -1)/\sqrt 2` moves t by
    :math:`\sqrt 2`, hence 2 x 1/4."""
    attained = k == 2
    return LossConstants(
        lipschitz=math.sqrt(2.0),
        smoothness=0.5,
        lipschitz_attained=False,
        smoothness_attained=attained,
        lipschitz_where="approached as z_j - z_i -> inf for one j != y and every i != j",
        lipschitz_formula="sqrt 2",
        smoothness_formula="1/2",
        smoothness_where=(
            "z_1 = z_2 (eigenvector (1, -1)/sqrt 2)"
            if attained
            else "approached: two equal logits, the others -> -inf"
        ),
        smoothness_witness=_pt([0.0, 0.0], [1.0, 0.0]) if attained else None,
    )


def _bce(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""Gradient :math:`\sigma(z) - y \in (-1, 1)` for y in [0, 1]: sup 1, approached as
    :math:`z \to -\infty` (y = 1) or :math:`+\infty` (y = 0). Hessian
    :math:`\sigma(z)\sigma(-z) \le 1/4` (AM-GM with :math:`\sigma(z) + \sigma(-z) = 1`),
    equality at z = 0."""
    return LossConstants(
        lipschitz=1.0,
        smoothness=0.25,
        lipschitz_attained=False,
        smoothness_attained=True,
        lipschitz_where="approached as z -> -inf with y = 1 (or +inf with y = 0)",
        lipschitz_formula="1",
        smoothness_formula="1/4",
        smoothness_where="z = 0",
        smoothness_witness=_pt([0.0], [0.0]),
    )


def _hinge(k: int, p: Mapping[str, Any]) -> LossConstants:
    r"""Gradient :math:`-y\,1[yz < 1]`, norm 1 on the whole half-line yz < 1; it jumps by 1 at
    the margin yz = 1: no finite smoothness."""
    return LossConstants(
        lipschitz=1.0,
        smoothness=math.inf,
        lipschitz_attained=True,
        smoothness_attained=False,
        lipschitz_where="every z with y z < 1",
        lipschitz_formula="1",
        smoothness_formula="inf",
        smoothness_where="none: the gradient jumps at the margin y z = 1",
        lipschitz_witness=_pt([0.0], [1.0]),
    )


_TRUTH: dict[str, Callable[[int, Mapping[str, Any]], LossConstants]] = {
    "mae": _mae,
    "mse": _mse,
    "softmax_ce": _softmax_ce,
    "bce": _bce,
    "hinge": _hinge,
    "huber": _huber,
}


def true_constants(name: str, k: int, params: Mapping[str, Any]) -> LossConstants:
    r"""The analytic constants of loss ``name`` on :math:`\mathbb R^k` (derivations above).

    Parameters
    ----------
    name : str
        A key of :data:`theory.losses.LOSSES`.
    k : int
        Output dimension (validated by :func:`theory.losses.make_loss`).
    params : mapping
        ``radius`` (MSE), ``delta`` (Huber), ``reduction`` (MAE).

    References
    ----------
    Claims C9 and CT.

    Examples
    --------
    >>> c = true_constants("softmax_ce", 3, {})
    >>> c.lipschitz == math.sqrt(2), c.smoothness, c.smoothness_attained
    (True, 0.5, False)
    """
    return _TRUTH[name](k, params)


def paper_claims(
    name: str, params: Mapping[str, Any], *, k: int
) -> tuple[float | None, float | None]:
    r"""The paper's (Lipschitz, smoothness) for loss ``name`` on :math:`\mathbb R^k`; ``None``
    where it gives none.

    Cross-entropy's "beta = O(1), Hessian eigenvalues <= 1/4" is read as beta = 1/4; MAE, BCE
    and hinge come with L only; the table has no robust regression loss (our Huber has none).
    The paper's MAE is the scalar :math:`|z - y|` (k = 1): a k-output MAE (k > 1) is our
    extension, with no claim.

    Examples
    --------
    >>> paper_claims("mse", {"radius": 3.0}, k=2)
    (6.0, 1.0)
    >>> paper_claims("mae", {}, k=1), paper_claims("mae", {}, k=3)
    ((1.0, None), (None, None))
    """
    table: dict[str, tuple[float | None, float | None]] = {
        "mae": (1.0, None) if k == 1 else (None, None),
        "mse": (2.0 * float(params.get("radius", 1.0)), 1.0),
        "softmax_ce": (math.sqrt(2.0), 0.25),
        "bce": (1.0, None),
        "hinge": (1.0, None),
        "huber": (None, None),
    }
    return table[name]
