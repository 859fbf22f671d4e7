r"""The general search for one column's gauge: every stationary point of its KL to a Gaussian
prior (a quartic), the piecewise minimisers of a scale mixture's declared bound, and the
safeguarded choice of the best candidate (notes: :mod:`lrbnn_core.gauge`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from lrbnn_core.gauge.closed_form import _positive_root

__all__ = ["ROUNDING_FACTOR", "T_MAX"]


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
