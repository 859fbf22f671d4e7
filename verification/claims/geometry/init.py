r"""The App. F initialisation rules: variance matching (F1, Monte Carlo) and SVD warm start (F2).

F1: with factor means :math:`\mu^A_{ik} \sim N(0, v_A)`, :math:`\mu^B_{jk} \sim N(0, v_B)`, all
independent, :math:`\mathrm{Var}((\mu^A \mu^{B\top})_{ij}) = r v_A v_B`;
:func:`theory.geometry.variance_matching_init` takes :math:`v_A = v_B = \sqrt{s_W^2 / r}`.

F2: the SVD warm start has :math:`\mu^A \mu^{B\top} = W_r`, and the balanced factors
:math:`U_r S_r^{1/2}, V_r S_r^{1/2}` have

.. math::

    \|\mu^A\|_2^2 = \|\mu^B\|_2^2 = \sigma_1 = \|W\|_2, \qquad
    \|\mu^A\|_F^2 = \|\mu^B\|_F^2 = \sum_{k \le r} \sigma_k = \|W_r\|_*,

which is the printed :math:`\|W\|_*` only when :math:`r \ge \mathrm{rank}\, W`.

References: claims F1 and F2 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import FloatArray, check_int
from theory.geometry import (
    InitTarget,
    balanced_factors,
    svd_warm_start,
    target_variance,
    variance_matching_init,
)
from verification.registry import Outcome, Verdict

__all__ = [
    "F1_ALPHA",
    "SVD_RTOL_FACTOR",
    "check_f1_monte_carlo",
    "check_f2",
    "f2_case",
    "f2_matrices",
    "random_low_rank",
    "studentized_z",
]

_EPS = float(np.finfo(np.float64).eps)
#: Family-wise false-failure probability of the F1 Monte Carlo check.
F1_ALPHA = 1e-3
#: (m, n, r) of the F1 check: tall, wide, square, rank one and full rank.
F1_SHAPES = ((8, 6, 2), (5, 12, 3), (10, 10, 1), (3, 3, 3))
#: (v_A, v_B, r) of the direct twin of F1, with unequal factor variances.
F1_DIRECT = ((0.3, 2.0, 1), (0.3, 2.0, 4), (1.0, 0.05, 3))
F1_ETA = 0.5
#: Singular values from a backward-stable SVD are within p(m, n) eps ||W||_2 of the exact ones;
#: we allow p = SVD_RTOL_FACTOR * max(m, n) (observed errors are below 1 in these units).
SVD_RTOL_FACTOR = 16


def studentized_z(y: FloatArray, expected: float) -> float:
    r""":math:`\sqrt T (\bar y - E y) / \hat s_y`: asymptotically N(0, 1) for i.i.d. ``y``.

    Examples
    --------
    >>> round(studentized_z(np.array([1.0, 2.0, 3.0]), 2.0), 12)
    0.0
    """
    return float(np.sqrt(y.size) * (y.mean() - expected) / y.std(ddof=1))


def check_f1_monte_carlo(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim F1, Monte Carlo twin: Var(mean W_ij) = s_W^2 for the toolkit's initialisation, and
    Var(sum_k a_k b_k) = r v_A v_B for direct draws with unequal variances.

    For each shape of :data:`F1_SHAPES` and each target (Glorot, He), ``budget["n_inits"]``
    independent calls of ``variance_matching_init``; per call :math:`y = \mathrm{mean}_{ij}
    M_{ij}^2` and :math:`u = \mathrm{mean}_{ij} M_{ij}` with :math:`M = \mu^A \mu^{B\top}`
    (i.i.d. across calls, :math:`E y = s_W^2`, :math:`E u = 0`), each tested by a studentised
    two-sided z-test. Direct twin: ``budget["n_inits"]`` draws of :math:`(a \cdot b)^2`, mean
    :math:`r v_A v_B`, for each case of :data:`F1_DIRECT`. Bonferroni over all statistics at
    family-wise level :data:`F1_ALPHA`. The posterior scales must equal
    :math:`\eta (s_W^2/r)^{1/4}` to rounding.

    References
    ----------
    Claim F1.
    """
    n_inits = check_int(budget.get("n_inits", 2000), "budget['n_inits']", low=10)
    settings = [(s, t) for s in F1_SHAPES for t in InitTarget]
    n_stats = 2 * len(settings) + len(F1_DIRECT)
    z_crit = float(stats.norm.isf(F1_ALPHA / (2 * n_stats)))
    rows: list[dict[str, Any]] = []
    scale_errors = []
    for (m, n, r), target in settings:
        s2 = target_variance(m, n, target)
        y, u = np.empty(n_inits), np.empty(n_inits)
        for t in range(n_inits):
            post = variance_matching_init(m, n, r, target=target, eta=F1_ETA, rng=rng)
            w = post.mu_a @ post.mu_b.T
            y[t], u[t] = np.mean(w * w), np.mean(w)
        scale = F1_ETA * (s2 / r) ** 0.25
        scale_errors.append(
            max(np.abs(post.sigma_a / scale - 1.0).max(), np.abs(post.sigma_b / scale - 1.0).max())
        )
        z_var, z_mean = studentized_z(y, s2), studentized_z(u, 0.0)
        rows.append(
            {
                "shape": (m, n, r),
                "target": target.value,
                "s2": s2,
                "mc_var": float(y.mean()),
                "z_var": z_var,
                "z_mean": z_mean,
                # The relative error in Var this test rejects with probability about 1/2.
                "detectable": z_crit * float(y.std(ddof=1)) / np.sqrt(n_inits) / s2,
            }
        )
    direct: list[dict[str, Any]] = []
    for va, vb, r in F1_DIRECT:
        a = rng.normal(0.0, np.sqrt(va), (n_inits, r))
        b = rng.normal(0.0, np.sqrt(vb), (n_inits, r))
        prod = np.sum(a * b, axis=1)
        direct.append(
            {
                "case": (va, vb, r),
                "z": studentized_z(prod * prod, r * va * vb),
                "exact": r * va * vb,
            }
        )
    worst_z = max(
        [abs(r["z_var"]) for r in rows]
        + [abs(r["z_mean"]) for r in rows]
        + [abs(d["z"]) for d in direct]
    )
    max_scale_err = float(max(scale_errors))
    ratios = [r["mc_var"] / r["s2"] for r in rows]
    evidence = (
        f"{n_inits} independent variance-matching initialisations (eta = {F1_ETA}) for each of "
        f"{len(F1_SHAPES)} shapes (m, n, r) in {', '.join(str(s) for s in F1_SHAPES)} and both "
        f"targets (Glorot 2/(m+n), He 2/n): Monte Carlo Var(mean W_ij) / s_W^2 from "
        f"{min(ratios):.4f} to {max(ratios):.4f}; direct draws with (v_A, v_B, r) in "
        f"{', '.join(str(d['case']) for d in direct)} against r v_A v_B. {n_stats} studentised "
        f"z-statistics (variance and zero mean), largest abs z {worst_z:.2f}, threshold "
        f"{z_crit:.2f} from a family-wise false-failure probability {F1_ALPHA:g} (asymptotic, "
        f"Bonferroni); the test detects relative errors in the variance of about "
        f"{100 * max(r['detectable'] for r in rows):.1f} percent or more. Posterior scales equal "
        f"eta (s_W^2/r)^(1/4) to a relative {max_scale_err:.1e}."
    )
    data = {"rows": rows, "direct": direct, "z_crit": z_crit, "alpha": F1_ALPHA}
    if max_scale_err > 4 * _EPS:
        return Outcome(
            Verdict.REFUTED,
            f"Posterior scales differ from eta (s_W^2/r)^(1/4) by a relative {max_scale_err:.3g}. "
            + evidence,
            data,
        )
    if worst_z > z_crit:
        return Outcome(
            Verdict.REFUTED,
            f"Var(mean W_ij) rejected: abs z = {worst_z:.2f} > {z_crit:.2f}. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)


def random_low_rank(m: int, n: int, k: int, rng: np.random.Generator) -> FloatArray:
    """A random m x n matrix of rank k (generically), scaled by 10^U(-2, 2)."""
    scale = 10.0 ** rng.uniform(-2.0, 2.0)
    out: FloatArray = scale * rng.standard_normal((m, k)) @ rng.standard_normal((k, n))
    return out


def f2_matrices(
    n_matrices: int, max_dim: int, rng: np.random.Generator
) -> Iterator[tuple[FloatArray, int]]:
    """(W, rank W): shape uniform on [1, max_dim]^2, rank uniform on [1, min(m, n)]."""
    for _ in range(n_matrices):
        m, n = (int(v) for v in rng.integers(1, max_dim + 1, size=2))
        k = int(rng.integers(1, min(m, n) + 1))
        yield random_low_rank(m, n, k, rng), k


def f2_case(w: FloatArray, r: int, eta: float = F1_ETA) -> dict[str, Any]:
    r"""Every quantity of F2 for one matrix and rank, in units of :math:`\varepsilon \max(m, n)
    \sigma_1(W)` for the errors (``*_err``); the nuclear-norm gaps are relative to
    :math:`\|W\|_*`.

    Examples
    --------
    >>> case = f2_case(np.diag([2.0, 1.0]), 1)
    >>> round(case["mu_a_fro2"], 12), case["nuclear_w"], case["nuclear_wr"]
    (2.0, 3.0, 2.0)
    """
    m, n = w.shape
    post = svd_warm_start(w, r, eta=eta)
    mu_a, mu_b = balanced_factors(w, r)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    # An independent path to the singular values (no singular vectors computed).
    sv = np.linalg.svd(w, compute_uv=False)
    unit = _EPS * max(m, n) * sv[0]
    p = post.mu_a @ post.mu_b.T
    w_r = (u[:, :r] * s[:r]) @ vt[:r]
    tail_f = float(np.sqrt(np.sum(sv[r:] ** 2)))
    tail_2 = float(sv[r]) if r < sv.size else 0.0
    scale = eta * (target_variance(m, n, InitTarget.GLOROT) / r) ** 0.25
    out = {
        "shape": (m, n, r),
        "same_as_balanced": bool(
            np.array_equal(post.mu_a, mu_a) and np.array_equal(post.mu_b, mu_b)
        ),
        "scale_err": float(
            max(np.abs(post.sigma_a / scale - 1.0).max(), np.abs(post.sigma_b / scale - 1.0).max())
        ),
        "truncation_err": float(np.linalg.norm(p - w_r, 2)) / unit,
        "eym_fro_err": abs(float(np.linalg.norm(w - p)) - tail_f) / unit,
        "eym_spec_err": abs(float(np.linalg.norm(w - p, 2)) - tail_2) / unit,
        "rank_p": int(np.sum(np.linalg.svd(p, compute_uv=False) > unit)),
        "spec_err": max(
            abs(float(np.linalg.norm(mu_a, 2)) ** 2 - sv[0]),
            abs(float(np.linalg.norm(mu_b, 2)) ** 2 - sv[0]),
        )
        / unit,
        "mu_a_fro2": float(np.sum(mu_a * mu_a)),
        "mu_b_fro2": float(np.sum(mu_b * mu_b)),
        "nuclear_w": float(np.sum(sv)),
        "nuclear_wr": float(np.sum(sv[:r])),
    }
    out["nuclear_wr_err"] = max(
        abs(out["mu_a_fro2"] - out["nuclear_wr"]), abs(out["mu_b_fro2"] - out["nuclear_wr"])
    ) / (unit * r)
    out["printed_err"] = max(
        abs(out["mu_a_fro2"] - out["nuclear_w"]), abs(out["mu_b_fro2"] - out["nuclear_w"])
    ) / (unit * min(m, n))
    out["printed_gap"] = (out["nuclear_w"] - out["mu_a_fro2"]) / out["nuclear_w"]
    return out


#: The smallest counterexample to the printed nuclear-norm identity for rank-r factors.
F2_SMALLEST = (np.diag([2.0, 1.0]), 1)


def check_f2(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim F2: SVD warm start gives W_r; the norms of the balanced factors.

    ``budget["n_matrices"]`` random matrices of shape m, n in [1, ``budget["max_dim"]``] and
    rank k uniform in [1, min(m, n)] (generic products of Gaussian factors, scaled by
    10^U(-2, 2)), each at every rank r in [1, min(m, n)], plus :data:`F2_SMALLEST`. Per case
    (:func:`f2_case`): the warm-start means equal ``balanced_factors``; their product equals
    the truncated SVD of ``np.linalg.svd`` and attains the Eckart-Young-Mirsky errors
    (Frobenius and spectral) computed from an independent singular-value path, with rank <= r;
    the spectral and Frobenius norms of both factors against sigma_1, ||W_r||_* and the
    printed ||W||_*. Errors are measured in units of eps max(m, n) sigma_1(W) and allowed up to
    :data:`SVD_RTOL_FACTOR` (rounding of a backward-stable SVD).

    References
    ----------
    Claim F2.
    """
    n_matrices = check_int(budget.get("n_matrices", 60), "budget['n_matrices']", low=1)
    max_dim = check_int(budget.get("max_dim", 12), "budget['max_dim']", low=2)
    small = f2_case(*F2_SMALLEST)
    small["rank_w"] = 2
    cases = [small]
    for w, k in f2_matrices(n_matrices, max_dim, rng):
        m, n = w.shape
        for r in range(1, min(m, n) + 1):
            case = f2_case(w, r)
            case["rank_w"] = k
            cases.append(case)
    tol = SVD_RTOL_FACTOR

    def worst(key: str) -> float:
        return float(max(c[key] for c in cases))

    warm_ok = all(
        c["same_as_balanced"]
        and c["truncation_err"] <= tol
        and c["eym_fro_err"] <= tol
        and c["eym_spec_err"] <= tol
        and c["rank_p"] <= c["shape"][2]
        for c in cases
    )
    spec_ok = worst("spec_err") <= tol
    wr_ok = worst("nuclear_wr_err") <= tol
    truncated = [c for c in cases if c["shape"][2] < c["rank_w"]]
    full = [c for c in cases if c["shape"][2] >= c["rank_w"]]
    printed_fails = [c for c in cases if c["printed_err"] > tol]
    printed_full_ok = all(c["printed_err"] <= tol for c in full)
    evidence = (
        f"{len(cases)} cases (W, r): diag(2, 1) at r = 1 and {n_matrices} random W with m, n "
        f"in [1, {max_dim}], rank k in [1, min(m, n)], scale 10^U(-2, 2), at every r in "
        f"[1, min(m, n)] ({len(truncated)} with r < rank W). SVD warm start: means equal "
        f"balanced_factors exactly; mu_A mu_B^T equals the truncated np.linalg.svd (largest "
        f"error {worst('truncation_err'):.2f} in units of eps max(m, n) sigma_1), attains the "
        f"Eckart-Young-Mirsky errors sigma_(>r) in Frobenius and sigma_(r+1) in spectral norm "
        f"(largest deviation {max(worst('eym_fro_err'), worst('eym_spec_err')):.2f} units) and "
        f"has rank <= r; posterior scales eta (s_W^2/r)^(1/4) to {worst('scale_err'):.1e}. "
        f"Balanced factors (spec, fro, nuc: spectral, Frobenius, nuclear norm): spec(mu_A)^2 = "
        f"spec(mu_B)^2 = sigma_1 = spec(W) = spec(W_r) on every case ({worst('spec_err'):.2f} "
        f"units); fro(mu_A)^2 = fro(mu_B)^2 = nuc(W_r) = sum of "
        f"the r largest singular values on every case ({worst('nuclear_wr_err'):.2f} units). The "
        f"printed nuc(W) holds when r >= rank W ({len(full)} cases, "
        f"{'all hold' if printed_full_ok else 'NOT all hold'}) and fails on {len(printed_fails)} "
        f"of the {len(truncated)} cases with r < rank W (gap sum of sigma_k for k > r, up to "
        f"{100 * max((c['printed_gap'] for c in cases), default=0.0):.0f} percent of nuc(W)); "
        f"smallest counterexample W = diag(2, 1), r = 1: fro(mu_A)^2 = "
        f"{small['mu_a_fro2']:g} = nuc(W_1) but nuc(W) = {small['nuclear_w']:g}."
    )
    data = {"cases": cases, "tol_units": tol, "n_printed_fails": len(printed_fails)}
    if not warm_ok:
        bad = next(
            c
            for c in cases
            if not (
                c["same_as_balanced"]
                and max(c["truncation_err"], c["eym_fro_err"], c["eym_spec_err"]) <= tol
                and c["rank_p"] <= c["shape"][2]
            )
        )
        return Outcome(
            Verdict.REFUTED,
            f"The SVD warm start is not W_r at (m, n, r) = {bad['shape']}. " + evidence,
            data,
        )
    if not (spec_ok and wr_ok):
        return Outcome(
            Verdict.REFUTED,
            "A balanced-factor norm identity fails even with W_r in place of W. " + evidence,
            data,
        )
    # CLAIMS.md writes the balanced factors as U S^(1/2), V S^(1/2) with no rank subscript (unlike
    # the warm start U_r S_r^(1/2) in the sentence before): read as printed, they are the
    # untruncated factors, i.e. the cases with r >= rank W. There the identity must hold; for
    # r < rank W the evidence reports the corrected form nuc(W_r) instead of refuting a statement
    # the paper did not make.
    if not printed_full_ok:
        return Outcome(
            Verdict.REFUTED,
            "fro(mu_A)^2 = nuc(W) fails even for untruncated balanced factors. " + evidence,
            data,
        )
    if printed_fails:
        evidence = (
            "As printed (balanced factors U S^(1/2), V S^(1/2) of the full SVD) both identities "
            "hold; for the rank-r warm-start factors U_r S_r^(1/2) the Frobenius identity reads "
            "nuc(W_r), not nuc(W), whenever r < rank W. " + evidence
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
