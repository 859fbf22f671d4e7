r"""The sweep's figures, drawn from ``DIR/results.csv`` (and ``DIR/meta.json``) into
``DIR/figures/``; ``lrbnn sweep`` draws them after assembling the results.

* ``bound_vs_rank.png``: one panel per width (columns) and prior mode (rows, in
  :class:`~verification.sweep.SweepPrior` order; a single-mode sweep draws one untitled row, as
  before prior modes existed), each drawn from its own rows only: the McAllester and kl-inverse
  certificates and the test Gibbs error against the rank (mean over seeds, band from the
  smallest to the largest seed), the mean-field (dashed) and PBB (dotted, with ``--pbb``) levels
  as horizontal lines of the same colours, and the critical rank :math:`r^\ast` of claim T3.8
  (:func:`theory.pac_bayes.critical_rank`) where it applies (MLP rows: the largest common rank
  whose McAllester bound with KL :math:`= C_{max} D_{LR}(r)` stays below 1, with :math:`C_{max}`
  the largest per-coordinate KL measured in that panel, the mean Monte Carlo risk of its
  low-rank rows and the certificate's :math:`n` and :math:`\delta`: prior modes never mix).
* ``complexity_ratio.png``: the measured :math:`\sqrt{KL_{LR}/KL_{MF}}` against the predicted
  :math:`\sqrt{D_{LR}/D_{MF}}` (claim T3.8c), one point per low-rank row, with the line
  :math:`y = x`; drawn only when the sweep has the mean-field baseline.
* ``where_low_rank_wins.png`` and its table (:mod:`~verification.sweep.answer`): the best
  low-rank certificate minus the mean-field one, per prior mode and width.

Matplotlib's Agg backend, fixed sizes and no PNG metadata: the same results give the same bytes.
"""

from __future__ import annotations

import json
import math
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verification.sweep.answer import (
    WHERE_LOW_RANK_WINS,
    WHERE_LOW_RANK_WINS_CSV,
    answer_csv,
    plot_where_low_rank_wins,
    where_low_rank_wins,
)
from verification.sweep.png import save_png as _save
from verification.sweep.schema import parse_results
from verification.sweep.spec import SweepError, SweepPrior

__all__ = [
    "BOUND_VS_RANK",
    "COMPLEXITY_RATIO",
    "critical_rank_for",
    "make_sweep_figures",
    "read_results",
]

#: file names in ``DIR/figures/``
BOUND_VS_RANK = "bound_vs_rank.png"
COMPLEXITY_RATIO = "complexity_ratio.png"
#: the full-rank families drawn as levels: (family, legend name, line style)
_BASELINES = (("mean_field", "mean field", "--"), ("pbb", "PBB", (0, (1, 1.5))))
#: (column, legend label, colour, width of the mean-field line: the McAllester line is drawn
#: wider so that it shows around the kl-inverse line it often nearly equals)
_SERIES = (
    ("mcallester", "McAllester certificate", "C0", 2.6),
    ("kl_inverse", "kl-inverse certificate", "C1", 1.2),
    ("test_gibbs_error", "test Gibbs error", "C2", 1.2),
)


def read_results(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a ``results.csv``, numbers parsed (blank cells are ``None``; per-layer cells
    are lists) and every cell checked against :data:`~verification.sweep.COLUMNS`
    (:func:`~verification.sweep.schema.parse_results`: a malformed file raises
    :class:`~verification.sweep.SweepError` naming its line and column; non-finite values are
    refused, never dropped)."""
    return parse_results(path)


def _read_meta(folder: Path) -> tuple[dict[str, Any], float]:
    """``meta.json`` and its ``settings.delta``, or :class:`SweepError` naming the file."""
    path = folder / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        delta = meta["settings"]["delta"]
    except FileNotFoundError:
        raise SweepError(
            f"{path} is missing (a sweep folder holds it next to results.csv)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise SweepError(f"{path} is unreadable or lacks settings.delta") from None
    if isinstance(delta, bool) or not isinstance(delta, (int, float)):
        raise SweepError(f"{path}: settings.delta must be a number in (0, 1); got {delta!r}")
    if not math.isfinite(delta) or not 0.0 < delta < 1.0:
        raise SweepError(f"{path}: settings.delta must be in (0, 1); got {delta!r}")
    return meta, float(delta)


def _layer_dims(shapes: str) -> tuple[list[int], list[int]]:
    pairs = [tuple(int(d) for d in s.split("x")) for s in shapes.split(";")]
    return [m for m, _ in pairs], [n for _, n in pairs]


def critical_rank_for(rows: Sequence[dict[str, Any]], delta: float) -> tuple[int, int, str] | None:
    r"""The critical rank of claim T3.8 for the low-rank MLP rows of one width, the largest rank
    the formula can return (the smallest layer's full rank, the classifier head's for an MLP),
    and a label; ``None`` where it does not apply (no low-rank MLP rows).

    :math:`C_{max}` is the largest per-coordinate KL over the rows, the empirical risk their
    mean Monte Carlo risk, :math:`N` their ``n_bound``.

    Examples
    --------
    >>> row = {"arch": "mlp", "family": "low_rank", "layer_shapes": "8x4;3x8",
    ...        "kl_per_coord_max": 1e-3, "mc_risk": 0.1, "n_bound": 1000}
    >>> critical_rank_for([row], 0.05)[:2]
    (3, 3)
    """
    from theory.pac_bayes import critical_rank

    low = [r for r in rows if r["family"] == "low_rank" and r["arch"] == "mlp"]
    if not low:
        return None
    m, n = _layer_dims(low[0]["layer_shapes"])
    c_max = max(float(r["kl_per_coord_max"]) for r in low)
    risk = float(np.mean([r["mc_risk"] for r in low]))
    n_bound = int(low[0]["n_bound"])
    r_star = critical_rank(m, n, c_max=c_max, n_samples=n_bound, delta=delta, emp_risk=risk)
    cap = min(min(a, b) for a, b in zip(m, n, strict=True))
    label = f"$C_{{max}}$ = {c_max:.3g}, $\\hat L$ = {risk:.2f}"
    return r_star, cap, label


def _stats(values: Sequence[float]) -> tuple[float, float, float]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.min()), float(arr.max())


def _figure(width_in: float, height_in: float, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _panels(
    width_in: float, height_in: float, modes: Sequence[str], widths: Sequence[int]
) -> tuple[Any, dict[tuple[str, int], Any]]:
    """A figure of ``len(modes)`` x ``len(widths)`` panels and its axes keyed by (prior mode,
    width) in row-major order (for one mode, the same figure as :func:`_figure`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = fig.subplots(len(modes), len(widths), squeeze=False)
    return fig, {
        (mode, width): axes[i, j] for i, mode in enumerate(modes) for j, width in enumerate(widths)
    }


def plot_bound_vs_rank(rows: Sequence[dict[str, Any]], path: Path, *, delta: float) -> Path:
    """Draw ``bound_vs_rank.png`` (module docstring) from parsed rows: one row of panels per
    prior mode, one column per width."""
    widths = sorted({int(r["width"]) for r in rows})
    modes = [m.value for m in SweepPrior if any(r["prior"] == m.value for r in rows)]
    fig, panels = _panels(
        max(7.5, 4.4 * len(widths) + 0.6), 5.2 + 3.9 * (len(modes) - 1), modes, widths
    )
    # one y range per row of panels (a prior mode): a vacuous McAllester bound of one mode (the
    # scale mixture's reaches 14) must not flatten the others' curves
    tops = dict.fromkeys(modes, 1.05)
    for (mode, width), ax in panels.items():
        at = [r for r in rows if r["width"] == width and r["prior"] == mode]
        low = sorted((r for r in at if r["family"] == "low_rank"), key=lambda r: r["rank"])
        levels = [
            (name, style, [r for r in at if r["family"] == family])
            for family, name, style in _BASELINES
        ]
        ranks = sorted({int(r["rank"]) for r in low})
        for column, label, colour, line_width in _SERIES:
            if ranks:
                stats = [_stats([r[column] for r in low if r["rank"] == k]) for k in ranks]
                mean, lo, hi = (np.array(s) for s in zip(*stats, strict=True))
                ax.plot(ranks, mean, "o-", color=colour, label=f"{label}, low rank")
                ax.fill_between(ranks, lo, hi, color=colour, alpha=0.18, linewidth=0)
                tops[mode] = max(tops[mode], float(hi.max()) * 1.05)
            for name, style, baseline in levels:
                if not baseline:
                    continue
                level = _stats([r[column] for r in baseline])[0]
                ax.axhline(
                    level,
                    color=colour,
                    linestyle=style,
                    linewidth=line_width,
                    label=f"{label}, {name}",
                )
                tops[mode] = max(tops[mode], level * 1.05)
        ax.axhline(1.0, color="0.4", linewidth=0.8, linestyle=":")
        critical = critical_rank_for(at, delta) if ranks else None
        if critical is not None:
            r_star, cap, label = critical
            if 1 <= r_star < cap:
                ax.axvline(
                    r_star, color="C3", linestyle="-.", linewidth=1.2, label="critical rank (T3.8)"
                )
                text = f"T3.8 critical rank $r^*$ = {r_star}"
            elif r_star == 0:
                text = "T3.8 critical rank: vacuous at rank 1"
            else:
                text = f"T3.8 critical rank $r^* \\geq$ {cap} (head's full rank)"
            ax.text(
                0.02,
                0.02,
                f"{text}\n{label}",
                transform=ax.transAxes,
                fontsize="x-small",
                va="bottom",
                bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.9},
            )
        if ranks:
            ax.set_xscale("log", base=2)
            ax.set_xticks(ranks, [str(k) for k in ranks])
            ax.minorticks_off()
        ax.set_xlabel("rank r")
        mode_title = "" if len(modes) == 1 else f"{mode.replace('_', '-')} prior, "
        ax.set_title(f"{mode_title}width {width}", fontsize="medium")
        ax.grid(alpha=0.3)
    for (mode, _), ax in panels.items():
        ax.set_ylim(0.0, tops[mode])
    for mode in modes:
        panels[mode, widths[0]].set_ylabel("0-1 Gibbs risk: certificate or test error")
    seen: dict[str, Any] = {}
    for ax in panels.values():
        handles, labels = ax.get_legend_handles_labels()
        for handle, lab in zip(handles, labels, strict=True):
            seen.setdefault(lab, handle)
    fig.legend(
        list(seen.values()),
        list(seen.keys()),
        loc="outside lower center",
        ncols=2,
        fontsize="small",
        frameon=False,
    )
    first = rows[0]
    seeds = sorted({int(r["seed"]) for r in rows})
    fig.suptitle(
        f"{first['arch'].upper()} on {first['dataset']}: certificates vs rank "
        f"(each holds w.p. >= {first['confidence']:.2f}, grid paid for)\n"
        f"mean over {len(seeds)} seed(s), band from min to max; dotted: 1 (vacuous)"
        + ("" if len(modes) == 1 else "; one row per prior mode"),
        fontsize="medium",
    )
    return _save(fig, path)


def plot_complexity_ratio(rows: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Draw ``complexity_ratio.png`` (module docstring); ``None`` when no row has both ratios."""
    pts = [r for r in rows if r["predicted_ratio"] is not None and r["measured_ratio"] is not None]
    if not pts:
        return None
    fig, axes = _figure(5.6, 4.8)
    ax = axes[0]
    widths = sorted({int(r["width"]) for r in pts})
    markers = "osD^v<>"
    seeds = sorted({int(r["seed"]) for r in pts})
    for i, width in enumerate(widths):
        for j, seed in enumerate(seeds):
            sel = [r for r in pts if r["width"] == width and r["seed"] == seed]
            if not sel:
                continue
            ax.scatter(
                [r["predicted_ratio"] for r in sel],
                [r["measured_ratio"] for r in sel],
                color=f"C{i}",
                marker=markers[j % len(markers)],
                label=f"width {width}, seed {seed}",
                alpha=0.85,
            )
            for r in sel if j == 0 else ():
                ax.annotate(
                    f"r={r['rank']}",
                    (r["predicted_ratio"], r["measured_ratio"]),
                    xytext=(4, 3),
                    textcoords="offset points",
                    fontsize="xx-small",
                    color=f"C{i}",
                )
    values = [float(r[c]) for r in pts for c in ("predicted_ratio", "measured_ratio")]
    lo, hi = min(values) / 1.5, max(values) * 1.5
    ax.plot([lo, hi], [lo, hi], color="0.3", linestyle="--", linewidth=1, label="y = x")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        # plain numbers at 1, 2, 5 x 10^k: the default minor labels overlap on short decades
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(r"predicted $\sqrt{D_{LR} / D_{MF}}$ (stochastic scalars)")
    ax.set_ylabel(r"measured $\sqrt{KL_{LR} / KL_{MF}}$")
    ax.set_title(
        "complexity ratio, low rank vs mean field (T3.8c)\n"
        "same width and seed; labels: rank (first seed)",
        fontsize="medium",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small", loc="best")
    return _save(fig, path)


def _sidecar(png: Path, folder: Path, meta: dict[str, Any], prefix: str | None) -> Path:
    """The JSON next to a sweep figure: what redraws it (``prefix``: the ``--prefix`` it needs,
    if any), from which sweep, seeds, commit and package versions (as the sweep recorded them);
    sorted keys, no time stamps."""
    option = "" if prefix is None else f" --prefix {shlex.quote(prefix)}"
    side = {
        "figure": png.name,
        "command": (
            f"lrbnn figures --sweep {shlex.quote(str(folder))} --out {shlex.quote(str(png.parent))}"
            + option
        ),
        "sweep": str(folder),
        "seeds": meta.get("arguments", {}).get("seeds", meta.get("seeds")),
        "commit": meta.get("git_commit", meta.get("commit", "unknown")),
        "versions": meta.get("versions", {}),
    }
    path = png.with_suffix(".json")
    path.write_text(json.dumps(side, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def make_sweep_figures(
    out: Path | str, into: Path | str | None = None, *, prefix: str = ""
) -> list[Path]:
    """Draw every sweep figure of ``out/results.csv`` into ``into`` (default ``out/figures/``),
    file names starting with ``prefix``, each PNG with a JSON sidecar; returns the paths (PNG,
    then sidecar, per figure). Given an explicit ``into`` (``lrbnn figures --sweep DIR --out
    X``), the table ``where_low_rank_wins.csv`` is written there too (prefixed, last in the
    list): the sweep itself writes it to ``out``, which this function leaves untouched."""
    folder = Path(out)
    rows = read_results(folder / "results.csv")
    meta, delta = _read_meta(folder)
    figures = folder / "figures" if into is None else Path(into)
    figures.mkdir(parents=True, exist_ok=True)
    pngs = [plot_bound_vs_rank(rows, figures / f"{prefix}{BOUND_VS_RANK}", delta=delta)]
    ratio = plot_complexity_ratio(rows, figures / f"{prefix}{COMPLEXITY_RATIO}")
    if ratio is not None:
        pngs.append(ratio)
    table = where_low_rank_wins(rows)
    first = rows[0]
    seeds = sorted({int(r["seed"]) for r in rows})
    title = (
        f"{first['arch'].upper()} on {first['dataset']}: where low rank certifies tighter\n"
        f"mean over {len(seeds)} seed(s); matched: only ranks whose test Gibbs error\n"
        "is at most the mean field's (so that a worse model's certificate does not win)"
    )
    heat = plot_where_low_rank_wins(table, figures / f"{prefix}{WHERE_LOW_RANK_WINS}", title=title)
    if heat is not None:
        pngs.append(heat)
    made: list[Path] = []
    # the command line's default prefix for this folder (lrbnn figures) needs no option
    option = None if prefix == ("" if into is None else "sweep_") else prefix
    for png in pngs:
        made += [png, _sidecar(png, folder, meta, option)]
    if into is not None and table:
        csv_path = figures / f"{prefix}{WHERE_LOW_RANK_WINS_CSV}"
        csv_path.write_bytes(answer_csv(table))
        made.append(csv_path)
    return made
