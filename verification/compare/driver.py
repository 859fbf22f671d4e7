"""The driver of ``lrbnn compare``: lock the folder (:func:`verification.sweep.lock.folder_lock`),
prepare it, reuse the stored points, run the missing ones on the sweep's executor
(:func:`verification.sweep.execution.execute`: this process or ``--workers`` spawned processes,
a tqdm bar over points), store each one and rewrite ``results.csv`` as it arrives, then write
the summary and the figures (:func:`summarise_folder`, also what ``--summary-only DIR`` runs).

Ctrl-C or SIGTERM stops the run: every finished point is kept (the sweep's
:class:`~verification.sweep.SweepInterrupted` says how many) and the same command resumes.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verification.compare.columns import read_results
from verification.compare.point import CompareFn, compute_point
from verification.compare.spec import CompareError, ComparePoint, CompareSpec, compare_grid
from verification.compare.storage import (
    FORMAT,
    _read_meta,
    check_folder,
    check_results_agree,
    prepare_folder,
    read_arrays,
    read_point,
    write_meta_run,
    write_point,
    write_results,
)
from verification.compare.summary import summarise, summary_csv, summary_markdown
from verification.sweep.driver import SweepInterrupted, _sigterm_as_interrupt
from verification.sweep.lock import folder_lock
from verification.sweep.storage import _atomic_write

__all__ = ["CompareReport", "run_comparison", "summarise_folder"]


@dataclass(frozen=True)
class CompareReport:
    """What one invocation did."""

    out: Path
    n_points: int
    #: points computed by this invocation
    computed: int
    #: points found in ``out/points`` from an earlier run
    reused: int
    results: Path
    #: ``summary.csv``, ``summary.md``, then the figures and their sidecars
    written: tuple[Path, ...]
    seconds: float


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def run_comparison(
    spec: CompareSpec,
    out: Path | str,
    *,
    workers: int = 1,
    threads: int = 1,
    progress: bool = True,
    figures: bool = True,
    compare_fn: CompareFn | None = None,
    wait: bool = False,
) -> CompareReport:
    """Run (or finish) the comparison into ``out``, then summarise it.

    ``compare_fn`` (default ``lrbnn_core.comparison.run_compare``) is called as
    ``compare_fn(task, family, seed, scale=..., progress=False)``; with ``workers > 1`` it
    must be a module-level function (it is pickled to the workers). Raises
    :class:`~verification.compare.spec.CompareError` for bad arguments or an unusable folder
    (before any training), :class:`~verification.sweep.PointFailed` naming a failing point,
    :class:`~verification.sweep.SweepInterrupted` on Ctrl-C or SIGTERM.
    """
    start = time.perf_counter()
    for name, value in (("--workers", workers), ("--threads", threads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CompareError(f"`{name}` must be an int >= 1; got {value!r}")
    folder = Path(out)
    check_folder(folder)
    points = compare_grid(spec, threads=threads)
    records: dict[str, dict[str, Any]] = {}
    with _sigterm_as_interrupt():
        try:
            with folder_lock(folder, wait=wait, command="lrbnn compare"):
                return _locked_run(
                    spec, folder, points, records, workers, progress, figures, compare_fn, start
                )
        except SweepInterrupted:
            raise
        except KeyboardInterrupt:
            raise SweepInterrupted(len(records), len(points), folder) from None


def _locked_run(
    spec: CompareSpec,
    folder: Path,
    points: list[ComparePoint],
    records: dict[str, dict[str, Any]],
    workers: int,
    progress: bool,
    figures: bool,
    compare_fn: CompareFn | None,
    start: float,
) -> CompareReport:
    from verification.sweep.execution import execute

    meta = prepare_folder(folder, spec, points)
    for stale in [*folder.glob(".*.tmp"), *folder.glob("*/.*.tmp")]:
        stale.unlink(missing_ok=True)
    for p in points:
        found = read_point(folder, p)
        if found is not None:
            records[p.point_id] = found
    check_results_agree(folder, records)
    reused = len(records)
    todo = [p for p in points if p.point_id not in records]
    run = {"start": _now(), "end": None, "threads": points[0].threads, "workers": workers,
           "computed": 0, "reused": reused}  # fmt: skip
    meta = write_meta_run(folder, meta, run, {})
    seconds: dict[str, float] = {}

    def on_result(point: ComparePoint, result: dict[str, Any]) -> None:
        try:
            write_point(folder, point, result)
        except OSError as exc:
            raise CompareError(f"cannot store point {point.point_id}: {exc}") from None
        records[point.point_id] = read_point(folder, point) or {}
        seconds[point.point_id] = float(result["seconds"])
        write_results(folder, points, records)

    fn: Callable[[ComparePoint], dict[str, Any]] = (
        compute_point
        if compare_fn is None
        else functools.partial(compute_point, compare_fn=compare_fn)
    )
    try:
        execute(todo, fn, on_result, workers=workers, progress=progress, total=len(points),
                initial=reused, desc="compare")  # fmt: skip
    finally:
        done = {**run, "end": _now(), "computed": len(seconds)}
        meta = write_meta_run(folder, meta, done, seconds)
    results = write_results(folder, points, records)
    written = summarise_folder(folder, figures=figures, meta=meta)
    return CompareReport(
        out=folder,
        n_points=len(points),
        computed=len(seconds),
        reused=reused,
        results=results,
        written=tuple(written),
        seconds=time.perf_counter() - start,
    )


def summarise_folder(
    folder: Path | str, *, figures: bool = True, meta: dict[str, Any] | None = None
) -> list[Path]:
    """Write ``summary.csv``, ``summary.md`` and (``figures``) the figures of the comparison in
    ``folder`` from its ``results.csv`` and ``arrays/`` (``lrbnn compare --summary-only``);
    returns the paths written. Raises :class:`CompareError` when the folder is not a
    comparison's, or its ``results.csv``, ``meta.json`` or arrays cannot be trusted."""
    folder = Path(folder)
    if not (folder / "results.csv").is_file():
        raise CompareError(f"{folder} holds no results.csv (not a folder of lrbnn compare)")
    if meta is None:
        if not (folder / "meta.json").is_file():
            raise CompareError(f"{folder} holds results.csv but no meta.json")
        meta = _read_meta(folder / "meta.json")
    assert meta["format"] == FORMAT
    rows = read_results(folder / "results.csv")
    scale = meta.get("arguments", {}).get("scale", "")
    records: dict[str, dict[str, Any]] = {}
    for r in rows:
        point = ComparePoint(r["task"], r["family"], r["seed"], scale)
        record = read_point(folder, point)
        if record is None:
            raise CompareError(
                f"{folder / 'results.csv'} has a row for {point.point_id} without its point "
                "record: it cannot be checked"
            )
        records[point.point_id] = record
    check_results_agree(folder, records)
    try:
        summary = summarise(rows)
    except ValueError as exc:
        raise CompareError(f"{folder / 'results.csv'}: {exc}") from None
    profile = meta.get("arguments", {}).get("profile", "?")
    csv_path, md_path = folder / "summary.csv", folder / "summary.md"
    _atomic_write(csv_path, summary_csv(summary))
    title = f"lrbnn compare, profile {profile}: mean +- std over seeds"
    _atomic_write(md_path, summary_markdown(summary, title=title).encode())
    written = [csv_path, md_path]
    if figures:
        from verification.compare.figures import make_compare_figures

        arrays = {
            (r["task"], r["family"], r["seed"]): read_arrays(
                folder, f"{r['task']}_{r['family']}_{r['seed']}"
            )
            for r in rows
        }
        written += make_compare_figures(folder, summary, arrays, meta)
    return written
