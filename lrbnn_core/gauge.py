r"""Gauge balancing of low-rank factor posteriors: the same law of :math:`W`, a smaller KL.

For :math:`c \in (0, \infty)^r`, the map :math:`(A, B) \mapsto (A\,\mathrm{diag}(c),
B\,\mathrm{diag}(c)^{-1})` leaves :math:`W = A B^\top` unchanged (a diagonal part of the
:math:`GL(r)` gauge of claim G1, the part that keeps a mean-field posterior mean-field). On the
posterior it scales column :math:`k` of :math:`A` to :math:`N(c_k \mu^A, c_k^2 \sigma^{A\,2})` and
column :math:`k` of :math:`B` to :math:`N(\mu^B / c_k, \sigma^{B\,2} / c_k^2)`: the law of
:math:`W` is the same, and so is every draw made from the same noise :math:`\varepsilon`, but the
factor-space KL to a fixed prior changes. With :math:`t_k = \ln c_k` it separates over columns,

.. math::

    \mathrm{KL}(t) = \sum_k f_k(t_k), \qquad
    f_k(t) = \sum_{i=1}^{m} \mathrm{KL}\big(N(e^{t}\mu^A_{ik}, e^{2t}\sigma^{A\,2}_{ik})
        \,\|\, p_{ik}\big)
      + \sum_{j=1}^{n} \mathrm{KL}\big(N(e^{-t}\mu^B_{jk}, e^{-2t}\sigma^{B\,2}_{jk})
        \,\|\, p_{jk}\big),

and each :math:`f_k` tends to :math:`+\infty` at both ends (the posterior variances enter as
:math:`e^{\pm 2t}`), so it has a global minimiser, found here exactly (no iterative search that
could stop at the wrong local minimum):

* zero-mean isotropic prior :math:`N(0, s^2)`: :math:`f_k` is convex in :math:`t` and its
  stationary point has a closed form (:func:`isotropic_gauge`);
* any other Gaussian prior: centres :math:`\mu^0` and standard deviations :math:`s` per entry
  (a prior at the initialisation, a data-dependent prior with learnt centres and scales) or a
  nonzero scalar mean: every stationary point is a positive root of a quartic, all of them are
  enumerated and polished by Newton steps, and the best one is kept;
* scale mixture: the declared closed-form *upper bound* is minimised (the only KL value a
  certificate may use). Each entry switches between the two mixture components at most once as
  :math:`t` grows, and between switch points :math:`f_k` is convex with a closed-form minimiser.

In every case the minimiser replaces :math:`t = 0` only where it lowers :math:`f_k` by more than
the rounding error of the evaluation, so a gauge never increases the KL and balancing twice changes
nothing. The prior, its per-entry centres and scales included, is never rescaled: it is fixed
before the data (or on held-out data) and the certificate depends on that.

Balancing changes the parameters in place (an optimiser's moment estimates then refer to the old
coordinates: balance before certifying, or restart the optimiser).

References: ``CLAIMS.md`` G1 (the gauge), issue 7 (gauge balancing before certifying).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor, nn

from lrbnn_core.base import bayesian_modules
from lrbnn_core.layers import LowRankBayesLinear, inverse_softplus
from lrbnn_core.priors import GaussianPrior, ScaleMixturePrior

__all__ = ["apply_gauge", "balance_gauge", "isotropic_gauge", "optimal_gauge"]

_EPS = float(np.finfo(np.float64).eps)
#: A column's gauge replaces ``t = 0`` only if it lowers the column's KL by more than
#: ``ROUNDING_FACTOR * eps`` times the sum of the magnitudes of the terms of both evaluations.
#: Each term carries a few roundings, and storing balanced float64 parameters moves a term by at
#: most about ``2 (|rho| + 4) eps`` (the std's round trip through softplus): with |rho| <= 20
#: that is below 64 eps per term, whose magnitude is >= 1/2, in each of two evaluations; so a
#: second pass never sees a gain that is rounding only (balancing is idempotent in float64).
ROUNDING_FACTOR = 64.0
#: Candidate log-scales are kept in ``[-T_MAX, T_MAX]``: ``exp(2 t)`` stays finite in float64, and
#: a gauge beyond ``e^{300}`` would overflow the parameters anyway.
T_MAX = 300.0
#: ``torch.nn.functional.softplus`` (the layers' std) returns its argument above this value.
_SOFTPLUS_THRESHOLD = 20.0
#: Newton steps that polish a quartic root (each step at least halves |f'| or polishing stops).
_NEWTON_STEPS = 12


@dataclass(frozen=True)
class _Block:
    """One column of one factor, float64: entries ``N(e^{sign t} mean, e^{2 sign t} std^2)``."""

    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    #: the Gaussian prior's centre of each entry (zeros for a zero-mean prior or a mixture)
    centre: NDArray[np.float64]
    #: the Gaussian prior's std of each entry (unused for a mixture)
    scale: NDArray[np.float64]
    #: +1 for a column of A (scaled by c), -1 for one of B (scaled by 1/c)
    sign: int


#: ``((std_j, -ln weight_j), (std_2, ...))``: the two components of a scale mixture, centred at
#: 0, whose declared bound takes, entry by entry, the smaller of the two penalised Gaussian KLs;
#: ``None`` for a Gaussian prior, whose centre and std per entry are in the blocks.
_Components = tuple[tuple[float, float], ...] | None


def _positive_root(p: NDArray[np.float64], q: Any, r: NDArray[np.float64]) -> NDArray[np.float64]:
    """The positive root of ``p u^2 + q u - r = 0`` (``p, r > 0``: the roots have opposite signs),
    in the form that avoids cancellation for either sign of ``q``."""
    q_arr = np.broadcast_to(np.asarray(q, dtype=np.float64), np.broadcast(p, r).shape)
    disc = np.hypot(q_arr, 2.0 * np.sqrt(p) * np.sqrt(r))
    # each form is evaluated only where its denominator is a sum of two non-negative terms
    positive = q_arr > 0.0
    out: NDArray[np.float64] = np.where(
        positive,
        2.0 * r / np.where(positive, q_arr + disc, 1.0),
        (disc - q_arr) / (2.0 * p),
    )
    return out


def _positive_finite(value: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~(np.isfinite(arr) & (arr > 0.0))
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        raise ValueError(
            f"`{name}` must be finite and > 0 entry by entry; got {float(arr[first])!r} at index "
            f"{first}"
        )
    return arr


def _count(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
    return int(value)


def isotropic_gauge(
    second_moment_a: Any, second_moment_b: Any, *, m: int, n: int, prior_std: float
) -> NDArray[np.float64]:
    r"""Optimal column scales :math:`c_k` for a zero-mean isotropic prior :math:`N(0, s^2)`.

    With :math:`S^A_k = \sum_{i=1}^m (\sigma^{A\,2}_{ik} + \mu^{A\,2}_{ik})` and :math:`S^B_k`
    likewise over the :math:`n` rows of :math:`B`, the KL of column :math:`k` after the gauge is,
    up to a constant,

    .. math::

        f(c) = \frac{c^2 S^A}{2 s^2} - m \ln c + \frac{S^B}{2 s^2 c^2} + n \ln c ,

    convex in :math:`t = \ln c`. Setting :math:`c^3 s^2 f'(c) = 0` gives, with :math:`u = c^2`,

    .. math::

        S^A u^2 + (n - m) s^2 u - S^B = 0, \qquad
        u = \frac{-(n - m) s^2 + \sqrt{(n - m)^2 s^4 + 4 S^A S^B}}{2 S^A},

    the only positive root (the product of the roots is :math:`-S^B / S^A < 0`).

    Parameters
    ----------
    second_moment_a, second_moment_b : array_like
        :math:`S^A_k, S^B_k > 0`, same shape (usually ``(r,)``).
    m, n : int
        Rows of :math:`A` (out features) and of :math:`B` (in features), >= 1.
    prior_std : float
        :math:`s > 0`.

    Returns
    -------
    numpy.ndarray
        :math:`c_k = \sqrt{u_k}`, float64, of the shape of the second moments.

    References
    ----------
    ``CLAIMS.md`` G1 (the gauge); issue 7.

    Examples
    --------
    >>> c = isotropic_gauge([4.0], [1.0], m=3, n=3, prior_std=1.0)  # m = n: (S^B/S^A)^(1/4)
    >>> c.shape, round(float(c[0]), 12)
    ((1,), 0.707106781187)
    """
    s_a = _positive_finite(second_moment_a, "second_moment_a")
    s_b = _positive_finite(second_moment_b, "second_moment_b")
    if s_a.shape != s_b.shape:
        raise ValueError(
            "`second_moment_a` and `second_moment_b` must have the same shape; "
            f"got {s_a.shape} and {s_b.shape}"
        )
    rows_a, rows_b = _count(m, "m"), _count(n, "n")
    s = float(_positive_finite(prior_std, "prior_std"))
    u = _positive_root(s_a, (rows_b - rows_a) * s * s, s_b)
    out: NDArray[np.float64] = np.sqrt(u)
    return out


def _column_kl(
    blocks: tuple[_Block, _Block], components: _Components, t: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The exact KL (or declared bound) of one column at each log-scale in ``t`` (shape (T,)), and
    the sum of the magnitudes of its terms (what its rounding error is proportional to)."""
    total = np.zeros(t.shape)
    size = np.zeros(t.shape)
    for block in blocks:
        tau = block.sign * t[:, None]
        lam = np.exp(tau)
        options = ((block.scale, 0.0),) if components is None else components
        terms = []
        # |t| <= T_MAX keeps lam finite and > 0; a term may still overflow to +inf at an extreme
        # candidate, which then loses the comparison (never NaN)
        with np.errstate(over="ignore"):
            for std_j, penalty in options:
                log_ratio = np.log(std_j) - np.log(block.std)
                quad = ((block.std * lam) ** 2 + (block.mean * lam - block.centre) ** 2) / (
                    2.0 * np.square(std_j)
                )
                kl = log_ratio - tau + quad - 0.5 + penalty
                terms.append((kl, np.abs(log_ratio) + np.abs(tau) + quad + 0.5 + abs(penalty)))
        kl, mag = terms[0]
        for other_kl, other_mag in terms[1:]:
            smaller = other_kl < kl
            kl, mag = np.where(smaller, other_kl, kl), np.where(smaller, other_mag, mag)
        total += kl.sum(axis=1)
        size += mag.sum(axis=1)
    return total, size


def _best_log_scale(
    blocks: tuple[_Block, _Block],
    components: _Components,
    candidates: NDArray[np.float64],
    *,
    snap: bool = True,
) -> float:
    """The candidate of smallest KL; with ``snap``, ``t = 0`` unless that candidate is better
    beyond rounding (the safeguard: a gauge never increases the KL)."""
    kept = candidates[np.isfinite(candidates) & (np.abs(candidates) <= T_MAX)]
    ts = np.concatenate([[0.0], kept])
    kl, mag = _column_kl(blocks, components, ts)
    best = int(np.argmin(kl))
    if not snap or kl[best] < kl[0] - ROUNDING_FACTOR * _EPS * (mag[best] + mag[0]):
        return float(ts[best])
    return 0.0


def _gaussian_candidates(blocks: tuple[_Block, _Block]) -> NDArray[np.float64]:
    r"""Every stationary point of a column's KL to a Gaussian prior with centres :math:`\mu^0_i`
    and standard deviations :math:`s_i`, per entry.

    Up to a constant, :math:`f(t) = (n - m) t + \alpha e^{2t} - \beta e^{t} + \gamma e^{-2t}
    - \delta e^{-t}` with :math:`\alpha = \sum_i (\sigma^{A\,2}_i + \mu^{A\,2}_i) / (2 s_i^2)`,
    :math:`\beta = \sum_i \mu^A_i \mu^{0}_i / s_i^2`, and :math:`\gamma, \delta` likewise for
    :math:`B`. Multiplying
    :math:`f'(t) = 0` by :math:`x^2` (:math:`x = e^t`) gives the quartic
    :math:`2\alpha x^4 - \beta x^3 + (n - m) x^2 + \delta x - 2\gamma = 0` (at most three positive
    roots by Descartes' rule). It is solved in :math:`y = x / x_0`, :math:`x_0 = (\gamma /
    \alpha)^{1/4}`, where its outer coefficients are both 1 in magnitude, and the roots are
    polished by Newton steps on :math:`f'`."""
    block_a, block_b = blocks
    var_a, var_b = block_a.scale**2, block_b.scale**2
    alpha = float(np.sum((block_a.std**2 + block_a.mean**2) / (2.0 * var_a)))
    beta = float(np.sum(block_a.mean * block_a.centre / var_a))
    gamma = float(np.sum((block_b.std**2 + block_b.mean**2) / (2.0 * var_b)))
    delta = float(np.sum(block_b.mean * block_b.centre / var_b))
    k = float(block_b.mean.size - block_a.mean.size)

    def grad(t: float) -> float:
        return (
            k + 2 * alpha * math.exp(2 * t) - beta * math.exp(t)
            - 2 * gamma * math.exp(-2 * t) + delta * math.exp(-t)
        )  # fmt: skip

    def curvature(t: float) -> float:
        return (
            4 * alpha * math.exp(2 * t) - beta * math.exp(t)
            + 4 * gamma * math.exp(-2 * t) - delta * math.exp(-t)
        )  # fmt: skip

    log_x0 = 0.25 * (math.log(gamma) - math.log(alpha))
    x0 = math.exp(log_x0)
    two_gamma = 2.0 * gamma
    coefficients = [1.0, -beta * x0**3 / two_gamma, k * x0**2 / two_gamma, delta * x0 / two_gamma]
    roots = np.roots([*coefficients, -1.0])
    starts = [log_x0 + math.log(y) for y in roots.real if y > 0.0]
    # the zero-centre balancing point: a start that exists even if eig misplaces a near-double root
    starts.append(
        0.5 * math.log(float(_positive_root(np.array(2 * alpha), k, np.array(2 * gamma))))
    )
    polished = []
    for t in starts:
        for _ in range(_NEWTON_STEPS):
            if abs(t) > T_MAX:
                break
            g, h = grad(t), curvature(t)
            if not h > 0.0:
                break
            step = t - g / h
            if not (abs(step) <= T_MAX and abs(grad(step)) < abs(g)):
                break
            t = step
        polished.append(t)
    return np.asarray(polished, dtype=np.float64)


def _mixture_candidates(
    blocks: tuple[_Block, _Block], components: tuple[tuple[float, float], ...]
) -> NDArray[np.float64]:
    r"""The minimiser of each piece of a column's mixture bound, clipped to the piece.

    For one entry with second moment :math:`S' = \sigma'^2 + \mu'^2` (after the gauge), the two
    penalised Gaussian KLs differ by :math:`\Delta + E S'` with :math:`\Delta = \ln(s_1/s_2)
    + \ln((1-\pi)/\pi)` and :math:`E = 1/(2 s_1^2) - 1/(2 s_2^2)`; :math:`S'` is monotone in
    :math:`t`, so the entry switches component at most once. Between consecutive switch points the
    bound is :math:`(n - m) t + a e^{2t} + g e^{-2t} + \text{const}` (convex), minimised at
    :math:`u = e^{2t}` solving :math:`2a u^2 + (n - m) u - 2g = 0`."""
    (std1, pen1), (std2, pen2) = components
    block_a, block_b = blocks
    delta = math.log(std1 / std2) + pen1 - pen2
    e = 0.5 / std1**2 - 0.5 / std2**2
    moment_a = block_a.std**2 + block_a.mean**2
    moment_b = block_b.std**2 + block_b.mean**2
    switches: list[NDArray[np.float64]] = []
    if e != 0.0:
        # a ratio that is 0 or overflows puts the switch beyond any representable gauge: dropped
        with np.errstate(divide="ignore", over="ignore"):
            for moment, sign in ((moment_a, 1.0), (moment_b, -1.0)):
                ratio = -delta / (e * moment)
                switches.append(sign * 0.5 * np.log(ratio[ratio > 0.0]))
    points = np.unique(np.concatenate([np.zeros(0), *switches]))
    points = points[np.abs(points) <= T_MAX]
    edges = np.concatenate([[-np.inf], points, [np.inf]])
    low, high = edges[:-1], edges[1:]
    if points.size == 0:
        inside = np.zeros(1)
    else:
        inside = np.where(
            np.isinf(low), high - 1.0, np.where(np.isinf(high), low + 1.0, 0.5 * (low + high))
        )

    def coefficient(moment: NDArray[np.float64], sign: float) -> NDArray[np.float64]:
        # an infinite scaled moment still has the right sign of e * S' (e != 0 wherever a
        # piece is bounded, and inside = 0 otherwise)
        with np.errstate(over="ignore"):
            scaled = moment[None, :] * np.exp(2.0 * sign * inside[:, None])
            first = delta + e * scaled < 0.0
        weight = np.where(first, 0.5 / std1**2, 0.5 / std2**2)
        out: NDArray[np.float64] = (moment[None, :] * weight).sum(axis=1)
        return out

    a, g = coefficient(moment_a, 1.0), coefficient(moment_b, -1.0)
    k = float(block_b.mean.size - block_a.mean.size)
    t = 0.5 * np.log(_positive_root(2.0 * a, k, 2.0 * g))
    clipped: NDArray[np.float64] = np.clip(t, low, high)
    return clipped


def _check_column(blocks: tuple[_Block, _Block], components: _Components, k: int) -> None:
    """The column's KL must be finite, and its variance terms nonzero, at ``t = 0`` (else the
    stationarity equations divide by zero or infinity)."""
    for block, name in zip(blocks, ("A", "B"), strict=True):
        for scale in [block.scale] if components is None else [c[0] for c in components]:
            with np.errstate(over="ignore"):
                variance = float(np.sum(np.square(block.std / scale)))
                moment = float(np.sum(np.square((block.mean - block.centre) / scale)))
            if not (0.0 < variance < math.inf and moment < math.inf):
                raise ValueError(
                    f"column {k} of `layer` block '{name}': the posterior's variances or means "
                    "relative to the prior's scale underflow or overflow float64"
                )


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

    :math:`c_k = e^{t_k}` with :math:`t_k` the global minimiser of the column KL :math:`f_k` (module
    notes): the closed form of :func:`isotropic_gauge` for a :class:`GaussianPrior` with mean 0
    and no per-entry centres or stds; the best stationary point for any other Gaussian prior; the
    best piecewise minimiser of the declared upper bound for a :class:`ScaleMixturePrior`. In every
    case :math:`c_k = 1` unless the minimiser lowers :math:`f_k` beyond rounding (so a balanced
    layer gets exactly 1).

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
