r"""Statistical coverage of the PAC-Bayes bounds on a problem with exactly known risks (claim D2).

Claim D2 (McAllester's bound in Maurer's form) says that with probability at least
:math:`1 - \delta` over the training sample, simultaneously for every posterior :math:`Q`,

.. math::

    L(Q) \le \hat L(Q) + \sqrt{\frac{\mathrm{KL}(Q\|P) + \ln(2\sqrt N/\delta)}{2N}}.

The check draws many independent training samples from a distribution whose true risks are known
in closed form, evaluates a rich data-dependent family of posteriors on each, counts the samples on
which *some* posterior violates the bound, and compares that count with
:math:`\mathrm{Binomial}(T, \delta)` by an exact one-sided test. The same test is shown to reject
a deliberately wrong bound, so a ``verified`` verdict is not the verdict of a test that cannot fail.

The learning problem: :math:`x` uniform on :math:`\{0, \dots, K-1\}`, the clean label
:math:`f^\ast(x) = 1[x \ge t^\ast]` flipped with probability :math:`\eta`. The hypothesis class
is the :math:`2(K+1)` threshold classifiers :math:`h_j(x) = 1[x \ge j]` and their complements
:math:`1 - h_j`, :math:`j = 0, \dots, K`; the prior is uniform on these indices. The true 0-1
risk of :math:`h_j` is exactly :math:`\eta + (1 - 2\eta)|j - t^\ast|/K`, and that of its
complement is one minus that.

The posterior family, all of them functions of the sample (and of the true risks, which the
statement allows since it is uniform over :math:`Q`): every point mass; and the exponential tilts
:math:`Q_{\gamma,\alpha} \propto P \exp(\gamma(\alpha L - \hat L))` over a grid of
:math:`\gamma > 0` and :math:`\alpha \in \{0, \dots\}`. :math:`\alpha = 0` gives the Gibbs
posteriors; :math:`\alpha = 1` is the family that contains the maximiser over *all* posteriors of
:math:`L(Q) - \hat L(Q) - \sqrt{(\mathrm{KL}(Q\|P) + c)/2N}` (for a fixed KL budget the
maximiser of the linear gap :math:`(L - \hat L)\cdot Q` is such a tilt, by the Gibbs
variational principle), so with a fine grid of :math:`\gamma` the check tests the supremum over
every posterior, not a few hand-picked ones.

References: claim D2 of ``CLAIMS.md``; Maurer (2004), McAllester (1999), Catoni (2007).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from theory._validation import FloatArray, check_int
from theory.pac_bayes import catoni_bound, kl_bound, log_term, mcallester_bound
from verification.claims.pac_bayes.threshold_problem import (
    TILT_DIRECTIONS,
    ThresholdProblem,
    posterior_family,
)
from verification.claims.shared.statistics import binomial_p_value
from verification.registry import Outcome, Verdict

__all__ = [
    "BOUNDS",
    "check_d2",
    "coverage_violations",
    "naive_bound",
]

#: Catoni's parameter grid, fixed before any data (the bound pays ln(4) for the union over it).
CATONI_LAMBDAS = (0.5, 1.0, 2.0, 4.0)

#: The bounds whose coverage is tested; each maps (emp_risk, kl, n, delta) to an upper bound.
BOUNDS: dict[str, Any] = {
    "mcallester": mcallester_bound,
    "kl_inverse": kl_bound,
    "catoni": lambda e, k, n, d: catoni_bound(e, k, n, d, lambdas=CATONI_LAMBDAS),
}


def _risk_rounding(x: FloatArray) -> FloatArray:
    # A convex combination of numbers in [0, 1] can leave [0, 1] by a few ulps only.
    if ((x < -1e-12) | (x > 1.0 + 1e-12)).any():  # pragma: no cover - would be a bug
        raise RuntimeError("a mixture risk left [0, 1] by more than rounding")
    return np.clip(x, 0.0, 1.0)


def naive_bound(emp_risk: FloatArray, n: int, delta: float) -> FloatArray:
    r"""A deliberately WRONG bound, used only to show that the coverage test has power.

    .. math:: \hat L(h_{ERM}) + \sqrt{\ln(1/\delta)/(2N)}

    Hoeffding's inequality for one fixed hypothesis, applied to the hypothesis picked by empirical
    risk minimisation (no KL or union term): it ignores the selection.

    Examples
    --------
    >>> round(float(naive_bound(np.array(0.3), 50, 0.05)), 6)
    0.473082
    """
    return emp_risk + np.sqrt(np.log(1.0 / delta) / (2.0 * n))


def coverage_violations(
    problem: ThresholdProblem,
    n: int,
    n_trials: int,
    deltas: Sequence[float],
    rng: np.random.Generator,
    *,
    n_gammas: int = 40,
    chunk: int = 500,
) -> dict[str, NDArray[Any]]:
    r"""Count the training samples on which some posterior violates each bound.

    Returns a dict mapping each name of :data:`BOUNDS` and ``"naive"`` (the wrong bound of
    :func:`naive_bound`, on the ERM point mass) to an integer array of violation counts, one per
    delta; and ``"width_ratio"`` to the empirical :math:`1 - \delta` quantile of

    .. math:: \rho = \max_Q \frac{L(Q) - \hat L(Q)}{\sqrt{(\mathrm{KL}(Q\|P)
              + \ln(2\sqrt N/\delta))/(2N)}},

    the factor by which McAllester's width could shrink and still cover at :math:`1 - \delta`
    on this problem (a measure of its slack, not a test).

    References
    ----------
    Claim D2.
    """
    check_int(n, "n", low=1)
    check_int(n_trials, "n_trials", low=1)
    # Tilts from nearly the prior (gamma << 1) to nearly a point mass (gamma >> n).
    gammas = np.geomspace(0.1, 20.0 * n, n_gammas)
    true = problem.true_risks()
    counts: dict[str, NDArray[Any]] = {
        name: np.zeros(len(deltas), dtype=np.int64) for name in [*BOUNDS, "naive"]
    }
    ratios: list[list[FloatArray]] = [[] for _ in deltas]
    done = 0
    while done < n_trials:
        size = min(chunk, n_trials - done)
        done += size
        emp = problem.empirical_risks(problem.sample_counts(n, size, rng))
        gibbs, emp_q, kl = posterior_family(true, emp, gammas)
        gibbs, emp_q = _risk_rounding(gibbs), _risk_rounding(emp_q)
        erm = np.argmin(emp, axis=1)
        erm_true, erm_emp = true[erm], emp[np.arange(size), erm]
        for i, delta in enumerate(deltas):
            for name, bound in BOUNDS.items():
                violated = (gibbs > np.asarray(bound(emp_q, kl, n, delta))).any(axis=1)
                counts[name][i] += int(violated.sum())
            counts["naive"][i] += int((erm_true > naive_bound(erm_emp, n, delta)).sum())
            width = np.sqrt((kl + log_term(n, delta)) / (2.0 * n))
            ratios[i].append(np.max((gibbs - emp_q) / width, axis=1))
    counts["width_ratio"] = np.array(
        [np.quantile(np.concatenate(r), 1.0 - d) for r, d in zip(ratios, deltas, strict=True)]
    )
    return counts


#: The learning problem of the check: weak signal (risks 0.45 to 0.55), where empirical risk
#: minimisation over-fits most and the wrong bound of the power check fails clearly.
D2_PROBLEM = ThresholdProblem(n_points=32, threshold=16, noise=0.45)
#: Small sample sizes, where the bounds are least loose relative to their confidence term.
D2_SIZES = (30, 100, 200)
D2_DELTAS = (0.05, 0.25)
#: Family-wise false-failure probability of the whole check (Bonferroni over bounds, N, delta).
D2_ALPHA = 1e-3
#: Size of the gamma grid of the tilted posteriors.
N_GAMMAS = 40


def check_d2(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim D2: the McAllester bound covers the true risk with probability >= 1 - delta.

    For each sample size N and confidence delta, ``budget["n_trials"]`` independent samples are
    drawn from :data:`D2_PROBLEM`; a trial violates a bound when some posterior of
    :func:`posterior_family` has true Gibbs risk above it. Under the claim the count V is
    stochastically at most Binomial(T, delta); the check rejects when
    :math:`P(\mathrm{Bin}(T, \delta) \ge V) < \alpha / m`, Bonferroni over the m tests, so a true
    claim is refuted with probability at most :data:`D2_ALPHA`. The kl-inverse and Catoni bounds
    are tested the same way, and the wrong bound of :func:`naive_bound` must be rejected at every
    (N, delta), or the verdict is ``untestable`` (the test would have no power).

    References
    ----------
    Claim D2.
    """
    n_trials = check_int(budget.get("n_trials", 4000), "budget['n_trials']", low=1)
    sizes = tuple(budget.get("sizes", D2_SIZES))
    deltas = tuple(budget.get("deltas", D2_DELTAS))
    alpha = float(budget.get("alpha", D2_ALPHA))
    n_tests = len(BOUNDS) * len(sizes) * len(deltas)
    level = alpha / n_tests
    rows: list[dict[str, Any]] = []
    width_ratios: list[dict[str, Any]] = []
    for n in sizes:
        counts = coverage_violations(D2_PROBLEM, n, n_trials, deltas, rng, n_gammas=N_GAMMAS)
        for i, delta in enumerate(deltas):
            width_ratios.append({"n": n, "delta": delta, "ratio": float(counts["width_ratio"][i])})
            for name in [*BOUNDS, "naive"]:
                count = int(counts[name][i])
                rows.append(
                    {
                        "bound": name,
                        "n": n,
                        "delta": delta,
                        "violations": count,
                        "rate": count / n_trials,
                        "p_value": binomial_p_value(count, n_trials, delta),
                    }
                )
    claims = [r for r in rows if r["bound"] != "naive"]
    naive = [r for r in rows if r["bound"] == "naive"]
    rejected = [r for r in claims if r["p_value"] < level]
    powerless = [r for r in naive if r["p_value"] >= level]

    def counts_of(name: str) -> str:
        return ", ".join(str(r["violations"]) for r in rows if r["bound"] == name)

    prob = D2_PROBLEM
    order = ", ".join(f"({n}, {d:g})" for n in sizes for d in deltas)
    ratios = [w["ratio"] for w in width_ratios]
    evidence = (
        f"{n_trials} independent training samples per (N, delta) in {order}; x uniform on "
        f"{prob.n_points} points, threshold {prob.threshold}, label noise {prob.noise:g}, "
        f"{prob.n_hypotheses} threshold classifiers with exact risks, uniform prior; per sample "
        f"{prob.n_hypotheses + N_GAMMAS * len(TILT_DIRECTIONS)} posteriors (every point mass, "
        f"Gibbs posteriors and tilts exp(gamma (alpha L - L^)), which contain the maximiser over "
        f"all Q of the McAllester excess up to the gamma grid); a sample violates when some Q "
        f"has L(Q) above the bound. Violations per (N, delta), McAllester: "
        f"{counts_of('mcallester')}; kl-inverse: {counts_of('kl_inverse')}; Catoni: "
        f"{counts_of('catoni')}; smallest p-value {min(r['p_value'] for r in claims):.3g} "
        f"(exact one-sided binomial test against Binomial(T, delta), family-wise false-failure "
        f"probability {alpha:g}, Bonferroni over {n_tests} tests). Slack: the (1 - delta) "
        f"quantile of max over Q of (L - L^)/width is {min(ratios):.2f} to {max(ratios):.2f} "
        f"of McAllester's width. Power: the wrong bound L^(ERM) + sqrt(ln(1/delta)/2N) is "
        f"violated {counts_of('naive')} times per {n_trials}, rejected at "
        f"{len(naive) - len(powerless)}/{len(naive)} settings."
    )
    data = {
        "rows": rows,
        "width_ratio": width_ratios,
        "alpha": alpha,
        "per_test_level": level,
        "n_trials": n_trials,
    }
    if rejected:
        worst = min(rejected, key=lambda r: r["p_value"])
        return Outcome(
            Verdict.REFUTED,
            f"{worst['bound']} violated in {worst['violations']}/{n_trials} samples at "
            f"N={worst['n']}, delta={worst['delta']:g} (p = {worst['p_value']:.3g}). " + evidence,
            data,
        )
    if powerless:
        return Outcome(
            Verdict.UNTESTABLE,
            "No bound rejected, but the test failed to reject a known-wrong bound, so it has no "
            "power here. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
