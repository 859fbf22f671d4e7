r"""Numerical checks of the support of :math:`q_W` (claims D3.1, L3.2, T3.4).

Shapes are drawn like hypothesis would (m, n uniform in [1, max_dim], then every admissible
rank), from the check's ``rng``. Exact things (ranks, dimensions, draws) are compared with
``==``; floating-point comparisons carry a rounding tolerance stated next to them.

References: claims D3.1, L3.2, T3.4 of ``CLAIMS.md`` (and L3.3 for the symbolic side).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import FloatArray, check_int
from theory.geometry import (
    FactorPosterior,
    sample_factors,
    sample_mean_field,
    sample_weights,
    weight_variance,
)
from verification.claims.geometry.statistical import MOMENT_ALPHA, moment_test, random_posterior
from verification.claims.shared.tolerances import RANK_RTOL_FACTOR
from verification.registry import Outcome, Verdict

__all__ = [
    "check_d31",
    "check_l32",
    "check_t34",
    "rank_ratios",
    "shapes",
    "singular_law",
]

_EPS = float(np.finfo(np.float64).eps)


def shapes(n_shapes: int, max_dim: int, rng: np.random.Generator) -> Iterator[tuple[int, int]]:
    """``n_shapes`` shapes (m, n), each uniform on [1, max_dim]^2."""
    for _ in range(n_shapes):
        m, n = rng.integers(1, max_dim + 1, size=2)
        yield int(m), int(n)


def _wide_posterior(m: int, n: int, r: int, rng: np.random.Generator) -> FactorPosterior:
    """Means N(0, 1) and stds U(0.1, 2), each block scaled by 10^U(-3, 3): far from unit scale."""

    def scale() -> float:
        return float(10.0 ** rng.uniform(-3.0, 3.0))

    return FactorPosterior(
        scale() * rng.standard_normal((m, r)),
        scale() * rng.uniform(0.1, 2.0, (m, r)),
        scale() * rng.standard_normal((n, r)),
        scale() * rng.uniform(0.1, 2.0, (n, r)),
    )


def check_d31(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim D3.1: the toolkit's sampler of q_W is the push-forward of q(A, B).

    D3.1 defines q_W as the law of A B^T; there is nothing to prove, so the check verifies the
    implementation of the definition: for random shapes and posteriors, (1) ``sample_factors``
    draws from q(A, B) (moment test of every factor entry and every pair, against the diagonal
    covariance), (2) ``sample_weights`` is A B^T of the same draws, draw for draw, for the same
    seed (to :math:`2\gamma_r \sum_k |A_{ik}| |B_{jk}|`, :math:`\gamma_r = r\varepsilon/(1 -
    r\varepsilon)`, the rounding of two length-r dot products), (3) the Monte Carlo law of W
    matches ``weight_moments`` (:func:`moment_test`), at family-wise level :data:`MOMENT_ALPHA`.

    References
    ----------
    Claim D3.1.
    """
    n_shapes = check_int(budget.get("n_shapes", 4), "budget['n_shapes']", low=1)
    n_samples = check_int(budget.get("n_samples", 20_000), "budget['n_samples']", low=100)
    max_dim = check_int(budget.get("max_dim", 4), "budget['max_dim']", low=1)
    level = MOMENT_ALPHA / (2 * n_shapes)
    rows: list[dict[str, Any]] = []
    for m, n in shapes(n_shapes, max_dim, rng):
        r = int(rng.integers(1, min(m, n) + 1))
        post = random_posterior(m, n, r, rng)
        seed = int(rng.integers(2**63))
        a, b = sample_factors(
            post.mu_a, post.sigma_a, post.mu_b, post.sigma_b,
            n_samples=n_samples, rng=np.random.default_rng(seed),
        )  # fmt: skip
        w = sample_weights(
            post.mu_a, post.sigma_a, post.mu_b, post.sigma_b,
            n_samples=n_samples, rng=np.random.default_rng(seed),
        )  # fmt: skip
        twin = np.sum(a[:, :, None, :] * b[:, None, :, :], axis=-1)
        gamma = r * _EPS / (1.0 - r * _EPS)
        bound = 2.0 * gamma * np.einsum("sik,sjk->sij", np.abs(a), np.abs(b))
        factors = np.concatenate([a.reshape(n_samples, -1), b.reshape(n_samples, -1)], axis=1)
        f_mean = np.concatenate([post.mu_a.reshape(-1), post.mu_b.reshape(-1)])
        f_var = np.concatenate([post.sigma_a.reshape(-1), post.sigma_b.reshape(-1)]) ** 2
        mean, cov = post.moments()
        t_f = moment_test(factors, f_mean, np.diag(f_var), level)
        t_w = moment_test(w, mean, cov, level)
        rows.append(
            {
                "shape": (m, n, r),
                "product_err": float(np.max(np.abs(w - twin) / bound, initial=0.0)),
                "product_ok": bool(np.all(np.abs(w - twin) <= bound)),
                "factors_z": t_f["max_abs_z"],
                "factors_rejected": t_f.rejected,
                "weights_z": t_w["max_abs_z"],
                "weights_rejected": t_w.rejected,
                "z_crit": max(t_f["z_crit"], t_w["z_crit"]),
            }
        )
    evidence = (
        f"D3.1 is a definition (q_W is the law of A B^T under q(A, B)); what was checked is the "
        f"toolkit's sampler. On {n_shapes} random (m, n, r) ("
        f"{', '.join(str(r['shape']) for r in rows)}), {n_samples} draws each: sample_factors "
        f"matches the factor posterior (largest abs z {max(r['factors_z'] for r in rows):.2f} "
        f"over every entry mean and every pair covariance); sample_weights equals A B^T of the "
        f"same seed's factors draw for draw (largest error "
        f"{max(r['product_err'] for r in rows):.2f} of the dot-product rounding bound "
        f"2 gamma_r sum_k abs(A_ik B_jk)); the Monte Carlo mean and covariance of W agree with "
        f"weight_moments (largest abs z {max(r['weights_z'] for r in rows):.2f}, thresholds up "
        f"to {max(r['z_crit'] for r in rows):.2f}; family-wise false-failure probability "
        f"{MOMENT_ALPHA:g}, asymptotic, Bonferroni)."
    )
    data = {"rows": rows, "alpha": MOMENT_ALPHA}
    bad = [r for r in rows if not r["product_ok"] or r["factors_rejected"] or r["weights_rejected"]]
    if bad:
        return Outcome(
            Verdict.REFUTED,
            f"The sampler is not the push-forward at (m, n, r) = {bad[0]['shape']}. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)


def rank_ratios(w: FloatArray, r: int) -> tuple[FloatArray, FloatArray]:
    r""":math:`\sigma_{r+1}/\sigma_1` (0 when r = min(m, n)) and :math:`\sigma_r/\sigma_1` of a
    stack ``w`` of shape (S, m, n).

    Examples
    --------
    >>> above, at = rank_ratios(np.array([np.diag([2.0, 1.0, 0.0])]), 2)
    >>> float(above[0]), float(at[0])
    (0.0, 0.5)
    """
    s = np.linalg.svd(w, compute_uv=False)
    above = s[:, r] / s[:, 0] if r < s.shape[1] else np.zeros(s.shape[0])
    return above, s[:, r - 1] / s[:, 0]


def check_l32(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim L3.2: every sample W = A B^T has rank <= r.

    ``budget["n_shapes"]`` shapes m, n in [1, ``budget["max_dim"]``], every r in
    [1, min(m, n)], ``budget["n_samples"]`` draws each from a random posterior whose blocks are
    scaled by 10^U(-3, 3). The rank is ``np.linalg.matrix_rank`` with tolerance
    :data:`RANK_RTOL_FACTOR` eps max(m, n) sigma_1; the evidence also gives the largest
    sigma_(r+1)/sigma_1 and the smallest sigma_r/sigma_1 (rank exactly r, so the tolerance does
    not hide a real rank).

    References
    ----------
    Claim L3.2.
    """
    n_shapes = check_int(budget.get("n_shapes", 60), "budget['n_shapes']", low=1)
    n_samples = check_int(budget.get("n_samples", 16), "budget['n_samples']", low=1)
    max_dim = check_int(budget.get("max_dim", 12), "budget['max_dim']", low=1)
    n_cases = n_draws = exact = 0
    worst_above, worst_at = 0.0, 1.0
    counterexample: dict[str, Any] | None = None
    for m, n in shapes(n_shapes, max_dim, rng):
        for r in range(1, min(m, n) + 1):
            post = _wide_posterior(m, n, r, rng)
            w = sample_weights(
                post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=n_samples, rng=rng
            )
            above, at = rank_ratios(w, r)
            tol = RANK_RTOL_FACTOR * _EPS * max(m, n)
            ranks = [int(np.linalg.matrix_rank(x, tol=tol * np.linalg.norm(x, 2))) for x in w]
            n_cases += 1
            n_draws += n_samples
            exact += sum(k == r for k in ranks)
            worst_above = max(worst_above, float(above.max()) / (_EPS * max(m, n)))
            worst_at = min(worst_at, float(at.min()))
            if max(ranks) > r and counterexample is None:
                counterexample = {"shape": (m, n, r), "rank": max(ranks)}
    evidence = (
        f"{n_cases} cases (m, n, r) from {n_shapes} shapes with m, n in [1, {max_dim}] and every "
        f"r in [1, min(m, n)], {n_samples} draws each ({n_draws} matrices), factor means and "
        f"stds scaled by 10^U(-3, 3) per block. matrix_rank with tolerance {RANK_RTOL_FACTOR} "
        f"eps max(m, n) sigma_1: rank <= r on every draw, exactly r on {exact}/{n_draws}; "
        f"largest sigma_(r+1)/sigma_1 = {worst_above:.2f} eps max(m, n), smallest "
        f"sigma_r/sigma_1 = {worst_at:.2e}, so the threshold separates the two by orders of "
        f"magnitude."
    )
    data = {
        "n_cases": n_cases,
        "n_draws": n_draws,
        "exact_rank_r": exact,
        "max_above_units": worst_above,
        "min_at_ratio": worst_at,
    }
    if counterexample is not None:
        return Outcome(
            Verdict.REFUTED,
            f"A sample of rank {counterexample['rank']} at (m, n, r) = "
            f"{counterexample['shape']}. " + evidence,
            {**data, "counterexample": counterexample},
        )
    return Outcome(Verdict.VERIFIED, evidence, data)


#: (m, n, r) of T3.4: r < min(m, n), square and not, rank one to half the width.
T34_SHAPES = ((6, 5, 2), (4, 4, 1), (8, 3, 2), (12, 12, 6))
#: Confidence of the upper bound on the mean-field mass near rank r.
T34_ALPHA = 1e-3


def singular_law(
    post: FactorPosterior, n_samples: int, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    r""":math:`\sigma_{r+1}/\sigma_1` of draws of ``post`` and of the mean-field posterior with
    the same entrywise means and variances (``weight_variance``).

    Examples
    --------
    >>> from verification.claims.geometry.statistical import random_posterior
    >>> lr, mf = singular_law(random_posterior(3, 3, 1, np.random.default_rng(0)), 50,
    ...                       np.random.default_rng(1))
    >>> bool(lr.max() < 1e-14 < mf.min())
    True
    """
    w = sample_weights(
        post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=n_samples, rng=rng
    )
    sd = np.sqrt(weight_variance(post.mu_a, post.sigma_a, post.mu_b, post.sigma_b))
    mf = sample_mean_field(post.mu_a @ post.mu_b.T, sd, n_samples=n_samples, rng=rng)
    return rank_ratios(w, post.r)[0], rank_ratios(mf, post.r)[0]


def check_t34(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim T3.4: q_W charges a Lebesgue-null set when r < min(m, n); a mean-field law does not.

    For each shape of :data:`T34_SHAPES`, ``budget["n_samples"]`` draws from a random factor
    posterior and from the mean-field posterior with the same means and variances. The event
    :math:`E = \{\sigma_{r+1}(W) \le t\, \sigma_1(W)\}`, :math:`t` = :data:`RANK_RTOL_FACTOR`
    eps max(m, n), is (up to rounding) the null set :math:`R_r`. Every low-rank draw must lie
    in E; for the mean-field law, the count in E gives a Clopper-Pearson upper bound on its
    mass at confidence 1 - :data:`T34_ALPHA` (per shape). Together with L3.3 (every
    (r+1)-minor of A B^T vanishes identically, so :math:`R_r` is null) this is the evidence
    that q_W is singular.

    References
    ----------
    Claims T3.4 and L3.3.
    """
    n_samples = check_int(budget.get("n_samples", 2000), "budget['n_samples']", low=10)
    rows: list[dict[str, Any]] = []
    for m, n, r in T34_SHAPES:
        post = random_posterior(m, n, r, rng)
        lr, mf = singular_law(post, n_samples, rng)
        t = RANK_RTOL_FACTOR * _EPS * max(m, n)
        hits = int(np.sum(mf <= t))
        upper = float(stats.beta.ppf(1.0 - T34_ALPHA, hits + 1, n_samples - hits))
        rows.append(
            {
                "shape": (m, n, r),
                "threshold": t,
                "low_rank_max": float(lr.max()),
                "low_rank_max_units": float(lr.max()) / (_EPS * max(m, n)),
                "low_rank_in_null_set": int(np.sum(lr <= t)),
                "mean_field_in_null_set": hits,
                "mean_field_mass_upper": upper,
                "mean_field_quantiles": [float(v) for v in np.quantile(mf, [0.0, 0.01, 0.5])],
            }
        )
    evidence = (
        f"{n_samples} draws per shape (m, n, r) in {', '.join(str(s) for s in T34_SHAPES)}, "
        f"random factor posteriors (means N(0, 1), stds U(0.3, 1)) against mean-field posteriors "
        f"with the same entrywise means and variances. Low rank: sigma_(r+1)/sigma_1 at most "
        f"{max(r['low_rank_max_units'] for r in rows):.2f} "
        f"eps max(m, n); all {len(rows) * n_samples} draws lie in the rounding neighbourhood of "
        f"R_r (threshold {RANK_RTOL_FACTOR} eps max(m, n)). Mean field: sigma_(r+1)/sigma_1 has "
        f"a continuous law with minimum, 1 percent and median quantiles "
        + "; ".join(
            f"{r['shape']}: {', '.join(f'{q:.2e}' for q in r['mean_field_quantiles'])}"
            for r in rows
        )
        + f"; {sum(r['mean_field_in_null_set'] for r in rows)} draws in that neighbourhood, so "
        f"its mass there is below {max(r['mean_field_mass_upper'] for r in rows):.1e} "
        f"(Clopper-Pearson, confidence {1 - T34_ALPHA:g} per shape) against 1 for q_W. With the "
        f"symbolic minors of L3.3 (R_r Lebesgue-null) this shows q_W singular."
    )
    data = {"rows": rows, "alpha": T34_ALPHA}
    escaped = [r for r in rows if r["low_rank_in_null_set"] < n_samples]
    if escaped:
        return Outcome(
            Verdict.REFUTED,
            f"A low-rank draw has sigma_(r+1)/sigma_1 = {escaped[0]['low_rank_max']:.3g} above "
            f"the rounding threshold at (m, n, r) = {escaped[0]['shape']}. " + evidence,
            data,
        )
    if any(r["mean_field_in_null_set"] for r in rows):
        return Outcome(
            Verdict.UNTESTABLE,
            "Mean-field draws also fall in the rounding neighbourhood of R_r, so the sampler "
            "cannot tell the two laws apart. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
