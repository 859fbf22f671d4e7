r"""The Bayesian predictive mean and the support of the posterior (claims E11 and E13).

Networks :math:`f(x) = W_D \phi(W_{D-1} \cdots \phi(W_1 x))`, :math:`W_i = A_i B_i^\top` with
mean-field Gaussian factors, are sampled in batches (:func:`sample_network_outputs`). Exact
predictive means are available in two cases, the twins of the Monte Carlo averages:

- one linear layer: :math:`E f(x) = \mu_A \mu_B^\top x` (A and B independent);
- two layers, ReLU, first layer of rank 1 (:func:`relu_rank1_mean`): with
  :math:`u = B_1^\top x \sim N(\nu, \tau^2)` and :math:`z_i = A_{1,i} u`, conditionally
  :math:`z_i \mid u \sim N(\alpha_i u, \beta_i^2 u^2)`, so with :math:`a_i = \alpha_i/\beta_i`

  .. math::

      E\,\mathrm{ReLU}(z_i) = \beta_i \big[E u^+ \,(a_i \Phi(a_i) + \varphi(a_i))
          + E u^- \,(\varphi(a_i) - a_i \Phi(-a_i))\big],

  :math:`E u^\pm = \pm\nu \Phi(\pm\nu/\tau) + \tau \varphi(\nu/\tau)`, and
  :math:`E f = E[\mathrm{ReLU}(z)]\, \mu_{B_2} \mu_{A_2}^\top` by independence of the layers.

Otherwise (tanh, rank > 1) the reference is a large independent Monte Carlo average.

References: claims E11 and E13 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
from scipy import optimize, stats

from theory._validation import FloatArray, check_int
from theory.geometry import FactorPosterior
from verification.registry import Outcome, Verdict

__all__ = [
    "E11_ALPHA",
    "Activation",
    "check_e11",
    "ky_fan_sups",
    "linear_mean",
    "linear_output_variance",
    "maximisers",
    "mean_in_hull",
    "random_layers",
    "relu_rank1_mean",
    "sample_network_outputs",
]

#: Networks sampled per batch (bounds memory at about this times m times the widest layer).
_CHUNK = 20_000


class Activation(str, Enum):
    """Hidden-layer nonlinearities (both 1-Lipschitz, as Sec. 3.5 requires)."""

    #: max(0, z)
    RELU = "relu"
    #: tanh(z)
    TANH = "tanh"


_PHI: dict[Activation, Callable[[FloatArray], FloatArray]] = {
    Activation.RELU: lambda z: np.maximum(z, 0.0),
    Activation.TANH: np.tanh,
}

#: ``clip(a, b, i)`` maps the drawn factor stacks of layer i (e.g. onto E4's spectral balls).
Clip = Callable[[FloatArray, FloatArray, int], tuple[FloatArray, FloatArray]]


def random_layers(
    widths: Sequence[int], ranks: Sequence[int], rng: np.random.Generator
) -> list[FactorPosterior]:
    """Factor posteriors for widths (d, h_1, ..., h_D) and ranks (r_1, ..., r_D): means
    N(0, 1/sqrt(r h_prev)) per entry (unit-scale outputs), stds U(0.1, 0.6) times that scale."""
    layers = []
    for h_prev, h, r in zip(widths[:-1], widths[1:], ranks, strict=True):
        s = (r * h_prev) ** -0.25
        layers.append(
            FactorPosterior(
                s * rng.standard_normal((h, r)),
                s * rng.uniform(0.1, 0.6, (h, r)),
                s * rng.standard_normal((h_prev, r)),
                s * rng.uniform(0.1, 0.6, (h_prev, r)),
            )
        )
    return layers


def sample_network_outputs(
    layers: Sequence[FactorPosterior],
    x: FloatArray,
    *,
    activation: Activation,
    n_samples: int,
    rng: np.random.Generator,
    clip: Clip | None = None,
) -> FloatArray:
    r"""Outputs on the sample x (m, d) of ``n_samples`` networks drawn from the posterior.

    Layer by layer, A is drawn before B; ``clip(A, B, i)`` (optional) maps the drawn stacks of
    layer i (e.g. to enforce E4). Returns shape (n_samples, m, h_D).
    """
    phi = _PHI[Activation(activation)]
    out = []
    for start in range(0, n_samples, _CHUNK):
        size = min(_CHUNK, n_samples - start)
        h = np.broadcast_to(x, (size, *x.shape))
        for i, layer in enumerate(layers):
            a = layer.mu_a + layer.sigma_a * rng.standard_normal((size, layer.m, layer.r))
            b = layer.mu_b + layer.sigma_b * rng.standard_normal((size, layer.n, layer.r))
            if clip is not None:
                a, b = clip(a, b, i)
            z = (h @ b) @ np.swapaxes(a, 1, 2)
            h = phi(z) if i < len(layers) - 1 else z
        out.append(h)
    result: FloatArray = np.concatenate(out)
    return result


def linear_mean(layer: FactorPosterior, x: FloatArray) -> FloatArray:
    """Exact predictive mean of one linear layer on x (m, d): x mu_B mu_A^T, shape (m, k)."""
    out: FloatArray = x @ layer.mu_b @ layer.mu_a.T
    return out


def linear_output_variance(layer: FactorPosterior, x: FloatArray) -> FloatArray:
    r"""Per-coordinate variance (m, k) of :math:`W x_j`: with :math:`\nu = \mu_B^\top x`,
    :math:`\tau^2 = \sigma_B^{2\top} x^2`, :math:`\mathrm{Var}\, z_i = \sum_k \mu_{A,ik}^2
    \tau_k^2 + \sigma_{A,ik}^2 (\nu_k^2 + \tau_k^2)` (the terms of ``output_moments``)."""
    nu = x @ layer.mu_b
    tau2 = (x * x) @ (layer.sigma_b**2)
    out: FloatArray = tau2 @ (layer.mu_a**2).T + (nu * nu + tau2) @ (layer.sigma_a**2).T
    return out


def relu_rank1_mean(layers: Sequence[FactorPosterior], x: FloatArray) -> FloatArray:
    """Exact predictive mean (m, k) of a two-layer ReLU network whose first layer has rank 1.

    Examples
    --------
    >>> one = np.ones((1, 1))
    >>> layers = [FactorPosterior(one, one, one, one), FactorPosterior(one, one, one, one)]
    >>> # u ~ N(1, 1), z | u ~ N(u, u^2); Monte Carlo (4e6 draws): 1.1796 +- 0.0008
    >>> relu_rank1_mean(layers, one).round(4).tolist()
    [[1.1805]]
    """
    first, second = layers
    if first.r != 1 or len(layers) != 2:
        raise ValueError("relu_rank1_mean needs two layers, the first of rank 1")
    nu = (x @ first.mu_b)[:, 0]
    tau = np.sqrt((x * x) @ (first.sigma_b[:, 0] ** 2))
    u_plus = nu * stats.norm.cdf(nu / tau) + tau * stats.norm.pdf(nu / tau)
    u_minus = -nu * stats.norm.cdf(-nu / tau) + tau * stats.norm.pdf(nu / tau)
    alpha, beta = first.mu_a[:, 0], first.sigma_a[:, 0]
    a = alpha / beta
    pos = beta * (a * stats.norm.cdf(a) + stats.norm.pdf(a))
    neg = beta * (stats.norm.pdf(a) - a * stats.norm.cdf(-a))
    hidden = np.outer(u_plus, pos) + np.outer(u_minus, neg)
    out: FloatArray = hidden @ second.mu_b @ second.mu_a.T
    return out


def mean_in_hull(samples: FloatArray, target: FloatArray) -> bool:
    r"""Whether ``target`` (D,) is a convex combination of the rows of ``samples`` (S, D): the
    feasibility of :math:`\lambda \ge 0, \sum \lambda = 1, \lambda^\top F = t` (HiGHS, to its
    feasibility tolerance 1e-7: membership of the closed hull up to that distance).

    Examples
    --------
    >>> square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> mean_in_hull(square, np.array([0.5, 0.5])), mean_in_hull(square, np.array([2.0, 0.5]))
    (True, False)
    """
    s = samples.shape[0]
    a_eq = np.vstack([samples.T, np.ones((1, s))])
    b_eq = np.concatenate([target, [1.0]])
    res = optimize.linprog(np.zeros(s), A_eq=a_eq, b_eq=b_eq, bounds=(0.0, None), method="highs")
    if res.status not in (0, 2):
        raise RuntimeError(f"linprog neither solved nor proved infeasible: {res.message}")
    return bool(res.status == 0)


def maximisers(x: FloatArray, gamma: FloatArray, bound: float, rank: int) -> FloatArray:
    r"""The explicit maximiser :math:`W^\ast = C U_r V_r^\top` of :math:`\langle W, \Gamma^\top
    X\rangle` over the linear class, for each draw: shape (n_draws, k, d)."""
    mats = np.swapaxes(gamma, 1, 2) @ x
    u, _, vt = np.linalg.svd(mats, full_matrices=False)
    out: FloatArray = bound * u[..., :rank] @ vt[..., :rank, :]
    return out


def ky_fan_sups(x: FloatArray, gamma: FloatArray, bound: float, rank: int) -> FloatArray:
    r"""The linear class's supremum on each draw through :func:`maximisers`:
    :math:`\langle W^\ast, \Gamma^\top X\rangle / m` (the twin of ``linear_class_complexity``,
    which sums singular values instead)."""
    mats = np.swapaxes(gamma, 1, 2) @ x
    out: FloatArray = np.sum(maximisers(x, gamma, bound, rank) * mats, axis=(1, 2)) / x.shape[0]
    return out


#: Family-wise false-failure probability of E11's z-tests (Bonferroni over cases and sizes).
E11_ALPHA = 1e-3
#: (label, activation, widths (d, h_1, ..., k), ranks, exact mean available)
_E11_CASES = (
    ("1 layer linear", Activation.RELU, (4, 2), (2,), True),
    ("2 layers ReLU r1 = 1", Activation.RELU, (4, 5, 2), (1, 2), True),
    ("2 layers ReLU r = 2", Activation.RELU, (4, 5, 2), (2, 2), False),
    ("2 layers tanh r = 2", Activation.TANH, (4, 5, 2), (2, 2), False),
)
#: Points of the sample: outputs live in R^(m k) = R^8.
_E11_M = 4


def _e11_target(
    layers: list[FactorPosterior],
    x: FloatArray,
    exact: bool,
    activation: Activation,
    n_reference: int,
    rng: np.random.Generator,
) -> tuple[FloatArray, float, float]:
    """Target mean (m k,), total variance V and the reference's share 1/S_ref (0 if exact)."""
    if len(layers) == 1:
        return (
            linear_mean(layers[0], x).reshape(-1),
            float(linear_output_variance(layers[0], x).sum()),
            0.0,
        )
    ref = sample_network_outputs(
        layers, x, activation=activation, n_samples=n_reference, rng=rng
    ).reshape(n_reference, -1)
    variance = float(ref.var(axis=0, ddof=1).sum())
    if exact:
        return relu_rank1_mean(layers, x).reshape(-1), variance, 0.0
    return ref.mean(axis=0), variance, 1.0 / n_reference


def check_e11(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim E11: Monte Carlo averages of sampled networks converge to the predictive mean, and
    the mean lies in the (closed) convex hull of sampled outputs.

    Four posteriors on m = 4 points (outputs in :math:`\mathbb R^8`): one linear layer and a
    two-layer ReLU net of first rank 1 (exact means), two-layer ReLU and tanh nets of rank 2
    (reference: ``budget["n_reference"]`` independent samples). For S in
    ``budget["sample_sizes"]``, ``budget["n_replicates"]`` independent averages give
    :math:`T = \|\bar f_S - \bar f\|^2 / (V (1/S + 1/S_{ref}))`, whose expectation is exactly 1
    (V the total output variance, exact for the linear layer, else from the reference sample):
    the error decays like :math:`\sqrt{V/S}`, with that constant. Two-sided z-tests of
    :math:`E T = 1` at family-wise level :data:`E11_ALPHA`. The shared reference adds a
    fluctuation of relative size at most :math:`S/S_{ref}` to the mean of T, a small fraction of
    its standard error at these budgets. Hull: for S in ``budget["hull_sizes"]``,
    ``budget["hull_replicates"]`` sets of S sampled outputs, :func:`mean_in_hull`; every set of
    the largest size must contain the mean.

    References
    ----------
    Claim E11.
    """
    sizes = [
        check_int(s, "budget['sample_sizes']")
        for s in budget.get("sample_sizes", [4, 16, 64, 256, 1024])
    ]
    hull_sizes = [
        check_int(s, "budget['hull_sizes']")
        for s in budget.get("hull_sizes", [4, 8, 16, 32, 64, 128, 256])
    ]
    n_rep = check_int(budget.get("n_replicates", 200), "budget['n_replicates']", low=2)
    n_ref = check_int(budget.get("n_reference", 100_000), "budget['n_reference']", low=2)
    hull_rep = check_int(budget.get("hull_replicates", 5), "budget['hull_replicates']")
    z_crit = float(stats.norm.isf(E11_ALPHA / (2 * len(_E11_CASES) * len(sizes))))
    failures: list[str] = []
    worst_z, slopes, first_full = 0.0, [], []
    hull_counts: dict[str, list[int]] = {}
    for label, activation, widths, ranks, exact in _E11_CASES:
        layers = random_layers(widths, ranks, rng)
        x = rng.standard_normal((_E11_M, widths[0]))
        target, variance, ref_share = _e11_target(layers, x, exact, activation, n_ref, rng)
        rms = []
        for s in sizes:
            out = sample_network_outputs(
                layers, x, activation=activation, n_samples=n_rep * s, rng=rng
            ).reshape(n_rep, s, -1)
            err = out.mean(axis=1) - target
            t = np.sum(err * err, axis=1) / (variance * (1.0 / s + ref_share))
            z = (t.mean() - 1.0) / (t.std(ddof=1) / np.sqrt(n_rep))
            worst_z = max(worst_z, abs(float(z)))
            rms.append(float(np.sqrt(np.mean(np.sum(err * err, axis=1)))))
            if abs(z) > z_crit:
                failures.append(f"{label}, S = {s}: mean T = {t.mean():.4g}, z = {z:.3g}")
        slopes.append(float(np.polyfit(np.log(sizes), np.log(rms), 1)[0]))
        inside = []
        for s in hull_sizes:
            count = sum(
                mean_in_hull(
                    sample_network_outputs(
                        layers, x, activation=activation, n_samples=s, rng=rng
                    ).reshape(s, -1),
                    target,
                )
                for _ in range(hull_rep)
            )
            inside.append(count)
        hull_counts[label] = inside
        full = [s for s, c in zip(hull_sizes, inside, strict=True) if c == hull_rep]
        first_full.append(full[0] if full else -1)
        if inside[-1] < hull_rep:
            failures.append(
                f"{label}: the mean is outside the hull of {hull_sizes[-1]} samples "
                f"in {hull_rep - inside[-1]}/{hull_rep} sets"
            )
    evidence = (
        f"4 posteriors on m = {_E11_M} points (1 linear layer, exact mean muA muB^T x; 2-layer "
        f"ReLU with first rank 1, exact mean in closed form; 2-layer ReLU and tanh of rank 2 "
        f"against {n_ref} reference samples), S in {sizes}, {n_rep} replicate averages each: "
        f"‖error‖^2 / (V (1/S + 1/S_ref)) has mean 1 in every case (largest abs(z) "
        f"{worst_z:.3g}, critical {z_crit:.3g} at family-wise level {E11_ALPHA:g}); fitted "
        f"slopes of log RMS error against log S {min(slopes):.3f} to {max(slopes):.3f} "
        f"(1/sqrt(S) is -0.5). The mean is in the convex hull of S sampled outputs (LP "
        f"feasibility, {hull_rep} sets per S in {hull_sizes}) in every set from "
        f"S = {first_full} on (per case); at S = {hull_sizes[0]} in "
        f"{[c[0] for c in hull_counts.values()]} of {hull_rep} (outputs live in "
        f"R^{_E11_M * 2}). {len(failures)} failures."
    )
    data = {
        "max_abs_z": worst_z,
        "z_crit": z_crit,
        "slopes": slopes,
        "hull": hull_counts,
        "failures": failures,
    }
    if failures:
        return Outcome(Verdict.REFUTED, "; ".join(failures[:3]) + ". " + evidence, data)
    return Outcome(Verdict.VERIFIED, evidence, data)
