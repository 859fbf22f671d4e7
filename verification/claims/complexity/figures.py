r"""Figure of claim E17: the restated Pinto bound against the exact Gaussian complexity.

Matplotlib's object interface with the Agg canvas, so no global backend state changes.

References: claim E17 of ``CLAIMS.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from theory.gaussian_complexity import linear_class_complexity, pinto_bound_as_restated
from theory.gaussian_complexity.corrected import one_layer_complexity_bound

__all__ = ["e17_curves", "plot_e17"]


#: The sample of the E17 figure: m x d Gaussian, k outputs, rank r, fixed seed.
_E17_FIG = {"m": 50, "d": 8, "k": 6, "r": 3, "n_draws": 2000, "seed": 17}
_E17_C0S = (1.0, 10.0)


def e17_curves(n_draws: int = _E17_FIG["n_draws"]) -> dict[str, Any]:
    r"""The numbers drawn in the E17 figure: exact complexity (and SE) as C_1 and r vary, with
    the restated and corrected bounds at the same points.

    References
    ----------
    Claim E17.
    """
    f = _E17_FIG
    rng = np.random.default_rng(f["seed"])
    X = rng.standard_normal((f["m"], f["d"]))
    k, r = f["k"], f["r"]
    ranks = np.arange(1, min(k, f["d"]) + 1)
    unit = [
        linear_class_complexity(
            X, spectral_bound=1.0, rank=int(q), out_dim=k, n_draws=n_draws, rng=rng
        )
        for q in ranks
    ]
    est = np.array([u[0] for u in unit])
    se = np.array([u[1] for u in unit])
    cs = np.geomspace(1e-2, 10.0, 40)

    def restated(c: float, q: int, c0: float) -> float:
        return pinto_bound_as_restated(X, spectral_bounds=[c], ranks=[q], widths=[k], c0=c0)

    corrected = np.array(
        [one_layer_complexity_bound(X, spectral_bound=1.0, rank=int(q), out_dim=k) for q in ranks]
    )
    return {
        "cs": cs,
        "ranks": ranks,
        "r": r,
        "unit_est": est,
        "unit_se": se,
        "corrected_unit": corrected,
        "restated_c": {c0: np.array([restated(c, r, c0) for c in cs]) for c0 in _E17_C0S},
        "restated_r": {c: np.array([restated(c, int(q), 1.0) for q in ranks]) for c in (0.3, 3.0)},
        "kappa": est[r - 1] / corrected[r - 1],
        "sample": f,
    }


def plot_e17(path: str | Path) -> Path:
    """Draw the E17 figure to a PNG at ``path``; return the path.

    References
    ----------
    Claim E17.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    cv = e17_curves()
    f, r, cs = cv["sample"], cv["r"], cv["cs"]
    g1, se1 = cv["unit_est"][r - 1], cv["unit_se"][r - 1]
    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(1, 2)
    sub = slice(None, None, 3)
    ax.errorbar(
        cs[sub],
        (cs * g1)[sub],
        yerr=(2 * cs * se1)[sub],
        fmt="o",
        ms=4,
        color="k",
        capsize=2,
        label="exact G (Monte Carlo, ±2 SE): slope 1",
    )
    ax.plot(
        cs,
        cs * cv["corrected_unit"][r - 1],
        "-",
        color="C2",
        label=r"ours: $C_1\sqrt{r h_1}\|X\|_F/m$ (slope 1)",
    )
    for c0, color in zip(_E17_C0S, ("C3", "C1"), strict=True):
        ax.plot(
            cs,
            cv["restated_c"][c0],
            "--",
            color=color,
            label=f"restated E17, $C_0$ = {c0:g} (slope 2)",
        )
        cross = cv["kappa"] / c0
        ax.axvline(cross, color=color, lw=0.8, ls=":")
        ax.text(
            cross * 1.08,
            0.02,
            f"fails below {cross:.3g}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            ha="left",
            va="bottom",
            fontsize=8,
            color=color,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"spectral bound $C_1$")
    ax.set_ylabel("Gaussian complexity / bound")
    ax.set_title(f"D = 1, m = {f['m']}, d = {f['d']}, k = h_1 = {f['k']}, r = {r}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ranks = cv["ranks"]
    for c, color in zip((0.3, 3.0), ("C0", "C4"), strict=True):
        bx.errorbar(
            ranks,
            c * cv["unit_est"],
            yerr=2 * c * cv["unit_se"],
            fmt="o-",
            ms=4,
            color=color,
            capsize=2,
            label=f"exact G, $C_1$ = {c:g}",
        )
        bx.plot(
            ranks,
            cv["restated_r"][c],
            "--",
            color=color,
            label=f"restated ($C_0$ = 1), $C_1$ = {c:g}",
        )
        bx.plot(ranks, c * cv["corrected_unit"], ":", color=color, label=f"ours, $C_1$ = {c:g}")
    bx.set_yscale("log")
    bx.set_xlabel(r"rank bound $r_1$")
    bx.set_ylabel("Gaussian complexity / bound")
    bx.set_title("restated is below the exact value at small $C_1$, for every rank", fontsize=10)
    bx.legend(fontsize=7.5, loc="center", ncol=2)
    return save_png(fig, path, dpi=130)
