r"""The T3.8p measurement of every sweep row: per-layer, gauge-balanced per-coordinate KLs
(:func:`layer_kls`, at the point) and, where a low-rank point and the mean-field point of the same
width, seed and prior mode both exist, the per-layer predicted and measured complexity ratios
(:func:`layer_ratios`, at assembly).

Claim T3.8p reads the ratio of the low-rank to the full-rank complexity terms of layer
:math:`l` (an :math:`m \times n` weight) as
:math:`\sqrt{D^{LR}_l / D^{MF}_l} = \sqrt{r(m+n)/(mn)}` (plus the Bayesian biases, which both
families have), which needs the per-coordinate KLs to be comparable. The ratio actually paid is

.. math::

    \sqrt{\frac{\mathrm{KL}^{LR}_l}{\mathrm{KL}^{MF}_l}}
    = \sqrt{\frac{\bar C^{LR}_l}{\bar C^{MF}_l}} \, \sqrt{\frac{D^{LR}_l}{D^{MF}_l}},
    \qquad \bar C_l = \mathrm{KL}_l / D_l,

as :func:`verification.claims.trained.premise.premise_summary` measures it on its own trainings;
here it is measured on every certified posterior of the sweep. The KLs are the certificate's:
closed form for Gaussian priors, the declared closed-form upper bound
:math:`\min_k [\mathrm{KL}(q_i \| N(0, s_k^2)) + \ln(1/\pi_k)]` for the scale mixture, and the
low-rank posteriors are gauge-balanced against their prior before they are certified
(:func:`lrbnn_core.certified_training.train_and_certify` balances against the chosen prior scale;
:func:`lrbnn_core.prior_modes.train_and_certify_data_free` after training), so the per-layer KLs
are those of the balanced factors. Their sum over layers is the certificate's KL (a test checks
it, and :func:`layer_kls` checks it against each layer's own KL).

References: claims T3.8, T3.8p and D3 of ``CLAIMS.md``; issue 17.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["LAYER_KL_ATOL", "LAYER_KL_RTOL", "coordinate_kls", "layer_kls", "layer_ratios"]

#: Relative agreement required between a layer's summed per-coordinate KLs and the layer's own
#: ``kl(dtype=torch.float64)`` (the certificate's path, :func:`lrbnn_core.base.model_kl`): both
#: are float64 closed forms of the same terms from the same float32 parameters, so they differ by
#: summation order only; beside it an absolute slack of :data:`LAYER_KL_ATOL` per coordinate (each
#: term cancels O(1) parts down to its KL, so its float64 rounding is about 1e-16 nats).
LAYER_KL_RTOL = 1e-9
#: Absolute slack per stochastic coordinate (nats) of that comparison.
LAYER_KL_ATOL = 1e-12


def _coordinate_kls(layer: Any) -> np.ndarray:
    """The certified KL of every stochastic scalar of one Bayesian layer, in float64."""
    from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior, gaussian_kl_elementwise
    from lrbnn_core.priors import per_coordinate_kls as gaussian_coordinate_kls

    prior = layer.prior
    if isinstance(prior, GaussianPrior):
        return gaussian_coordinate_kls(layer)
    if not isinstance(prior, ScaleMixturePrior):
        raise TypeError(f"a layer's prior must be Gaussian or the scale mixture; got {prior!r}")
    parts = []
    for mean, std in layer.factor_posteriors().values():
        m, sd = mean.detach().double(), std.detach().double()
        k1 = gaussian_kl_elementwise(m, sd, 0.0, prior.std1) - math.log(prior.pi)
        k2 = gaussian_kl_elementwise(m, sd, 0.0, prior.std2) - math.log1p(-prior.pi)
        parts.append(np.minimum(k1.numpy(), k2.numpy()).reshape(-1))
    return np.concatenate(parts)


def coordinate_kls(model: Any) -> np.ndarray:
    r"""The certified KL of every stochastic scalar of ``model`` (layers in module order), in
    float64: the exact one for Gaussian priors, the declared closed-form bound
    :math:`\min_k [\mathrm{KL}(q_i \| N(0, s_k^2)) + \ln(1/\pi_k)]` for the scale mixture;
    their sum is the certificate's KL."""
    from lrbnn_core.base import bayesian_modules

    return np.concatenate([_coordinate_kls(layer) for layer in bayesian_modules(model)])


def layer_kls(model: Any) -> dict[str, list[Any]]:
    r"""The per-layer columns of a certified posterior ``model`` (layers in module order, as
    ``layer_shapes``): ``layer_stochastic`` (stochastic scalars :math:`D_l`), ``layer_kl``
    (:math:`\mathrm{KL}_l`, nats), ``layer_kl_per_coord``
    (:math:`\bar C_l = \mathrm{KL}_l / D_l`) and ``layer_kl_per_coord_max`` (:math:`C_{max, l}`).

    Raises ``ValueError`` naming the layer when a KL is not finite, or when a layer's summed
    per-coordinate KLs disagree with its own float64 ``kl`` beyond :data:`LAYER_KL_RTOL` (a wrong
    measurement, never a result).

    Examples
    --------
    >>> import torch
    >>> from lrbnn_core.models import MLP
    >>> net = MLP((3, 4, 2), "mean_field", generator=torch.Generator().manual_seed(0))
    >>> cols = layer_kls(net)
    >>> cols["layer_stochastic"]  # 4 x 3 weights and 4 biases, 2 x 4 weights and 2 biases
    [16, 10]
    """
    import torch

    from lrbnn_core.base import bayesian_modules

    out: dict[str, list[Any]] = {
        "layer_stochastic": [],
        "layer_kl": [],
        "layer_kl_per_coord": [],
        "layer_kl_per_coord_max": [],
    }
    for i, layer in enumerate(bayesian_modules(model)):
        kls = _coordinate_kls(layer)
        total = float(np.sum(kls))
        if not math.isfinite(total):
            bad = int(np.flatnonzero(~np.isfinite(kls))[0])
            raise ValueError(
                f"layer {i} ({type(layer).__name__}) has the non-finite per-coordinate KL "
                f"{float(kls[bad])!r} at coordinate {bad}"
            )
        own = float(layer.kl(dtype=torch.float64).detach())
        slack = LAYER_KL_ATOL * kls.size
        if not math.isclose(total, own, rel_tol=LAYER_KL_RTOL, abs_tol=slack):
            raise ValueError(
                f"layer {i} ({type(layer).__name__}): summed per-coordinate KLs {total!r} differ "
                f"from the layer's own KL {own!r} (relative tolerance {LAYER_KL_RTOL:g}, "
                f"absolute {slack:g})"
            )
        out["layer_stochastic"].append(int(kls.size))
        out["layer_kl"].append(total)
        out["layer_kl_per_coord"].append(total / kls.size)
        out["layer_kl_per_coord_max"].append(float(np.max(kls)))
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


def _all_or_none(values: list[float | None]) -> list[float] | None:
    """A per-layer list, or ``None`` (a blank cell) when a layer's ratio is undefined."""
    if any(v is None for v in values):
        return None
    return [float(v) for v in values if v is not None]


def layer_ratios(low: Mapping[str, Any], full: Mapping[str, Any]) -> dict[str, list[float] | None]:
    r"""The assembled per-layer T3.8p columns of a low-rank row ``low`` against the mean-field
    row ``full`` of the same width, seed and prior (rows holding :func:`layer_kls`' columns):

    * ``layer_predicted_ratio``: :math:`\sqrt{D^{LR}_l / D^{MF}_l}`;
    * ``layer_measured_ratio``: :math:`\sqrt{\mathrm{KL}^{LR}_l / \mathrm{KL}^{MF}_l}`;
    * ``layer_kl_per_coord_ratio``: :math:`\bar C^{LR}_l / \bar C^{MF}_l` (T3.8p's
      :math:`\rho_{mean}`; measured = predicted x its square root, exactly);
    * ``layer_kl_per_coord_max_ratio``: :math:`C^{LR}_{max,l} / C^{MF}_{max,l}`
      (:math:`\rho_{max}`).

    A list is blank (``None``) when one of its layers divides by a zero mean-field value.

    Examples
    --------
    >>> low = {"layer_stochastic": [10], "layer_kl": [2.0], "layer_kl_per_coord": [0.2],
    ...        "layer_kl_per_coord_max": [0.5]}
    >>> full = {"layer_stochastic": [40], "layer_kl": [4.0], "layer_kl_per_coord": [0.1],
    ...         "layer_kl_per_coord_max": [1.0]}
    >>> out = layer_ratios(low, full)
    >>> out["layer_predicted_ratio"], out["layer_measured_ratio"]
    ([0.5], [0.7071067811865476])
    """
    n = len(low["layer_kl"])
    if len(full["layer_kl"]) != n:
        raise ValueError(
            f"the low-rank row has {n} layers and the mean-field row {len(full['layer_kl'])}"
        )
    predicted, measured, mean, peak = [], [], [], []
    for i in range(n):
        d = _ratio(low["layer_stochastic"][i], full["layer_stochastic"][i])
        k = _ratio(low["layer_kl"][i], full["layer_kl"][i])
        predicted.append(None if d is None else math.sqrt(d))
        measured.append(None if k is None else math.sqrt(k))
        mean.append(_ratio(low["layer_kl_per_coord"][i], full["layer_kl_per_coord"][i]))
        peak.append(_ratio(low["layer_kl_per_coord_max"][i], full["layer_kl_per_coord_max"][i]))
    return {
        "layer_predicted_ratio": _all_or_none(predicted),
        "layer_measured_ratio": _all_or_none(measured),
        "layer_kl_per_coord_ratio": _all_or_none(mean),
        "layer_kl_per_coord_max_ratio": _all_or_none(peak),
    }
