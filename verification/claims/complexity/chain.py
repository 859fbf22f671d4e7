r"""Claim E13 on one layer: :math:`\hat G(F_{BNN}) = \hat G(F_{supp}) \le \hat G(F_{Pinto})`.

One layer :math:`x \mapsto A B^\top x` with Gaussian factors projected onto the spectral balls
of E4 (:func:`verification.claims.complexity.bounded.clip_spectral`), so every sampled
:math:`W = AB^\top` has rank at most r and :math:`\|W\|_2 \le C = C^A C^B` (E5): the sampled
networks lie in :math:`F_{Pinto}(C, r) = \{x \mapsto Wx : \|W\|_2 \le C, \mathrm{rank}\,W \le
r\}`. Their predictive mean :math:`E[A] E[B]^\top` (A and B independent) is estimated by the
product of Monte Carlo factor means, itself a product of matrices in the balls, hence in the
class; the Monte Carlo average of the sampled W is a convex combination of them (in
:math:`\mathrm{conv} F_{Pinto}`, rank possibly above r).

With common draws :math:`\Gamma` the comparison is exact draw by draw: the finite class's
supremum :math:`\max_f \langle \Gamma, f\rangle / m` cannot exceed the linear class's
:math:`\frac Cm \sum_{i \le r} \sigma_i(\Gamma^\top X)` (the sup over conv F_Pinto is the same,
E9), up to rounding.

References: claim E13 of ``CLAIMS.md`` (with E5, E9 and E11 as its links).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from theory._validation import FloatArray, check_int
from verification.claims.complexity.bounded import clip_spectral, norm_slack
from verification.claims.complexity.draws import (
    common_estimate,
    common_gamma,
    common_linear_estimate,
    inner_product_slack,
    per_draw_sups,
)
from verification.claims.complexity.predictive import ky_fan_sups, maximisers
from verification.claims.shared.tolerances import RANK_RTOL_FACTOR
from verification.registry import Outcome, Verdict

__all__ = ["check_e13", "clipped_one_layer", "ky_fan_slack", "one_layer_posterior"]

_EPS = float(np.finfo(np.float64).eps)


def ky_fan_slack(x: FloatArray, gamma: FloatArray, bound: float, rank: int) -> FloatArray:
    r"""Rounding slack of the linear class's supremum on each draw: the product
    :math:`M = \Gamma^\top X` is off by at most :math:`m\varepsilon |\Gamma|^\top |X|`, a
    backward-stable SVD moves each singular value by :math:`32 (k + d)\varepsilon \|M\|_2`;
    r of them, times C/m."""
    m, d = x.shape
    k = gamma.shape[2]
    mats = np.swapaxes(gamma, 1, 2) @ x
    abs_prod = np.abs(np.swapaxes(gamma, 1, 2)) @ np.abs(x)
    err = m * _EPS * np.linalg.norm(abs_prod, axis=(1, 2)) + norm_slack(k, d) * np.linalg.norm(
        mats, 2, axis=(1, 2)
    )
    out: FloatArray = bound * rank * err / m
    return out


def one_layer_posterior(
    k: int, d: int, r: int, c_a: float, c_b: float, rng: np.random.Generator
) -> tuple[FloatArray, float, FloatArray, float]:
    """A Gaussian factor posterior ``(mu_a (k, r), s_a, mu_b (d, r), s_b)`` whose means have
    spectral norms 0.5 to 1.5 times the bounds and whose noise is 5% to 50% of them, so that
    clipping is active on some draws and not on others."""
    mu_a = rng.standard_normal((k, r))
    mu_a *= c_a * rng.uniform(0.5, 1.5) / np.linalg.norm(mu_a, 2)
    mu_b = rng.standard_normal((d, r))
    mu_b *= c_b * rng.uniform(0.5, 1.5) / np.linalg.norm(mu_b, 2)
    s_a = c_a * float(rng.uniform(0.05, 0.5)) / np.sqrt(k + r)
    s_b = c_b * float(rng.uniform(0.05, 0.5)) / np.sqrt(d + r)
    return mu_a, s_a, mu_b, s_b


def clipped_one_layer(
    posterior: tuple[FloatArray, float, FloatArray, float],
    c_a: float,
    c_b: float,
    n: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``n`` draws of the posterior's factors projected onto E4's balls, and the unclipped
    products (to show what E4 excludes): ``(A (n, k, r), B (n, d, r), W_raw (n, k, d))``."""
    mu_a, s_a, mu_b, s_b = posterior
    a = mu_a + s_a * rng.standard_normal((n, *mu_a.shape))
    b = mu_b + s_b * rng.standard_normal((n, *mu_b.shape))
    raw: FloatArray = a @ np.swapaxes(b, 1, 2)
    return clip_spectral(a, c_a), clip_spectral(b, c_b), raw


def check_e13(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim E13 on one layer: the support and the predictive mean of an E4 posterior have
    empirical Gaussian complexity at most the low-rank linear class's.

    ``budget["n_cases"]`` cases with m in [2, 24], d in [1, 6], k in [1, 4], r in
    [1, min(k, d)], :math:`C^A, C^B \in U(0.3, 2)`: ``budget["n_networks"]`` clipped networks,
    their Monte Carlo average and the predictive mean (product of factor means over
    ``budget["n_mean"]`` draws), ``budget["n_draws"]`` common draws. Checked: (1) every network
    and the predictive mean are in :math:`F_{Pinto}(C, r)` (E5; rank at the L3.2 tolerance);
    (2) adding the Monte Carlo average leaves the estimate unchanged (E9); (3) the finite class's
    estimate is at most ``linear_class_complexity``, draw by draw and on average, up to rounding.

    References
    ----------
    Claim E13.
    """
    n_cases = check_int(budget.get("n_cases", 8), "budget['n_cases']")
    n_net = check_int(budget.get("n_networks", 64), "budget['n_networks']")
    n_mean = check_int(budget.get("n_mean", 2000), "budget['n_mean']")
    n_draws = check_int(budget.get("n_draws", 2000), "budget['n_draws']", low=2)
    bad: list[dict[str, Any]] = []
    n_max = check_int(budget.get("n_maximisers", 20), "budget['n_maximisers']", low=0)
    ratios, unclipped_out, worst_common, worst_tight = [], [], 0.0, 0.0
    for case in range(n_cases):
        m, d, k = int(rng.integers(2, 25)), int(rng.integers(1, 7)), int(rng.integers(1, 5))
        r = int(rng.integers(1, min(k, d) + 1))
        c_a, c_b = (float(v) for v in rng.uniform(0.3, 2.0, size=2))
        bound = c_a * c_b
        x = rng.standard_normal((m, d))
        posterior = one_layer_posterior(k, d, r, c_a, c_b, rng)
        a, b, raw = clipped_one_layer(posterior, c_a, c_b, n_net, rng)
        w = a @ np.swapaxes(b, 1, 2)
        # E[A B^T] = E[A] E[B]^T (independent factors); the factor means are averages of points
        # of the balls, so their product is in F_Pinto itself.
        a_mc, b_mc, _ = clipped_one_layer(posterior, c_a, c_b, n_mean, rng)
        w_mean = a_mc.mean(axis=0) @ b_mc.mean(axis=0).T
        members = np.concatenate([w, w_mean[None]])
        norms = np.linalg.norm(members, 2, axis=(1, 2))
        tol = RANK_RTOL_FACTOR * _EPS * max(k, d)
        ranks = [
            int(np.linalg.matrix_rank(v, tol=tol * max(s, 1e-300)))
            for v, s in zip(members, norms, strict=True)
        ]
        unclipped_out.append(float(np.mean(np.linalg.norm(raw, 2, axis=(1, 2)) > bound)))
        if norms.max() > bound * (1.0 + norm_slack(k, d, r)) or max(ranks) > r:
            bad.append(
                {
                    "case": case,
                    "what": "a member outside F_Pinto",
                    "shape": (m, d, k, r),
                    "norm/C": float(norms.max() / bound),
                    "rank": max(ranks),
                }
            )
        outputs = np.einsum("md,skd->smk", x, members)
        average = np.einsum("md,kd->mk", x, w.mean(axis=0))[None]
        finite = np.concatenate([outputs, average])
        seed = int(rng.integers(2**63))
        gamma = common_gamma(seed, n_draws, m, k)
        # Control of tightness: the maximisers C U_r V_r^T of the first draws are members too.
        n_tight = min(n_max, n_draws)
        tight = np.concatenate(
            [finite, np.einsum("md,skd->smk", x, maximisers(x, gamma[:n_tight], bound, r))]
        )
        est_supp, _ = common_estimate(outputs[:-1], n_draws, seed)
        est_avg, _ = common_estimate(np.concatenate([outputs[:-1], average]), n_draws, seed)
        est_all, _ = common_estimate(finite, n_draws, seed)
        est_tight, _ = common_estimate(tight, n_draws, seed)
        est_lin, _ = common_linear_estimate(x, bound, r, k, n_draws, seed)
        sups, sups_tight = per_draw_sups(finite, gamma), per_draw_sups(tight, gamma)
        slack_f, slack_t = inner_product_slack(finite, gamma), inner_product_slack(tight, gamma)
        slack_l = ky_fan_slack(x, gamma, bound, r)
        if abs(float(sups.mean()) - est_all) > slack_f.mean():
            raise RuntimeError(
                "empirical_gaussian_complexity no longer draws Gamma row by row from its rng; "
                "E13's common-draw comparison needs updating"
            )
        twin = ky_fan_sups(x, gamma, bound, r)
        # Module (summed singular values) and twin (explicit maximiser) each carry the slack.
        common = abs(float(twin.mean()) - est_lin) / (2.0 * float(slack_l.mean()))
        worst_common = max(worst_common, common)
        per_draw = sups_tight - twin - slack_t - slack_l
        gap = (twin[:n_tight] - sups_tight[:n_tight]) / (slack_t + slack_l)[:n_tight]
        worst_tight = max(worst_tight, float(np.abs(gap).max()))
        checks = {
            "the Monte Carlo average changed the estimate": abs(est_avg - est_supp)
            > slack_f.mean(),
            "linear_class_complexity differs from the explicit maximiser": common > 1.0,
            "G(finite) > G(F_Pinto)": est_tight > est_lin + slack_t.mean() + slack_l.mean(),
            "a draw's finite supremum exceeds the class's": bool((per_draw > 0).any()),
            "a maximiser does not reach the Ky Fan value": bool((np.abs(gap) > 1.0).any()),
        }
        for what, failed in checks.items():
            if failed:
                bad.append(
                    {
                        "case": case,
                        "what": what,
                        "shape": (m, d, k, r),
                        "est_finite": est_all,
                        "est_with_maximisers": est_tight,
                        "est_linear": est_lin,
                    }
                )
        ratios.append(est_all / est_lin)
    evidence = (
        f"{n_cases} one-layer cases (m <= 24, d <= 6, k <= 4, r <= min(k, d), C^A, C^B in "
        f"U(0.3, 2)), {n_net} clipped networks + their Monte Carlo average + the predictive "
        f"mean E[A] E[B]^T ({n_mean} factor draws), {n_draws} common draws: every member is in "
        f"F_Pinto(C^A C^B, r); the average leaves the estimate unchanged; G(finite) / "
        f"G(F_Pinto) from {min(ratios):.3f} to {max(ratios):.3f}, never above 1 draw by draw "
        f"({len(bad)} violations beyond rounding). Control: adding the maximisers C U_r V_r^T "
        f"of the first {n_max} draws makes the finite supremum equal the class's on those draws "
        f"(within {worst_tight:.2g} of the rounding slack), so the comparison is tight; "
        f"linear_class_complexity equals the explicit-maximiser twin on the same draws to "
        f"{worst_common:.2g} of the rounding slack. Without clipping "
        f"{100 * max(unclipped_out):.3g}% of sampled W exceed C in the worst case (E4 matters)."
    )
    data = {
        "cases": n_cases,
        "ratios": ratios,
        "violations": len(bad),
        "unclipped_fraction_above_c": unclipped_out,
        "twin_difference_slacks": worst_common,
        "failure_kinds": sorted({b["what"] for b in bad}),
    }
    if bad:
        return Outcome(
            Verdict.REFUTED,
            f"Counterexample {bad[0]}. " + evidence,
            {**data, "counterexample": bad[0]},
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
