r"""Losses on the outputs of a layer, for the checks of the rank-induced bias (T3.6 to T3.7).

The losses of :mod:`theory.losses` evaluated on a layer's outputs (the one-output losses, the
paper's scalar MAE and the one-logit BCE and hinge, read the first output;
:math:`z \mapsto z_1` is 1-Lipschitz, so L is unchanged), inputs and targets in each loss's
domain, the exact worst target for a pair of outputs, and the direction along which each loss's
Lipschitz constant is reached.

References: claims T3.6, T3.6s, C5p and T3.7 of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import FloatArray
from theory.losses import Loss, make_loss

__all__ = [
    "ADVERSARIAL_RADIUS",
    "ONE_LOGIT",
    "ONE_OUTPUT",
    "ROUND",
    "loss_on_outputs",
    "loss_values",
    "rounding_slack",
    "sample_ball",
    "sample_targets",
    "worst_direction",
    "worst_gaps",
]

_EPS = float(np.finfo(np.float64).eps)
#: Losses on one logit (binary labels; they read the first output of the layer).
ONE_LOGIT = ("bce", "hinge")
#: Losses on one output: the one-logit ones and the paper's MAE, which is scalar (|z - y|, L = 1).
ONE_OUTPUT = ("mae", *ONE_LOGIT)
#: Rounding slack of "gap <= bound", in units of eps (m + n) times the scale of the numbers
#: involved (L R sigma_1 for the outputs and the tail, the mean loss values for the difference of
#: two means): a matrix-vector product, an SVD and a mean each err by a few eps (m + n) of that.
ROUND = 64.0
#: Radius of the adversarial point masses: CE and BCE approach their Lipschitz constant only as
#: the logits grow, so the tight cases need R sigma_{r+1} >> 1 (sigma_1 = 1 throughout).
ADVERSARIAL_RADIUS = 50.0


def loss_on_outputs(name: str, m: int, *, radius: float = 1.0) -> Loss:
    """The loss ``name`` for a layer with ``m`` outputs (``radius``: the MSE ball B)."""
    return make_loss(name, k=1 if name in ONE_OUTPUT else m, radius=radius)


def loss_values(loss: Loss, z: FloatArray, y: Any) -> FloatArray:
    """``loss.value`` on the outputs it reads (the first one for one-output losses)."""
    return np.asarray(loss.value(z[..., : loss.k], y), dtype=np.float64)


def rounding_slack(m: int, n: int, scale: float) -> float:
    """The documented slack :data:`ROUND` eps (m + n) scale of an inequality check."""
    return ROUND * (m + n) * _EPS * scale


def sample_ball(n_points: int, dim: int, radius: float, rng: np.random.Generator) -> FloatArray:
    """Points uniform in the Euclidean ball of ``radius`` in R^dim, shape (n_points, dim)."""
    g = rng.standard_normal((n_points, dim))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    out: FloatArray = g * (radius * rng.uniform(0.0, 1.0, (n_points, 1)) ** (1.0 / dim))
    return out


def _into_ball(y: FloatArray, radius: float) -> FloatArray:
    norms = np.linalg.norm(y, axis=-1, keepdims=True)
    out: FloatArray = y * np.minimum(1.0, radius / np.maximum(norms, 1e-300))
    return out


def sample_targets(loss: Loss, z: FloatArray, rng: np.random.Generator) -> Any:
    """Targets for outputs ``z`` (N, m): a noisy model of the outputs, in the loss's domain."""
    h = z[..., : loss.k]
    name = loss.name
    if name == "softmax_ce":
        return np.argmax(h + rng.gumbel(size=h.shape), axis=-1)
    if name in ONE_LOGIT:
        positive = h + rng.logistic(size=h.shape) > 0.0
        return positive.astype(np.float64) if name == "bce" else np.where(positive, 1.0, -1.0)
    y = h + rng.normal(0.0, 0.5 * (1.0 + np.abs(h).mean()), h.shape)
    return _into_ball(y, loss.params["radius"]) if name == "mse" else y


def worst_direction(loss: Loss, m: int) -> FloatArray:
    """A unit vector of R^m along which the loss's Lipschitz constant is reached (or approached).

    Huber (and MAE on k outputs): the flat vector on the k outputs it reads (the gradients are
    clip and sign vectors); softmax CE: :math:`(e_1 - e_2)/\\sqrt 2` (the gradient tends to
    :math:`e_j - e_y`); the one-output losses: :math:`e_1`.
    """
    out = np.zeros(m)
    if loss.name in ("mae", "huber"):
        out[: loss.k] = 1.0 / np.sqrt(loss.k)
        return out
    out[0] = 1.0
    if loss.name == "softmax_ce":
        out[:2] = (1.0 / np.sqrt(2.0), -1.0 / np.sqrt(2.0))
    return out


def worst_gaps(loss: Loss, z1: FloatArray, z2: FloatArray) -> tuple[FloatArray, Any]:
    r"""For each row, the target maximising :math:`|l(z_1, y) - l(z_2, y)|`, and that gap.

    Exact maximisers over the loss's target domain: MSE, :math:`y = \mp B\hat d` with
    :math:`d = z_1 - z_2` (the gap is :math:`\langle d, (z_1 + z_2)/2 - y\rangle`, linear in y
    over the ball); MAE and Huber, y beyond both points in every coordinate (the gap is then
    :math:`\|d\|_1`, resp. :math:`\delta\|d\|_1`, the largest possible); classification losses,
    every label.

    Returns
    -------
    gaps : ndarray, shape (N,)
        :math:`l(z_1, y) - l(z_2, y)` at the maximiser of its absolute value (signed).
    y : targets, in the loss's format
    """
    a, b = z1[..., : loss.k], z2[..., : loss.k]
    d = a - b
    name = loss.name
    if name in ("mse", "mae", "huber"):
        if name == "mse":
            nd = np.linalg.norm(d, axis=-1, keepdims=True)
            unit = np.where(nd > 0.0, d / np.where(nd > 0.0, nd, 1.0), 0.0)
            sgn = np.where(np.sum(d * (a + b), axis=-1, keepdims=True) >= 0.0, 1.0, -1.0)
            y = -sgn * loss.params["radius"] * unit
        else:
            far = 2.0 * loss.params.get("delta", 1.0) + (name == "mae") * np.abs(d)
            y = b - np.where(d >= 0.0, 1.0, -1.0) * far
        return loss_values(loss, z1, y) - loss_values(loss, z2, y), y
    if name == "softmax_ce":
        options: list[Any] = [np.full(d.shape[:-1], c) for c in range(loss.k)]
    elif name == "bce":
        options = [np.zeros(d.shape), np.ones(d.shape)]
    else:
        options = [-np.ones(d.shape), np.ones(d.shape)]
    gaps = np.stack([loss_values(loss, z1, y) - loss_values(loss, z2, y) for y in options])
    best = np.argmax(np.abs(gaps), axis=0)
    idx = np.arange(best.size)
    return gaps[best, idx], np.stack(options)[best, idx]
