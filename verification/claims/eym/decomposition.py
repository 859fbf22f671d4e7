r"""Claim T3.7: the loss change of any W splits into optimisation error plus rank-induced bias.

.. math::

    |l(Wx, y) - l(W^*x, y)| \le L \|(W - W^*)x\| \le L R \|W - W^*\|_F
        \le L R (\|W - W^*_r\|_F + \sigma_{>r})

for every W and :math:`\|x\| \le R`. Tested on arbitrary W (full-rank perturbations of W*), rank-r
products :math:`AB^\top` (random, near :math:`W^*_r`, and the iterates of gradient descent on the
factors fitting a teacher W* from noisy data), and adversarial W for which the triangle inequality
is an equality (:math:`W = W^*_r - c(W^* - W^*_r)` with a rank-one tail, or :math:`W = W^*_r`),
with x along the top right singular vector of :math:`W - W^*` and the exact worst target. MAE is
the paper's scalar loss, on the first output (L = 1).

References: claim T3.7 of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import FloatArray, check_int
from theory.eym import rank_decomposition, truncated_svd
from theory.losses import LOSS_NAMES
from verification.claims.eym.basics import SPECTRUM_KINDS, matrix_with_spectrum, spectrum
from verification.claims.eym.loss_tools import (
    ADVERSARIAL_RADIUS,
    loss_on_outputs,
    loss_values,
    rounding_slack,
    sample_ball,
    sample_targets,
    worst_direction,
    worst_gaps,
)
from verification.registry import Budget, Outcome, Verdict

__all__ = ["check_t37", "decomposition_bound", "factor_gradient_descent"]


def decomposition_bound(
    lipschitz: float, radius: float, optimisation: float, rank_bias: float
) -> float:
    r"""The right side of claim T3.7, :math:`L R (\|W - W^*_r\|_F + \sigma_{>r})`.

    Examples
    --------
    >>> decomposition_bound(2.0, 3.0, 0.5, 0.25)
    4.5
    """
    return lipschitz * radius * (optimisation + rank_bias)


def factor_gradient_descent(
    w_star: FloatArray,
    r: int,
    *,
    n_samples: int,
    noise: float,
    steps: int,
    record: tuple[int, ...],
    rng: np.random.Generator,
) -> list[tuple[int, FloatArray]]:
    r"""Gradient descent on :math:`(A, B)` fitting a teacher :math:`W^*` from noisy data.

    Data :math:`x \sim N(0, I_n)`, :math:`y = W^* x + \text{noise}\,\varepsilon`; loss
    :math:`\frac{1}{2N}\sum_i \|A B^\top x_i - y_i\|^2`; small random start
    (:math:`10^{-2}` scale), step :math:`0.2/\max(1, \|W^*\|_2)`. Returns
    ``(step, A B^T)`` at the steps in ``record`` (step 0 is the start).

    References
    ----------
    Claim T3.7 (the learned W of its decomposition).

    Examples
    --------
    >>> w = np.diag([2.0, 1.0, 0.5])
    >>> it = factor_gradient_descent(w, 2, n_samples=400, noise=0.0, steps=400, record=(0, 400),
    ...                              rng=np.random.default_rng(0))
    >>> [s for s, _ in it], bool(np.linalg.norm(it[-1][1] - np.diag([2.0, 1.0, 0.0])) < 0.1)
    ([0, 400], True)
    """
    m, n = w_star.shape
    x = rng.standard_normal((n_samples, n))
    y = x @ w_star.T + noise * rng.standard_normal((n_samples, m))
    a = 1e-2 * rng.standard_normal((m, r))
    b = 1e-2 * rng.standard_normal((n, r))
    lr = 0.2 / max(1.0, float(np.linalg.norm(w_star, 2)))
    out = []
    for t in range(steps + 1):
        if t in record:
            out.append((t, a @ b.T))
        e = (x @ b) @ a.T - y
        ga = e.T @ (x @ b) / n_samples
        gb = x.T @ (e @ a) / n_samples
        a, b = a - lr * ga, b - lr * gb
    return out


def _truncation_by_eigh(w: FloatArray, r: int) -> FloatArray:
    """Twin of the truncated SVD: project W onto the top-r eigenvectors of W W^T."""
    _, vecs = np.linalg.eigh(w @ w.T)
    top = vecs[:, ::-1][:, :r]
    out: FloatArray = top @ (top.T @ w)
    return out


def _t37_matrices(
    w_star: FloatArray, r: int, rng: np.random.Generator
) -> list[tuple[str, FloatArray]]:
    m, n = w_star.shape
    u, s, vt = np.linalg.svd(w_star, full_matrices=False)
    half = np.sqrt(s[:r])
    out = [
        ("full", w_star + 10.0 ** rng.uniform(-2, 0) * rng.standard_normal((m, n)) / np.sqrt(n)),
        ("random rank r", rng.standard_normal((m, r)) @ rng.standard_normal((r, n)) / np.sqrt(n)),
        (
            "near W*_r",
            (u[:, :r] * half + 0.1 * rng.standard_normal((m, r)))
            @ (vt[:r].T * half + 0.1 * rng.standard_normal((n, r))).T,
        ),
    ]
    steps = (0, 10, 50, 200)
    for t, w in factor_gradient_descent(
        w_star, r, n_samples=200, noise=0.3, steps=steps[-1], record=steps, rng=rng
    ):
        out.append((f"gradient descent step {t}", w))
    return out


def _t37_rows(
    name: str,
    w_star: FloatArray,
    w: FloatArray,
    r: int,
    radius: float,
    n_data: int,
    source: str,
    rng: np.random.Generator,
) -> dict[str, Any]:
    m, n = w.shape
    b = radius * max(float(np.linalg.norm(w, 2)), float(np.linalg.norm(w_star, 2)))
    loss = loss_on_outputs(name, m, radius=max(b, 1e-300))
    x = sample_ball(n_data, n, radius, rng)
    y = sample_targets(loss, x @ w_star.T, rng)
    gap = float(np.max(np.abs(loss_values(loss, x @ w.T, y) - loss_values(loss, x @ w_star.T, y))))
    _, _, vt = np.linalg.svd(w - w_star)
    x_adv = radius * vt[:1]
    gap_adv = float(np.abs(worst_gaps(loss, x_adv @ w.T, x_adv @ w_star.T)[0][0]))
    dec = rank_decomposition(w, w_star, r)
    s = np.linalg.svd(w_star, compute_uv=False)
    tail = float(np.sqrt(np.sum(s[r:] ** 2)))
    twin = float(np.linalg.norm(w - _truncation_by_eigh(w_star, r))) + tail
    # Perturbation of the top-r subspace is (rounding) / (sigma_r - sigma_{r+1}) (Davis-Kahan).
    gap_rel = float(s[r - 1] - s[r]) / float(s[0])
    lip = loss.true_lipschitz
    scale = radius * (float(np.linalg.norm(w, 2)) + float(np.linalg.norm(w_star, 2)))
    return {
        "loss": name,
        "m": m,
        "n": n,
        "r": r,
        "source": source,
        "gap": max(gap, gap_adv),
        "gap_data": gap,
        "gap_adversarial": gap_adv,
        "bound": decomposition_bound(lip, radius, dec.optimisation, dec.rank_bias),
        "true_lipschitz": lip,
        "paper_lipschitz": loss.claimed_lipschitz,
        "distance": dec.distance,
        "total": dec.total,
        "twin_total": twin,
        "twin_tol": (
            rounding_slack(m, n, dec.total + float(s[0])) * (1.0 + 2.0 / gap_rel)
            if gap_rel > 1e-6
            else None
        ),
        "slack": rounding_slack(
            m, n, lip * scale + float(np.abs(loss_values(loss, x @ w.T, y)).max())
        ),
    }


def check_t37(budget: Budget, rng: np.random.Generator) -> Outcome:
    r"""Claim T3.7: :math:`|l(Wx, y) - l(W^*x, y)| \le L R (\|W - W^*_r\|_F + \sigma_{>r})`.

    Per loss of :data:`theory.losses.LOSS_NAMES` (true L), ``budget["n_cases"]`` teachers W*
    (:math:`2 \le m, n \le` ``budget["max_dim"]``, spectra cycling through the three kinds,
    random r and R) and, for each, the W of :func:`_t37_matrices` (full rank, random rank r,
    near :math:`W^*_r`, gradient-descent iterates) plus two adversarial ones on a teacher with a
    rank-one tail (:math:`W = W^*_r - c (W^* - W^*_r)`, :math:`c \sim U(0, 2)`, and
    :math:`W = W^*_r`), with R = 50 and :math:`u_{r+1}` the loss's tight direction. Each W is
    evaluated on ``budget["n_data"]`` points and at x along the top right singular vector of
    :math:`W - W^*` with the worst target. :func:`theory.eym.rank_decomposition` is compared
    with an eigh-based twin where :math:`\sigma_r > \sigma_{r+1}` (with a tie, as in a flat
    spectrum, :math:`W^*_r` is not unique and the optimisation term depends on the choice; the
    bound holds for each choice).

    References
    ----------
    Claim T3.7.
    """
    n_cases = check_int(budget.get("n_cases"), "budget['n_cases']")
    max_dim = check_int(budget.get("max_dim", 8), "budget['max_dim']", low=2)
    n_data = check_int(budget.get("n_data", 100), "budget['n_data']")
    rows = []
    for name in LOSS_NAMES:
        for i in range(n_cases):
            kind = SPECTRUM_KINDS[i % len(SPECTRUM_KINDS)]
            m, n = (int(d) for d in rng.integers(2, max_dim + 1, size=2))
            k = min(m, n)
            r = int(rng.integers(1, k))
            w_star = matrix_with_spectrum(m, n, spectrum(kind, k, rng), rng)
            radius = float(10.0 ** rng.uniform(-1.0, 1.0))
            for source, w in _t37_matrices(w_star, r, rng):
                rows.append(_t37_rows(name, w_star, w, r, radius, n_data, source, rng))
            s_adv = np.zeros(k)
            s_adv[:r], s_adv[r] = 1.0, 0.5
            q, _ = np.linalg.qr(
                np.column_stack(
                    [worst_direction(loss_on_outputs(name, m), m), rng.standard_normal((m, k - 1))]
                )
            )
            u = np.roll(q, r, axis=1)
            v, _ = np.linalg.qr(rng.standard_normal((n, k)))
            w_adv = (u * s_adv) @ v.T
            w_adv_r = truncated_svd(w_adv, r)
            c = float(rng.uniform(0.0, 2.0))
            for source, w in (
                ("triangle-tight (rank r+1)", w_adv_r - c * (w_adv - w_adv_r)),
                ("W = W*_r", w_adv_r),
            ):
                rows.append(_t37_rows(name, w_adv, w, r, ADVERSARIAL_RADIUS, n_data, source, rng))
    failures = [row for row in rows if row["gap"] > row["bound"] + row["slack"]]
    paper = [
        row
        for row in rows
        if row["paper_lipschitz"] is not None
        and row["gap"]
        > row["bound"] * row["paper_lipschitz"] / row["true_lipschitz"] + row["slack"]
    ]
    twin_failures = [
        row
        for row in rows
        if (row["twin_tol"] is not None and abs(row["total"] - row["twin_total"]) > row["twin_tol"])
        or row["distance"] > row["total"] + rounding_slack(row["m"], row["n"], row["total"])
    ]
    tight: dict[str, float] = {}
    by_source: dict[str, float] = {}
    for row in rows:
        if row["bound"] > 0.0:
            ratio = row["gap"] / row["bound"]
            tight[row["loss"]] = max(tight.get(row["loss"], 0.0), ratio)
            src = row["source"].split(" step")[0]
            by_source[src] = max(by_source.get(src, 0.0), ratio)
    dist = max(row["distance"] / row["total"] for row in rows if row["total"] > 0.0)
    data: dict[str, Any] = {
        "rows": len(rows),
        "failures": len(failures),
        "twin_failures": len(twin_failures),
        "max_tightness_by_loss": tight,
        "max_tightness_by_source": by_source,
        "max_distance_over_total": dist,
        "paper_constant_failures": len(paper),
    }
    with_claim = sum(1 for row in rows if row["paper_lipschitz"] is not None)
    paper_txt = (
        f" With the paper's printed L the bound fails in {len(paper)} rows, all for "
        f"{sorted({row['loss'] for row in paper})} (claim CT)."
        if paper
        else f" With the paper's printed L (scalar MAE, hinge and BCE 1, CE sqrt 2, MSE 2B) the "
        f"bound held as well in all {with_claim} rows that have one."
    )
    scope = (
        f"{len(rows)} (loss, W*, W) rows over losses {', '.join(LOSS_NAMES)} (true L; MAE, BCE "
        f"and hinge on the first output), m, n in "
        f"[2, {max_dim}], flat, power-law and low-rank teachers, W full rank, random rank r, "
        f"near W*_r, gradient-descent iterates on factors (steps 0 to 200), and adversarial W "
        f"(triangle equality, W = W*_r; R = {ADVERSARIAL_RADIUS:g}), {n_data} data points "
        f"each plus x along the top right singular vector of W - W* with the worst target"
    )
    if twin_failures:
        # rank_decomposition disagreeing with its eigh twin is a bug in our evidence, not a
        # counterexample to the paper: stop instead of giving a verdict.
        f = twin_failures[0]
        raise RuntimeError(
            f"{len(twin_failures)} decomposition mismatches: {f['total']:.17g} vs the eigh twin "
            f"{f['twin_total']:.17g} (m = {f['m']}, n = {f['n']}, r = {f['r']}, W {f['source']})"
        )
    if failures:
        f = min(failures, key=lambda f: (f["m"] * f["n"], f["r"]))
        data["counterexample"] = {k: f[k] for k in ("loss", "m", "n", "r", "source")}
        return Outcome(
            Verdict.REFUTED,
            f"{len(failures)} gap violations over {scope}. Smallest: {f['loss']}, m = {f['m']}, "
            f"n = {f['n']}, r = {f['r']}, W {f['source']}: gap {f['gap']:.6g} against "
            f"L R (opt + bias) = {f['bound']:.6g}.",
            data,
        )
    return Outcome(
        Verdict.VERIFIED,
        f"{scope}: the pointwise gap never exceeded L R (‖W - W*_r‖_F + sigma_{{>r}}) (slack "
        f"64 eps (m+n) times the scale), the decomposition matched its eigh twin and ‖W - W*‖_F "
        f"<= opt + bias held in every row (largest ratio {dist:.6f}, 1 at the triangle-tight W). "
        f"Largest gap / bound by loss: "
        + "; ".join(f"{k} {v:.4f}" for k, v in tight.items())
        + "; by kind of W: "
        + "; ".join(f"{k} {v:.3f}" for k, v in by_source.items())
        + "."
        + paper_txt,
        data,
    )
