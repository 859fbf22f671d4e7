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
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from theory._validation import FloatArray, as_float_array, check_int, check_interval
from theory.pac_bayes import catoni_bound, kl_bound, log_term, mcallester_bound
from verification.registry import Outcome, Verdict

__all__ = [
    "BOUNDS",
    "ThresholdProblem",
    "binomial_p_value",
    "check_d2",
    "coverage_violations",
    "naive_bound",
    "posterior_family",
]

#: Catoni's parameter grid, fixed before any data (the bound pays ln(4) for the union over it).
CATONI_LAMBDAS = (0.5, 1.0, 2.0, 4.0)

#: The bounds whose coverage is tested; each maps (emp_risk, kl, n, delta) to an upper bound.
BOUNDS: dict[str, Any] = {
    "mcallester": mcallester_bound,
    "kl_inverse": kl_bound,
    "catoni": lambda e, k, n, d: catoni_bound(e, k, n, d, lambdas=CATONI_LAMBDAS),
}

#: Directions alpha of the tilts exp(gamma (alpha L - L^)); 0 = Gibbs posteriors, 1 = the
#: McAllester-worst direction, the others approach the worst directions of the kl and Catoni forms.
TILT_DIRECTIONS = (0.0, 0.5, 1.0, 1.5, 2.0)

#: Rounding slack of a computed KL: a value in [-_KL_ROUNDING, 0) is an exact zero (Q = P) seen
#: through float64 cancellation in E_Q[s] - logsumexp(s) + ln H, with |s| <= 1e4 and H <= 1e3.
_KL_ROUNDING = 1e-9


@dataclass(frozen=True)
class ThresholdProblem:
    r"""Noisy thresholds on :math:`K` points, with the class of all thresholds and complements.

    .. math::

        x \sim \mathcal U\{0, \dots, K-1\}, \quad
        y = 1[x \ge t^\ast] \oplus \xi, \ \xi \sim \mathrm{Bernoulli}(\eta), \qquad
        L(h_j) = \eta + (1 - 2\eta)\frac{|j - t^\ast|}{K}, \quad L(1 - h_j) = 1 - L(h_j)

    Hypothesis ``j`` in ``[0, K]`` is :math:`h_j(x) = 1[x \ge j]`; hypothesis ``K + 1 + j`` is its
    complement.

    Parameters
    ----------
    n_points : int
        :math:`K \ge 1`.
    threshold : int
        :math:`t^\ast \in [0, K]`.
    noise : float
        Label-flip probability :math:`\eta \in [0, 1/2]`.

    References
    ----------
    Claim D2 (a problem whose true risks are known exactly).

    Examples
    --------
    >>> ThresholdProblem(4, 2, 0.25).true_risks()[:5].tolist()
    [0.5, 0.375, 0.25, 0.375, 0.5]
    """

    n_points: int
    threshold: int
    noise: float

    def __post_init__(self) -> None:
        check_int(self.n_points, "n_points", low=1)
        check_int(self.threshold, "threshold", low=0, high=self.n_points)
        check_interval(as_float_array(self.noise, "noise"), "noise", 0.0, 0.5)

    @property
    def n_hypotheses(self) -> int:
        return 2 * (self.n_points + 1)

    def labels(self) -> NDArray[np.int64]:
        """The ``(H, K)`` table of every hypothesis' label on every point."""
        x = np.arange(self.n_points)
        h = (x[None, :] >= np.arange(self.n_points + 1)[:, None]).astype(np.int64)
        return np.concatenate([h, 1 - h])

    def cell_probs(self) -> FloatArray:
        """The ``(K, 2)`` joint law of ``(x, y)``."""
        k, eta = self.n_points, float(self.noise)
        clean = (np.arange(k) >= self.threshold).astype(np.int64)
        probs = np.empty((k, 2))
        probs[np.arange(k), clean] = (1.0 - eta) / k
        probs[np.arange(k), 1 - clean] = eta / k
        return probs

    def true_risks(self) -> FloatArray:
        """The exact 0-1 risk of every hypothesis, shape ``(H,)``."""
        eta = float(self.noise)
        dist = np.abs(np.arange(self.n_points + 1) - self.threshold) / self.n_points
        risk = eta + (1.0 - 2.0 * eta) * dist
        return np.concatenate([risk, 1.0 - risk])

    def sample_counts(self, n: int, n_trials: int, rng: np.random.Generator) -> NDArray[np.int64]:
        """Cell counts ``(n_trials, K, 2)`` of ``n_trials`` independent samples of size ``n``."""
        check_int(n, "n", low=1)
        check_int(n_trials, "n_trials", low=1)
        counts = rng.multinomial(n, self.cell_probs().reshape(-1), size=n_trials)
        return counts.reshape(n_trials, self.n_points, 2).astype(np.int64)

    def empirical_risks(self, counts: NDArray[np.int64]) -> FloatArray:
        r"""Empirical risks ``(T, H)`` from cell counts: :math:`h_j` errs on
        :math:`\sum_{x<j} n_{x,1} + \sum_{x \ge j} n_{x,0}` points, its complement on the rest."""
        t = counts.shape[0]
        zero = np.zeros((t, 1), dtype=np.int64)
        ones_below = np.concatenate([zero, np.cumsum(counts[:, :, 1], axis=1)], axis=1)
        zeros_below = np.concatenate([zero, np.cumsum(counts[:, :, 0], axis=1)], axis=1)
        errors = ones_below + (zeros_below[:, -1:] - zeros_below)
        n = counts[0].sum()
        return np.concatenate([errors, n - errors], axis=1) / float(n)


def posterior_family(
    true_risks: FloatArray,
    emp_risks: FloatArray,
    gammas: Sequence[float] | FloatArray,
    directions: Sequence[float] = TILT_DIRECTIONS,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Gibbs risk, empirical risk and KL to the uniform prior of every posterior of the family.

    .. math::

        Q_{\gamma,\alpha}(h) = \frac{e^{s(h)}}{\sum_{h'} e^{s(h')}}, \quad
        s = \gamma(\alpha L - \hat L), \qquad
        \mathrm{KL}(Q\|P) = \mathbb E_Q[s] - \ln\sum_h e^{s(h)} + \ln H

    plus the :math:`H` point masses (KL :math:`\ln H`).

    Parameters
    ----------
    true_risks : ndarray, shape (H,)
    emp_risks : ndarray, shape (T, H)
    gammas, directions : sequences of floats
        The tilt grid (gammas > 0).

    Returns
    -------
    gibbs, emp, kl : ndarray, shape (T, H + len(gammas) * len(directions))

    References
    ----------
    Claim D2 (the bound is uniform over Q).

    Examples
    --------
    >>> prob = ThresholdProblem(4, 2, 0.25)
    >>> emp = prob.empirical_risks(prob.sample_counts(20, 3, np.random.default_rng(0)))
    >>> gibbs, emp_q, kl = posterior_family(prob.true_risks(), emp, [1.0, 10.0])
    >>> kl.shape
    (3, 20)
    """
    n_h = true_risks.shape[0]
    t = emp_risks.shape[0]
    g = np.asarray(gammas, dtype=np.float64)[None, None, :, None]
    a = np.asarray(directions, dtype=np.float64)[None, :, None, None]
    s = g * (a * true_risks[None, None, None, :] - emp_risks[:, None, None, :])
    # Softmax and log-partition with the max subtracted (no overflow for gamma up to 20 N).
    top = s.max(axis=-1, keepdims=True)
    w = np.exp(s - top)
    z = w.sum(axis=-1, keepdims=True)
    q = w / z
    lse = (top + np.log(z))[..., 0]
    kl = np.sum(q * s, axis=-1) - lse + np.log(n_h)
    if (kl < -_KL_ROUNDING).any():  # pragma: no cover - a KL below rounding would be a bug
        raise RuntimeError(f"negative KL {kl.min()} in the tilted family")
    # KL >= 0 exactly; values in [-_KL_ROUNDING, 0) are cancellation around Q = P.
    kl = np.maximum(kl, 0.0)
    tilt_gibbs = (q @ true_risks).reshape(t, -1)
    tilt_emp = np.einsum("tagh,th->tag", q, emp_risks).reshape(t, -1)
    gibbs_all = np.concatenate([np.broadcast_to(true_risks, (t, n_h)), tilt_gibbs], axis=1)
    emp_all = np.concatenate([emp_risks, tilt_emp], axis=1)
    kl_all = np.concatenate([np.full((t, n_h), np.log(n_h)), kl.reshape(t, -1)], axis=1)
    return gibbs_all, emp_all, kl_all


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


def binomial_p_value(violations: int, n_trials: int, delta: float) -> float:
    r"""One-sided exact p-value :math:`P(\mathrm{Binomial}(T, \delta) \ge V)`.

    Under the claim the violation count is stochastically at most Binomial(T, delta), so a small
    p-value is evidence that the bound fails more often than delta.

    Examples
    --------
    >>> binomial_p_value(0, 100, 0.05)
    1.0
    """
    check_int(violations, "violations", low=0, high=n_trials)
    return float(stats.binom.sf(violations - 1, n_trials, delta))


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
