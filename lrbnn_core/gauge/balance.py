r"""Gauge balancing layer by layer: the optimal gauge of one
:class:`~lrbnn_core.layers.LowRankBayesLinear` (:func:`optimal_gauge`), applying a gauge in place
(:func:`apply_gauge`), and balancing every low-rank layer of a model (:func:`balance_gauge`;
notes: :mod:`lrbnn_core.gauge`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from lrbnn_core.base import bayesian_modules
from lrbnn_core.gauge.closed_form import isotropic_gauge
from lrbnn_core.gauge.search import (
    _best_log_scale,
    _Block,
    _check_column,
    _Components,
    _gaussian_candidates,
    _mixture_candidates,
)
from lrbnn_core.layers import LowRankBayesLinear, inverse_softplus
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior

__all__ = ["apply_gauge", "balance_gauge", "optimal_gauge"]


#: ``torch.nn.functional.softplus`` (the layers' std) returns its argument above this value.
_SOFTPLUS_THRESHOLD = 20.0


def _check_layer(layer: Any) -> LowRankBayesLinear:
    if not isinstance(layer, LowRankBayesLinear):
        raise TypeError(f"`layer` must be a LowRankBayesLinear; got {type(layer).__name__}")
    return layer


def _factor_parameters(layer: LowRankBayesLinear) -> list[Tensor]:
    """``[A_mean, A_rho, B_mean, B_rho]``, the live parameters a gauge moves."""
    return [getattr(layer, f"{b}_{kind}") for b in ("A", "B") for kind in ("mean", "rho")]


def _entries(values: dict[str, Tensor] | None, name: str, default: float, shape: Any) -> Any:
    if values is None:
        return np.full(shape, default)
    return values[name].detach().to("cpu", torch.float64).numpy()


def _factor_arrays(layer: LowRankBayesLinear) -> dict[str, tuple[NDArray[np.float64], ...]]:
    """``{"A": (mean, std, prior centre, prior std), "B": ...}``, float64 arrays (rows, r); the
    prior's entries are those of a Gaussian prior (0 and 1 for a mixture: unused)."""
    prior = layer.prior
    loc, spread = (prior.mean, prior.std) if isinstance(prior, GaussianPrior) else (0.0, 1.0)
    centres, stds = layer.prior_means(), layer.prior_stds()
    out: dict[str, tuple[NDArray[np.float64], ...]] = {}
    for name in ("A", "B"):
        mean_t = getattr(layer, f"{name}_mean").detach().to("cpu", torch.float64)
        std_t = nn.functional.softplus(
            getattr(layer, f"{name}_rho").detach().to("cpu", torch.float64)
        )
        mean, std = mean_t.numpy(), std_t.numpy()
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0.0).all()):
            raise ValueError(
                f"`layer` block '{name}' has non-finite means or standard deviations that are not "
                "finite and > 0"
            )
        centre = _entries(centres, name, loc, mean.shape)
        scale = _entries(stds, name, spread, mean.shape)
        out[name] = (mean, std, centre, scale)
    return out


def optimal_gauge(layer: LowRankBayesLinear) -> Tensor:
    r"""Column scales :math:`c` minimising the closed-form KL of ``layer`` over the gauge.

    :math:`c_k = e^{t_k}` with :math:`t_k` the global minimiser of the column KL
    :math:`f_k` (package notes): the closed form of :func:`isotropic_gauge` for a
    :class:`GaussianPrior` with mean 0 and no per-entry centres or stds; the best stationary
    point for any other Gaussian prior; the best piecewise minimiser of the declared upper bound
    for a :class:`ScaleMixturePrior`. In every case :math:`c_k = 1` unless the minimiser
    lowers :math:`f_k` beyond rounding (so a balanced layer gets exactly 1).

    Parameters
    ----------
    layer : LowRankBayesLinear
        Its means and standard deviations must be finite (standard deviations > 0).

    Returns
    -------
    torch.Tensor
        Shape ``(r,)``, float64, on the device of the layer's parameters.

    References
    ----------
    ``CLAIMS.md`` G1; issue 7.

    Examples
    --------
    >>> layer = LowRankBayesLinear(6, 4, 2, generator=torch.Generator().manual_seed(0))
    >>> c = optimal_gauge(layer)
    >>> c.shape, c.dtype, bool((c > 0).all())
    (torch.Size([2]), torch.float64, True)
    """
    layer = _check_layer(layer)
    arrays = _factor_arrays(layer)
    prior = layer.prior
    mean_a, std_a, centre_a, scale_a = arrays["A"]
    mean_b, std_b, centre_b, scale_b = arrays["B"]
    m, n = mean_a.shape[0], mean_b.shape[0]
    components: _Components = None
    if isinstance(prior, ScaleMixturePrior):
        components = ((prior.std1, -math.log(prior.pi)), (prior.std2, -math.log1p(-prior.pi)))
    closed: NDArray[np.float64] | None = None
    if (
        isinstance(prior, GaussianPrior)
        and prior.mean == 0.0
        and layer.prior_means() is None
        and layer.prior_stds() is None
    ):
        closed = np.log(
            isotropic_gauge(
                (std_a**2 + mean_a**2).sum(axis=0),
                (std_b**2 + mean_b**2).sum(axis=0),
                m=m,
                n=n,
                prior_std=prior.std,
            )
        )
    log_scales = np.zeros(layer.rank)
    for k in range(layer.rank):
        blocks = (
            _Block(mean_a[:, k], std_a[:, k], centre_a[:, k], scale_a[:, k], 1),
            _Block(mean_b[:, k], std_b[:, k], centre_b[:, k], scale_b[:, k], -1),
        )
        _check_column(blocks, components, k)
        if closed is not None:
            candidates = closed[k : k + 1]
        elif components is not None:
            candidates = _mixture_candidates(blocks, components)
        else:
            candidates = _gaussian_candidates(blocks)
        log_scales[k] = _best_log_scale(blocks, components, candidates)
    scales = np.exp(log_scales)
    return torch.as_tensor(scales, dtype=torch.float64, device=_factor_parameters(layer)[0].device)


def _check_scales(c: Any, rank: int, device: torch.device) -> Tensor:
    if isinstance(c, np.ndarray):
        c = torch.from_numpy(c)
    if not isinstance(c, Tensor):
        raise TypeError(f"`c` must be a torch.Tensor; got {type(c).__name__}")
    if c.dtype == torch.bool or c.is_complex():
        raise TypeError(f"`c` must be a real tensor; got dtype {c.dtype}")
    if tuple(c.shape) != (rank,):
        raise ValueError(f"`c` must have shape (rank,) = ({rank},); got {tuple(c.shape)}")
    scales = c.detach().to(device, torch.float64)
    bad = ~(torch.isfinite(scales) & (scales > 0.0))
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0, 0])
        raise ValueError(f"`c` must be finite and > 0 entry by entry; got c[{k}] = {float(c[k])}")
    return scales


def _softplus_preimage(std: Tensor) -> Tensor:
    """``rho`` with ``torch.nn.functional.softplus(rho) == std`` to rounding. Above its threshold
    (20) torch's softplus returns ``rho`` itself, so the exact inverse (``std - e^{-std}`` there)
    would come back off by up to ``e^{-20}`` (1e-10 relative): there ``rho = std``."""
    rho = inverse_softplus(std)
    return torch.where(rho > _SOFTPLUS_THRESHOLD, std, rho)


def apply_gauge(layer: LowRankBayesLinear, c: Tensor) -> None:
    r"""Rescale column :math:`k` of :math:`A` by :math:`c_k` and of :math:`B` by :math:`1/c_k`,
    in place: every weight draw :math:`A B^\top` is unchanged, the KL is not.

    Means are multiplied, standard deviations too (:math:`\rho \leftarrow
    \mathrm{softplus}^{-1}(c\,\mathrm{softplus}(\rho))`, with the preimage taken under torch's
    thresholded softplus, which the layers use), in float64, then stored in the parameters'
    dtype. Columns with :math:`c_k = 1` are left bit for bit; the bias and the prior (its per-entry
    centres included) are never touched. Nothing is written if a new value would overflow or
    underflow the dtype.

    Parameters
    ----------
    layer : LowRankBayesLinear
    c : torch.Tensor
        Shape ``(r,)``, finite, > 0 (a numpy array is accepted as well).

    Examples
    --------
    >>> layer = LowRankBayesLinear(6, 4, 2, generator=torch.Generator().manual_seed(0),
    ...                            dtype=torch.float64)
    >>> w = layer.mean_weight()
    >>> apply_gauge(layer, torch.tensor([2.0, 0.25], dtype=torch.float64))
    >>> torch.allclose(layer.mean_weight(), w, rtol=1e-14, atol=0.0)
    True
    """
    layer = _check_layer(layer)
    scales = _check_scales(c, layer.rank, _factor_parameters(layer)[0].device)
    moved = scales != 1.0
    if not bool(moved.any()):
        return
    with torch.no_grad():
        updates: list[tuple[Tensor, Tensor]] = []
        for name, factor in (("A", scales), ("B", 1.0 / scales)):
            mean_p: Tensor = getattr(layer, f"{name}_mean")
            rho_p: Tensor = getattr(layer, f"{name}_rho")
            mean = (mean_p.to(torch.float64) * factor).to(mean_p.dtype)
            std = nn.functional.softplus(rho_p.to(torch.float64)) * factor
            rho = _softplus_preimage(std).to(rho_p.dtype)
            mean = torch.where(moved, mean, mean_p)
            rho = torch.where(moved, rho, rho_p)
            std_back = nn.functional.softplus(rho)
            representable = (
                torch.isfinite(mean).all()
                and torch.isfinite(rho).all()
                and torch.isfinite(std_back).all()
                and (std_back > 0.0).all()
            )
            if not bool(representable):
                raise ValueError(
                    f"`c` makes block '{name}' of `layer` non-representable in {mean_p.dtype} "
                    f"(a mean or standard deviation overflows or underflows); got c in "
                    f"[{float(scales.min())}, {float(scales.max())}]"
                )
            updates += [(mean_p, mean), (rho_p, rho)]
        for parameter, value in updates:
            parameter.copy_(value)


def _factor_kl(layer: LowRankBayesLinear) -> float:
    """Closed-form KL (or declared bound) of the ``A`` and ``B`` blocks of ``layer``, evaluated in
    float64 from the stored parameters."""
    total = 0.0
    with torch.no_grad():
        for name in ("A", "B"):
            mean = getattr(layer, f"{name}_mean").to(torch.float64)
            std = nn.functional.softplus(getattr(layer, f"{name}_rho").to(torch.float64))
            centre, scale = (
                None if value is None else value.to(torch.float64)
                for value in (
                    getattr(layer, f"{name}_prior_mean", None),
                    getattr(layer, f"{name}_prior_std", None),
                )
            )
            total += float(layer.prior.kl(mean, std, prior_mean=centre, prior_std=scale))
    return total


def balance_gauge(model: nn.Module) -> float:
    r"""Apply the optimal gauge to every :class:`LowRankBayesLinear` of ``model``, in place.

    Mean-field layers are left alone (they have no gauge). A layer whose balanced parameters, as
    stored in their dtype, do not have a smaller float64 KL than before (rounding can eat a tiny
    gain) gets its old parameters back bit for bit, so the returned decrease is never negative.
    A second call changes nothing (exactly for float64 parameters; for float32 ones, the storage
    rounding of the first call can leave a gain of float32-rounding size to take).

    Parameters
    ----------
    model : torch.nn.Module
        Must contain at least one Bayesian layer.

    Returns
    -------
    float
        The decrease of the closed-form KL in nats (of its declared upper bound for a
        scale-mixture prior), >= 0; 0.0 for a model without low-rank layers.

    References
    ----------
    Issue 7 (balance before certifying).

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> model = MLP([6, 5, 3], "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    >>> balance_gauge(model) >= 0.0, balance_gauge(model)
    (True, 0.0)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if not bayesian_modules(model):
        raise ValueError(
            f"`model` ({type(model).__name__}) has no Bayesian layer: no posterior to balance"
        )
    decrease = 0.0
    with torch.no_grad():
        for layer in model.modules():
            if not isinstance(layer, LowRankBayesLinear):
                continue
            scales = optimal_gauge(layer)
            if bool((scales == 1.0).all()):
                continue
            before = _factor_kl(layer)
            params = _factor_parameters(layer)
            saved = [p.detach().clone() for p in params]
            apply_gauge(layer, scales)
            after = _factor_kl(layer)
            if after < before:
                decrease += before - after
            else:
                for parameter, value in zip(params, saved, strict=True):
                    parameter.copy_(value)
    return decrease
