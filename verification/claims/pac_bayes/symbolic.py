r"""Checks of claims T3.8 and T3.8c: the symbolic twins of the two bounds against the numeric ones.

T3.8: the complexity ratio derived with sympy from the two bounds equals the paper's
:math:`\sqrt{r (1/d_{in} + 1/d_{out})}` and increases in :math:`r`; the ``lambdify``-ed bounds agree
with :func:`theory.pac_bayes.mcallester_bound` on every shape up to a budgeted size.
T3.8c: sympy shows that the sign of the bounds' difference is the sign of
:math:`C^{full} d_{in} d_{out} - C^{LR} r (d_{in} + d_{out})`; random and tied cases confirm it
exactly (the margin's sign in exact rational arithmetic).

References: claims T3.8 and T3.8c of ``CLAIMS.md``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath as mp
import numpy as np
from numpy.typing import NDArray

from theory._validation import check_int
from theory.pac_bayes import complexity_ratio, mcallester_bound
from theory.symbolic import (
    complexity_ratio_derivative,
    complexity_ratio_expr,
    complexity_ratio_function,
    complexity_ratio_residual,
    full_rank_bound_expr,
    low_rank_bound_expr,
    t38_bounds_function,
    t38c_sign_proof,
)
from theory.symbolic.symbols import C_LR, C_full, N, d_in, d_out, delta, emp, r
from verification.registry import Budget, Outcome, Verdict

__all__ = ["check_t38", "check_t38c", "t38_sweep", "t38c_cases"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps)
#: Relative slack between the lambdified bound and ``mcallester_bound``: both evaluate
#: emp + sqrt((K + ln 2 + ln(n)/2 - ln(delta)) / (2n)) with <= 10 roundings in different orders,
#: each of relative size <= eps on terms of one sign, so they differ by < 10 eps of the value;
#: 32 eps leaves a factor 3.
BOUND_RTOL = 32 * _EPS
#: The same for the two square roots of the complexity ratio (<= 6 roundings each).
RATIO_RTOL = 16 * _EPS
#: Digits of the mpmath re-evaluation of a float disagreement in T3.8c.
_MP_DPS = 50


def _plain(expr: Any) -> str:
    """A sympy expression as evidence text: no '*' (markdown emphasis), powers as '^'."""
    return str(expr).replace("**", "^").replace("*", " ")


def _shapes(d_in_value: int, max_dim: int) -> tuple[IntArray, IntArray]:
    """Every (d_out, r) with d_out <= max_dim and 1 <= r <= min(d_in, d_out), flattened."""
    outs, ranks = [], []
    for do in range(1, max_dim + 1):
        top = min(d_in_value, do)
        outs.append(np.full(top, do, dtype=np.int64))
        ranks.append(np.arange(1, top + 1, dtype=np.int64))
    return np.concatenate(outs), np.concatenate(ranks)


def _draw_settings(rng: np.random.Generator, size: int) -> dict[str, Any]:
    """Per-case empirical risk, C_max values, sample size and confidence, over wide ranges."""
    return {
        "emp": rng.uniform(0.0, 1.0, size),
        "c_full": 10.0 ** rng.uniform(-3.0, 1.0, size),
        "c_lr": 10.0 ** rng.uniform(-3.0, 1.0, size),
        "n": np.round(10.0 ** rng.uniform(0.0, 7.0, size)).astype(np.int64),
        "delta": 10.0 ** rng.uniform(-6.0, np.log10(0.5), size),
    }


def t38_sweep(max_dim: int, rng: np.random.Generator) -> dict[str, Any]:
    """Compare the lambdified T3.8 bounds and ratio with the numeric ones on every shape.

    Every ``(d_in, d_out, r)`` with ``d_in, d_out <= max_dim`` and ``1 <= r <= min(d_in, d_out)``
    is tried, each with its own random ``emp, C_full, C_LR, N, delta`` drawn from ``rng``.

    Returns
    -------
    dict
        ``cases``, the largest relative differences (``max_rel_bound``, ``max_rel_ratio``), the
        largest absolute bound difference, the count of failures of each comparison, of
        non-increasing ratio steps, and the smallest failing case (``first_bad``, or ``None``).
    """
    max_dim = check_int(max_dim, "max_dim")
    bounds_fn = t38_bounds_function()
    ratio_fn = complexity_ratio_function()
    out: dict[str, Any] = {
        "cases": 0,
        "max_abs_bound": 0.0,
        "max_rel_bound": 0.0,
        "max_rel_ratio": 0.0,
        "bound_failures": 0,
        "ratio_failures": 0,
        "monotone_failures": 0,
        "first_bad": None,
    }
    for di in range(1, max_dim + 1):
        do, rk = _shapes(di, max_dim)
        size = do.size
        st = _draw_settings(rng, size)
        di_arr = np.full(size, di, dtype=np.int64)
        sym_full, sym_lr = bounds_fn(
            st["emp"], st["c_full"], st["c_lr"], di_arr, do, rk, st["n"], st["delta"]
        )
        num_full = mcallester_bound(st["emp"], st["c_full"] * di * do, st["n"], st["delta"])
        num_lr = mcallester_bound(st["emp"], st["c_lr"] * rk * (di + do), st["n"], st["delta"])
        diffs = np.maximum(np.abs(sym_full - num_full), np.abs(sym_lr - num_lr))
        scale = np.maximum(np.abs(num_full), np.abs(num_lr))
        bound_bad = diffs > BOUND_RTOL * scale
        sym_ratio = np.asarray(ratio_fn(di_arr, do, rk), dtype=np.float64)
        num_ratio = np.asarray(complexity_ratio(do, di_arr, rk))
        ratio_rel = np.abs(sym_ratio - num_ratio) / num_ratio
        ratio_bad = ratio_rel > RATIO_RTOL
        # Monotonicity in r within each d_out block (consecutive entries with equal d_out).
        same_block = do[1:] == do[:-1]
        mono_bad = np.zeros(size, dtype=bool)
        mono_bad[1:] = same_block & (sym_ratio[1:] <= sym_ratio[:-1])
        out["cases"] += size
        out["max_abs_bound"] = max(out["max_abs_bound"], float(diffs.max()))
        out["max_rel_bound"] = max(out["max_rel_bound"], float((diffs / scale).max()))
        out["max_rel_ratio"] = max(out["max_rel_ratio"], float(ratio_rel.max()))
        out["bound_failures"] += int(bound_bad.sum())
        out["ratio_failures"] += int(ratio_bad.sum())
        out["monotone_failures"] += int(mono_bad.sum())
        bad = bound_bad | ratio_bad | mono_bad
        if bad.any() and out["first_bad"] is None:
            i = int(np.flatnonzero(bad)[0])
            out["first_bad"] = {
                "d_in": di,
                "d_out": int(do[i]),
                "r": int(rk[i]),
                "emp": float(st["emp"][i]),
                "C_full": float(st["c_full"][i]),
                "C_LR": float(st["c_lr"][i]),
                "N": int(st["n"][i]),
                "delta": float(st["delta"][i]),
                "symbolic": (float(sym_full[i]), float(sym_lr[i]), float(sym_ratio[i])),
                "numeric": (float(num_full[i]), float(num_lr[i]), float(num_ratio[i])),
            }
    return out


def check_t38(budget: Budget, rng: np.random.Generator) -> Outcome:
    """Claim T3.8: derived ratio, its monotonicity, and symbolic against numeric bounds.

    ``budget["max_dim"]`` bounds ``d_in`` and ``d_out`` of the exhaustive sweep.
    """
    max_dim = check_int(budget.get("max_dim"), "budget['max_dim']")
    residual = complexity_ratio_residual()
    derivative = complexity_ratio_derivative()
    identity_ok = residual == 0
    monotone_ok = derivative.is_positive is True
    sweep = t38_sweep(max_dim, rng)
    numeric_ok = sweep["first_bad"] is None
    data: dict[str, Any] = {
        "max_dim": max_dim,
        "ratio_derived": _plain(complexity_ratio_expr()),
        "ratio_residual": _plain(residual),
        "ratio_derivative": _plain(derivative),
        "derivative_positive": monotone_ok,
        **{k: v for k, v in sweep.items() if k != "first_bad"},
    }
    if sweep["first_bad"] is not None:
        data["counterexample"] = sweep["first_bad"]
    bounds = (
        "B_full = emp + sqrt((C_full d_in d_out + ln(2 sqrt N/delta))/2N) and B_LR = emp + "
        "sqrt((C_LR r (d_in + d_out) + ln(2 sqrt N/delta))/2N)"
    )
    sweep_text = (
        f"the lambdified bounds equal mcallester_bound(emp, C_max D, N, delta) on all "
        f"{sweep['cases']} (d_in, d_out, r) with d_in, d_out <= {max_dim} and "
        f"1 <= r <= min(d_in, d_out), each with random emp in [0, 1], C_max in [1e-3, 10], "
        f"N in [1, 1e7], delta in [1e-6, 0.5] (max abs difference {sweep['max_abs_bound']:.2e}, "
        f"max relative {sweep['max_rel_bound']:.2e}, allowed {BOUND_RTOL:.1e}); the lambdified "
        f"ratio equals complexity_ratio within {sweep['max_rel_ratio']:.1e} relative and "
        "strictly increases with r on every shape"
    )
    if identity_ok and monotone_ok and numeric_ok:
        return Outcome(
            Verdict.VERIFIED,
            f"sympy, from {bounds} with equal C_max and the log term dropped, derives the ratio "
            f"{data['ratio_derived']}; minus sqrt(r (1/d_in + 1/d_out)) it simplifies to 0, and "
            f"its r-derivative {data['ratio_derivative']} is positive for all positive symbols "
            f"(sympy assumptions); {sweep_text}. The bounds themselves are D2 with "
            "KL <= C_max D (D3), whose validity is checked under those ids.",
            data,
        )
    problems = []
    if not identity_ok:
        problems.append(
            f"the derived ratio minus the printed one simplifies to {_plain(residual)}, not 0"
        )
    if not monotone_ok:
        problems.append(f"sympy cannot show the r-derivative {_plain(derivative)} is positive")
    if not numeric_ok:
        bad = sweep["first_bad"]
        problems.append(
            f"at d_in = {bad['d_in']}, d_out = {bad['d_out']}, r = {bad['r']}, emp = "
            f"{bad['emp']!r}, C_full = {bad['C_full']!r}, C_LR = {bad['C_LR']!r}, N = {bad['N']}, "
            f"delta = {bad['delta']!r} the symbolic (B_full, B_LR, ratio) = {bad['symbolic']} "
            f"but the numeric = {bad['numeric']} ({sweep['bound_failures']} bound, "
            f"{sweep['ratio_failures']} ratio, {sweep['monotone_failures']} monotonicity "
            f"failures in {sweep['cases']} cases)"
        )
    return Outcome(Verdict.REFUTED, "; ".join(problems) + ".", data)


def _log_uniform_ints(rng: np.random.Generator, high: int, size: int) -> IntArray:
    return np.floor(10.0 ** rng.uniform(0.0, np.log10(high + 1), size)).astype(np.int64)


def t38c_cases(n_cases: int, rng: np.random.Generator) -> dict[str, Any]:
    r"""Random cases of T3.8c: is the low-rank bound below the full one exactly when the margin
    :math:`C^{full} d_{in} d_{out} - C^{LR} r (d_{in} + d_{out})` is positive?

    Three families, about a half, a quarter and a quarter of ``n_cases``:

    - *general*: :math:`C^{LR}, C^{full}` log-uniform in [1e-3, 10];
    - *tie*: integer :math:`C` values that make the margin exactly 0 (products exact in float64,
      so both bounds are bit-identical and neither is tighter);
    - *near tie*: integer :math:`C^{LR} \le 100` and :math:`C^{full}` the floor or ceiling of the
      value that ties, so the margin is a small integer.

    Shapes :math:`d_{in}, d_{out}` are log-uniform in [1, 1024], :math:`1 \le r \le
    \min(d_{in}, d_{out})`, :math:`N` log-uniform in [1, 1e7], :math:`\delta` in [1e-6, 0.5],
    the empirical risk uniform in [0, 1]. The sign of the margin is computed exactly
    (``Fraction``); the bounds are compared in float64 both as the ``lambdify``-ed sympy
    expressions and through :func:`theory.pac_bayes.mcallester_bound`; a float disagreement is
    re-evaluated at 50 digits with mpmath, and only a disagreement that survives is a
    counterexample.
    """
    n_cases = check_int(n_cases, "n_cases", low=3)
    n_tie = n_near = n_cases // 4
    n_gen = n_cases - n_tie - n_near
    size = n_cases
    di = _log_uniform_ints(rng, 1024, size)
    do = _log_uniform_ints(rng, 1024, size)
    rk = 1 + np.floor(rng.uniform(0.0, 1.0, size) * np.minimum(di, do)).astype(np.int64)
    st = _draw_settings(rng, size)
    c_lr = st["c_lr"].copy()
    c_full = st["c_full"].copy()
    full_dim = di * do
    lr_dim = rk * (di + do)
    tie = slice(n_gen, n_gen + n_tie)
    g = np.gcd(full_dim[tie], lr_dim[tie])
    k = rng.integers(1, 6, n_tie)
    c_lr[tie] = (k * full_dim[tie] // g).astype(np.float64)
    c_full[tie] = (k * lr_dim[tie] // g).astype(np.float64)
    near = slice(n_gen + n_tie, size)
    k_lr = rng.integers(1, 101, n_near)
    ideal = k_lr * lr_dim[near] / full_dim[near]
    rounded = np.where(rng.uniform(0.0, 1.0, n_near) < 0.5, np.floor(ideal), np.ceil(ideal))
    c_lr[near] = k_lr.astype(np.float64)
    c_full[near] = np.maximum(rounded, 1.0)
    family = np.array(["general"] * n_gen + ["tie"] * n_tie + ["near tie"] * n_near)

    sym_full, sym_lr = t38_bounds_function()(
        st["emp"], c_full, c_lr, di, do, rk, st["n"], st["delta"]
    )
    num_full = mcallester_bound(st["emp"], c_full * full_dim, st["n"], st["delta"])
    num_lr = mcallester_bound(st["emp"], c_lr * lr_dim, st["n"], st["delta"])
    # The margin's sign in exact rational arithmetic (every float is a rational).
    margins = [
        Fraction(float(cf)) * int(a) - Fraction(float(cl)) * int(b)
        for cf, a, cl, b in zip(c_full, full_dim, c_lr, lr_dim, strict=True)
    ]
    margin_sign = np.array([mg > 0 for mg in margins])
    sym_agree = (sym_lr < sym_full) == margin_sign
    num_agree = (num_lr < num_full) == margin_sign
    float_only: list[int] = []
    counterexamples: list[dict[str, Any]] = []
    for i in np.flatnonzero(~(sym_agree & num_agree)):
        case = {
            "family": str(family[i]),
            "d_in": int(di[i]),
            "d_out": int(do[i]),
            "r": int(rk[i]),
            "emp": float(st["emp"][i]),
            "C_full": float(c_full[i]),
            "C_LR": float(c_lr[i]),
            "N": int(st["n"][i]),
            "delta": float(st["delta"][i]),
            "margin_positive": bool(margin_sign[i]),
        }
        if _mp_low_rank_tighter(case) == case["margin_positive"]:
            float_only.append(int(i))
        else:
            counterexamples.append(case)
    counterexamples.sort(key=lambda cs: (cs["d_in"] * cs["d_out"], cs["r"]))
    return {
        "cases": size,
        "families": {"general": n_gen, "tie": n_tie, "near tie": n_near},
        "margin_positive": int(margin_sign.sum()),
        "exact_ties": sum(1 for mg in margins if mg == 0),
        "symbolic_agreements": int(sym_agree.sum()),
        "numeric_agreements": int(num_agree.sum()),
        "float_only_disagreements": len(float_only),
        "counterexamples": counterexamples,
    }


def _mp_low_rank_tighter(case: dict[str, Any]) -> bool:
    """The T3.8 comparison re-evaluated from the sympy expressions at 50 digits."""
    values = {
        emp: case["emp"],
        C_full: case["C_full"],
        C_LR: case["C_LR"],
        d_in: case["d_in"],
        d_out: case["d_out"],
        r: case["r"],
        N: case["N"],
        delta: case["delta"],
    }
    with mp.workdps(_MP_DPS):
        full = full_rank_bound_expr().evalf(_MP_DPS, subs=values)
        low = low_rank_bound_expr().evalf(_MP_DPS, subs=values)
        return bool(low < full)


def check_t38c(budget: Budget, rng: np.random.Generator) -> Outcome:
    """Claim T3.8c: the low-rank bound is tighter iff C_LR r (d_in + d_out) < C_full d_in d_out.

    ``budget["n_cases"]`` random cases (see :func:`t38c_cases`) beside the sympy proof of the
    sign equivalence (:func:`theory.symbolic.t38c_sign_proof`).
    """
    n_cases = check_int(budget.get("n_cases"), "budget['n_cases']", low=3)
    proof = t38c_sign_proof()
    res = t38c_cases(n_cases, rng)
    counterexamples = res.pop("counterexamples")
    data: dict[str, Any] = {
        "n_cases": n_cases,
        "proof_residual": _plain(proof.residual),
        "proof_factor_positive": proof.factor_positive,
        "log_term_positive": proof.log_term_positive,
        **res,
    }
    untested = (
        "The premise, comparable per-coordinate KLs (C_LR close to C_full), is measured on "
        "trained posteriors under claim T3.8p."
    )
    if counterexamples:
        data["counterexample"] = counterexamples[0]
        ce = counterexamples[0]
        return Outcome(
            Verdict.REFUTED,
            f"{len(counterexamples)} of {n_cases} cases disagree even at 50 digits; smallest: "
            + ", ".join(f"{k} = {v!r}" for k, v in ce.items())
            + f". {untested}",
            data,
        )
    if not proof.holds:
        return Outcome(
            Verdict.REFUTED,
            f"sympy could not show the sign equivalence: (B_full - B_LR)(sqrt a + sqrt b) - "
            f"margin/2N simplifies to {_plain(proof.residual)}, factor positive "
            f"{proof.factor_positive}, log term positive {proof.log_term_positive}. {untested}",
            data,
        )
    fam = res["families"]
    return Outcome(
        Verdict.VERIFIED,
        "sympy shows (B_full - B_LR)(sqrt a + sqrt b) = (C_full d_in d_out - C_LR r (d_in + "
        "d_out))/2N with a, b the two radicands, and sqrt a + sqrt b > 0 because ln(2 sqrt N/"
        "delta) > 0 on N >= 1, delta < 1; so B_LR < B_full exactly when C_LR r (d_in + d_out) < "
        f"C_full d_in d_out. Numerically, {n_cases} cases ({fam['general']} general with C in "
        f"[1e-3, 10], {fam['tie']} exact ties, {fam['near tie']} near ties with integer margins; "
        "d_in, d_out in [1, 1024], N in [1, 1e7], delta in [1e-6, 0.5]): the comparison of the "
        f"lambdified bounds agrees with the exact sign of the margin in "
        f"{res['symbolic_agreements']} of {n_cases}, through mcallester_bound in "
        f"{res['numeric_agreements']} of {n_cases} ({res['margin_positive']} with low rank "
        f"tighter, {res['exact_ties']} exact ties where neither is; "
        f"{res['float_only_disagreements']} float-only disagreements resolved at 50 digits). "
        + untested,
        data,
    )
