"""The figures of a comparison, drawn from ``DIR/results.csv``, its summary and
``DIR/arrays/`` into ``DIR/figures/`` (matplotlib's Agg backend, no PNG metadata, each PNG with
a JSON sidecar as the sweep's: what redraws it, from which folder, seeds, commit, versions).

* ``reliability_<task>.png`` (classification tasks): accuracy against mean confidence in ten
  equal-width confidence bins, one curve per family, the test predictions of every seed pooled;
  the diagonal is perfect calibration. The ECE itself is the table's (``lrbnn_core.metrics.ece``:
  15 right-closed bins, per seed), not recomputed from these bins.
* ``ood_roc_<task>.png``: the ROC curve of the OOD score (MI for classification, predictive
  std for regression; OOD examples are the positives), one curve per family, pooled over seeds,
  with the pooled AUROC in the legend.
* ``performance_vs_params.png``: accuracy (or MAE) against the parameter count (log scale), one
  panel per task, error bars the standard deviation over seeds, the deep ensemble marked.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verification.compare.spec import CLASSIFICATION_TASKS, FAMILIES, TASKS
from verification.sweep.png import save_png

__all__ = [
    "PERFORMANCE_VS_PARAMS",
    "plot_ood_roc",
    "plot_performance_vs_params",
    "plot_reliability",
    "reliability_bins",
    "roc_points",
    "sidecar",
]

PERFORMANCE_VS_PARAMS = "performance_vs_params.png"
#: one colour and marker per family, the same in every figure
_STYLE = {
    "deterministic": ("0.35", "s"),
    "deep_ensemble": ("C3", "*"),
    "mean_field": ("C0", "o"),
    "low_rank": ("C2", "D"),
    "lr_svd": ("C1", "^"),
    "rank1": ("C4", "v"),
}
_N_BINS = 10


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = _N_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean confidence, accuracy and count of each non-empty bin of ``n_bins`` equal-width
    bins of [0, 1] (the last bin closed), shape (k,) each.

    Examples
    --------
    >>> conf = np.array([0.15, 0.95, 0.91, 0.99])
    >>> reliability_bins(conf, np.array([0.0, 1.0, 0.0, 1.0]))[1]
    array([0.        , 0.66666667])
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    which = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    keep = count > 0
    mean_conf = np.bincount(which, conf, n_bins)[keep] / count[keep]
    acc = np.bincount(which, hit, n_bins)[keep] / count[keep]
    return mean_conf, acc, count[keep]


def roc_points(score_in: np.ndarray, score_ood: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates of the OOD score (OOD = positive) and the AUROC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = np.r_[np.zeros(len(score_in)), np.ones(len(score_ood))]
    scores = np.r_[score_in, score_ood].astype(np.float64)
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr, tpr, float(roc_auc_score(labels, scores))


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _pooled(
    arrays: Mapping[tuple[str, str, int], Mapping[str, np.ndarray]], task: str, family: str
) -> dict[str, np.ndarray] | None:
    keys = sorted(k for k in arrays if k[0] == task and k[1] == family)
    if not keys:
        return None
    return {f: np.concatenate([arrays[k][f] for k in keys]) for f in arrays[keys[0]]}


def _families(arrays: Mapping[tuple[str, str, int], Any], task: str) -> list[str]:
    return [f for f in FAMILIES if any(k[0] == task and k[1] == f for k in arrays)]


def plot_reliability(
    arrays: Mapping[tuple[str, str, int], Mapping[str, np.ndarray]], task: str, path: Path
) -> Path:
    """``reliability_<task>.png`` (module docstring) from arrays keyed (task, family, seed)."""
    fig, (ax,) = _figure(4.8, 4.4)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="perfect calibration")
    seeds = set()
    for family in _families(arrays, task):
        pooled = _pooled(arrays, task, family)
        assert pooled is not None
        seeds |= {k[2] for k in arrays if k[:2] == (task, family)}
        conf, acc, _ = reliability_bins(pooled["test_confidence"], pooled["test_correct"])
        colour, marker = _STYLE[family]
        ax.plot(conf, acc, marker=marker, color=colour, markersize=4, linewidth=1.2,
                label=family)  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (mean in bin)")
    ax.set_ylabel("accuracy in bin")
    ax.set_title(
        f"{task}: reliability, {_N_BINS} bins\n{len(seeds)} seed(s) pooled (ECE: see the summary)",
        fontsize="medium",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="upper left")
    return save_png(fig, path)


def plot_ood_roc(
    arrays: Mapping[tuple[str, str, int], Mapping[str, np.ndarray]], task: str, path: Path
) -> Path | None:
    """``ood_roc_<task>.png`` (module docstring); ``None`` when no family has OOD scores."""
    fig, (ax,) = _figure(4.8, 4.4)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="chance")
    drawn = 0
    seeds = set()
    for family in _families(arrays, task):
        pooled = _pooled(arrays, task, family)
        assert pooled is not None
        if not (pooled["ood_score_in"].size and pooled["ood_score_out"].size):
            continue
        seeds |= {k[2] for k in arrays if k[:2] == (task, family)}
        fpr, tpr, auroc = roc_points(pooled["ood_score_in"], pooled["ood_score_out"])
        colour, _ = _STYLE[family]
        style = "--" if family == "deep_ensemble" else "-"
        ax.plot(fpr, tpr, color=colour, linestyle=style, linewidth=1.4,
                label=f"{family} (AUROC {auroc:.3f})")  # fmt: skip
        drawn += 1
    if not drawn:
        return None
    score = "MI" if task in CLASSIFICATION_TASKS else "predictive std"
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (in-distribution flagged)")
    ax.set_ylabel("true positive rate (OOD flagged)")
    ax.set_title(
        f"{task}: OOD ROC, score = {score}\n{len(seeds)} seed(s) pooled", fontsize="medium"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", loc="lower right")
    return save_png(fig, path)


def plot_performance_vs_params(summary: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """``performance_vs_params.png`` (module docstring) from :func:`summarise`'s rows."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    tasks = [t for t in TASKS if any(r["task"] == t for r in summary)]
    fig, axes = _figure(max(4.6, 3.9 * len(tasks)), 4.1, ncols=len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        metric = "accuracy" if task in CLASSIFICATION_TASKS else "mae"
        for row in (r for r in summary if r["task"] == task):
            if row[f"{metric}_mean"] is None:
                continue
            family = row["family"]
            colour, marker = _STYLE[family]
            ensemble = family == "deep_ensemble"
            ax.errorbar(
                row["params_mean"],
                row[f"{metric}_mean"],
                yerr=row[f"{metric}_std"] or 0.0,
                fmt=marker,
                color=colour,
                markersize=13 if ensemble else 6,
                markeredgecolor="black" if ensemble else colour,
                capsize=3,
                label=("deep ensemble (5 members)" if ensemble else family),
            )
            if ensemble:
                ax.annotate("deep ensemble", (row["params_mean"], row[f"{metric}_mean"]),
                            xytext=(0, 10), textcoords="offset points", ha="center",
                            fontsize="x-small", color=colour)  # fmt: skip
        ax.set_xscale("log")
        # plain numbers at 1, 2, 5 x 10^k: the default minor labels overlap on short decades
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.25, y=0.2)
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel("test accuracy (higher is better)" if metric == "accuracy" else
                      "test MAE (lower is better)")  # fmt: skip
        ax.set_title(task, fontsize="medium")
        ax.grid(alpha=0.3, which="both")
    handles: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncols=min(6, len(handles)), fontsize="small", frameon=False)  # fmt: skip
    seeds = sorted({r["n_seeds"] for r in summary})
    fig.suptitle(
        f"performance vs parameter count: mean over {'/'.join(map(str, seeds))} seed(s), "
        "error bars = std over seeds",
        fontsize="medium",
    )
    return save_png(fig, path)


def sidecar(png: Path, folder: Path, meta: Mapping[str, Any]) -> Path:
    """The JSON next to a figure (the sweep's convention: sorted keys, no time stamps): what
    redraws it, from which folder, the seeds, the commit and the package versions recorded in
    ``meta.json``."""
    side = {
        "figure": png.name,
        "command": f"lrbnn compare --summary-only {shlex.quote(str(folder))}",
        "compare": str(folder),
        "seeds": meta.get("arguments", {}).get("seeds"),
        "commit": meta.get("git_commit", "unknown"),
        "versions": meta.get("versions", {}),
    }
    path = png.with_suffix(".json")
    path.write_text(json.dumps(side, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def make_compare_figures(
    folder: Path,
    summary: Sequence[Mapping[str, Any]],
    arrays: Mapping[tuple[str, str, int], Mapping[str, np.ndarray]],
    meta: Mapping[str, Any],
) -> list[Path]:
    """Draw every figure into ``folder/figures/``; returns the paths (PNG then sidecar)."""
    into = folder / "figures"
    pngs: list[Path] = []
    tasks = [t for t in TASKS if any(k[0] == t for k in arrays)]
    for task in tasks:
        if task in CLASSIFICATION_TASKS:
            pngs.append(plot_reliability(arrays, task, into / f"reliability_{task}.png"))
        roc = plot_ood_roc(arrays, task, into / f"ood_roc_{task}.png")
        if roc is not None:
            pngs.append(roc)
    pngs.append(plot_performance_vs_params(summary, into / PERFORMANCE_VS_PARAMS))
    made: list[Path] = []
    for png in pngs:
        made += [png, sidecar(png, folder, meta)]
    return made
