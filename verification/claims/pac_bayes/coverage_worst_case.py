r"""A near-worst case for the McAllester bound (claim D2): fair labels on many points.

The threshold problem of :mod:`verification.claims.pac_bayes.coverage` leaves McAllester's width
about twice as wide as it needs to be, so a bound half as wide would still cover there and a check
on it alone cannot tell a correct width from one 0.8x as wide. This design makes the bound nearly
tight:

.. math::

    x \sim \mathcal U\{0, \dots, K-1\}, \quad y \sim \mathrm{Bernoulli}(1/2)
    \text{ independent of } x, \qquad
    \mathcal H = \{0, 1\}^K, \quad P = \text{uniform} = \textstyle\prod_x \mathrm{Bernoulli}(1/2).

Every labelling :math:`h` has true risk exactly :math:`1/2`, so :math:`L(Q) = 1/2` for every
posterior. For a fixed KL budget the smallest :math:`\hat L(Q)` is reached by a Gibbs posterior
:math:`Q_\gamma \propto P e^{-\gamma \hat L}` (Donsker-Varadhan), so the supremum over *all*
:math:`Q` of :math:`L(Q) - \mathrm{bound}(\hat L(Q), \mathrm{KL}(Q\|P))` is the supremum over
:math:`\gamma \ge 0` (taken on a grid: a lower estimate of the excess, conservative for the claim,
exact enough for power). :math:`Q_\gamma` factorises over the points: on a point seen with
:math:`n_0` zeros and :math:`n_1` ones it predicts 1 with probability
:math:`q = \sigma(\gamma (n_1 - n_0)/N)`, giving

.. math::

    \hat L(Q_\gamma) = \frac1N \sum_x \big(q_x n_{x,0} + (1 - q_x) n_{x,1}\big), \qquad
    \mathrm{KL}(Q_\gamma\|P) = \sum_x \mathrm{kl}(q_x \,\|\, 1/2).

With distinct points and :math:`q = 1/2 + \epsilon`, the excess :math:`\epsilon` against
McAllester's width :math:`\sqrt{\mathrm{kl}(1/2+\epsilon\|1/2)/2 + \ln(2\sqrt N/\delta)/2N}`
tends to :math:`\epsilon/\sqrt{2\epsilon^2/2} = 1` as :math:`N \to \infty` and
:math:`\epsilon \to 0`: Pinsker's step and the change of measure are both tight here.

References: claim D2 of ``CLAIMS.md``; Maurer (2004); Donsker and Varadhan (1975).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from theory._validation import FloatArray, check_int
from theory.pac_bayes import log_term
from verification.registry import Outcome, Verdict

__all__ = [
    "FairLabels",
    "check_d2_worst_case",
    "critical_count",
    "detectable_shrink",
    "gibbs_path",
    "shrink_ratios",
    "trials_for_power",
]

#: The Gibbs-posterior grid, gamma / N: from nearly the prior to nearly the memorising point mass.
GAMMA_OVER_N = np.geomspace(1e-3, 60.0, 160)


@dataclass(frozen=True)
class FairLabels:
    r"""Fair-coin labels, independent of :math:`x` uniform on :math:`K` points.

    Examples
    --------
    >>> counts = FairLabels(10**7).sample_counts(50, 2, np.random.default_rng(0))
    >>> [int((c[:, 0] + c[:, 1]) @ c[:, 2]) for c in counts]
    [50, 50]
    """

    n_points: int

    def __post_init__(self) -> None:
        check_int(self.n_points, "n_points", low=1)

    def sample_counts(
        self, n: int, n_trials: int, rng: np.random.Generator
    ) -> list[NDArray[np.int64]]:
        """For each trial, the ``(U, 2)`` counts ``(n_0, n_1)`` of the distinct points seen,
        grouped by count pair (points with equal counts behave alike), with multiplicities in a
        third column: shape ``(G, 3)``."""
        check_int(n, "n", low=1)
        check_int(n_trials, "n_trials", low=1)
        out = []
        for _ in range(n_trials):
            x = rng.integers(0, self.n_points, size=n)
            y = rng.integers(0, 2, size=n)
            _, inverse = np.unique(x, return_inverse=True)
            per_point = np.zeros((int(inverse.max()) + 1, 2), dtype=np.int64)
            np.add.at(per_point, (inverse, y), 1)
            pairs, mult = np.unique(per_point, axis=0, return_counts=True)
            out.append(np.column_stack([pairs, mult]).astype(np.int64))
        return out


def gibbs_path(
    grouped: NDArray[np.int64], n: int, gamma_over_n: FloatArray = GAMMA_OVER_N
) -> tuple[FloatArray, FloatArray]:
    r"""Empirical risk and KL to the uniform prior of :math:`Q_\gamma` for each gamma.

    Parameters
    ----------
    grouped : ndarray, shape (G, 3)
        Count pairs ``(n_0, n_1)`` and their multiplicities (:meth:`FairLabels.sample_counts`).
    n : int
        Sample size :math:`N` (the sum of all counts).

    Returns
    -------
    emp, kl : ndarray, shape (len(gamma_over_n),)

    Examples
    --------
    >>> emp, kl = gibbs_path(np.array([[0, 1, 10], [1, 0, 10]]), 20, np.array([0.0, 1e3]))
    >>> emp.round(6).tolist(), (kl / np.log(2)).round(6).tolist()
    ([0.5, 0.0], [0.0, 20.0])
    """
    n0, n1, mult = (grouped[:, i].astype(np.float64)[:, None] for i in range(3))
    if int(np.sum(mult * (n0 + n1))) != n:
        raise ValueError(f"`grouped` must hold counts summing to n = {n}")
    q = special.expit(np.asarray(gamma_over_n)[None, :] * (n1 - n0))
    emp = np.sum(mult * (q * n0 + (1.0 - q) * n1), axis=0) / n
    # kl(q || 1/2) = ln 2 - H(q), with 0 ln 0 = 0 (xlogy) for the saturated points.
    kl_point = np.log(2.0) + special.xlogy(q, q) + special.xlogy(1.0 - q, 1.0 - q)
    kl = np.sum(mult * np.maximum(kl_point, 0.0), axis=0)
    return emp, kl


def shrink_ratios(emp: FloatArray, kl: FloatArray, n: int, delta: float) -> FloatArray:
    r"""Per trial, :math:`\max_\gamma (L - \hat L)/w` with McAllester's width :math:`w`.

    A width shrunk by a factor :math:`s` is violated on a trial exactly when this ratio exceeds
    :math:`s` (the true risk is :math:`1/2`); McAllester's own bound holds when it is at most 1.

    Examples
    --------
    >>> shrink_ratios(np.array([[0.5, 0.45]]), np.array([[0.0, 0.5]]), 1000, 0.05).round(3)
    array([0.809])
    """
    width = np.sqrt((kl + log_term(n, delta)) / (2.0 * n))
    return np.max((0.5 - emp) / width, axis=-1)


def trials_for_power(delta: float, level: float, rate: float, beta: float) -> int:
    r"""Smallest number of trials T for which the exact one-sided binomial test at ``level``
    rejects Binomial(T, delta) with probability at least 1 - ``beta`` when the true violation
    rate is ``rate``.

    Examples
    --------
    >>> trials_for_power(0.05, 1e-4, 0.5, 1e-3)
    35
    """
    for t in range(1, 100_000):
        # Smallest count k with P(Bin(t, delta) >= k) <= level.
        k = int(stats.binom.isf(level, t, delta)) + 1
        if k <= t and stats.binom.sf(k - 1, t, rate) >= 1.0 - beta:
            return t
    raise ValueError(f"no T below 100000 reaches power 1 - {beta} at rate {rate}")


def critical_count(n_trials: int, delta: float, level: float) -> int:
    """Smallest violation count the exact one-sided binomial test rejects at ``level``."""
    return int(stats.binom.isf(level, n_trials, delta)) + 1


def detectable_shrink(ratios: Sequence[float] | FloatArray, delta: float, level: float) -> float:
    """The largest width factor s whose violation count is rejected: every width below
    ``s`` times McAllester's is refuted by the same test; 0 when even s -> 0 is not."""
    r = np.sort(np.asarray(ratios, dtype=np.float64))[::-1]
    k = critical_count(r.size, delta, level)
    return float(r[k - 1]) if k <= r.size else 0.0


#: The design of the check: K = 10^7 points, so that samples of a few thousand are nearly all
#: distinct (a few collisions remain at N = 5000, making the violation count random).
D2_WORST_POINTS = 10**7
D2_WORST_SIZES = (200, 1000, 5000)
D2_WORST_DELTA = 0.05
#: Family-wise false-failure probability of this part (Bonferroni over bounds and sizes).
D2_WORST_ALPHA = 1e-3
#: Power requirement that sizes the trials: a width whose violation rate is 1/2 is refuted with
#: probability at least 1 - 1e-3 at every size.
D2_POWER_RATE, D2_POWER_BETA = 0.5, 1e-3
#: The shrunk width whose refutation shows the test has power (the audit's 0.8x).
D2_POWER_SHRINK = 0.8


def check_d2_worst_case(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim D2 on the fair-label design: coverage of each bound, and the smallest shrink of
    McAllester's width that the same test refutes.

    For each N, T trials (at least :func:`trials_for_power` for the stated power) each draw a
    sample; a trial violates a bound when some Gibbs posterior :math:`Q_\gamma` has
    :math:`L = 1/2` above it. Under the claim the count is stochastically at most
    Binomial(T, delta); the exact one-sided test at family-wise level :data:`D2_WORST_ALPHA`
    (Bonferroni) refutes otherwise. McAllester's width shrunk to :data:`D2_POWER_SHRINK` must be
    refuted at every N, or the verdict is ``untestable`` (no power).

    References
    ----------
    Claim D2.
    """
    from verification.claims.pac_bayes.coverage import BOUNDS
    from verification.claims.shared.statistics import binomial_p_value

    sizes = tuple(budget.get("sizes", D2_WORST_SIZES))
    delta = float(budget.get("delta", D2_WORST_DELTA))
    alpha = float(budget.get("alpha", D2_WORST_ALPHA))
    level = alpha / (len(BOUNDS) * len(sizes))
    minimum = trials_for_power(delta, level, D2_POWER_RATE, D2_POWER_BETA)
    n_trials = max(check_int(budget.get("n_trials", minimum), "budget['n_trials']"), minimum)
    design = FairLabels(int(budget.get("n_points", D2_WORST_POINTS)))
    rows: list[dict[str, Any]] = []
    power: list[dict[str, Any]] = []
    for n in sizes:
        paths = [gibbs_path(g, n) for g in design.sample_counts(n, n_trials, rng)]
        emp = np.stack([p[0] for p in paths])
        kl = np.stack([p[1] for p in paths])
        for name, bound in BOUNDS.items():
            count = int((0.5 > np.asarray(bound(emp, kl, n, delta))).any(axis=1).sum())
            p = binomial_p_value(count, n_trials, delta)
            rows.append({"bound": name, "n": n, "violations": count, "p_value": p})
        ratios = shrink_ratios(emp, kl, n, delta)
        shrunk = int((ratios > D2_POWER_SHRINK).sum())
        power.append(
            {
                "n": n,
                "ratio_min": float(ratios.min()),
                "ratio_max": float(ratios.max()),
                "detectable_shrink": detectable_shrink(ratios, delta, level),
                "shrunk_violations": shrunk,
                "shrunk_p_value": binomial_p_value(shrunk, n_trials, delta),
            }
        )
    rejected = [r for r in rows if r["p_value"] < level]
    powerless = [p for p in power if p["shrunk_p_value"] >= level]

    def counts_of(name: str) -> str:
        return ", ".join(str(r["violations"]) for r in rows if r["bound"] == name)

    best = max(power, key=lambda p: p["detectable_shrink"])
    evidence = (
        f"Fair labels independent of x on K = {design.n_points:.0e} points, all {{0,1}}^K "
        f"labellings with a uniform prior (every true risk exactly 1/2), the Gibbs posteriors "
        f"Q_gamma (for a fixed KL the smallest empirical risk, so the supremum over all Q up to "
        f"a {GAMMA_OVER_N.size}-point gamma grid), delta = {delta:g}, {n_trials} samples per N in "
        f"{', '.join(map(str, sizes))} (at least {minimum}: the number that refutes a width "
        f"violated half the time with probability 1 - {D2_POWER_BETA:g}). Violations per N, "
        f"McAllester: {counts_of('mcallester')}; kl-inverse: {counts_of('kl_inverse')}; Catoni: "
        f"{counts_of('catoni')}; smallest p-value {min(r['p_value'] for r in rows):.3g} (exact "
        f"one-sided binomial tests, family-wise false-failure probability {alpha:g}, Bonferroni "
        f"over {len(rows)}). Tightness: max over Q of (L - L^) / McAllester width per sample "
        + ", ".join(f"N={p['n']}: {p['ratio_min']:.3f} to {p['ratio_max']:.3f}" for p in power)
        + f". Power: the width shrunk to {D2_POWER_SHRINK:g}x is violated "
        + ", ".join(f"{p['shrunk_violations']}/{n_trials}" for p in power)
        + f" times (refuted at {len(power) - len(powerless)}/{len(power)} sizes); the test "
        f"refutes any width below {best['detectable_shrink']:.3f}x McAllester's (N = "
        f"{best['n']}; per N: " + ", ".join(f"{p['detectable_shrink']:.3f}" for p in power) + ")."
    )
    data = {"rows": rows, "power": power, "n_trials": n_trials, "level": level}
    if rejected:
        worst = min(rejected, key=lambda r: r["p_value"])
        return Outcome(
            Verdict.REFUTED,
            f"{worst['bound']} violated in {worst['violations']}/{n_trials} samples at "
            f"N={worst['n']} (p = {worst['p_value']:.3g}). " + evidence,
            data,
        )
    if powerless:
        return Outcome(
            Verdict.UNTESTABLE,
            f"No bound refuted, but a width {D2_POWER_SHRINK:g}x as wide was not refuted either, "
            "so the test has no power here. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
