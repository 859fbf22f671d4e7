r"""Which entries of :math:`W = A B^\top` are dependent (claim L3.5b).

Two entries that share neither a row nor a column are functions of disjoint sets of independent
factor entries, hence independent; entries sharing a row (or a column) share a row of A (or of
B), and are correlated when the factor means are nonzero. The tests (see
:mod:`verification.claims.geometry.statistical`) look at the entries and at their squares, so
that "independent" is tested beyond "uncorrelated", and they are shown to have power: with zero
factor means, shared-index entries are uncorrelated but dependent, and the squares detect it.

References: claim L3.5b of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import FloatArray, check_int
from theory.geometry import FactorPosterior, sample_mean_field, sample_weights
from verification.claims.geometry.statistical import (
    MOMENT_ALPHA,
    correlation_z,
    moment_test,
    random_posterior,
)
from verification.registry import Outcome, Verdict

__all__ = ["check_l35b", "entry_pairs", "pair_z"]


#: (m, n, r) of the L3.5b check: 36 pairs share neither row nor column, 30 share one.
L35B_SHAPE = (4, 3, 2)
#: The pairs of functions (f, g) in correlation tests: entries, squares and the mixed pairs.
_FUNCS = (("x", "x"), ("x2", "x2"), ("x", "x2"), ("x2", "x"))


def entry_pairs(m: int, n: int) -> dict[str, list[tuple[int, int]]]:
    """Pairs p < q of row-major indices of an m x n matrix, by what the entries share.

    Examples
    --------
    >>> {k: len(v) for k, v in entry_pairs(4, 3).items()}
    {'neither': 36, 'row': 12, 'column': 18}
    """
    out: dict[str, list[tuple[int, int]]] = {"neither": [], "row": [], "column": []}
    for p in range(m * n):
        for q in range(p + 1, m * n):
            (i, j), (i2, j2) = divmod(p, n), divmod(q, n)
            key = "row" if i == i2 else "column" if j == j2 else "neither"
            out[key].append((p, q))
    return out


def pair_z(
    x: FloatArray, pairs: list[tuple[int, int]], f: str, g: str, *, studentized: bool = False
) -> FloatArray:
    """:func:`correlation_z` of (f(x_p), g(x_q)) over ``pairs``; f, g in {"x", "x2"}."""
    p, q = np.array(pairs).T
    fx = x[:, p] ** 2 if f == "x2" else x[:, p]
    gx = x[:, q] ** 2 if g == "x2" else x[:, q]
    return correlation_z(fx, gx, studentized=studentized)


def _draws(post: FactorPosterior, n_samples: int, rng: np.random.Generator) -> FloatArray:
    w = sample_weights(
        post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=n_samples, rng=rng
    )
    return w.reshape(n_samples, -1)


def check_l35b(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim L3.5b: independence without a shared index, correlation with one, diagonal
    mean-field covariance.

    Three posteriors of shape :data:`L35B_SHAPE`, ``budget["n_samples"]`` draws each: (1) a
    low-rank posterior with positive factor means, (2) the same with zero means, (3) the
    mean-field posterior with the mean and variances of (1). Null statistics (they must not
    reject): :math:`\sqrt S \hat\rho(f(W_p), g(W_q))` for every pair sharing neither row nor
    column in (1) and (2), and for every pair in (3), with :math:`f, g \in \{x, x^2\}`; in (2)
    also the entries and mixed pairs of row- or column-sharing entries, which the exact
    covariance says are uncorrelated (studentised, as they are dependent). Power statistics
    (they must reject): the correlation of every row- or column-sharing pair in (1), and of
    their squares in (2) (uncorrelated but dependent). Plus :func:`moment_test` of (1) against
    ``weight_moments`` and of (3) against a diagonal covariance. All at family-wise level
    :data:`MOMENT_ALPHA` (half for the correlation statistics, Bonferroni; a quarter for each
    moment test). A rejected independence statistic refutes the claim; samples that contradict
    ``weight_moments`` (the moment test of (1), or the shared-index pairs of (2) that it says
    are uncorrelated) refute the toolkit's sampler or covariance, and the evidence says so.

    References
    ----------
    Claim L3.5b.
    """
    n_samples = check_int(budget.get("n_samples", 20_000), "budget['n_samples']", low=100)
    m, n, r = budget.get("shape", L35B_SHAPE)
    pairs = entry_pairs(m, n)
    shared = pairs["row"] + pairs["column"]
    every = pairs["neither"] + shared
    post = random_posterior(m, n, r, rng, positive_means=True)
    zero = FactorPosterior(np.zeros((m, r)), post.sigma_a, np.zeros((n, r)), post.sigma_b)
    mean, cov = post.moments()
    zero_cov = zero.moments()[1]
    p, q = np.array(shared).T
    # L3.5a with zero means: every off-diagonal term carries a factor mean, so exactly 0.
    zero_offdiag = float(np.abs(zero_cov[p, q]).max())
    x1, x2 = _draws(post, n_samples, rng), _draws(zero, n_samples, rng)
    sd = np.sqrt(np.diag(cov)).reshape(m, n)
    x3 = sample_mean_field(mean, sd, n_samples=n_samples, rng=rng).reshape(n_samples, -1)

    null = {
        "low-rank, no shared index": np.concatenate(
            [pair_z(x1, pairs["neither"], f, g) for f, g in _FUNCS]
        ),
        "zero means, no shared index": np.concatenate(
            [pair_z(x2, pairs["neither"], f, g) for f, g in _FUNCS]
        ),
        "zero means, shared index, entries and mixed": np.concatenate(
            # Uncorrelated but dependent: only the studentised statistic is N(0, 1) here.
            [
                pair_z(x2, shared, f, g, studentized=True)
                for f, g in _FUNCS
                if (f, g) != ("x2", "x2")
            ]
        ),
        "mean-field, every pair": np.concatenate([pair_z(x3, every, f, g) for f, g in _FUNCS]),
    }
    power = {
        "low-rank, shared index": pair_z(x1, shared, "x", "x", studentized=True),
        "zero means, shared index, squares": pair_z(x2, shared, "x2", "x2"),
    }
    n_stats = sum(v.size for v in null.values()) + sum(v.size for v in power.values())
    z_crit = float(stats.norm.isf(MOMENT_ALPHA / 2 / (2 * n_stats)))
    moments_lr = moment_test(x1, mean, cov, MOMENT_ALPHA / 4)
    moments_mf = moment_test(x3, mean, np.diag(np.diag(cov)), MOMENT_ALPHA / 4)
    rho_exact = cov[p, q] / np.sqrt(cov[p, p] * cov[q, q])
    null_max = {k: float(np.abs(v).max()) for k, v in null.items()}
    power_min = {k: float(np.abs(v).min()) for k, v in power.items()}
    data = {
        "null_max_abs_z": null_max,
        "power_min_abs_z": power_min,
        "z_crit": z_crit,
        "n_stats": n_stats,
        "rho_exact_range": (float(rho_exact.min()), float(rho_exact.max())),
        "moments_low_rank": {"max_abs_z": moments_lr["max_abs_z"], "z_crit": moments_lr["z_crit"]},
        "moments_mean_field": {
            "max_abs_z": moments_mf["max_abs_z"],
            "z_crit": moments_mf["z_crit"],
        },
        "zero_means_offdiag": zero_offdiag,
        "alpha": MOMENT_ALPHA,
        "n_samples": n_samples,
    }
    evidence = (
        f"{n_samples} draws each of a {m} x {n} rank-{r} posterior with factor means U(0.5, "
        f"1.5) and stds U(0.3, 1), the same with zero means, and the mean-field posterior with "
        f"the same mean and variances ({len(pairs['neither'])} entry pairs share no index, "
        f"{len(shared)} share a row or column). Independence (sqrt(S) times the sample "
        f"correlation of entries, squares and mixed pairs; {n_stats} statistics, threshold "
        f"{z_crit:.2f}): largest abs z "
        + ", ".join(f"{v:.2f} ({k})" for k, v in null_max.items())
        + f". Shared index: exact correlations {rho_exact.min():.3f} to {rho_exact.max():.3f} "
        f"from weight_moments, smallest abs z against zero correlation (studentised) "
        f"{power_min['low-rank, shared index']:.1f}; Monte Carlo covariances agree with "
        f"weight_moments (largest abs z {moments_lr['max_abs_z']:.2f}, threshold "
        f"{moments_lr['z_crit']:.2f}). With zero factor means shared-index entries are "
        f"uncorrelated (weight_moments gives {zero_offdiag:g}) but dependent: their squares "
        f"give smallest abs z {power_min['zero means, shared index, squares']:.1f}, so "
        f"correlation needs nonzero means. Mean-field covariance diagonal: largest abs z "
        f"{moments_mf['max_abs_z']:.2f} "
        f"(threshold {moments_mf['z_crit']:.2f}). Family-wise false-failure probability "
        f"{MOMENT_ALPHA:g} (asymptotic)."
    )
    for key in (
        "low-rank, no shared index",
        "zero means, no shared index",
        "mean-field, every pair",
    ):
        if null_max[key] > z_crit:
            return Outcome(
                Verdict.REFUTED,
                f"Independence rejected ({key}): abs z = {null_max[key]:.2f} > {z_crit:.2f}. "
                + evidence,
                data,
            )
    if moments_mf.rejected:
        return Outcome(
            Verdict.REFUTED,
            f"The mean-field sample covariance is not diagonal: abs z = "
            f"{moments_mf['max_abs_z']:.2f} at {moments_mf['worst']}. " + evidence,
            data,
        )
    broken = [k for k in null if null_max[k] > z_crit] + (
        ["moments"] if moments_lr.rejected else []
    )
    if broken:
        # The exact correlations of the evidence come from weight_moments; samples that
        # contradict it mean the toolkit's sampler or covariance is wrong.
        return Outcome(
            Verdict.REFUTED,
            "The toolkit's samples of W are inconsistent with its weight_moments ("
            + ", ".join(broken)
            + "): the sampler or the L3.5a covariance is wrong, so the toolkit's account of "
            "which entries are correlated is refuted (not the paper's statement). " + evidence,
            {**data, "toolkit_error": broken},
        )
    if min(power_min.values()) <= z_crit:
        return Outcome(
            Verdict.UNTESTABLE,
            "A shared-index pair was not detected as dependent, so the test lacks power here. "
            + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
