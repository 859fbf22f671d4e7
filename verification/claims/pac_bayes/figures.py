r"""Figure of claim D2: the kl-inverse bound beside its Pinsker relaxation, McAllester's bound.

With :math:`c = (\mathrm{KL}(Q\|P) + \ln(2\sqrt{n}/\delta))/n`, the kl-inverse (Seeger/Maurer)
bound is :math:`\mathrm{kl}^{-1}_{+}(\hat L, c)` and McAllester's bound (claim D2, Maurer's form)
is :math:`\hat L + \sqrt{c/2}`. Pinsker's inequality :math:`\mathrm{kl}(q\|p) \ge 2(p - q)^2`
says the second is a relaxation of the first, so the kl-inverse bound is never larger; the gap is
widest at small empirical risk, where the kl-inverse excess is about :math:`c` (a fast rate)
instead of :math:`\sqrt{c/2}`.

Matplotlib's object interface with the Agg canvas, so no global backend state changes. No random
numbers: the figure is a function of the constants below.

References: claim D2 and ``CLAIMS.md`` section 5 (the kl-inverse bound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from theory._validation import FloatArray
from theory.pac_bayes import kl_bound, log_term, mcallester_bound

__all__ = ["D2_FIG_DELTA", "D2_FIG_KLS", "D2_FIG_N", "D2_FIG_QS", "d2_curves", "plot_d2"]

#: Sample size and confidence of the figure (the complexity c depends on them and on the KL).
D2_FIG_N, D2_FIG_DELTA = 10_000, 0.05
#: KL(Q||P) in nats of the left panel's curves: c of about 0.003, 0.03 and 0.3.
D2_FIG_KLS = (20.0, 300.0, 3000.0)
#: Empirical risks of the right panel's curves.
D2_FIG_QS = (0.0, 0.02, 0.1, 0.5)
#: Points of the left panel's risk grid on [0, 0.5] and of the right panel's KL grid.
_N_RISKS, _N_KLS = 201, 61


def d2_curves() -> dict[str, FloatArray | float | int]:
    r"""The numbers drawn in the D2 figure, from :func:`theory.pac_bayes.kl_bound` and
    :func:`theory.pac_bayes.mcallester_bound` at ``n = 10 000``, ``delta = 0.05``.

    .. math::

        c = \frac{\mathrm{KL} + \ln(2\sqrt{n}/\delta)}{n}, \qquad
        \mathrm{kl}^{-1}_{+}(q, c) \;\le\; q + \sqrt{c/2}

    Returns
    -------
    dict
        ``q`` (201,) empirical risks on [0, 0.5]; ``kls`` (3,) and ``cs`` (3,) the left panel's
        KL and complexity; ``kl_inverse`` and ``mcallester`` (3, 201) the two bounds there;
        ``c_grid`` (61,) the right panel's complexities (KL from 0 to 9000 nats); ``q_right``
        (4,) its empirical risks; ``kl_excess`` (4, 61) the kl-inverse bound minus ``q``;
        ``mcallester_excess`` (61,) :math:`\sqrt{c/2}`, the same for every ``q``; ``n``,
        ``delta``.

    References
    ----------
    Claim D2.

    Examples
    --------
    >>> cv = d2_curves()
    >>> bool(np.all(cv["kl_inverse"] <= cv["mcallester"])), cv["kl_inverse"].shape
    (True, (3, 201))
    """
    n, delta = D2_FIG_N, D2_FIG_DELTA
    lt = float(log_term(n, delta))
    q = np.linspace(0.0, 0.5, _N_RISKS)
    kls = np.array(D2_FIG_KLS)
    kl_inverse = np.array([kl_bound(q, k, n, delta) for k in kls])
    mcallester = np.array([mcallester_bound(q, k, n, delta) for k in kls])
    # KL = 0 is the smallest complexity any posterior can have at this n and delta.
    kl_grid = np.concatenate([[0.0], np.geomspace(0.1, 9000.0, _N_KLS - 1)])
    q_right = np.array(D2_FIG_QS)
    kl_excess = np.array([kl_bound(qq, kl_grid, n, delta) - qq for qq in q_right])
    mcallester_excess = mcallester_bound(0.0, kl_grid, n, delta)
    return {
        "q": q,
        "kls": kls,
        "cs": (kls + lt) / n,
        "kl_inverse": kl_inverse,
        "mcallester": mcallester,
        "c_grid": (kl_grid + lt) / n,
        "q_right": q_right,
        "kl_excess": kl_excess,
        "mcallester_excess": mcallester_excess,
        "n": n,
        "delta": delta,
    }


def plot_d2(path: str | Path) -> Path:
    """Draw ``D2_kl_inverse_vs_pinsker.png`` to ``path``; return the path.

    Left: both bounds against the empirical risk for three KL values. Right: each bound's excess
    over the empirical risk against the complexity c, log-log.

    References
    ----------
    Claim D2.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from verification.figures import save_png

    cv = d2_curves()
    q, c_grid = np.asarray(cv["q"]), np.asarray(cv["c_grid"])
    kl_inverse, mcallester = np.asarray(cv["kl_inverse"]), np.asarray(cv["mcallester"])
    fig = Figure(figsize=(11.5, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(1, 2)
    for i, (kl, c) in enumerate(zip(np.asarray(cv["kls"]), np.asarray(cv["cs"]), strict=True)):
        color = f"C{i}"
        ax.fill_between(q, kl_inverse[i], mcallester[i], color=color, alpha=0.12, lw=0)
        ax.plot(q, mcallester[i], "--", color=color)
        ax.plot(q, kl_inverse[i], "-", color=color, label=f"KL = {kl:g} nats (c = {c:.3f})")
    # Line styles get their own legend entries, so each colour is named once.
    ax.plot([], [], "-", color="0.2", label=r"kl-inverse $\mathrm{kl}^{-1}_{+}(\hat L, c)$")
    ax.plot([], [], "--", color="0.2", label=r"McAllester $\hat L + \sqrt{c/2}$ (D2)")
    ax.plot(q, q, ":", color="0.4", lw=1, label=r"empirical risk $\hat L$ (c = 0)")
    ax.set_xlim(0.0, 0.5)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"empirical risk $\hat L(Q)$")
    ax.set_ylabel(r"bound on the true risk $L(Q)$")
    ax.set_title(
        f"n = {cv['n']:,}, δ = {cv['delta']:g}; shaded: what Pinsker's relaxation loses",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    # McAllester first and underneath: at L = 0.5 the kl-inverse curve lies on it.
    bx.plot(
        c_grid,
        np.asarray(cv["mcallester_excess"]),
        "--",
        color="k",
        lw=2.5,
        zorder=1,
        label=r"McAllester $\sqrt{c/2}$ (every $\hat L$)",
    )
    for j, qq in enumerate(np.asarray(cv["q_right"])):
        bx.plot(
            c_grid,
            np.asarray(cv["kl_excess"])[j],
            "-",
            color=f"C{j + 3}",
            zorder=2,
            label=rf"kl-inverse, $\hat L$ = {qq:g}",
        )
    bx.plot(c_grid, c_grid, ":", color="0.5", lw=1, label="c (slope 1, for reference)")
    bx.set_xscale("log")
    bx.set_yscale("log")
    bx.set_xlim(c_grid[0], c_grid[-1])
    bx.set_xlabel(r"complexity $c = (\mathrm{KL}(Q\|P) + \ln(2\sqrt{n}/\delta))\,/\,n$")
    bx.set_ylabel(r"excess of the bound over $\hat L(Q)$")
    bx.set_title(
        r"excess for small $c$: about $c$ at $\hat L = 0$, "
        r"$\sqrt{2\hat L(1-\hat L)c}$ for $\hat L > 0$",
        fontsize=10,
    )
    bx.legend(fontsize=8, loc="lower right")
    fig.suptitle(
        r"D2: the kl-inverse bound $\mathrm{kl}^{-1}_{+}(\hat L, c)$ is never above McAllester's "
        r"$\hat L + \sqrt{c/2}$ (Pinsker: $\mathrm{kl}(q\|p) \geq 2(p - q)^2$)",
        fontsize=11,
    )
    return save_png(fig, path, dpi=130)
