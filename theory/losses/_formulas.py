r"""Value, gradient and Hessian of each loss of :mod:`theory.losses`, and its target checks.

Private: :class:`theory.losses.Loss` validates ``z`` and calls these with float64 arrays, ``z`` of
shape ``(..., k)``; every function here is vectorised over the leading axes. Each formula's
derivation is checked against sympy (:mod:`theory.symbolic.losses`) and finite differences in the
tests.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import expit, logsumexp

from theory._validation import FloatArray, as_float_array, check_int_array, check_interval

_EPS = float(np.finfo(np.float64).eps)
#: Rounding slack of the MSE ball: a point scaled onto the sphere has a computed norm within a
#: few ulps of B (k squares, a sum and a sqrt).
BALL_RTOL = 16 * _EPS
#: Rounding slack of "a probability row sums to 1" (k additions of numbers in [0, 1]).
SIMPLEX_ATOL = 1e-12

Params = Mapping[str, Any]


def positive(x: Any, name: str) -> float:
    """A scalar parameter in (0, inf) (radius, delta)."""
    if np.ndim(x) != 0:
        raise ValueError(f"`{name}` must be a float in (0, inf); got {x!r}")
    arr = as_float_array(x, name)
    return float(check_interval(arr, name, 0.0, math.inf, low_open=True, high_open=True))


def _check_ball(v: FloatArray, name: str, radius: float) -> None:
    norms = np.linalg.norm(v, axis=-1)
    bad = norms > radius * (1.0 + BALL_RTOL)
    if bad.any():
        raise ValueError(
            f"`{name}` must lie in the ball of radius B = {radius:g} (Euclidean norm); "
            f"got norm {float(norms[bad].reshape(-1)[0]):g}"
        )


# --- targets: (y, z, params) -> y as float64, after checking its domain ---------------------


def regression_targets(y: Any, z: FloatArray, params: Params) -> FloatArray:
    """Any real y broadcasting with z; for MSE both z and y in the ball of radius B."""
    yy = as_float_array(y, "y")
    try:
        yy = np.broadcast_to(yy, np.broadcast_shapes(yy.shape, z.shape))
    except ValueError:
        raise ValueError(f"`y` must broadcast with z of shape {z.shape}; got {yy.shape}") from None
    if "radius" in params:
        _check_ball(z, "z", params["radius"])
        _check_ball(yy, "y", params["radius"])
    return yy


def class_targets(y: Any, z: FloatArray, params: Params) -> FloatArray:
    """Integer labels broadcasting with ``z.shape[:-1]`` (made one-hot), or rows of the simplex.

    An integer array with as many axes as z is read as one-hot rows, not as labels.
    """
    k = z.shape[-1]
    arr = np.asarray(y)
    if np.issubdtype(arr.dtype, np.integer) and arr.ndim < z.ndim:
        labels = check_int_array(arr, "y", low=0)
        if (labels >= k).any():
            raise ValueError(f"`y` labels must be ints in [0, {k - 1}]; got {labels.max()}")
        return np.asarray(np.eye(k)[labels], dtype=np.float64)
    q = check_interval(as_float_array(y, "y"), "y", 0.0, 1.0)
    if q.ndim == 0 or q.shape[-1] != k:
        raise ValueError(
            f"`y` must be integer labels for shape {z.shape[:-1]} or probability rows of "
            f"length {k}; got shape {q.shape}"
        )
    sums = q.sum(axis=-1)
    bad = np.abs(sums - 1.0) > SIMPLEX_ATOL
    if bad.any():
        raise ValueError(f"`y` rows must sum to 1; got a row summing to {sums[bad].flat[0]!r}")
    return q


def bce_targets(y: Any, z: FloatArray, params: Params) -> FloatArray:
    """y in [0, 1] (hard labels 0, 1 or soft ones)."""
    return check_interval(as_float_array(y, "y"), "y", 0.0, 1.0)


def sign_targets(y: Any, z: FloatArray, params: Params) -> FloatArray:
    """y in {-1, +1}."""
    yy = as_float_array(y, "y")
    bad = (yy != 1.0) & (yy != -1.0)
    if bad.any():
        raise ValueError(f"`y` must be -1 or +1; got {yy[bad].flat[0]:g}")
    return yy


# --- formulas: (z, y, params) -> value (...), gradient (..., k), Hessian (..., k, k) -------


def _diag(d: FloatArray) -> FloatArray:
    out: FloatArray = d[..., :, None] * np.eye(d.shape[-1])
    return out


def _batch(z: FloatArray, y: FloatArray) -> tuple[int, ...]:
    return np.broadcast_shapes(z.shape, y.shape)


def _mae_scale(z: FloatArray, p: Params) -> float:
    return 1.0 / z.shape[-1] if p["reduction"] == "mean" else 1.0


def mae_value(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(np.sum(np.abs(z - y), axis=-1) * _mae_scale(z, p))


def mae_grad(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    # sign(0) = 0 is the minimum-norm subgradient on a kink.
    return np.asarray(np.sign(z - y) * _mae_scale(z, p))


def zero_hessian(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    shape = _batch(z, y)
    return np.zeros((*shape, shape[-1]))


def mse_value(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(0.5 * np.sum((z - y) ** 2, axis=-1))


def mse_grad(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(z - y)


def mse_hessian(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    shape = _batch(z, y)
    return np.broadcast_to(np.eye(shape[-1]), (*shape, shape[-1])).copy()


def huber_value(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    a, d = np.abs(z - y), p["delta"]
    return np.asarray(np.sum(np.where(a <= d, 0.5 * a * a, d * (a - 0.5 * d)), axis=-1))


def huber_grad(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(np.clip(z - y, -p["delta"], p["delta"]))


def huber_hessian(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    # The second derivative jumps from 1 to 0 at abs(r) = delta; the closed side counts as inside.
    return _diag((np.abs(z - y) <= p["delta"]).astype(np.float64))


def _softmax(z: FloatArray) -> FloatArray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def ce_value(z: FloatArray, q: FloatArray, p: Params) -> FloatArray:
    # Shifting by max z (sum q = 1 makes the shift cancel) keeps logsumexp - <q, z> accurate
    # when the label's logit dominates.
    s = z - z.max(axis=-1, keepdims=True)
    return np.asarray(logsumexp(s, axis=-1) - np.sum(q * s, axis=-1))


def ce_grad(z: FloatArray, q: FloatArray, p: Params) -> FloatArray:
    return np.asarray(_softmax(z) - q)


def ce_hessian(z: FloatArray, q: FloatArray, p: Params) -> FloatArray:
    s = np.broadcast_to(_softmax(z), _batch(z, q))
    return np.asarray(_diag(s) - s[..., :, None] * s[..., None, :])


def _softplus(x: FloatArray) -> FloatArray:
    return np.asarray(np.logaddexp(0.0, x))


def bce_value(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    # softplus(z) - y z without cancellation: y softplus(-z) + (1 - y) softplus(z).
    return np.asarray(np.sum(y * _softplus(-z) + (1.0 - y) * _softplus(z), axis=-1))


def bce_grad(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(expit(z) - y)


def bce_hessian(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    # sigma(z) sigma(-z) rather than sigma (1 - sigma): no cancellation for large z.
    return _diag(np.broadcast_to(expit(z) * expit(-z), _batch(z, y)))


def hinge_value(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    return np.asarray(np.sum(np.maximum(0.0, 1.0 - y * z), axis=-1))


def hinge_grad(z: FloatArray, y: FloatArray, p: Params) -> FloatArray:
    # On the margin y z = 1 the minimum-norm subgradient is 0.
    return np.asarray(np.where(y * z < 1.0, -y, 0.0))
