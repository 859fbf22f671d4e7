r"""Figures of claims E21 (the two one-layer gaps) and E22 (their crossover against the remark's).

Matplotlib's object interface with the Agg canvas, so no global backend state changes.

References: claims E21 and E22 of ``CLAIMS.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from theory.gaussian_complexity.crossover import (
    crossover_kl,
    leading_crossover_kl,
    remark_crossover_kl,
)
from verification.claims.generalisation.gaps import E21_GRID, gap_table

__all__ = ["e22_curves", "plot_e21", "plot_e22"]


def plot_e21(path: str | Path) -> Path:
    """Draw the E21 figure (both gaps against the rank) to a PNG at ``path``; return the path.

    References
    ----------
    Claim E21.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    table = gap_table(E21_GRID)
    ranks = table["ranks"]
    widths, sizes, c1s = E21_GRID["widths"], E21_GRID["sample_sizes"], E21_GRID["c1s"]
    k1 = list(c1s).index(1.0)
    fig = Figure(figsize=(12.0, 5.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(sizes), sharey=True)
    for j, (ax, m) in enumerate(zip(axes, sizes, strict=True)):
        for i, s in enumerate(widths):
            ax.plot(
                ranks,
                table["pac"][i, j, k1],
                "-",
                color=f"C{i}",
                label=f"PAC, posterior width s = {s:g} ($C_{{max}}$ = {table['c_max'][i]:.2f})",
            )
        for k, c1 in enumerate(c1s):
            ax.plot(
                ranks,
                table["gc"][0, j, k],
                "--",
                color="k",
                lw=0.6 + 0.6 * k,
                label=f"GC as printed, $C_1$ = {c1:g}",
            )
        ax.plot(
            ranks,
            table["gc_ours"][0, j, k1],
            ":",
            color="0.45",
            lw=2.0,
            label="GC ours ($\\sqrt{2\\pi}L$, $C_1$), $C_1$ = 1",
        )
        ref = table["pac"][0, j, k1, -1] * np.sqrt(ranks / ranks[-1]) * 1.6
        ax.plot(ranks, ref, "-", color="0.8", lw=3, zorder=0, label=r"reference $\propto\sqrt{r}$")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(ranks[[0, 1, 3, 7, 15]] if ranks.size >= 16 else ranks)
        ax.set_xticklabels([str(int(t)) for t in ax.get_xticks()])
        ax.set_xlabel("rank r")
        ax.set_title(f"m = {m:,}", fontsize=10)
    axes[0].set_ylabel("generalisation gap bound")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(
        f"E21: one layer {E21_GRID['d_in']} -> {E21_GRID['d_out']}, L = C0 = 1, "
        r"$\|X\|_F = \sqrt{m}$, $\delta$ = 0.05: neither gap dominates; both grow like $\sqrt{r}$",
        fontsize=10,
    )
    return save_png(fig, path, dpi=130)


def e22_curves() -> dict[str, Any]:
    r"""The numbers drawn in the E22 figure: the crossover thresholds on :math:`C_{max}` against
    :math:`C_1` (one layer 64 -> 16, m = 10^4, R = L = C0 = 1, delta = 0.05) for several ranks,
    and the ratio :math:`C^\ast/C_{remark}`, a function of :math:`x = K d_{out} r` and m alone.

    References
    ----------
    Claim E22.
    """
    d_in, d_out, m, delta = 64, 16, 10_000, 0.05
    c1s = np.geomspace(0.1, 4.0, 60)
    common: dict[str, Any] = {
        "d_in": d_in,
        "d_out": d_out,
        "lipschitz": 1.0,
        "c0": 1.0,
        "radius": 1.0,
    }
    remark = np.array([remark_crossover_kl(c1=c, **common) for c in c1s])
    leading = np.array([leading_crossover_kl(c1=c, **common) for c in c1s])
    exact = {
        r: np.array([crossover_kl(rank=r, n=m, delta=delta, c1=c, **common) for c in c1s])
        for r in (1, 4, 16)
    }
    xs = np.geomspace(1e-3, 1e6, 80)
    # C*/C_remark depends on K d_out r, m and delta only: evaluate it at d_in = d_out = r = 1,
    # C_1 = x^(1/4) (so K = x).
    unit: dict[str, Any] = {"d_in": 1, "d_out": 1, "lipschitz": 1.0, "c0": 1.0, "radius": 1.0}
    ratio = {
        n: np.array(
            [
                crossover_kl(rank=1, n=n, delta=delta, c1=x**0.25, **unit)
                / remark_crossover_kl(c1=x**0.25, **unit)
                for x in xs
            ]
        )
        for n in (10**3, 10**5, 10**7)
    }
    return {
        "c1s": c1s,
        "remark": remark,
        "leading": leading,
        "exact": exact,
        "xs": xs,
        "ratio": ratio,
        "setting": (d_in, d_out, m, delta),
    }


def plot_e22(path: str | Path) -> Path:
    """Draw the E22 figure (the exact crossover of the printed gaps vs the remark's) to a PNG at
    ``path``; return the path.

    References
    ----------
    Claim E22.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    cv = e22_curves()
    d_in, d_out, m, delta = cv["setting"]
    fig = Figure(figsize=(11.0, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(1, 2)
    c1s = cv["c1s"]
    ax.plot(
        c1s, cv["remark"], "-", color="k", lw=2, label=r"remark: $\pi K d_{out}/(d_{in}+d_{out})$"
    )
    ax.plot(
        c1s,
        cv["leading"],
        "--",
        color="0.4",
        label=r"printed gaps, confidence terms dropped ($2\pi$)",
    )
    for (r, ex), color in zip(cv["exact"].items(), ("C0", "C1", "C2"), strict=True):
        ax.plot(c1s, ex, "-", color=color, label=f"printed gaps, exact crossover, r = {r}")
    ax.fill_between(
        c1s,
        cv["remark"],
        cv["exact"][1],
        color="C3",
        alpha=0.15,
        label="condition fails, yet PAC wins (r = 1)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"spectral bound $C_1$ ($K = L C_0^2 C_1^4 R^2$)")
    ax.set_ylabel(r"$C_{max}$ threshold (PAC-Bayes smaller below)")
    ax.set_title(
        f"one layer {d_in} -> {d_out}, m = {m:,}, R = L = C0 = 1, delta = {delta:g}", fontsize=10
    )
    ax.legend(fontsize=7.5, loc="upper left")
    for (n, ratio), color in zip(cv["ratio"].items(), ("C0", "C1", "C2"), strict=True):
        bx.plot(cv["xs"], ratio, "-", color=color, label=f"exact / remark, m = {n:.0e}")
    bx.axhline(2.0, color="0.4", ls="--", label="confidence terms dropped (2)")
    bx.axhline(1.0, color="k", lw=2, label="the remark (1)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlabel(r"$x = K\, d_{out}\, r$")
    bx.set_ylabel(r"$C^\ast / C_{remark}$")
    bx.set_title(
        "the crossover depends on x, m and delta only; the ratio is unbounded as x -> 0", fontsize=9
    )
    bx.legend(fontsize=8)
    return save_png(fig, path, dpi=130)
