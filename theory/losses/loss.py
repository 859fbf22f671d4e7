r"""The losses of the paper's constant table, with their claimed and true constants (C9, CT).

Every loss :math:`l(z, y)` acts on an output :math:`z \in \mathbb R^k`, the trailing axis of the
arrays (``k = 1`` for the one-logit losses and the paper's MAE, which is scalar); leading axes
are a batch. Its constants are taken with respect to the Euclidean norm of :math:`z`, the norm
theorem T3.6 uses (:math:`|l(Wx, y) - l(W_r x, y)| \le L \|(W - W_r) x\|_2`):

.. math::

    L = \sup_{(z, y) \in \mathcal D} \|\nabla_z l(z, y)\|_2, \qquad
    \beta = \sup_{(z, y) \in \mathcal D} \lambda_{max}(\nabla^2_z l(z, y)).

All six losses are convex in :math:`z`, so :math:`\lambda_{max}` is the spectral norm of the
Hessian and :math:`\beta` the Lipschitz constant of the gradient. A loss whose gradient jumps
(MAE, hinge) has no finite :math:`\beta` (``inf``); its ``hessian`` is the a.e. Hessian (zero).
The derivations are in :mod:`theory.losses.constants`, the numerical twin in
:mod:`theory.losses.search`, the sympy twin in :mod:`theory.symbolic.losses`.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from theory._validation import FloatArray, as_float_array, check_int
from theory.losses import _formulas as lf
from theory.losses.constants import LossConstants, paper_claims, true_constants

__all__ = ["CONSTANT_RTOL", "LOSSES", "LOSS_NAMES", "Loss", "Reduction", "make_loss"]

#: Rounding slack of "claimed == true": each is one correctly rounded sqrt or product of exact
#: numbers (sqrt(2), 2 B, delta sqrt(k)), so equal constants differ by at most a few ulps.
CONSTANT_RTOL = 4 * float(np.finfo(np.float64).eps)

LOSS_NAMES = ("mae", "mse", "softmax_ce", "bce", "hinge", "huber")

_Fn = Callable[[FloatArray, FloatArray, Mapping[str, Any]], FloatArray]
_Targets = Callable[[Any, FloatArray, Mapping[str, Any]], FloatArray]


class Reduction(str, Enum):
    """How a k-output MAE combines its coordinates (our extension: the paper's MAE is scalar,
    k = 1, where both readings are :math:`|z - y|`; for k > 1 the constants differ)."""

    #: :math:`\|z - y\|_1`: Lipschitz :math:`\sqrt k` in the Euclidean norm
    SUM = "sum"
    #: :math:`\|z - y\|_1 / k` (PyTorch's ``L1Loss`` for one sample): Lipschitz :math:`1/\sqrt k`
    MEAN = "mean"


@dataclass(frozen=True)
class Loss:
    r"""One loss on :math:`\mathbb R^k` with the paper's constants and the true ones.

    ``value(z, y)`` has shape ``z.shape[:-1]`` (a float for one point), ``grad`` the shape of
    ``z``, ``hessian`` ``z.shape + (k,)``; ``z.shape[-1]`` must be ``k`` (:meth:`with_dim` gives
    the same loss for another k). ``claimed_*`` are the paper's constants (``None`` where it gives
    none), ``true_*`` the suprema derived in :mod:`theory.losses.constants` (``inf``: no finite
    constant), ``*_valid`` (claimed >= true) and ``*_tight`` (claimed == true) compare them, up
    to :data:`CONSTANT_RTOL`, and are ``None`` without a claim. The paper's MAE is scalar
    (k = 1, its default here); a k-output MAE is our extension and carries no claim.

    References
    ----------
    Claims C9 and CT.

    Examples
    --------
    >>> ce = LOSSES["softmax_ce"]
    >>> ce.k, ce.true_smoothness, ce.claimed_smoothness, ce.smoothness_valid
    (2, 0.5, 0.25, False)
    >>> ce.lipschitz_valid, ce.lipschitz_tight, ce.truth.lipschitz_attained
    (True, True, False)
    >>> ce.hessian([0.0, 0.0], 0).tolist()
    [[0.25, -0.25], [-0.25, 0.25]]
    """

    name: str
    k: int
    domain: str
    params: Mapping[str, Any]
    claimed_lipschitz: float | None
    claimed_smoothness: float | None
    truth: LossConstants = field(repr=False)
    _value: _Fn = field(repr=False, compare=False)
    _grad: _Fn = field(repr=False, compare=False)
    _hessian: _Fn = field(repr=False, compare=False)
    _targets: _Targets = field(repr=False, compare=False)

    @property
    def true_lipschitz(self) -> float:
        return self.truth.lipschitz

    @property
    def true_smoothness(self) -> float:
        return self.truth.smoothness

    @property
    def lipschitz_valid(self) -> bool | None:
        return _valid(self.claimed_lipschitz, self.truth.lipschitz)

    @property
    def lipschitz_tight(self) -> bool | None:
        return _tight(self.claimed_lipschitz, self.truth.lipschitz)

    @property
    def smoothness_valid(self) -> bool | None:
        return _valid(self.claimed_smoothness, self.truth.smoothness)

    @property
    def smoothness_tight(self) -> bool | None:
        return _tight(self.claimed_smoothness, self.truth.smoothness)

    def with_dim(self, k: int) -> Loss:
        """The same loss (parameters and claims as printed) on :math:`\\mathbb R^k`."""
        return make_loss(self.name, k=k, **self.params)

    def with_claims(self, lipschitz: float | None, smoothness: float | None) -> Loss:
        """The same loss with other claimed constants (to test a checker on a wrong claim)."""
        return replace(self, claimed_lipschitz=lipschitz, claimed_smoothness=smoothness)

    def _prepare(self, z: Any, y: Any) -> tuple[FloatArray, FloatArray]:
        zz = as_float_array(z, "z")
        if zz.ndim == 0 or zz.shape[-1] != self.k:
            raise ValueError(
                f"`z` must have a trailing axis of size k = {self.k} for {self.name}; "
                f"got shape {zz.shape}"
            )
        yy = self._targets(y, zz, self.params)
        # A target whose trailing axis broadcasts z's (y of shape (N,) against z of shape
        # (N, 1)) would make every formula sum over the wrong axis without an error.
        try:
            trailing = np.broadcast_shapes(zz.shape, yy.shape)[-1]
        except ValueError:
            trailing = None
        if trailing != self.k:
            raise ValueError(
                f"`y` must broadcast with z of shape {zz.shape} keeping the trailing axis of size "
                f"k = {self.k} for {self.name}; got shape {yy.shape}"
            )
        return zz, yy

    def value(self, z: Any, y: Any) -> Any:
        """The loss, shape ``z.shape[:-1]`` broadcast with y's batch (a float for one point)."""
        zz, yy = self._prepare(z, y)
        out = self._value(zz, yy, self.params)
        return float(out) if out.ndim == 0 else out

    def grad(self, z: Any, y: Any) -> FloatArray:
        """Gradient in z (the minimum-norm subgradient on a kink)."""
        zz, yy = self._prepare(z, y)
        return self._grad(zz, yy, self.params)

    def hessian(self, z: Any, y: Any) -> FloatArray:
        """Hessian in z (the a.e. Hessian for MAE and hinge), shape ``(..., k, k)``."""
        zz, yy = self._prepare(z, y)
        return self._hessian(zz, yy, self.params)


def _valid(claimed: float | None, true: float) -> bool | None:
    if claimed is None:
        return None
    return bool(claimed >= true * (1.0 - CONSTANT_RTOL))


def _tight(claimed: float | None, true: float) -> bool | None:
    if claimed is None:
        return None
    if math.isinf(true):
        return False
    return bool(abs(claimed - true) <= CONSTANT_RTOL * true)


@dataclass(frozen=True)
class _Spec:
    value: _Fn
    grad: _Fn
    hessian: _Fn
    targets: _Targets
    domain: str
    min_k: int = 1
    max_k: int | None = None
    default_k: int = 2


_SPECS: dict[str, _Spec] = {
    "mae": _Spec(
        lf.mae_value,
        lf.mae_grad,
        lf.zero_hessian,
        lf.regression_targets,
        "z, y in R; l = abs(z - y) (the paper's MAE); for k > 1 (our extension, no claim) the "
        "sum (or mean) over i of abs(z_i - y_i)",
        default_k=1,
    ),
    "mse": _Spec(
        lf.mse_value,
        lf.mse_grad,
        lf.mse_hessian,
        lf.regression_targets,
        "z, y in the Euclidean ball of radius B in R^k; l = (1/2) squared norm of z - y",
    ),
    "softmax_ce": _Spec(
        lf.ce_value,
        lf.ce_grad,
        lf.ce_hessian,
        lf.class_targets,
        "logits z in R^k (k >= 2), y a label in [0, k) or a probability row; "
        "l = logsumexp(z) - <y, z>",
        min_k=2,
    ),
    "bce": _Spec(
        lf.bce_value,
        lf.bce_grad,
        lf.bce_hessian,
        lf.bce_targets,
        "one logit z in R, y in {0, 1} (soft y in [0, 1] allowed); l = softplus(z) - y z",
        max_k=1,
        default_k=1,
    ),
    "hinge": _Spec(
        lf.hinge_value,
        lf.hinge_grad,
        lf.zero_hessian,
        lf.sign_targets,
        "one margin z in R, y in {-1, +1}; l = max(0, 1 - y z) (binary, not squared)",
        max_k=1,
        default_k=1,
    ),
    "huber": _Spec(
        lf.huber_value,
        lf.huber_grad,
        lf.huber_hessian,
        lf.regression_targets,
        "z, y in R^k; l = sum over i of Huber(z_i - y_i; delta), quadratic for abs(r) <= delta",
    ),
}


def make_loss(
    name: str,
    *,
    k: int | None = None,
    radius: float = 1.0,
    delta: float = 1.0,
    reduction: Reduction | str = Reduction.SUM,
) -> Loss:
    r"""Build one loss of the table on :math:`\mathbb R^k`.

    Parameters
    ----------
    name : {"mae", "mse", "softmax_ce", "bce", "hinge", "huber"}
    k : int, optional
        Output dimension: ``>= 2`` for ``softmax_ce``, ``1`` for ``bce`` and ``hinge``, ``>= 1``
        otherwise; default 1 for ``mae`` (the paper's scalar MAE), 2 for the vector losses.
    radius : float
        :math:`B > 0`, radius of the MSE ball for both z and y (ignored by the others).
    delta : float
        :math:`\delta > 0`, the Huber threshold (ignored by the others).
    reduction : {"sum", "mean"}
        How a k-output MAE combines the coordinates (our extension; no effect at k = 1; ignored
        by the others).

    References
    ----------
    Claims C9 and CT.

    Examples
    --------
    >>> mae = make_loss("mae")
    >>> mae.k, mae.claimed_lipschitz, mae.true_lipschitz, mae.lipschitz_tight
    (1, 1.0, 1.0, True)
    >>> wide = make_loss("mae", k=4)  # our extension: no claim in the paper
    >>> wide.claimed_lipschitz, wide.true_lipschitz
    (None, 2.0)
    >>> make_loss("mae", k=4, reduction="mean").true_lipschitz
    0.5
    """
    if name not in _SPECS:
        raise ValueError(f"`name` must be one of {', '.join(LOSS_NAMES)}; got {name!r}")
    spec = _SPECS[name]
    kk = check_int(spec.default_k if k is None else k, "k", low=spec.min_k, high=spec.max_k)
    params: dict[str, Any] = {}
    if name == "mse":
        params["radius"] = lf.positive(radius, "radius")
    elif name == "huber":
        params["delta"] = lf.positive(delta, "delta")
    elif name == "mae":
        try:
            params["reduction"] = Reduction(reduction)
        except ValueError:
            raise ValueError(f"`reduction` must be 'sum' or 'mean'; got {reduction!r}") from None
    claimed_l, claimed_b = paper_claims(name, params, k=kk)
    return Loss(
        name=name,
        k=kk,
        domain=spec.domain,
        params=params,
        claimed_lipschitz=claimed_l,
        claimed_smoothness=claimed_b,
        truth=true_constants(name, kk, params),
        _value=spec.value,
        _grad=spec.grad,
        _hessian=spec.hessian,
        _targets=spec.targets,
    )


#: The table at default sizes: the paper's scalar MAE (k = 1), k = 2 for the vector losses,
#: B = 1, delta = 1.
LOSSES: dict[str, Loss] = {name: make_loss(name) for name in LOSS_NAMES}
