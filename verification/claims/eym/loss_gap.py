r"""Checks of the rank-induced loss gap (claims T3.6 and T3.6s).

For an L-Lipschitz loss (in the Euclidean norm of :math:`z = Wx`) and :math:`\|x\| \le R`,

.. math::

    |E\,l(W^* x, y) - E\,l(W^*_r x, y)| \le L \|(W^* - W^*_r) x\| \le L R \sigma_{r+1}
        \le L R \sigma_{>r}.

The checks take L as the true constant of :mod:`theory.losses` (the theorem's hypothesis) and
measure the gap on (a) empirical measures of points sampled in the ball with targets drawn from
a model of the outputs, and (b) adversarial point masses: x along the (r+1)-th right singular
vector, the target chosen to maximise the gap exactly (:func:`worst_gaps`), W* built so that its
(r+1)-th left singular vector is the direction in which the loss is Lipschitz-tight
(:func:`worst_direction`), and a local search over the direction of x. The tightness
gap / bound is recorded per loss and spectrum. The bound is also evaluated with the paper's
printed constants (claim CT checks them). The losses act on the layer's outputs as in
:mod:`verification.claims.eym.loss_tools`: MAE is the paper's scalar loss on the first output
(L = 1); a k-output MAE (L = sqrt k summed) is our extension and is left to CT's notes.

References: claims T3.6 and T3.6s of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import FloatArray, check_int
from theory.eym import BiasNorm, rank_bias_bound, truncated_svd
from theory.losses import LOSS_NAMES, Loss
from verification.claims.eym.basics import SPECTRUM_KINDS, matrix_with_spectrum, spectrum
from verification.claims.eym.loss_tools import (
    ADVERSARIAL_RADIUS,
    ROUND,
    loss_on_outputs,
    loss_values,
    rounding_slack,
    sample_ball,
    sample_targets,
    worst_direction,
    worst_gaps,
)
from verification.registry import Budget, Outcome, Verdict

__all__ = ["check_t36", "check_t36s", "spectrum_tail", "t36_search"]


def spectrum_tail(s: FloatArray, r: int, norm: BiasNorm) -> float:
    r"""The tail of the prescribed spectrum ``s`` (decreasing): :math:`\sigma_{>r}` or
    :math:`\sigma_{r+1}`; the twin of :func:`theory.eym.rank_bias_bound` with L = R = 1.

    Examples
    --------
    >>> spectrum_tail(np.array([1.0, 0.8, 0.6]), 1, BiasNorm.FRO)
    1.0
    """
    if norm is BiasNorm.FRO:
        return float(np.sqrt(np.sum(s[r:] ** 2)))
    return float(s[r]) if r < s.size else 0.0


def _adversarial_matrix(
    s: FloatArray, r: int, m: int, n: int, direction: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """W* with spectrum s whose (r+1)-th left singular vector is ``direction``; also v_{r+1}."""
    k = s.size
    q, _ = np.linalg.qr(np.column_stack([direction, rng.standard_normal((m, k - 1))]))
    u = np.roll(q * np.sign(q[:, :1].T @ direction), r, axis=1)
    v, _ = np.linalg.qr(rng.standard_normal((n, k)))
    return (u * s) @ v.T, v[:, r]


def _local_x(
    loss: Loss, w: FloatArray, w_r: FloatArray, x0: FloatArray, rng: np.random.Generator
) -> tuple[float, float]:
    """Hill climbing of the worst-target gap over directions of x on the sphere |x| = |x0|.

    Returns the best gap and the size of the two loss values there (for the rounding slack).
    """
    radius = float(np.linalg.norm(x0))
    x = x0
    best = abs(float(worst_gaps(loss, (w @ x0)[None], (w_r @ x0)[None])[0][0]))
    step = 0.5
    for _ in range(25):
        prop = x + step * radius * rng.standard_normal((32, x.size))
        prop *= radius / np.linalg.norm(prop, axis=1, keepdims=True)
        gaps = np.abs(worst_gaps(loss, prop @ w.T, prop @ w_r.T)[0])
        i = int(np.argmax(gaps))
        if gaps[i] > best:
            x, best = prop[i], float(gaps[i])
        else:
            step *= 0.5
    _, y = worst_gaps(loss, (w @ x)[None], (w_r @ x)[None])
    size = abs(float(loss_values(loss, (w @ x)[None], y)[0]))
    size += abs(float(loss_values(loss, (w_r @ x)[None], y)[0]))
    return best, size


def t36_search(budget: Budget, rng: np.random.Generator) -> list[dict[str, Any]]:
    r"""All the cases of T3.6 and T3.6s: one row per (loss, matrix, rank, source).

    ``budget["n_cases"]`` matrices per loss of :data:`theory.losses.LOSS_NAMES`,
    :math:`2 \le m, n \le` ``budget["max_dim"]``, spectra cycling through the three kinds,
    :math:`R \sim 10^{U(-1, 1)}`, ``budget["n_data"]`` points per empirical measure, every
    :math:`1 \le r < \min(m, n)`. Rows carry the gap, both bounds (from
    :func:`theory.eym.rank_bias_bound` with the true L), the same bounds from the prescribed
    spectrum (the twin), the bound with the paper's L, and the rounding slack.
    """
    n_cases = check_int(budget.get("n_cases"), "budget['n_cases']")
    max_dim = check_int(budget.get("max_dim", 8), "budget['max_dim']", low=2)
    n_data = check_int(budget.get("n_data", 200), "budget['n_data']")
    rows: list[dict[str, Any]] = []
    for name in LOSS_NAMES:
        for i in range(n_cases):
            kind = SPECTRUM_KINDS[i % len(SPECTRUM_KINDS)]
            m, n = (int(d) for d in rng.integers(2, max_dim + 1, size=2))
            k = min(m, n)
            s = spectrum(kind, k, rng)
            radius = float(10.0 ** rng.uniform(-1.0, 1.0))
            w = matrix_with_spectrum(m, n, s, rng)
            x = sample_ball(n_data, n, radius, rng)
            loss = loss_on_outputs(name, m, radius=radius * float(s[0]))
            y = sample_targets(loss, x @ w.T, rng)
            for r in range(1, k):
                rows.append(_row(loss, w, s, r, radius, kind, "data", x, y))
            # Adversarial: the tail is sigma_{r+1} = 1/2 alone (so sigma_{>r} = sigma_{r+1}),
            # u_{r+1} the loss's tight direction, x = R v_{r+1}, worst target; then a local
            # search over the direction of x on the case's own matrix.
            r = int(rng.integers(1, k))
            s_adv = np.zeros(k)
            s_adv[:r], s_adv[r] = 1.0, 0.5
            big = ADVERSARIAL_RADIUS
            w_adv, v = _adversarial_matrix(s_adv, r, m, n, worst_direction(loss, m), rng)
            # The smallest MSE ball holding W* x, W*_r x = 0 and the target: radius R sigma_{r+1}.
            adv_loss = loss_on_outputs(name, m, radius=big * float(s_adv[r]))
            x_adv = big * v[None]
            _, y_adv = worst_gaps(adv_loss, x_adv @ w_adv.T, x_adv @ truncated_svd(w_adv, r).T)
            rows.append(
                _row(adv_loss, w_adv, s_adv, r, big, "rank r+1", "adversarial", x_adv, y_adv)
            )
            w_r = truncated_svd(w, r)
            _, _, vt = np.linalg.svd(w)
            local, size = _local_x(loss, w, w_r, radius * vt[r], rng)
            row = _row(loss, w, s, r, radius, kind, "local", None, None)
            row["gap"] = local
            row["slack"] += rounding_slack(m, n, size)
            rows.append(row)
    return rows


def _row(
    loss: Loss,
    w: FloatArray,
    s: FloatArray,
    r: int,
    radius: float,
    kind: str,
    source: str,
    x: FloatArray | None,
    y: Any,
) -> dict[str, Any]:
    m, n = w.shape
    lip = loss.true_lipschitz
    means = (0.0, 0.0)
    gap = float("nan")
    if x is not None:
        full, trunc = loss_values(loss, x @ w.T, y), loss_values(loss, x @ truncated_svd(w, r).T, y)
        means = (float(np.mean(np.abs(full))), float(np.mean(np.abs(trunc))))
        gap = abs(float(np.mean(full) - np.mean(trunc)))
    claimed = loss.claimed_lipschitz
    return {
        "loss": loss.name,
        "m": m,
        "n": n,
        "r": r,
        "spectrum": kind,
        "source": source,
        "radius": radius,
        "gap": gap,
        "fro": rank_bias_bound(w, r, lipschitz=lip, radius=radius, norm=BiasNorm.FRO),
        "spectral": rank_bias_bound(w, r, lipschitz=lip, radius=radius, norm=BiasNorm.SPECTRAL),
        "fro_twin": lip * radius * spectrum_tail(s, r, BiasNorm.FRO),
        "spectral_twin": lip * radius * spectrum_tail(s, r, BiasNorm.SPECTRAL),
        "paper_lipschitz": claimed,
        "true_lipschitz": lip,
        "slack": rounding_slack(m, n, lip * radius * float(s[0]) + sum(means)),
    }


def _check(budget: Budget, rng: np.random.Generator, norm: BiasNorm) -> Outcome:
    rows = t36_search(budget, rng)
    key = norm.value
    failures, twin_failures, paper_failures = [], [], []
    tight: dict[str, dict[str, float]] = {}
    by_spectrum: dict[str, list[float]] = {kind: [] for kind in SPECTRUM_KINDS}
    for row in rows:
        bound, slack = row[key], row["slack"]
        if abs(bound - row[f"{key}_twin"]) > slack:
            twin_failures.append(row)
        claimed = row["paper_lipschitz"]
        if row["gap"] > bound + slack:
            failures.append(row)
        # The printed L only where the bound with the true L holds (so that bound > 0 here).
        elif claimed is not None and row["gap"] > bound * claimed / row["true_lipschitz"] + slack:
            paper_failures.append(row)
        # Tightness only where the exact tail is positive (zero tails give rounding / rounding).
        if row[f"{key}_twin"] > 0.0 and bound > 0.0:
            per = tight.setdefault(row["loss"], {"data": 0.0, "adversarial": 0.0, "local": 0.0})
            per[row["source"]] = max(per[row["source"]], row["gap"] / bound)
            if row["source"] == "data":
                by_spectrum[row["spectrum"]].append(row["gap"] / bound)
    bound_name = "L R sigma_{>r}" if norm is BiasNorm.FRO else "L R sigma_{r+1}"
    zero = sum(1 for row in rows if row[key] == 0.0 or row[f"{key}_twin"] == 0.0)
    data: dict[str, Any] = {
        "rows": len(rows),
        "failures": len(failures),
        "twin_failures": len(twin_failures),
        "max_tightness": tight,
        "data_tightness_by_spectrum": {
            kind: {"median": float(np.median(v)), "max": float(np.max(v)), "rows": len(v)}
            for kind, v in by_spectrum.items()
            if v
        },
        "paper_constant_failures": len(paper_failures),
    }
    with_claim = sum(1 for row in rows if row["paper_lipschitz"] is not None)
    paper = (
        f" With the paper's printed L (scalar MAE, BCE and hinge 1, CE sqrt 2, MSE 2B; Huber has "
        f"none) in place of the true one the bound held as well in all {with_claim} rows "
        f"that have one."
    )
    if paper_failures:
        p = min(paper_failures, key=lambda f: (f["m"] * f["n"], -f["gap"] / f[key]))
        ratio = p["gap"] / (p[key] * p["paper_lipschitz"] / p["true_lipschitz"])
        data["paper_counterexample"] = {k: p[k] for k in ("loss", "m", "n", "r", "source")}
        paper = (
            f" With the paper's printed L instead of the true one the bound fails in "
            f"{len(paper_failures)} rows, all {sorted({f['loss'] for f in paper_failures})} "
            f"(smallest: {p['loss']}, m = {p['m']}, n = {p['n']}, r = {p['r']}, {p['source']}: "
            f"gap = {ratio:.3f} x the bound with L = {p['paper_lipschitz']:g} against the true "
            f"{p['true_lipschitz']:.4g}; see claim CT)."
        )
    tight_txt = "; ".join(
        f"{name} {t['data']:.3f} / {t['adversarial']:.4f} / {t['local']:.3f}"
        for name, t in tight.items()
    )
    spectra_txt = "; ".join(
        f"{kind} median {v['median']:.3g}, max {v['max']:.3g}"
        for kind, v in data["data_tightness_by_spectrum"].items()
    )
    scope = (
        f"{len(rows)} (loss, W*, r, distribution) rows: losses {', '.join(LOSS_NAMES)} with their "
        f"true L from theory.losses (the one-output losses, the paper's scalar MAE, BCE and "
        f"hinge, on the first output), m, n in [2, "
        f"{budget.get('max_dim', 8)}], flat, power-law and exactly low-rank spectra (sigma_1 = 1), "
        f"R in [0.1, 10], every 1 <= r < min(m, n) on empirical measures of "
        f"{budget.get('n_data', 200)} points in the ball, plus adversarial point masses "
        f"(x = R v_{{r+1}}, R = {ADVERSARIAL_RADIUS:g}, u_{{r+1}} along the loss's tight "
        f"direction, tail on sigma_{{r+1}} alone, exact worst target) and local searches over "
        f"the direction of x"
    )
    if twin_failures:
        # rank_bias_bound disagreeing with the prescribed spectrum is a bug in our evidence,
        # not a counterexample to the paper: stop instead of giving a verdict.
        f = twin_failures[0]
        raise RuntimeError(
            f"{len(twin_failures)} twin mismatches: rank_bias_bound {f[key]:.17g} vs the "
            f"prescribed-spectrum twin {f[key + '_twin']:.17g} (m = {f['m']}, n = {f['n']}, "
            f"r = {f['r']}, {f['spectrum']} spectrum)"
        )
    if failures:
        f = min(failures, key=lambda f: (f["m"] * f["n"], f["r"]))
        data["counterexample"] = {k: f[k] for k in ("loss", "m", "n", "r", "spectrum", "source")}
        return Outcome(
            Verdict.REFUTED,
            f"{len(failures)} gap violations over {scope}. Smallest: {f['loss']}, m = {f['m']}, "
            f"n = {f['n']}, r = {f['r']}, {f['spectrum']} spectrum, {f['source']}: gap "
            f"{f['gap']:.6g} > {bound_name} = {f[key]:.6g}.{paper}",
            data,
        )
    return Outcome(
        Verdict.VERIFIED,
        f"{scope}: the gap never exceeded {bound_name} (rounding slack {ROUND:g} eps (m+n) "
        f"times the scale; {zero} rows with a zero tail had a gap at rounding level), and "
        f"rank_bias_bound matched the prescribed-spectrum twin in every row. Largest gap / "
        f"bound per loss (empirical data / adversarial / local search): {tight_txt}. Gap / bound "
        f"on "
        f"the empirical measures by spectrum: {spectra_txt}.{paper}",
        data,
    )


def check_t36(budget: Budget, rng: np.random.Generator) -> Outcome:
    """Claim T3.6: the loss gap of the rank-r truncation is at most L R sigma_{>r}.

    See :func:`t36_search` for the cases; rounding slack :data:`ROUND` eps (m + n) scale.

    References
    ----------
    Claim T3.6.
    """
    return _check(budget, rng, BiasNorm.FRO)


def check_t36s(budget: Budget, rng: np.random.Generator) -> Outcome:
    """Claim T3.6s: the same gap is at most L R sigma_{r+1} (sharper; not in the paper).

    References
    ----------
    Claim T3.6s.
    """
    return _check(budget, rng, BiasNorm.SPECTRAL)
