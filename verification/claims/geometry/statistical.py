r"""Monte Carlo tests of the moments of :math:`q_W`, and the statistical twin of L3.5a.

Every test here is a two-sided z-test whose threshold comes from a stated false-failure
probability, Bonferroni-corrected for the number of statistics it looks at, and from the sample
size; none uses a tuned tolerance. With :math:`S` i.i.d. draws :math:`x_s \in \mathbb R^p` of
``W.reshape(-1)`` and the claimed mean :math:`\mu` and covariance :math:`C`:

.. math::

    z_p = \frac{\bar x_p - \mu_p}{\sqrt{C_{pp}/S}}, \qquad
    z_{pq} = \frac{\bar y_{pq} - C_{pq}}{\hat s_{pq} / \sqrt S}, \quad
    y_{s,pq} = (x_{sp} - \mu_p)(x_{sq} - \mu_q),

with :math:`\hat s_{pq}` the sample standard deviation of :math:`y_{pq}` (the fourth moments are
estimated, not assumed). Under the claim each :math:`z` is asymptotically :math:`N(0, 1)`; the
two-sided level has an :math:`O(1/S)` Edgeworth error (the :math:`O(1/\sqrt S)` skewness term is
odd and cancels). Centring at the claimed mean keeps :math:`y` an i.i.d. average with exactly the
claimed expectation.

Independence (L3.5b) is tested through :math:`\sqrt S\, \hat\rho(f(X), g(Y))`, which is
asymptotically :math:`N(0, 1)` when X and Y are independent (its variance is
:math:`E[(f - Ef)^2 (g - Eg)^2] / (\mathrm{Var} f\, \mathrm{Var} g) = 1`), for
:math:`f, g \in \{x, x^2\}`: uncorrelated squares as well as uncorrelated entries.

References: claims D3.1, L3.5a, L3.5b and F1 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import FloatArray, check_int
from theory.geometry import FactorPosterior, sample_weights, weight_moments
from verification.registry import Outcome, Verdict

__all__ = [
    "MOMENT_ALPHA",
    "MomentTest",
    "check_l35a_monte_carlo",
    "correlation_z",
    "delta_method_moments",
    "moment_test",
    "random_posterior",
]

#: Family-wise false-failure probability of each check of this module.
MOMENT_ALPHA = 1e-3
#: Rows of draws processed at once (bounds memory at about chunk x p floats).
_CHUNK = 20_000


class MomentTest(dict[str, Any]):
    """Result of :func:`moment_test` (a dict, so it can sit in ``Outcome.data``)."""

    @property
    def rejected(self) -> bool:
        return bool(self["max_abs_z"] > self["z_crit"])


def moment_test(samples: FloatArray, mean: FloatArray, cov: FloatArray, alpha: float) -> MomentTest:
    r"""Test "the draws have mean ``mean`` and covariance ``cov``" at family-wise level ``alpha``.

    Parameters
    ----------
    samples : ndarray, shape (S, ...)
        i.i.d. draws, flattened row-major to ``(S, p)``.
    mean : ndarray, p entries;  cov : ndarray, shape (p, p)
        The claimed moments (``weight_moments`` layout).
    alpha : float
        Family-wise false-failure probability; Bonferroni over the
        :math:`K = p + p(p+1)/2` statistics, threshold :math:`z^\ast = \Phi^{-1}(1 - \alpha/2K)`.

    Returns
    -------
    MomentTest
        ``z_mean`` (p,), ``z_cov`` (p, p), ``max_abs_z``, ``z_crit``, ``n_tests``, ``worst``
        (``("mean", p)`` or ``("cov", p, q)``), ``n_samples``.

    References
    ----------
    Claims D3.1, L3.5a.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = moment_test(rng.standard_normal((4000, 2)), np.zeros(2), np.eye(2), 1e-3)
    >>> t.rejected, t["n_tests"]
    (False, 5)
    """
    x = np.asarray(samples, dtype=np.float64).reshape(samples.shape[0], -1)
    s, p = x.shape
    mu = np.asarray(mean, dtype=np.float64).reshape(-1)
    c = np.asarray(cov, dtype=np.float64)
    if mu.shape != (p,) or c.shape != (p, p):
        raise ValueError(f"moments of shapes {mu.shape}, {c.shape} do not fit samples of p = {p}")
    check_int(s, "number of samples", low=2)
    sum_y = np.zeros((p, p))
    sum_y2 = np.zeros((p, p))
    for start in range(0, s, _CHUNK):
        d = x[start : start + _CHUNK] - mu
        sum_y += d.T @ d
        # sum_s (d_sp d_sq)^2 = ((D o D)^T (D o D))_pq: no S x p x p array.
        d2 = d * d
        sum_y2 += d2.T @ d2
    mean_y = sum_y / s
    var_y = (sum_y2 - s * mean_y * mean_y) / (s - 1)
    z_mean = (x.mean(axis=0) - mu) / np.sqrt(np.diag(c) / s)
    z_cov = (mean_y - c) / np.sqrt(var_y / s)
    n_tests = p + p * (p + 1) // 2
    z_crit = float(stats.norm.isf(alpha / (2 * n_tests)))
    upper = np.triu(np.abs(z_cov))
    i_mean = int(np.argmax(np.abs(z_mean)))
    p_cov, q_cov = np.unravel_index(int(np.argmax(upper)), upper.shape)
    if abs(z_mean[i_mean]) >= upper[p_cov, q_cov]:
        worst: tuple[Any, ...] = ("mean", i_mean)
    else:
        worst = ("cov", int(p_cov), int(q_cov))
    return MomentTest(
        z_mean=z_mean,
        z_cov=z_cov,
        max_abs_z=float(max(np.abs(z_mean).max(), upper.max())),
        z_crit=z_crit,
        n_tests=n_tests,
        worst=worst,
        n_samples=s,
    )


def correlation_z(x: FloatArray, y: FloatArray, *, studentized: bool = False) -> FloatArray:
    r""":math:`\sqrt S\, \hat\rho` column by column for draws ``x``, ``y`` of shape (S, k).

    Asymptotically :math:`N(0, 1)` when the paired columns are independent, so a test of
    independence (dependence that leaves the correlation zero but makes
    :math:`E[\tilde x^2 \tilde y^2] \ne E\tilde x^2 E\tilde y^2` is also detected). With
    ``studentized`` the statistic is :math:`\sqrt S\, \bar u / \hat s_u` with
    :math:`u = \tilde x \tilde y` (centred columns): asymptotically :math:`N(0, 1)` whenever
    the columns are merely uncorrelated, a test of zero correlation only.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> z = correlation_z(rng.standard_normal((10000, 3)), rng.standard_normal((10000, 3)))
    >>> bool(np.all(np.abs(z) < 5))
    True
    """
    xc = x - x.mean(axis=0)
    yc = y - y.mean(axis=0)
    u = xc * yc
    if studentized:
        out: FloatArray = np.sqrt(x.shape[0]) * u.mean(axis=0) / u.std(axis=0, ddof=1)
        return out
    rho = u.sum(axis=0) / np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum(axis=0))
    out = np.sqrt(x.shape[0]) * rho
    return out


def random_posterior(
    m: int, n: int, r: int, rng: np.random.Generator, *, positive_means: bool = False
) -> FactorPosterior:
    """A factor posterior whose variance and mean terms are of comparable size.

    Means N(0, 1) (or uniform on [0.5, 1.5] with ``positive_means``) and standard deviations
    uniform on [0.3, 1]: every term of L3.5a, including sA^2 sB^2, is large enough to matter.
    """
    if positive_means:
        mu_a, mu_b = rng.uniform(0.5, 1.5, (m, r)), rng.uniform(0.5, 1.5, (n, r))
    else:
        mu_a, mu_b = rng.standard_normal((m, r)), rng.standard_normal((n, r))
    return FactorPosterior(mu_a, rng.uniform(0.3, 1.0, (m, r)), mu_b, rng.uniform(0.3, 1.0, (n, r)))


def delta_method_moments(post: FactorPosterior) -> tuple[FloatArray, FloatArray]:
    r"""A deliberately WRONG twin: L3.5a without the :math:`\sigma_A^2 \sigma_B^2` term.

    The first-order (delta-method) covariance; used only to show that the moment test has power.
    """
    mean, cov = weight_moments(post.mu_a, post.sigma_a, post.mu_b, post.sigma_b)
    extra = (post.sigma_a**2) @ (post.sigma_b**2).T
    return mean, cov - np.diag(extra.reshape(-1))


#: (m, n, r) of the L3.5a Monte Carlo check: every rank from 1 to min(m, n), square and not.
L35A_SHAPES = ((1, 1, 1), (3, 2, 1), (3, 2, 2), (4, 3, 2), (2, 5, 2), (4, 4, 3))


def check_l35a_monte_carlo(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim L3.5a, statistical twin: Monte Carlo mean and covariance of W = A B^T against
    ``weight_moments``.

    For each shape of :data:`L35A_SHAPES` a random posterior (:func:`random_posterior`),
    ``budget["n_samples"]`` draws, and :func:`moment_test` on every entry of the mean and every
    entry of the upper triangle of the covariance, Bonferroni over all shapes at family-wise
    level :data:`MOMENT_ALPHA`. Power: the same test must reject the delta-method covariance
    (:func:`delta_method_moments`) on every shape with r >= 1, or the verdict is ``untestable``.

    References
    ----------
    Claim L3.5a.
    """
    n_samples = check_int(budget.get("n_samples", 20_000), "budget['n_samples']", low=100)
    shapes = tuple(budget.get("shapes", L35A_SHAPES))
    level = MOMENT_ALPHA / len(shapes)
    rows: list[dict[str, Any]] = []
    for m, n, r in shapes:
        post = random_posterior(m, n, r, rng)
        w = sample_weights(
            post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=n_samples, rng=rng
        )
        mean, cov = post.moments()
        test = moment_test(w, mean, cov, level)
        wrong = moment_test(w, *delta_method_moments(post), level)
        rows.append(
            {
                "shape": (m, n, r),
                "max_abs_z": test["max_abs_z"],
                "z_crit": test["z_crit"],
                "n_tests": test["n_tests"],
                "worst": test["worst"],
                "rejected": test.rejected,
                "wrong_max_abs_z": wrong["max_abs_z"],
                "wrong_rejected": wrong.rejected,
            }
        )
    n_stats = sum(r["n_tests"] for r in rows)
    crits = [r["z_crit"] for r in rows]
    largest = ", ".join(f"{r['max_abs_z']:.2f}" for r in rows)
    largest_wrong = ", ".join(f"{r['wrong_max_abs_z']:.1f}" for r in rows)
    evidence = (
        f"{n_samples} draws of W = A B^T per shape (m, n, r) in "
        f"{', '.join(str(r['shape']) for r in rows)}; random posteriors with means N(0, 1) and "
        f"stds U(0.3, 1); {n_stats} z-statistics in all (every mean entry with the exact "
        f"variance, every upper-triangle covariance entry studentised by its estimated fourth "
        f"moment), thresholds z* = {min(crits):.2f} to {max(crits):.2f} from a family-wise "
        f"false-failure "
        f"probability {MOMENT_ALPHA:g} (asymptotic, Bonferroni over all statistics). Largest "
        f"abs z per shape: {largest}. Power: the "
        f"delta-method covariance without the sA^2 sB^2 term gives largest abs z "
        f"{largest_wrong}, rejected on "
        f"{sum(r['wrong_rejected'] for r in rows)}/{len(rows)} shapes."
    )
    data = {"rows": rows, "alpha": MOMENT_ALPHA, "n_samples": n_samples}
    rejected = [r for r in rows if r["rejected"]]
    if rejected:
        worst = max(rejected, key=lambda r: r["max_abs_z"])
        return Outcome(
            Verdict.REFUTED,
            f"Monte Carlo moments reject weight_moments at (m, n, r) = {worst['shape']}: "
            f"abs z = {worst['max_abs_z']:.2f} > {worst['z_crit']:.2f} at {worst['worst']}. "
            + evidence,
            data,
        )
    if not all(r["wrong_rejected"] for r in rows):
        return Outcome(
            Verdict.UNTESTABLE,
            "The test failed to reject a known-wrong covariance, so it has no power here. "
            + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
