"""Claim D2: the coverage check, its learning problem, its posterior family and its power."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize, stats

import verification.claims.pac_bayes.coverage as cov
from theory.pac_bayes import mcallester_bound
from verification.claims.pac_bayes.coverage import check_d2, coverage_violations
from verification.claims.pac_bayes.threshold_problem import ThresholdProblem, posterior_family
from verification.claims.shared.statistics import binomial_p_value
from verification.registry import Profile, Verdict, claim_by_id, claim_rng

#: False-failure probability of each statistical assertion in this file.
ALPHA = 1e-6
_EPS = float(np.finfo(np.float64).eps)


def _brute_force_risks(k: int, t_star: int, eta: Fraction) -> list[Fraction]:
    """Exact risks by enumerating every (x, y) cell of the joint law, in rational arithmetic."""
    hyps = [[int(x >= j) for x in range(k)] for j in range(k + 1)]
    hyps += [[1 - v for v in h] for h in hyps]
    risks = []
    for h in hyps:
        risk = Fraction(0)
        for x in range(k):
            clean = int(x >= t_star)
            for y, p in ((clean, 1 - eta), (1 - clean, eta)):
                if h[x] != y:
                    risk += p / k
        risks.append(risk)
    return risks


@pytest.mark.parametrize(("k", "t_star", "eta"), [(1, 0, "1/4"), (5, 2, "1/10"), (32, 16, "9/20")])
def test_threshold_problem_true_risks_match_enumeration(k: int, t_star: int, eta: str) -> None:
    exact = _brute_force_risks(k, t_star, Fraction(eta))
    ours = ThresholdProblem(k, t_star, float(Fraction(eta))).true_risks()
    # Two float roundings of the rational value (eta and the product with |j - t*| / K).
    np.testing.assert_allclose(ours, [float(r) for r in exact], rtol=0, atol=4 * _EPS)


def test_threshold_problem_labels_and_cells_are_consistent() -> None:
    prob = ThresholdProblem(6, 2, 0.2)
    labels = prob.labels()
    assert labels.shape == (prob.n_hypotheses, 6)
    risks = np.array([(prob.cell_probs()[np.arange(6), 1 - h]).sum() for h in labels])
    np.testing.assert_allclose(risks, prob.true_risks(), rtol=0, atol=4 * _EPS)
    assert prob.cell_probs().sum() == pytest.approx(1.0, abs=4 * _EPS)


def test_threshold_problem_empirical_risks_match_direct_count(rng: np.random.Generator) -> None:
    """Cumulative-sum risks against counting h(x_i) != y_i over an explicit sample."""
    prob = ThresholdProblem(7, 3, 0.3)
    n = 50
    for _ in range(5):
        flat = rng.choice(14, size=n, p=prob.cell_probs().reshape(-1))
        x, y = flat // 2, flat % 2
        counts = np.zeros((1, 7, 2), dtype=np.int64)
        np.add.at(counts[0], (x, y), 1)
        direct = np.array([np.sum(h[x] != y) for h in prob.labels()]) / n
        np.testing.assert_array_equal(prob.empirical_risks(counts)[0], direct)


def test_threshold_problem_empirical_risk_is_unbiased(rng: np.random.Generator) -> None:
    """E[L^(h)] = L(h) for every h: z-test over 20000 samples, Bonferroni over the class."""
    prob = ThresholdProblem(8, 3, 0.25)
    n, t = 40, 20_000
    emp = prob.empirical_risks(prob.sample_counts(n, t, rng))
    true = prob.true_risks()
    se = np.sqrt(true * (1 - true) / (n * t))
    z = stats.norm.isf(ALPHA / (2 * true.size))
    assert (np.abs(emp.mean(axis=0) - true) <= z * se).all()


def test_posterior_family_matches_explicit_posteriors(rng: np.random.Generator) -> None:
    """Gibbs risk, empirical risk and KL of every tilt, rebuilt one posterior at a time."""
    prob = ThresholdProblem(5, 2, 0.3)
    true = prob.true_risks()
    emp = prob.empirical_risks(prob.sample_counts(20, 3, rng))
    gammas, dirs = [0.5, 7.0, 300.0], [0.0, 1.0, 2.0]
    gibbs, emp_q, kl = posterior_family(true, emp, gammas, dirs)
    h = true.size
    assert gibbs.shape == (3, h + 9)
    for t in range(3):
        np.testing.assert_array_equal(gibbs[t, :h], true)
        np.testing.assert_array_equal(emp_q[t, :h], emp[t])
        assert (kl[t, :h] == math.log(h)).all()
        col = h
        for a in dirs:
            for g in gammas:
                w = np.array([math.exp(g * (a * true[i] - emp[t, i])) for i in range(h)])
                q = w / w.sum()
                kl_direct = sum(qi * math.log(qi * h) for qi in q if qi > 0)
                assert gibbs[t, col] == pytest.approx(float(q @ true), rel=1e-12)
                assert emp_q[t, col] == pytest.approx(float(q @ emp[t]), rel=1e-12, abs=1e-15)
                assert kl[t, col] == pytest.approx(kl_direct, rel=1e-9, abs=1e-12)
                col += 1


def test_gap_tilts_maximise_the_gap_at_fixed_kl(rng: np.random.Generator) -> None:
    """Gibbs variational principle behind the family: any posterior Q is beaten, in the gap
    (L - L^) Q, by the tilt exp(gamma (L - L^)) of at least the same KL."""
    prob = ThresholdProblem(10, 4, 0.4)
    true = prob.true_risks()
    emp = prob.empirical_risks(prob.sample_counts(30, 1, rng))
    gap = true - emp[0]
    h = true.size

    def tilt(g: float) -> tuple[float, float]:
        _, e, k = posterior_family(true, emp, [g], [1.0])
        gi, _, _ = posterior_family(true, emp, [g], [1.0])
        return float(gi[0, h] - e[0, h]), float(k[0, h])

    for conc in (0.05, 0.3, 1.0, 5.0):
        for _ in range(10):
            q = rng.dirichlet(np.full(h, conc))
            with np.errstate(divide="ignore", invalid="ignore"):
                kl_q = float(np.sum(np.where(q > 0, q * np.log(q * h), 0.0)))
            target = float(q @ gap)
            top = math.log(h / np.sum(gap == gap.max()))
            if kl_q >= top:
                assert target <= gap.max()
                continue
            root = optimize.brentq(lambda g, k=kl_q: tilt(g)[1] - k, 0.0, 1e6, xtol=1e-12)
            g_up = root * (1.0 + 1e-9) + 1e-12
            gap_up, kl_up = tilt(g_up)
            assert kl_up >= kl_q
            assert gap_up >= target - 16 * _EPS


def test_binomial_p_value_matches_exact_sum() -> None:
    for v, t, d in [(0, 10, 0.1), (3, 10, 0.1), (10, 10, 0.5), (7, 200, 0.01)]:
        exact = sum(
            Fraction(math.comb(t, k)) * Fraction(d) ** k * (1 - Fraction(d)) ** (t - k)
            for k in range(v, t + 1)
        )
        assert binomial_p_value(v, t, d) == pytest.approx(float(exact), rel=1e-12)


def test_coverage_violations_power_rejects_the_wrong_bound(rng: np.random.Generator) -> None:
    """The wrong Hoeffding-at-ERM bound is violated far above delta; the true ones are not."""
    counts = coverage_violations(cov.D2_PROBLEM, 30, 2000, [0.05], rng)
    assert binomial_p_value(int(counts["naive"][0]), 2000, 0.05) < ALPHA
    for name in cov.BOUNDS:
        assert binomial_p_value(int(counts[name][0]), 2000, 0.05) >= ALPHA


@pytest.mark.claim("D2")
def test_check_d2_quick_budget_verifies() -> None:
    """D2: with the registry's quick budget the McAllester, kl and Catoni bounds cover."""
    budget = claim_by_id("D2").budget(Profile.QUICK)["exact"]
    outcome = check_d2(budget, claim_rng("D2"))
    assert outcome.verdict is Verdict.VERIFIED, outcome.evidence
    assert "|" not in outcome.evidence and "\n" not in outcome.evidence
    rows = outcome.data["rows"]
    assert len(rows) == 4 * len(cov.D2_SIZES) * len(cov.D2_DELTAS)
    for r in rows:
        if r["bound"] == "naive":
            assert r["p_value"] < outcome.data["per_test_level"]
        else:
            assert r["p_value"] >= outcome.data["per_test_level"]


@pytest.mark.claim("D2")
def test_check_d2_refutes_a_halved_mcallester_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """D2 check can fail: McAllester with its square-root term halved (a constant off by 4
    inside the root) is refuted, and the verdict names the bound."""
    wrong = dict(cov.BOUNDS)

    def halved(e: np.ndarray, k: np.ndarray, n: int, d: float) -> np.ndarray:
        return e + 0.5 * (np.asarray(mcallester_bound(e, k, n, d)) - e)

    wrong["mcallester"] = halved
    monkeypatch.setattr(cov, "BOUNDS", wrong)
    outcome = check_d2({"n_trials": 1000, "sizes": (30,), "deltas": (0.05,)}, claim_rng("D2"))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith("mcallester violated")


def test_coverage_width_ratio_is_the_scale_where_coverage_breaks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twin of the slack measure: rerunning the same samples with McAllester's width scaled by
    1.05 and 0.95 times the reported (1 - delta) quantile of max_Q (L - L^)/width gives at most
    and at least (up to one order statistic) delta T violations."""
    t, delta = 1000, 0.25
    base = coverage_violations(cov.D2_PROBLEM, 30, t, [delta], np.random.default_rng(11))
    ratio = float(base["width_ratio"][0])
    assert 0.0 < ratio < 1.0
    found = {}
    for scale in (1.05, 0.95):

        def scaled(e: np.ndarray, k: np.ndarray, n: int, d: float, c: float = scale) -> np.ndarray:
            return e + c * ratio * (np.asarray(mcallester_bound(e, k, n, d)) - e)

        monkeypatch.setattr(cov, "BOUNDS", {"mcallester": scaled})
        counts = coverage_violations(cov.D2_PROBLEM, 30, t, [delta], np.random.default_rng(11))
        found[scale] = int(counts["mcallester"][0])
    assert found[1.05] <= delta * t
    assert found[0.95] >= delta * t - 1


def test_check_d2_is_untestable_without_power(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the known-wrong bound is not rejected the verdict cannot be 'verified'."""
    monkeypatch.setattr(cov, "naive_bound", lambda e, n, d: np.ones_like(e))
    outcome = check_d2({"n_trials": 300, "sizes": (30,), "deltas": (0.05,)}, claim_rng("D2"))
    assert outcome.verdict is Verdict.UNTESTABLE


def test_check_d2_is_deterministic_given_the_rng() -> None:
    budget = {"n_trials": 200, "sizes": (30,), "deltas": (0.25,)}
    first = check_d2(budget, np.random.default_rng(3))
    second = check_d2(budget, np.random.default_rng(3))
    assert first.evidence == second.evidence


@pytest.mark.slow
@pytest.mark.claim("D2")
def test_check_d2_thorough_budget_verifies() -> None:
    """D2 at the thorough budget (40000 samples per setting)."""
    budget = claim_by_id("D2").budget(Profile.THOROUGH)["exact"]
    assert check_d2(budget, claim_rng("D2")).verdict is Verdict.VERIFIED


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: ThresholdProblem(0, 0, 0.1), ValueError, "`n_points` must be an int in"),
        (lambda: ThresholdProblem(4, 5, 0.1), ValueError, "`threshold` must be an int in"),
        (lambda: ThresholdProblem(4, 2, 0.7), ValueError, "`noise` must be a float in"),
        (lambda: ThresholdProblem(4, 2, float("nan")), ValueError, "`noise` must not be NaN"),
        (lambda: ThresholdProblem(4.0, 2, 0.1), TypeError, "`n_points` must be an int"),
        (lambda: binomial_p_value(11, 10, 0.1), ValueError, "`violations` must be an int in"),
        (
            lambda: check_d2({"n_trials": 0}, np.random.default_rng(0)),
            ValueError,
            r"`budget\['n_trials'\]` must be an int in",
        ),
    ],
)
def test_coverage_rejects_bad_input(call: object, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()  # type: ignore[operator]
