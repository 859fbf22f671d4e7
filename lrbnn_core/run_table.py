"""The certified runs of ``python -m lrbnn_core.certified_training`` and ``python -m
lrbnn_core.pbb`` as a printed table (:func:`format_runs`) and as CSV lines (:func:`write_runs_csv`,
``--csv``: the committed artefacts the README's certificate tables are read from; issue 19)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RUN_COLUMNS", "format_runs", "read_runs_csv", "write_runs_csv"]

#: The columns of a runs CSV: what the command was run on, then :meth:`CertifiedRun.as_dict`.
RUN_COLUMNS: tuple[str, ...] = (
    "dataset",
    "arch",
    "data_seed",
    "seed",
    "mc_bound",
    "family",
    "rank",
    "prior_scale",
    "n_bound",
    "mc_risk",
    "kl",
    "penalty",
    "mcallester",
    "kl_inverse",
    "catoni",
    "test_gibbs_error",
    "test_predictive_error",
    "stochastic",
    "params",
    "gauge_gain",
)


def format_runs(runs: Sequence[Any]) -> str:
    """A plain-text table of :class:`~lrbnn_core.certified_training.CertifiedRun` s: one line
    per grid point."""
    head = (
        f"{'family':<11}{'rank':>5}{'scale':>6}{'n':>6}{'KL':>9}{'MC risk':>9}{'McAllester':>11}"
        f"{'kl-inv':>8}{'Catoni':>8}{'test Gibbs':>11}{'test pred.':>11}{'params':>9}"
    )
    lines = [head, "-" * len(head)]
    for run in runs:
        c = run.certificate
        rank = "-" if run.rank is None else str(run.rank)
        lines.append(
            f"{run.family:<11}{rank:>5}{run.prior_scale:6.2g}{c.n:6d}{c.kl:9.2f}{c.mc_risk:9.3f}"
            f"{c.mcallester:11.3f}{c.kl_inverse:8.3f}{c.catoni:8.3f}{run.test_gibbs_error:11.3f}"
            f"{run.test_predictive_error:11.3f}{run.params:9,d}"
        )
    return "\n".join(lines)


def write_runs_csv(runs: Sequence[Any], path: Path | str, context: Mapping[str, Any]) -> Path:
    """Write ``runs`` (each with ``as_dict()``) to ``path`` as CSV, one line per run, every
    line starting with ``context`` (``dataset``, ``arch``, ``data_seed``, ``seed``,
    ``mc_bound``); numbers in full precision (``repr``). Returns the path.

    Raises
    ------
    ValueError
        ``context`` lacks a column or has an unknown one.
    """
    known = set(RUN_COLUMNS[:5])
    if set(context) != known:
        raise ValueError(
            f"`context` must have exactly the keys {sorted(known)}; got {sorted(context)}"
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RUN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        row = {**context, **run.as_dict()}
        writer.writerow({k: "" if row[k] is None else row[k] for k in RUN_COLUMNS})
    out = Path(path)
    out.write_text(buffer.getvalue(), encoding="utf-8")
    return out


def read_runs_csv(path: Path | str) -> list[dict[str, str]]:
    """The lines of a runs CSV as dicts of strings (blank: an undefined value, such as the rank
    of a full-rank family)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and tuple(rows[0]) != RUN_COLUMNS:
        raise ValueError(
            f"{path}: columns {list(rows[0])} are not a runs CSV's {list(RUN_COLUMNS)}"
        )
    return rows
