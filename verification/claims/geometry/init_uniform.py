r"""The App. F uniform initialisation (claim F3u): factor means :math:`U(-a, a)` with
:math:`a = \sqrt 3\,(s_W^2 / r)^{1/4}` give :math:`\mathrm{Var}(\bar W_{ij}) = s_W^2`.

Three twins:

- sympy: the moments of :math:`\bar W_{11} = \sum_{k=1}^r \mu^A_{1k} \mu^B_{1k}` with
  independent :math:`U(-a, a)` entries, from the exact integrals
  :math:`E[X^p] = \int_{-a}^{a} x^p\, dx / 2a`, through the expectation operator of
  :mod:`theory.symbolic.expectation`, for every :math:`r \le` ``max_rank``; the closed form
  :math:`r (a^2/3)^2` for symbolic r; the stated :math:`a` substituted (general :math:`s_W^2`
  and the Glorot form :math:`\sqrt 3\,(2 / (r(n + m)))^{1/4}`);
- the numeric :func:`theory.initialisation.uniform_init_bound` against the lambdified formula;
- Monte Carlo: i.i.d. entries drawn directly with that bound for several :math:`(s_W^2, r)`,
  and diagonal entries of :math:`\mu^A \mu^{B\top}` from
  :func:`theory.initialisation.uniform_variance_matching_init` (distinct diagonal entries share
  no row of either factor, so they are independent), for the Glorot and He targets.

Each Monte Carlo test is a two-sided z-test of :math:`E[\bar W^2] = s_W^2` and of
:math:`E[\bar W] = 0` over :math:`N` i.i.d. entries; the standard error of the first uses the
exact :math:`\mathrm{Var}(\bar W^2) = E[\bar W^4] - s_W^4 = s_W^4 (2 + 6/(25 r))` derived with
sympy (studentised by the truth under the claim, not by an estimate). The threshold is
:math:`z^\ast = \Phi^{-1}(1 - \alpha / 2K)` for the family-wise false-failure probability
:data:`F3U_ALPHA` over the :math:`K` statistics (asymptotic, CLT; :math:`\bar W^2` is bounded).

References: claim F3u of ``CLAIMS.md`` (paper App. F).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import sympy as sp
from scipy import stats

from theory._validation import FloatArray, check_int
from theory.initialisation import (
    InitTarget,
    target_variance,
    uniform_init_bound,
    uniform_variance_matching_init,
)
from theory.symbolic import expectation
from verification.claims.geometry.symbolic import plain
from verification.registry import Outcome, Verdict

__all__ = [
    "F3U_ALPHA",
    "F3U_CONSTANT",
    "F3U_EXPONENT",
    "check_f3u",
    "entry_moments",
    "stated_bound",
    "stated_glorot_bound",
    "uniform_moment",
]

#: Family-wise false-failure probability of the Monte Carlo part.
F3U_ALPHA = 1e-3
#: The claim: a = F3U_CONSTANT * (s_W^2 / r) ** F3U_EXPONENT (App. F).
F3U_CONSTANT: sp.Expr = sp.sqrt(3)
F3U_EXPONENT: sp.Expr = sp.Rational(1, 4)
#: (s_W^2, r) of the direct Monte Carlo twin: scales around, below and above 1 (where the exponent
#: matters) and ranks 1 to 8.
F3U_DIRECT = ((0.5, 1), (0.02, 3), (4.0, 8), (1e-3, 2))
#: (m, n, r) of the layers drawn with ``uniform_variance_matching_init``: tall, wide, rank one.
F3U_INIT_SHAPES = ((24, 16, 2), (12, 30, 5), (16, 16, 1))
F3U_ETA = 0.5
#: uniform_init_bound and the lambdified formula: a square root, a division, a fourth root and a
#: product, each correctly rounded, on each side (observed: at most 1 in these units).
_EPS = float(np.finfo(np.float64).eps)
FORMULA_RTOL = 8 * _EPS
#: The Monte Carlo ranks; the exact derivation must reach them.
_MC_RANK = max(r for *_, r in (*F3U_DIRECT, *F3U_INIT_SHAPES))

a_sym = sp.Symbol("a", positive=True)
s2_sym = sp.Symbol("s_W2", positive=True)
r_sym = sp.Symbol("r", positive=True, integer=True)
m_sym, n_sym = sp.symbols("m n", positive=True, integer=True)


def stated_bound(s2: sp.Expr, r: sp.Expr) -> sp.Expr:
    """The half-width as the claim states it, :math:`\\sqrt 3 (s_W^2 / r)^{1/4}`."""
    return F3U_CONSTANT * (s2 / r) ** F3U_EXPONENT


def stated_glorot_bound(m: sp.Expr, n: sp.Expr, r: sp.Expr) -> sp.Expr:
    """The Glorot form printed in App. F, :math:`\\sqrt 3 (2 / (r (n + m)))^{1/4}`."""
    return sp.sqrt(3) * (2 / (r * (n + m))) ** sp.Rational(1, 4)


@cache
def uniform_moment(p: int) -> sp.Expr:
    r""":math:`E[X^p]` of :math:`X \sim U(-a, a)`, by the exact integral.

    Examples
    --------
    >>> uniform_moment(2), uniform_moment(3), uniform_moment(4)
    (a**2/3, 0, a**4/5)
    """
    x = sp.Symbol("x", real=True)
    return sp.integrate(x**p / (2 * a_sym), (x, -a_sym, a_sym))


def _uniform_rule(monomial: sp.Expr) -> sp.Expr:
    ((_, power),) = monomial.as_powers_dict().items()
    return uniform_moment(int(power))


@cache
def entry_moments(r: int) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r""":math:`E[\bar W]`, :math:`E[\bar W^2]`, :math:`E[\bar W^4]` for
    :math:`\bar W = \sum_{k \le r} A_k B_k`, all :math:`2r` entries independent :math:`U(-a, a)`.

    Examples
    --------
    >>> entry_moments(1)
    (0, a**4/9, a**8/25)
    """
    a = sp.symbols(f"A_1:{r + 1}", real=True)
    b = sp.symbols(f"B_1:{r + 1}", real=True)
    entry = sum((x * y for x, y in zip(a, b, strict=True)), sp.Integer(0))
    blocks = [[s] for s in (*a, *b)]
    first, second, fourth = (expectation(entry**p, blocks, _uniform_rule) for p in (1, 2, 4))
    return first, second, fourth


def _symbolic(max_rank: int) -> tuple[list[str], dict[int, tuple[float, float]]]:
    """Problems found (empty when the claim holds) and, per rank, the functions
    ``s2 -> (E[W^2], E[W^4])`` at the stated half-width, as coefficients of s2 and s2^2."""
    problems = []
    closed = r_sym * uniform_moment(2) ** 2
    general = sp.simplify(closed.subs(a_sym, stated_bound(s2_sym, r_sym)) - s2_sym)
    if general != 0:
        problems.append(f"Var with symbolic r at the stated a minus s_W^2 = {plain(general)}")
    glorot = sp.simplify(
        stated_bound(2 / (m_sym + n_sym), r_sym) - stated_glorot_bound(m_sym, n_sym, r_sym)
    )
    if glorot != 0:
        problems.append(f"stated a at s_W^2 = 2/(m+n) minus the printed Glorot a = {plain(glorot)}")
    coeffs: dict[int, tuple[float, float]] = {}
    for r in range(1, max_rank + 1):
        first, second, fourth = entry_moments(r)
        if first != 0 or sp.expand(second - closed.subs(r_sym, r)) != 0:
            problems.append(f"r = {r}: E[W] = {plain(first)}, E[W^2] = {plain(second)}")
        at = {a_sym: stated_bound(s2_sym, sp.Integer(r))}
        var = sp.simplify(second.subs(at))
        if sp.simplify(var - s2_sym) != 0:
            problems.append(f"r = {r}: Var(W) at the stated a = {plain(var)}, not s_W^2")
            continue
        fourth_at = sp.simplify(fourth.subs(at) / s2_sym**2)
        coeffs[r] = (float(sp.simplify(var / s2_sym)), float(fourth_at))
    return problems, coeffs


def _formula(n_cases: int, max_rank: int, rng: np.random.Generator) -> dict[str, Any]:
    """``uniform_init_bound`` against the lambdified stated formula and the Glorot form."""
    general = sp.lambdify((s2_sym, r_sym), stated_bound(s2_sym, r_sym), "numpy")
    glorot = sp.lambdify((m_sym, n_sym, r_sym), stated_glorot_bound(m_sym, n_sym, r_sym), "numpy")
    s2 = 10.0 ** rng.uniform(-4.0, 1.0, n_cases)
    r = rng.integers(1, max_rank + 1, n_cases)
    err_general = np.abs(uniform_init_bound(s2, r) / general(s2, r.astype(float)) - 1.0)
    m, n = rng.integers(1, 513, (2, n_cases))
    ours = np.array(
        [
            uniform_init_bound(target_variance(int(i), int(j), "glorot"), int(k))
            for i, j, k in zip(m, n, r, strict=True)
        ]
    )
    err_glorot = np.abs(ours / glorot(m.astype(float), n.astype(float), r.astype(float)) - 1.0)
    return {
        "cases": n_cases,
        "general_eps": float(err_general.max()) / _EPS,
        "glorot_eps": float(err_glorot.max()) / _EPS,
        "ok": bool(err_general.max() <= FORMULA_RTOL and err_glorot.max() <= FORMULA_RTOL),
    }


def _z_tests(w: FloatArray, s2: float, coeffs: tuple[float, float]) -> tuple[float, float, float]:
    """z of E[W^2] = s2 (exact Var(W^2) under the claim), z of E[W] = 0, and sd(W^2)/s2."""
    second, fourth = coeffs[0] * s2, coeffs[1] * s2 * s2
    sd_sq = math.sqrt(fourth - second**2)
    z_var = float((np.mean(w * w) - second) / (sd_sq / math.sqrt(w.size)))
    z_mean = float(np.mean(w) / math.sqrt(second / w.size))
    return z_var, z_mean, sd_sq / s2


def _monte_carlo(
    n_samples: int, coeffs: dict[int, tuple[float, float]], rng: np.random.Generator
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s2, r in F3U_DIRECT:
        a = uniform_init_bound(s2, r)
        w = np.einsum(
            "sk,sk->s",
            rng.uniform(-a, a, (n_samples, r)),
            rng.uniform(-a, a, (n_samples, r)),
        )
        z_var, z_mean, rel_sd = _z_tests(w, s2, coeffs[r])
        rows.append(
            {"source": "direct", "case": (s2, r), "s2": s2, "z_var": z_var, "z_mean": z_mean,
             "rel_sd": rel_sd, "mc_ratio": float(np.mean(w * w) / s2), "support_ok": True}
        )  # fmt: skip
    for m, n, r in F3U_INIT_SHAPES:
        diag = min(m, n)
        for target in InitTarget:
            s2 = target_variance(m, n, target)
            a = float(stated_bound(sp.Float(s2, 30), sp.Integer(r)))
            draws, support_ok, scale_err = [], True, 0.0
            for _ in range(-(-n_samples // diag)):
                post = uniform_variance_matching_init(m, n, r, target=target, eta=F3U_ETA, rng=rng)
                support_ok &= bool(
                    np.abs(post.mu_a).max() <= a * (1 + FORMULA_RTOL)
                    and np.abs(post.mu_b).max() <= a * (1 + FORMULA_RTOL)
                )
                scale = F3U_ETA * (s2 / r) ** 0.25
                scale_err = max(
                    scale_err,
                    float(np.abs(post.sigma_a / scale - 1.0).max()),
                    float(np.abs(post.sigma_b / scale - 1.0).max()),
                )
                draws.append(np.einsum("ik,ik->i", post.mu_a[:diag], post.mu_b[:diag]))
            w = np.concatenate(draws)
            z_var, z_mean, rel_sd = _z_tests(w, s2, coeffs[r])
            rows.append(
                {"source": f"init {target.value}", "case": (m, n, r), "s2": s2, "z_var": z_var,
                 "z_mean": z_mean, "rel_sd": rel_sd, "mc_ratio": float(np.mean(w * w) / s2),
                 "support_ok": support_ok, "scale_ok": scale_err <= FORMULA_RTOL,
                 "n": int(w.size)}
            )  # fmt: skip
    return rows


def check_f3u(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim F3u: uniform factor means with :math:`a = \sqrt 3 (s_W^2/r)^{1/4}` match the
    dense variance :math:`s_W^2`.

    ``budget["max_rank"]`` bounds the ranks of the exact derivation (the Monte Carlo ranks must
    lie in it), ``budget["n_formula"]`` random :math:`(s_W^2, r)` and Glorot shapes compare
    :func:`theory.initialisation.uniform_init_bound` with the formula, ``budget["n_samples"]``
    i.i.d. entries per Monte Carlo test.

    References
    ----------
    Claim F3u.
    """
    max_rank = check_int(
        budget.get("max_rank", _MC_RANK), "budget['max_rank']", low=_MC_RANK, high=12
    )
    n_formula = check_int(budget.get("n_formula", 200), "budget['n_formula']")
    n_samples = check_int(budget.get("n_samples", 20_000), "budget['n_samples']", low=100)
    problems, coeffs = _symbolic(max_rank)
    data: dict[str, Any] = {"max_rank": max_rank, "symbolic_problems": problems}
    if problems:
        data["counterexample"] = problems[0]
        return Outcome(
            Verdict.REFUTED,
            f"the exact derivation contradicts F3u: {problems[0]} (U(-a, a) entries have "
            "E[X^2] = a^2/3, so Var(mean W_ij) = r a^4 / 9).",
            data,
        )
    formula = _formula(n_formula, max_rank, rng)
    rows = _monte_carlo(n_samples, coeffs, rng)
    k = 2 * len(rows)
    z_crit = float(stats.norm.isf(F3U_ALPHA / (2 * k)))
    # Relative error in Var(mean W) a test rejects with probability 1/2 and 0.9 (one-sided part).
    detect50 = max(z_crit * r["rel_sd"] / math.sqrt(r.get("n", n_samples)) for r in rows)
    detect90 = max(
        (z_crit + stats.norm.isf(0.1)) * r["rel_sd"] / math.sqrt(r.get("n", n_samples))
        for r in rows
    )
    worst = max(max(abs(r["z_var"]), abs(r["z_mean"])) for r in rows)
    ratios = [r["mc_ratio"] for r in rows]
    data.update(formula=formula, rows=rows, z_crit=z_crit, alpha=F3U_ALPHA,
                detectable_50=detect50, detectable_90=detect90)  # fmt: skip
    v4 = coeffs[1][1] - 1.0
    evidence = (
        f"sympy, exact integrals of U(-a, a) (E[X^2] = a^2/3, E[X^4] = a^4/5) through the "
        f"expectation operator: E[mean W_ij] = 0 and Var(mean W_ij) = r a^4/9 for r = 1.."
        f"{max_rank} and, as r (a^2/3)^2, for symbolic r; at a = sqrt(3) (s_W^2/r)^(1/4) this "
        f"is s_W^2 exactly (symbolic s_W^2 and r), and at s_W^2 = 2/(m+n) the stated a is the "
        f"printed Glorot a = sqrt(3) (2/(r (n+m)))^(1/4) (difference 0, symbolic m, n, r); "
        f"Var(W^2) = E[W^4] - s_W^4 = s_W^4 (2 + 6/(25 r)) (= {v4:.2f} s_W^4 at r = 1). "
        f"theory.initialisation.uniform_init_bound equals the formula on {n_formula} random "
        f"(s_W^2 in [1e-4, 10], r <= {max_rank}) and {n_formula} Glorot shapes (m, n <= 512) to "
        f"{max(formula['general_eps'], formula['glorot_eps']):.2f} eps. Monte Carlo: "
        f"{n_samples} iid entries per test, direct U(-a, a) draws at (s_W^2, r) in "
        f"{', '.join(str(c) for c in F3U_DIRECT)} and diagonal entries of mu_A mu_B^T from "
        f"uniform_variance_matching_init on (m, n, r) in "
        f"{', '.join(str(s) for s in F3U_INIT_SHAPES)} for the Glorot and He targets: "
        f"E[mean W_ij^2]/s_W^2 from {min(ratios):.4f} to {max(ratios):.4f}; {k} two-sided "
        f"z-statistics (E[W^2] = s_W^2 with the exact Var(W^2), E[W] = 0), largest abs z "
        f"{worst:.2f} against {z_crit:.2f} (family-wise false-failure probability "
        f"{F3U_ALPHA:g}, asymptotic, Bonferroni); power: a relative error in the variance of "
        f"{100 * detect50:.1f} percent is rejected with probability 1/2, "
        f"{100 * detect90:.1f} percent with probability 0.9 (worst test). Every initialised mean "
        f"lies in [-a, a]; posterior scales eta (s_W^2/r)^(1/4) to rounding."
    )
    if not formula["ok"]:
        return Outcome(
            Verdict.REFUTED,
            "theory.initialisation.uniform_init_bound differs from sqrt(3) (s_W^2/r)^(1/4) "
            "beyond rounding. " + evidence,
            data,
        )
    bad_support = [r for r in rows if not r["support_ok"] or not r.get("scale_ok", True)]
    if bad_support:
        return Outcome(
            Verdict.REFUTED,
            f"uniform_variance_matching_init draws means outside [-a, a] or wrong scales at "
            f"{bad_support[0]['case']} ({bad_support[0]['source']}). " + evidence,
            data,
        )
    if worst > z_crit:
        t = max(rows, key=lambda r: max(abs(r["z_var"]), abs(r["z_mean"])))
        return Outcome(
            Verdict.REFUTED,
            f"the Monte Carlo test ({t['source']}, {t['case']}) rejects: z = "
            f"{t['z_var']:.2f} (variance), {t['z_mean']:.2f} (mean) beyond {z_crit:.2f}. "
            + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
