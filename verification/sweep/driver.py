"""The driver of ``lrbnn sweep``: prepare the folder, reuse the stored points, run the
missing ones on the chosen executor (writing each as it arrives), then assemble
``results.csv`` from the files on disk, draw the figures and write ``timings.csv``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verification.sweep.columns import assemble_rows, results_csv
from verification.sweep.point import run_point
from verification.sweep.spec import PointSpec, SweepError, SweepSpec, grid
from verification.sweep.storage import (
    _atomic_write,
    _timings_csv,
    prepare_output,
    read_record,
    write_record,
)

__all__ = ["SweepReport", "run_sweep"]


@dataclass(frozen=True)
class SweepReport:
    """What one invocation did."""

    out: Path
    n_points: int
    #: points computed by this invocation
    computed: int
    #: points found in ``out/points`` from an earlier, interrupted or finished run
    reused: int
    results: Path
    timings: Path
    figures: tuple[Path, ...]
    seconds: float


def run_sweep(
    spec: SweepSpec,
    out: Path | str,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    figures: bool = True,
    point_fn: Callable[[PointSpec], dict[str, Any]] | None = None,
) -> SweepReport:
    """Run (or finish) the sweep into ``out`` and assemble its outputs.

    ``workers > 1``: a local pool of spawned processes; ``scheduler``: the address of a running
    dask.distributed scheduler. ``point_fn`` (default :func:`run_point`) computes one point;
    the driver writes each record as it arrives.
    """
    from verification.sweep.execution import execute

    start = time.perf_counter()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"`--workers` must be an int >= 1; got {workers!r}")
    if scheduler is not None and workers != 1:
        raise SweepError(
            "`--workers` is for local runs; with `--scheduler` the cluster's workers run the points"
        )
    folder = Path(out)
    prepare_output(folder, spec)
    points = grid(spec)
    records: dict[str, dict[str, Any]] = {}
    for p in points:
        found = read_record(folder, p)
        if found is not None:
            records[p.point_id] = found
    todo = [p for p in points if p.point_id not in records]
    fresh: set[str] = set()

    def on_result(point: PointSpec, record: dict[str, Any]) -> None:
        write_record(folder, point, record)
        records[point.point_id] = record
        fresh.add(point.point_id)

    execute(
        todo,
        point_fn or run_point,
        on_result,
        workers=workers,
        scheduler=scheduler,
        progress=progress,
        total=len(points),
        initial=len(points) - len(todo),
    )
    # assemble from the files on disk, whoever computed them: one path to the bytes
    stored = {p.point_id: read_record(folder, p) for p in points}
    missing = [k for k, v in stored.items() if v is None]
    if missing:
        raise RuntimeError(f"grid points missing after the run: {', '.join(missing)}")
    complete = {k: v for k, v in stored.items() if v is not None}
    rows = assemble_rows(spec, complete)
    results = folder / "results.csv"
    _atomic_write(results, results_csv(rows))
    made: tuple[Path, ...] = ()
    if figures:
        from verification.sweep.figures import make_sweep_figures

        made = tuple(make_sweep_figures(folder))
    seconds = time.perf_counter() - start
    timings = folder / "timings.csv"
    _atomic_write(timings, _timings_csv(points, complete, fresh, seconds))
    return SweepReport(
        out=folder,
        n_points=len(points),
        computed=len(fresh),
        reused=len(points) - len(todo),
        results=results,
        timings=timings,
        figures=made,
        seconds=seconds,
    )
