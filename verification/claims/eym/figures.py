r"""Figures of the Eckart-Young-Mirsky claims: tail energy and loss gaps (T3.6), the T3.7 split.

Both use matplotlib's object interface with the Agg canvas, so no global backend state changes.

References: claims T3.6, T3.6s and T3.7 of ``CLAIMS.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from theory._validation import FloatArray
from theory.eym import rank_decomposition, tail_energy, truncated_svd
from verification.claims.eym.basics import matrix_with_spectrum
from verification.claims.eym.decomposition import factor_gradient_descent
from verification.claims.eym.loss_tools import (
    loss_on_outputs,
    loss_values,
    sample_ball,
    sample_targets,
    worst_gaps,
)

__all__ = ["plot_t36", "plot_t37", "t36_curves", "t37_curves"]

_M, _N = 12, 10
_RADIUS = 3.0
#: The three spectra of the T3.6 figure (sigma_1 = 1).
_SPECTRA = {
    "flat": np.ones(_N),
    r"power law, $\sigma_i = 1/i$": 1.0 / np.arange(1, _N + 1),
    "exactly rank 4": np.concatenate([1.0 / np.arange(1, 5), np.zeros(_N - 4)]),
}


def t36_curves(seed: int = 0, n_data: int = 500) -> dict[str, dict[str, FloatArray]]:
    r"""Per spectrum and rank :math:`0 \le r \le 10`: both bounds and two measured gaps.

    Softmax CE (L = sqrt 2) on a 12 x 10 W*, R = 3: the gap on an empirical measure of
    ``n_data`` points in the ball with labels drawn from softmax(W* x), and the worst gap over
    x on the sphere along :math:`v_{r+1}` with the worst label (:func:`worst_gaps`).
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, s in _SPECTRA.items():
        w = matrix_with_spectrum(_M, _N, s, rng)
        loss = loss_on_outputs("softmax_ce", _M)
        lr = loss.true_lipschitz * _RADIUS
        x = sample_ball(n_data, _N, _RADIUS, rng)
        y = sample_targets(loss, x @ w.T, rng)
        _, _, vt = np.linalg.svd(w)
        ranks = np.arange(0, _N + 1)
        rows: dict[str, list[float]] = {"fro": [], "spectral": [], "data": [], "worst": []}
        for r in ranks:
            w_r = truncated_svd(w, int(r))
            rows["fro"].append(lr * tail_energy(w, int(r)))
            rows["spectral"].append(lr * (float(s[r]) if r < _N else 0.0))
            full, trunc = loss_values(loss, x @ w.T, y), loss_values(loss, x @ w_r.T, y)
            rows["data"].append(abs(float(np.mean(full) - np.mean(trunc))))
            x_adv = _RADIUS * vt[min(int(r), _N - 1)][None]
            rows["worst"].append(abs(float(worst_gaps(loss, x_adv @ w.T, x_adv @ w_r.T)[0][0])))
        out[name] = {"ranks": ranks.astype(np.float64), **{k: np.array(v) for k, v in rows.items()}}
    return out


def _positive(v: FloatArray) -> FloatArray:
    # A zero tail cannot be drawn on a log axis: it is left out (the caption says so).
    out: FloatArray = np.where(v > 1e-12, v, np.nan)
    return out


def plot_t36(path: str | Path) -> Path:
    """Draw ``T3.6_tail_energy.png``: bounds and measured gaps against the rank, per spectrum.

    References
    ----------
    Claims T3.6 and T3.6s.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    curves = t36_curves()
    fig = Figure(figsize=(12.0, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (name, c) in zip(axes, curves.items(), strict=True):
        r = c["ranks"]
        ax.plot(r, _positive(c["fro"]), "o-", color="C0", label=r"T3.6 bound $L R\sigma_{>r}$")
        ax.plot(
            r, _positive(c["spectral"]), "s--", color="C1", label=r"T3.6s bound $L R\sigma_{r+1}$"
        )
        ax.plot(
            r,
            _positive(c["worst"]),
            "^-",
            color="C3",
            ms=5,
            label=r"worst gap ($x = R v_{r+1}$, worst label)",
        )
        ax.plot(
            r,
            _positive(c["data"]),
            "v-",
            color="C2",
            ms=5,
            label="gap on data (500 points in the ball)",
        )
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel(r"rank $r$ of the truncation ($r$ = 10: $W^*_r = W^*$, gap 0)")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlim(-0.4, _N + 0.4)
        ax.set_xticks(range(0, _N + 1, 2))
        zero_from = int(np.argmax(c["fro"] <= 1e-12))
        ax.axvspan(zero_from - 0.5, _N + 0.4, color="0.92", zorder=0)
        if zero_from < _N:
            ax.text(
                (zero_from + _N) / 2,
                1e-2,
                f"bounds and gaps are 0\nfor r >= {zero_from} (not drawn)",
                ha="center",
                fontsize=8,
                color="0.35",
            )
    axes[0].set_ylabel(r"loss gap $|\mathbb{E}\,\ell(W^* x, y) - \mathbb{E}\,\ell(W^*_r x, y)|$")
    axes[2].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        r"Rank-induced loss gap vs the tail energy: softmax cross-entropy ($L = \sqrt{2}$), "
        f"12 x 10 $W^*$, R = {_RADIUS:g}"
    )
    return save_png(fig, path, dpi=120)


def t37_curves(seed: int = 0) -> dict[str, Any]:
    r"""The T3.7 terms along gradient descent on rank-3 factors fitting a 12 x 10 teacher.

    Teacher with a power-law spectrum :math:`\sigma_i = i^{-1}`, 500 noisy samples (noise 0.3),
    steps 0 to 3000; the paper's scalar MAE on the first output (L = 1) on 500 points of the
    ball of radius 3 for the measured gap, reported as max over points of
    :math:`|l(W_t x, y) - l(W^* x, y)| / (L R)`.
    """
    rng = np.random.default_rng(seed)
    s = 1.0 / np.arange(1, _N + 1)
    w_star = matrix_with_spectrum(_M, _N, s, rng)
    r = 3
    steps = tuple(sorted({0, *np.unique(np.geomspace(1, 3000, 40).astype(int)).tolist()}))
    iterates = factor_gradient_descent(
        w_star, r, n_samples=500, noise=0.3, steps=steps[-1], record=steps, rng=rng
    )
    loss = loss_on_outputs("mae", _M)
    x = sample_ball(500, _N, _RADIUS, rng)
    y = sample_targets(loss, x @ w_star.T, rng)
    lr = loss.true_lipschitz * _RADIUS
    out: dict[str, list[float]] = {"step": [], "opt": [], "bias": [], "dist": [], "gap": []}
    for t, w in iterates:
        d = rank_decomposition(w, w_star, r)
        gap = np.max(np.abs(loss_values(loss, x @ w.T, y) - loss_values(loss, x @ w_star.T, y)))
        out["step"].append(float(t))
        out["opt"].append(d.optimisation)
        out["bias"].append(d.rank_bias)
        out["dist"].append(d.distance)
        out["gap"].append(float(gap) / lr)
    return {k: np.array(v) for k, v in out.items()} | {"r": r}


def plot_t37(path: str | Path) -> Path:
    """Draw ``T3.7_decomposition.png``: optimisation + bias against the distance, over training.

    References
    ----------
    Claim T3.7.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    c = t37_curves()
    step = np.maximum(c["step"], 0.5)  # step 0 drawn at 0.5 on the log axis
    fig = Figure(figsize=(7.5, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(
        step,
        c["opt"] + c["bias"],
        "-",
        color="C3",
        lw=2.2,
        label=r"T3.7 bound / (L R): $\|W - W^*_r\|_F + \sigma_{>r}$",
    )
    ax.plot(step, c["opt"], "--", color="C0", label=r"optimisation $\|W - W^*_r\|_F$")
    ax.plot(step, c["bias"], ":", color="C1", lw=2, label=r"rank bias $\sigma_{>r}(W^*)$")
    ax.plot(step, c["dist"], "-", color="C2", label=r"actual distance $\|W - W^*\|_F$")
    ax.plot(
        step,
        c["gap"],
        "-",
        color="C4",
        alpha=0.8,
        label=r"max loss gap / (L R) on data (MAE, first output)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient-descent step on the factors (A, B) (step 0 drawn at 0.5)")
    ax.set_ylabel("Frobenius norm (or loss gap / (L R))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(
        rf"T3.7 for $W = AB^\top$ (rank {c['r']}) learned from a 12 x 10 teacher, $\sigma_i = 1/i$"
    )
    return save_png(fig, path, dpi=120)
