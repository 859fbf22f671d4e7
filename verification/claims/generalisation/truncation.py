r"""Check of claim E29: Gaussian factors, the union bound over norm events and the convexity step.

Gaussian factors violate E4 (their norms are unbounded), so the argument conditions on the event
:math:`E = \bigcap_i \{\|A_i\|_2 \le C_i^A\} \cap \{\|B_i\|_2 \le C_i^B\}`. Two steps are checked.

1. Union bound: :math:`P(E^c) \le \sum_i (\delta_i^A + \delta_i^B) = \delta_{total}` when each
   event fails with probability at most its :math:`\delta`. Simulated joint draws of all factors
   are tested against :math:`\mathrm{Binomial}(T, \delta_{total})`, with the norm levels taken
   from E35 (:math:`t = \sqrt{\log(2/\delta)}`) and, for the sharp case, exact quantiles of
   scalar factors (then :math:`P(E^c) = 1 - \prod(1 - \delta_i)` exactly, and a wrong
   accounting, :math:`\max_i \delta_i`, must be rejected).
2. Convexity: with :math:`p = P(E)`, :math:`f_{BNN} = p f_E + (1 - p) f_{E^c}` where
   :math:`f_E = E[f \mid E]` lies in the closed convex hull of the bounded class. For a loss
   convex along the segment and at most 1 at :math:`f_{E^c}`, Jensen gives
   :math:`l(f_{BNN}) \le p\,l(f_E) + (1-p)\,l(f_{E^c}) \le l(f_E) + \delta_{total}`, which is the
   extra :math:`\delta_{total}`. For a non-convex loss (a 0-1 threshold) it fails: the tail mass
   shifts the mean across the threshold. A loss convex on all of :math:`\mathbb R^k` and bounded
   is constant, so the requirement can only mean convexity on the segment
   :math:`[f_E(x), f_{E^c}(x)]`.

References: claims E29 and E35 of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from theory._validation import check_int
from theory.gaussian_complexity import spectral_norm_tail_bound
from verification.claims.generalisation.tails import spectral_norms
from verification.claims.shared.statistics import binomial_p_value
from verification.registry import Outcome, Verdict

__all__ = [
    "E29_NETWORK",
    "check_e29",
    "delta_total",
    "folded_normal_level",
    "jensen_step",
    "truncated_mean",
]

#: A two-layer network: factor shapes (rows, cols) of A_1, B_1, A_2, B_2 (d = 8, h = 6, k = 3).
E29_NETWORK = ((6, 2), (8, 2), (3, 2), (6, 2))
E29_STD, E29_DELTA_EACH = 0.2, 0.02
#: Scalar factors (mean, std) for the exact calibration and the convexity example.
E29_SCALARS = ((1.0, 0.5), (0.8, 0.3), (-0.5, 0.4), (1.2, 0.6))
E29_ALPHA = 1e-3


def delta_total(deltas: Sequence[float]) -> float:
    r"""The paper's :math:`\delta_{total} = \sum_i (\delta_i^A + \delta_i^B)`: the union bound
    over the factors' norm events (E29).

    .. math:: P(E^c) \le \sum_i P(\|A_i\|_2 > C_i^A) + P(\|B_i\|_2 > C_i^B)
        \le \delta_{total}

    Examples
    --------
    >>> delta_total([0.02, 0.02, 0.01])
    0.05
    """
    return float(math.fsum(deltas))


def folded_normal_level(mean: float, std: float, delta: float) -> float:
    r"""The exact level C with :math:`P(|a| > C) = \delta` for :math:`a \sim N(\mu, s^2)`.

    .. math:: \bar\Phi\Big(\frac{C - \mu}{s}\Big) + \Phi\Big(\frac{-C - \mu}{s}\Big) = \delta

    Examples
    --------
    >>> round(folded_normal_level(0.0, 1.0, 0.05), 6)
    1.959964
    """

    def excess(c: float) -> float:
        tail = stats.norm.sf((c - mean) / std) + stats.norm.cdf((-c - mean) / std)
        return float(tail - delta)

    hi = abs(mean) + 40.0 * std
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-14, rtol=1e-14))


def truncated_mean(mean: float, std: float, level: float) -> float:
    r""":math:`E[a \mid |a| \le C]` for :math:`a \sim N(\mu, s^2)` (truncated normal).

    .. math:: \mu + s\,\frac{\varphi(\alpha) - \varphi(\beta)}{\Phi(\beta) - \Phi(\alpha)},
        \quad \alpha = \frac{-C - \mu}{s},\ \beta = \frac{C - \mu}{s}

    Examples
    --------
    >>> truncated_mean(0.0, 1.0, 1.0)
    0.0
    """
    a, b = (-level - mean) / std, (level - mean) / std
    return float(stats.truncnorm.mean(a, b, loc=mean, scale=std))


def jensen_step(
    scalars: tuple[tuple[float, float], ...], deltas: tuple[float, ...], label: float
) -> dict[str, float]:
    r"""The decomposition :math:`f_{BNN} = p f_E + (1-p) f_{E^c}` for the scalar network
    :math:`f(x) = \prod_i a_i\, x` at x = 1, and both losses at those points.

    The factors are independent, so :math:`f_{BNN} = \prod \mu_i` and
    :math:`f_E = \prod E[a_i \mid |a_i| \le C_i]`, with exact levels :math:`C_i`.

    Returns the three outputs, p, the convex loss :math:`(u - y)^2/M` (M = its largest value on
    the segment, so it lies in [0, 1] there) at each, and the 0-1 loss :math:`1[u > \tau]` with
    :math:`\tau` halfway between :math:`f_E` and :math:`f_{BNN}`.

    References
    ----------
    Claim E29.

    Examples
    --------
    >>> j = jensen_step(((1.0, 0.5),), (0.05,), label=0.0)
    >>> j["f_e"] < j["f_bnn"] == 1.0, j["zero_one_bnn"], j["zero_one_e"]
    (True, 1.0, 0.0)
    """
    levels = [folded_normal_level(mu, s, d) for (mu, s), d in zip(scalars, deltas, strict=True)]
    p = float(np.prod([1.0 - d for d in deltas]))
    f_bnn = float(np.prod([mu for mu, _ in scalars]))
    f_e = float(
        np.prod([truncated_mean(mu, s, c) for (mu, s), c in zip(scalars, levels, strict=True)])
    )
    f_ec = (f_bnn - p * f_e) / (1.0 - p)
    scale = max((f_e - label) ** 2, (f_ec - label) ** 2)

    def convex(u: float) -> float:
        return (u - label) ** 2 / scale

    tau = 0.5 * (f_e + f_bnn)
    sign = 1.0 if f_bnn > f_e else -1.0

    def zero_one(u: float) -> float:
        return float(sign * (u - tau) > 0)

    return {
        "p": p,
        "delta_total": delta_total(deltas),
        "f_bnn": f_bnn,
        "f_e": f_e,
        "f_ec": f_ec,
        "convex_bnn": convex(f_bnn),
        "convex_mix": p * convex(f_e) + (1.0 - p) * convex(f_ec),
        "convex_e": convex(f_e),
        "zero_one_bnn": zero_one(f_bnn),
        "zero_one_mix": p * zero_one(f_e) + (1.0 - p) * zero_one(f_ec),
        "zero_one_e": zero_one(f_e),
    }


def _union_failures(
    means: list[Any],
    std: float,
    levels: list[float],
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[int, list[float]]:
    """Joint draws of every factor: how many draws leave E, and each factor's failure rate."""
    fails = np.zeros(n_samples, dtype=bool)
    rates = []
    for mean, level in zip(means, levels, strict=True):
        out = spectral_norms(mean, std, n_samples, rng) > level
        rates.append(float(out.mean()))
        fails |= out
    return int(fails.sum()), rates


def check_e29(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim E29: the union-bound accounting of :math:`\delta_{total}` and the Jensen step.

    Exact one-sided binomial tests, Bonferroni over the three tests (E35 levels, exact levels,
    and the power test of the wrong accounting), family-wise false-failure probability
    ``alpha``. The wrong accounting must be rejected, or the verdict is ``untestable``.

    References
    ----------
    Claim E29.
    """
    n_samples = check_int(budget.get("n_samples", 4000), "budget['n_samples']", low=1)
    alpha = float(budget.get("alpha", E29_ALPHA))
    level = alpha / 3
    shapes = tuple(tuple(s) for s in budget.get("network", E29_NETWORK))
    deltas = [E29_DELTA_EACH] * len(shapes)
    t = math.sqrt(math.log(2.0 / E29_DELTA_EACH))
    means = [rng.normal(0.0, 0.5, size=s) for s in shapes]
    e35_levels = [
        spectral_norm_tail_bound(
            float(np.linalg.norm(mu, 2)), std=E29_STD, rows=h, cols=r, t=t, c1=1.0, c2=math.sqrt(2)
        )
        for mu, (h, r) in zip(means, shapes, strict=True)
    ]
    v_e35, rates_e35 = _union_failures(means, E29_STD, e35_levels, n_samples, rng)
    total = delta_total(deltas)
    p_e35 = binomial_p_value(v_e35, n_samples, min(total, 1.0))
    # Sharp case: scalar factors at their exact (1 - delta) levels.
    sc_means = [np.full((1, 1), mu) for mu, _ in E29_SCALARS]
    sc_deltas = tuple([E29_DELTA_EACH] * len(E29_SCALARS))
    fails = np.zeros(n_samples, dtype=bool)
    for (mu, s), d, mean in zip(E29_SCALARS, sc_deltas, sc_means, strict=True):
        fails |= spectral_norms(mean, s, n_samples, rng) > folded_normal_level(mu, s, d)
    v_exact = int(fails.sum())
    sc_total = delta_total(sc_deltas)
    exact_fail = 1.0 - float(np.prod([1.0 - d for d in sc_deltas]))
    p_exact = binomial_p_value(v_exact, n_samples, sc_total)
    p_wrong = binomial_p_value(v_exact, n_samples, max(sc_deltas))
    jensen = jensen_step(E29_SCALARS, sc_deltas, label=0.0)
    convex_ok = (
        jensen["convex_bnn"] <= jensen["convex_mix"]
        and jensen["convex_mix"] <= jensen["convex_e"] + (1.0 - jensen["p"])
        and 1.0 - jensen["p"] <= jensen["delta_total"]
    )
    nonconvex_fails = jensen["zero_one_bnn"] > jensen["zero_one_e"] + jensen["delta_total"]
    evidence = (
        f"Two-layer network, factors {list(shapes)} with N(mean, {E29_STD:g}^2) entries, "
        f"delta = {E29_DELTA_EACH:g} per factor, levels from E35 with t = sqrt(log(2/delta)): "
        f"{v_e35}/{n_samples} joint draws leave E (per-factor rates "
        f"{', '.join(f'{x:.4f}' for x in rates_e35)}) against delta_total = {total:g} (p = "
        f"{p_e35:.3g}). Sharp case, {len(E29_SCALARS)} scalar factors at exact levels: "
        f"{v_exact}/{n_samples} = {v_exact / n_samples:.4f} leave E (exact 1 - prod(1 - delta_i)"
        f" = {exact_fail:.4f} <= delta_total = {sc_total:g}, p = {p_exact:.3g}); the wrong "
        f"accounting max delta_i = {max(sc_deltas):g} is rejected with p = {p_wrong:.3g} (test "
        f"has power). Exact binomial tests, family-wise false-failure probability {alpha:g}. "
        f"Convexity: scalar network prod a_i x at x = 1: f_BNN = {jensen['f_bnn']:.4f}, f_E = "
        f"{jensen['f_e']:.4f}, f_Ec = {jensen['f_ec']:.4f}, P(E) = {jensen['p']:.4f}; convex "
        f"loss (u - y)^2/M (in [0,1] on the segment): l(f_BNN) = {jensen['convex_bnn']:.4f} <= "
        f"p l(f_E) + (1-p) l(f_Ec) = {jensen['convex_mix']:.4f} <= l(f_E) + delta_total = "
        f"{jensen['convex_e'] + jensen['delta_total']:.4f}; 0-1 threshold loss between f_E and "
        f"f_BNN: l(f_BNN) = {jensen['zero_one_bnn']:g} > l(f_E) + delta_total = "
        f"{jensen['zero_one_e'] + jensen['delta_total']:g}, so convexity is needed; a loss "
        f"convex on all of R^k and bounded is constant, so the requirement can only be read on "
        f"the segment [f_E(x), f_Ec(x)], whose far end f_Ec lies in the tail."
    )
    data = {
        "union_e35": {"violations": v_e35, "p": p_e35, "rates": rates_e35},
        "union_exact": {"violations": v_exact, "p": p_exact, "exact": exact_fail},
        "power_p": p_wrong,
        "jensen": jensen,
    }
    if p_e35 < level or p_exact < level or not convex_ok:
        return Outcome(Verdict.REFUTED, evidence, data)
    if p_wrong >= level or not nonconvex_fails:
        return Outcome(
            Verdict.UNTESTABLE,
            "the test did not reject the wrong accounting (no power) or the non-convex example "
            "did not separate. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
