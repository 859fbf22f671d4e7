r"""The summary of a comparison: per task and family, the number of seeds and the mean and
standard deviation over seeds of every numeric column (:func:`summarise`), written as
``DIR/summary.csv`` (:func:`summary_csv`; the columns the X1-X6 checks read:
``task, family, n_seeds``, then ``<metric>_mean, <metric>_std`` for each of
:data:`~verification.compare.columns.METRICS`) and ``DIR/summary.md`` (:func:`summary_markdown`:
one table per task, family x metric as mean +- std).

The standard deviation is the sample one (``ddof = 1``: seeds are repetitions),

.. math:: s = \sqrt{\tfrac{1}{n - 1} \textstyle\sum_i (x_i - \bar x)^2},

blank for a single seed (undefined, never 0 or NaN). A metric blank for every seed of a family
(not applicable: accuracy of a regression) is blank in the summary; a metric blank for some
seeds only is refused (the rows are inconsistent).

References: issue 18; claims X1-X6 of ``CLAIMS.md`` section 8.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from verification.compare.columns import METRICS, REGRESSION_TASKS
from verification.compare.spec import FAMILIES, TASKS

__all__ = ["SUMMARY_COLUMNS", "summarise", "summary_csv", "summary_markdown"]

#: The columns of ``summary.csv``.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "task",
    "family",
    "n_seeds",
    *(f"{m}_{s}" for m in METRICS for s in ("mean", "std")),
)


def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation by the textbook two-pass sums (``None`` for n = 1)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One summary row per (task, family) present, in task and family order: ``task``,
    ``family``, ``n_seeds`` and ``<metric>_mean`` / ``<metric>_std`` for every metric
    (``None`` where blank; the std also for a single seed).

    Raises ``ValueError`` when a (task, family) lists a seed twice, or a metric is blank for
    some of its seeds but not all.

    Examples
    --------
    >>> rows = [{"task": "mlp_digits", "family": "low_rank", "seed": s, **dict.fromkeys(METRICS)}
    ...         for s in (0, 1)]
    >>> rows[0]["accuracy"], rows[1]["accuracy"] = 0.5, 0.7
    >>> s = summarise(rows)[0]
    >>> s["n_seeds"], round(s["accuracy_mean"], 12), round(s["accuracy_std"] ** 2, 12)
    (2, 0.6, 0.02)
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["family"]), []).append(row)
    order = sorted(groups, key=lambda k: (TASKS.index(k[0]), FAMILIES.index(k[1])))
    out: list[dict[str, Any]] = []
    for task, family in order:
        group = groups[(task, family)]
        seeds = [r["seed"] for r in group]
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"`rows` list a seed twice for {task}/{family}: {sorted(seeds)}")
        summary: dict[str, Any] = {"task": task, "family": family, "n_seeds": len(group)}
        for metric in METRICS:
            values = [r[metric] for r in group]
            present = [float(v) for v in values if v is not None]
            if not present:
                summary[f"{metric}_mean"] = summary[f"{metric}_std"] = None
                continue
            if len(present) != len(values):
                raise ValueError(
                    f"`rows`: {metric} is blank for {len(values) - len(present)} of "
                    f"{len(values)} seeds of {task}/{family}"
                )
            summary[f"{metric}_mean"], summary[f"{metric}_std"] = _mean_std(present)
        out.append(summary)
    return out


def _csv_cell(value: Any) -> Any:
    return "" if value is None else repr(value) if isinstance(value, float) else value


def summary_csv(summary: Sequence[Mapping[str, Any]]) -> bytes:
    """The bytes of ``summary.csv`` (:data:`SUMMARY_COLUMNS`; floats with ``repr``, blank for
    ``None``)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SUMMARY_COLUMNS)
    for row in summary:
        writer.writerow([_csv_cell(row[c]) for c in SUMMARY_COLUMNS])
    return buf.getvalue().encode()


#: The metrics of each task's table in ``summary.md`` (classification, regression), then the
#: cost columns; a column blank for every family of a task is left out.
_TABLE_CLASSIFICATION = ("accuracy", "nll", "brier", "ece", "mi_ratio", "ood_auroc", "ood_aupr",
                         "selective_90", "selective_80")  # fmt: skip
_TABLE_REGRESSION = ("mae", "nll", "picp", "ece", "ood_auroc", "ood_aupr", "selective_90",
                     "selective_80")  # fmt: skip
_COST = (("params", "params"), ("seconds_per_epoch", "s/epoch"), ("peak_memory_mb", "peak MB"))


def _number(value: float) -> str:
    if value == 0.0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 0.01:
        return f"{value:.3f}"
    return f"{value:.2e}"


def _cost(value: float | None, column: str) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if column == "params" else _number(value)


def _cell(row: Mapping[str, Any], metric: str) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    if mean is None:
        return "-"
    return _number(mean) if std is None else f"{_number(mean)} +- {_number(std)}"


def summary_markdown(summary: Sequence[Mapping[str, Any]], *, title: str = "") -> str:
    """``summary.md``: one table per task (a row per family, mean +- std over seeds of each
    metric, then params, seconds per epoch and peak memory as means)."""
    lines = [f"# {title or 'lrbnn compare: summary'}", ""]
    tasks = [t for t in TASKS if any(r["task"] == t for r in summary)]
    for task in tasks:
        at = [r for r in summary if r["task"] == task]
        metrics = _TABLE_REGRESSION if task in REGRESSION_TASKS else _TABLE_CLASSIFICATION
        shown = [m for m in metrics if any(r[f"{m}_mean"] is not None for r in at)]
        seeds = sorted({r["n_seeds"] for r in at})
        lines += [
            f"## {task}",
            "",
            f"mean +- std over {'/'.join(map(str, seeds))} seed(s) (std: sample, n - 1)",
            "",
            "| family | " + " | ".join([*shown, *(name for _, name in _COST)]) + " |",
            "|---|" + "---:|" * (len(shown) + len(_COST)),
        ]
        for r in at:
            costs = [_cost(r[f"{c}_mean"], c) for c, _ in _COST]
            cells = [_cell(r, m) for m in shown]
            lines.append(f"| {r['family']} | " + " | ".join([*cells, *costs]) + " |")
        lines.append("")
    return "\n".join(lines)
