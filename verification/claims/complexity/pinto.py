r"""Check of claim E17: Pinto et al.'s Thm 7 as the paper restates it, against exact complexities.

At depth D = 1 the restated bound reads :math:`C_0 C_1^2 \sqrt{r_1 h_1} \|X\|_F / m` (with
:math:`B_1 = \sqrt{r_1} C_1` and the product including :math:`C_1`), while the class
:math:`\{x \mapsto Wx : \|W\|_2 \le C_1, \mathrm{rank}\,W \le r_1\}` has the exact complexity

.. math:: \hat G = \frac{C_1}{m} E \sum_{i \le r_1} \sigma_i(\Gamma^\top X)
    = C_1 \kappa \frac{\sqrt{r_1 h_1}\|X\|_F}{m}, \qquad 0 < \kappa \le 1,

linear in :math:`C_1`. So the restated bound fails exactly when :math:`C_1 < \kappa / C_0`, for
every :math:`C_0`. For rank one with d = 1 (or k = 1 and :math:`X^\top X \propto I`), :math:`\kappa
= E\chi_n/\sqrt n` in closed form; the smallest case m = d = k = r = 1 gives :math:`\hat G =
C_1\sqrt{2/\pi}` exactly. The corrected one-layer form (ours,
:mod:`theory.gaussian_complexity.corrected`) is
:math:`\hat G \le C_1 \sqrt{r_1 h_1}\|X\|_F/m`, i.e. :math:`\kappa \le 1`.

Depth >= 2 (:mod:`verification.claims.complexity.deep`): lower estimates of the class complexity
give the smallest :math:`C_0` that the restated (and the corrected) bound needs over all scalings of
the spectral bounds.

References: claim E17 of ``CLAIMS.md``; Pinto, Rangamani and Poggio (ALT 2025), Thm 7.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import check_int
from theory.gaussian_complexity import linear_class_complexity, pinto_bound_as_restated
from theory.gaussian_complexity.corrected import chi_mean, one_layer_complexity_bound
from verification.claims.complexity.deep import (
    Architecture,
    corrected_c0,
    deep_lower_sups,
    required_c0,
)
from verification.registry import Outcome, Verdict

__all__ = [
    "E17_CASES",
    "analytic_kappa",
    "check_e17",
    "deep_case",
    "e17_sample",
    "one_layer_case",
]

_EPS = float(np.finfo(np.float64).eps)
#: Rescaling C reuses the same Gamma draws, so estimates must agree to a few roundings (the
#: product by C, the division by m, the mean over draws).
_LINEARITY_RTOL = 16 * _EPS
#: One-layer cases (m, d, k, r, kind of sample): kinds with a closed-form kappa come first.
E17_CASES: tuple[tuple[int, int, int, int, str], ...] = (
    (1, 1, 1, 1, "unit"),
    (8, 1, 4, 1, "gaussian"),
    (12, 5, 1, 1, "orthonormal"),
    (20, 6, 4, 2, "gaussian"),
    (50, 8, 6, 3, "gaussian"),
    (100, 16, 8, 8, "gaussian"),
)
E17_C0S = (1.0, 10.0, 100.0)
#: Depth >= 2 architectures (input dim, widths, ranks, sample size).
E17_DEEP = (
    (4, (4, 2), (2, 1), 20),
    (5, (6, 3), (3, 2), 30),
    (4, (4, 4, 2), (2, 2, 1), 20),
)
E17_ALPHA = 1e-3


def e17_sample(m: int, d: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The sample X (m x d): ``unit`` is X = 1 (m = d = 1); ``orthonormal`` has X^T X = 4 I.

    Examples
    --------
    >>> q = e17_sample(6, 2, "orthonormal", np.random.default_rng(0))
    >>> np.allclose(q.T @ q, 4 * np.eye(2))
    True
    """
    if kind == "unit":
        return np.ones((m, d))
    if kind == "orthonormal":
        q, _ = np.linalg.qr(rng.standard_normal((m, d)))
        return 2.0 * q
    if kind == "gaussian":
        return rng.standard_normal((m, d))
    raise ValueError(f"`kind` must be 'unit', 'orthonormal' or 'gaussian'; got {kind!r}")


def analytic_kappa(X: np.ndarray, rank: int, out_dim: int) -> float | None:
    r"""Closed-form :math:`\kappa = E\sum_{i\le r}\sigma_i(\Gamma^\top X) / (\sqrt{rk}\|X\|_F)`
    when it exists, else ``None``.

    Rank one with d = 1: :math:`\Gamma^\top x \sim N(0, \|x\|^2 I_k)`, so
    :math:`\kappa = E\chi_k / \sqrt k`; rank one with k = 1 and :math:`X^\top X = s^2 I_d`:
    :math:`X^\top\gamma \sim N(0, s^2 I_d)`, so :math:`\kappa = E\chi_d/\sqrt d`.

    .. math:: \kappa = \frac{E\chi_n}{\sqrt n} = \sqrt{\frac 2n}\,
        \frac{\Gamma((n+1)/2)}{\Gamma(n/2)}

    References
    ----------
    Claim E17.

    Examples
    --------
    >>> round(analytic_kappa(np.ones((1, 1)), 1, 1), 6)  # sqrt(2 / pi)
    0.797885
    """
    if rank != 1:
        return None
    d = X.shape[1]
    if d == 1:
        return float(chi_mean(out_dim) / np.sqrt(out_dim))
    gram = X.T @ X
    if out_dim == 1 and np.allclose(gram, gram[0, 0] * np.eye(d), rtol=0, atol=1e3 * _EPS):
        return float(chi_mean(d) / np.sqrt(d))
    return None


def one_layer_case(
    X: np.ndarray,
    rank: int,
    out_dim: int,
    *,
    c_grid: np.ndarray,
    c0s: tuple[float, ...],
    n_draws: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    r"""The D = 1 comparison on one sample: exact complexity vs the restated and corrected bounds.

    The Monte Carlo error is bounded without a normal approximation: the draw's supremum
    :math:`\Gamma \mapsto \sum_{i \le r}\sigma_i(\Gamma^\top X)/m` is
    :math:`\ell = \sqrt r\|X\|_2/m`-Lipschitz in :math:`\Gamma` (Frobenius), since
    :math:`|\mathrm{KF}_r(A) - \mathrm{KF}_r(B)| \le \sqrt r \|A - B\|_F`, so by Gaussian
    concentration the mean of n draws exceeds its expectation by more than
    :math:`\ell\sqrt{2\log(1/\alpha)/n}` with probability at most :math:`\alpha` (``level``).

    Returns a dict with the unit-C estimate ``g1`` and SE, ``kappa_hat``, the analytic kappa
    (or ``None``), the significant violations of the restated bound as (C, c0) pairs, whether the
    corrected form is violated, the largest rounding error of the C-linearity, and the measured
    C-exponent of the restated bound.

    References
    ----------
    Claim E17.
    """
    seed = int(rng.integers(2**63))
    kwargs: dict[str, Any] = {"rank": rank, "out_dim": out_dim, "n_draws": n_draws}
    g1, se = linear_class_complexity(
        X, spectral_bound=1.0, **kwargs, rng=np.random.default_rng(seed)
    )
    lin_err = 0.0
    for t in (c_grid[0], c_grid[-1]):
        gt, _ = linear_class_complexity(
            X, spectral_bound=float(t), **kwargs, rng=np.random.default_rng(seed)
        )
        lin_err = max(lin_err, abs(gt - t * g1) / (t * g1))
    b1 = one_layer_complexity_bound(X, spectral_bound=1.0, rank=rank, out_dim=out_dim)
    lip = float(np.sqrt(rank) * np.linalg.norm(X, 2) / X.shape[0])
    radius = lip * float(np.sqrt(2.0 * np.log(1.0 / level) / n_draws))
    radius_two = lip * float(np.sqrt(2.0 * np.log(2.0 / level) / n_draws))
    # kappa's normaliser, written out so that the closed-form test does not lean on b1
    scale = float(np.sqrt(rank * out_dim) * np.linalg.norm(X) / X.shape[0])
    violations: list[tuple[float, float]] = []
    for c0 in c0s:
        restated = [
            pinto_bound_as_restated(
                X, spectral_bounds=[float(c)], ranks=[rank], widths=[out_dim], c0=c0
            )
            for c in c_grid
        ]
        violations += [
            (float(c), c0) for c, b in zip(c_grid, restated, strict=True) if c * (g1 - radius) > b
        ]
    b_lo = pinto_bound_as_restated(X, spectral_bounds=[1.0], ranks=[rank], widths=[out_dim], c0=1)
    b_hi = pinto_bound_as_restated(X, spectral_bounds=[2.0], ranks=[rank], widths=[out_dim], c0=1)
    kappa = analytic_kappa(X, rank, out_dim)
    return {
        "m": X.shape[0],
        "d": X.shape[1],
        "k": out_dim,
        "r": rank,
        "g1": g1,
        "se": se,
        "bound_unit": b1,
        "kappa_hat": g1 / scale,
        "kappa": kappa,
        "kappa_ok": kappa is None or abs(g1 - kappa * scale) <= radius_two,
        "violations": violations,
        "corrected_violated": bool(g1 - radius > b1),
        "radius": radius,
        "linearity_error": lin_err,
        "restated_exponent": float(np.log2(b_hi / b_lo)),
    }


def deep_case(
    arch: Architecture,
    *,
    n_draws: int,
    n_starts: int,
    n_steps: int,
    n_random: int,
    z: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """Lower estimate of the unit-bound complexity of a deep class and the C0 each form needs.

    References
    ----------
    Claim E17 (depth >= 2).
    """
    X = rng.standard_normal((arch.m, arch.d))
    gamma = rng.standard_normal((n_draws, arch.m, arch.widths[-1]))
    sups = deep_lower_sups(
        X, gamma, arch, n_starts=n_starts, n_steps=n_steps, n_random=n_random, rng=rng
    )
    est = float(sups.mean() / arch.m)
    se = float(sups.std(ddof=1) / np.sqrt(n_draws) / arch.m)
    lower = max(est - z * se, 0.0)
    restated, at = required_c0(pinto_bound_as_restated, X, arch, lower)
    x_fro = float(np.linalg.norm(X))
    return {
        "arch": arch.label(),
        "z": z,
        "estimate": est,
        "se": se,
        "lower": lower,
        "c0_restated": restated,
        "c0_restated_at": at,
        "c0_corrected": corrected_c0(x_fro, arch.m, arch, lower),
    }


def _deep_summary(deep: list[dict[str, Any]]) -> str:
    if not deep:
        return "No depth >= 2 architecture in this budget."
    return (
        f"D >= 2 ({len(deep)} ReLU architectures from {deep[0]['arch']} to {deep[-1]['arch']}, "
        f"lower estimates by optimised and random networks, lower confidence bound at z = "
        f"{deep[0]['z']:.2f} SE): the "
        f"restated bound is not contradicted for C0 >= "
        f"{max(dd['c0_restated'] for dd in deep):.3f}, the corrected one for C0 >= "
        f"{max(dd['c0_corrected'] for dd in deep):.3f} (worst scaling of the C_i); no C0 "
        f"rescues D = 1."
    )


def check_e17(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim E17: the restated Thm 7 against exact one-layer complexities and deep lower estimates.

    Every comparison is one-sided at the Bonferroni level :math:`\alpha / n` (family-wise
    false-failure probability :math:`\alpha`, budget ``alpha``). At D = 1 a violation counts only
    when the estimate minus the Gaussian-concentration radius of :func:`one_layer_case` exceeds
    the bound (no normal approximation); the deep lower estimates use the estimate minus
    :math:`z_{\alpha/n}` standard errors (normal approximation to the mean of ``deep_draws``
    i.i.d. values). The restated bound fails for a given :math:`C_0` when some :math:`C_1` on the
    grid gives a significant violation.

    References
    ----------
    Claim E17.
    """
    n_draws = check_int(budget.get("n_draws", 400), "budget['n_draws']", low=2)
    cases = tuple(budget.get("cases", E17_CASES))
    c0s = tuple(float(c) for c in budget.get("c0s", E17_C0S))
    c_grid = np.geomspace(1e-4, 1e2, check_int(budget.get("n_c", 25), "budget['n_c']", low=2))
    deep_specs = tuple(budget.get("deep", E17_DEEP))
    alpha = float(budget.get("alpha", E17_ALPHA))
    n_tests = len(cases) * (c_grid.size * len(c0s) + 2) + len(deep_specs)
    level = alpha / n_tests
    z = float(stats.norm.isf(level))
    rows = []
    for m, d, k, r, kind in cases:
        X = e17_sample(m, d, kind, rng)
        rows.append(
            one_layer_case(X, r, k, c_grid=c_grid, c0s=c0s, n_draws=n_draws, level=level, rng=rng)
        )
    deep = [
        deep_case(
            Architecture(d, tuple(h), tuple(r), m),
            n_draws=check_int(budget.get("deep_draws", 64), "budget['deep_draws']", low=2),
            n_starts=int(budget.get("n_starts", 3)),
            n_steps=int(budget.get("n_steps", 40)),
            n_random=int(budget.get("n_random", 64)),
            z=z,
            rng=rng,
        )
        for d, h, r, m in deep_specs
    ]
    failed_c0 = sorted({c0 for row in rows for _, c0 in row["violations"]})
    corrected_bad = [row for row in rows if row["corrected_violated"]]
    kappa_bad = [row for row in rows if not row["kappa_ok"]]
    kappas = [row["kappa_hat"] for row in rows]
    unit = rows[0]
    g_half = 0.5 * chi_mean(1)
    b_half = pinto_bound_as_restated(
        np.ones((1, 1)), spectral_bounds=[0.5], ranks=[1], widths=[1], c0=1
    )
    thresholds = ", ".join(
        f"{min(kappas) / c:.3g} to {max(kappas) / c:.3g} at C0 = {c:g}" for c in c0s
    )
    evidence = (
        f"D = 1, {len(rows)} samples (m, d, k, r) from {cases[0][:4]} to {cases[-1][:4]}, "
        f"C_1 on {c_grid.size} points in [1e-4, 100], C0 in {list(c0s)}, {n_draws} Gamma "
        f"draws each; one-sided tests at family-wise false-failure probability {alpha:g} "
        f"(Bonferroni over {n_tests}; Monte Carlo error bounded by Gaussian concentration, the "
        f"Ky Fan supremum being sqrt(r) ‖X‖_2/m-Lipschitz in Gamma: radius up to "
        f"{max(r['radius'] for r in rows):.3g} at C_1 = 1). The class is linear in C_1 (rescaled "
        f"estimates agree to {max(r['linearity_error'] for r in rows):.1e} relative) while the "
        f"restated bound scales like C_1^{unit['restated_exponent']:.3f}, so it fails below "
        f"C_1 = kappa/C0, kappa = E KyFan_r(Gamma^T X)/(sqrt(r k) ‖X‖_F) in "
        f"[{min(kappas):.3f}, {max(kappas):.3f}]: thresholds {thresholds}. Significant "
        f"violations at {sum(len(r['violations']) for r in rows)} (case, C_1, C0) points, "
        f"for C0 in {failed_c0}. Smallest counterexample (exact, no Monte Carlo): m = d = k = r "
        f"= 1, x = 1, C0 = 1, C_1 = 1/2: G = C_1 sqrt(2/pi) = {g_half:.5f} > restated bound "
        f"C0 C_1^2 = {b_half:.5f}; for any C0, C_1 = 1/(2 C0) gives {g_half:.4f}/C0 > "
        f"{b_half:.4f}/C0. Closed-form kappa (E chi_n / sqrt n) matched in "
        f"{sum(r['kappa'] is not None for r in rows) - len(kappa_bad)}/"
        f"{sum(r['kappa'] is not None for r in rows)} cases. Corrected form (ours, Ky Fan + "
        f"Cauchy-Schwarz + Jensen): G <= C_1 sqrt(r_1 h_1) ‖X‖_F/m, i.e. B_1 sqrt(h_1) "
        f"prod_(i=2..D) C0 C_i, violated in {len(corrected_bad)}/{len(rows)} cases. "
        + _deep_summary(deep)
    )
    data = {"one_layer": rows, "deep": deep, "z": z, "alpha": alpha, "n_tests": n_tests}
    if kappa_bad:
        # The estimator disagreeing with its closed-form twin is a bug in our evidence, not a
        # property of the claim: stop instead of giving a verdict.
        raise RuntimeError(
            f"the complexity estimator disagrees with the closed-form kappa in {len(kappa_bad)} "
            "cases"
        )
    if not failed_c0:
        return Outcome(Verdict.VERIFIED, evidence, data)
    verdict = Verdict.REFUTED if corrected_bad else Verdict.REFUTED_AS_STATED
    return Outcome(verdict, evidence, data)
