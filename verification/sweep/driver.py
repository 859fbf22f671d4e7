"""The driver of ``lrbnn sweep``: lock the folder, prepare it, reuse the stored points, run the
missing ones on the chosen executor (writing each as it arrives), then assemble
``results.csv`` from the files on disk, write ``where_low_rank_wins.csv`` from it, draw the
figures and write ``timings.csv``.

Ctrl-C or SIGTERM stops the run: every finished point is kept, the workers are stopped,
temporary files are removed, and :class:`SweepInterrupted` (a ``KeyboardInterrupt``) says how
many points are saved; the same command resumes.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verification.sweep.answer import WHERE_LOW_RANK_WINS_CSV, answer_csv, where_low_rank_wins
from verification.sweep.columns import assemble_rows, results_csv
from verification.sweep.lock import folder_lock
from verification.sweep.point import run_point
from verification.sweep.schema import parse_results
from verification.sweep.spec import PointSpec, SweepError, SweepSpec, grid
from verification.sweep.storage import (
    _atomic_write,
    _timings_csv,
    check_folder,
    prepare_output,
    read_record,
    remove_temporaries,
    write_record,
)

__all__ = ["SweepInterrupted", "SweepReport", "run_sweep"]


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
    #: ``where_low_rank_wins.csv`` (:mod:`~verification.sweep.answer`); ``None`` when no
    #: (prior mode, width) has both the low-rank and the mean-field family
    answer: Path | None = None


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the sweep; ``saved`` of ``total`` points are stored."""

    def __init__(self, saved: int, total: int, out: Path) -> None:
        super().__init__(
            f"interrupted: {saved} of {total} points saved in {out}; run the same command to resume"
        )
        self.saved, self.total, self.out = saved, total, out


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into ``KeyboardInterrupt`` for the block (main thread only: elsewhere
    Python cannot install handlers), so that ``kill`` stops the run as cleanly as Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sweep(
    spec: SweepSpec,
    out: Path | str,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    figures: bool = True,
    point_fn: Callable[[PointSpec], dict[str, Any]] | None = None,
    wait: bool = False,
) -> SweepReport:
    """Run (or finish) the sweep into ``out`` and assemble its outputs.

    ``workers > 1``: a local pool of spawned processes; ``scheduler``: the address of a running
    dask.distributed scheduler. ``point_fn`` (default :func:`run_point`) computes one point;
    the driver writes each record as it arrives. The folder is locked for the whole run:
    another run into it raises :class:`~verification.sweep.lock.FolderBusy` naming this
    process, or with ``wait`` blocks until it ends. Raises :class:`SweepInterrupted` on Ctrl-C
    or SIGTERM, after storing every finished point.
    """
    start = time.perf_counter()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"`--workers` must be an int >= 1; got {workers!r}")
    if scheduler is not None and workers != 1:
        raise SweepError(
            "`--workers` is for local runs; with `--scheduler` the cluster's workers run the points"
        )
    folder = Path(out)
    check_folder(folder)
    points = grid(spec)
    records: dict[str, dict[str, Any]] = {}
    with _sigterm_as_interrupt():
        try:
            with folder_lock(folder, wait=wait):
                return _locked_run(
                    spec,
                    folder,
                    points,
                    records,
                    workers,
                    scheduler,
                    progress,
                    figures,
                    point_fn,
                    start,
                )
        except SweepInterrupted:
            raise
        except KeyboardInterrupt:
            raise SweepInterrupted(len(records), len(points), folder) from None


def _locked_run(
    spec: SweepSpec,
    folder: Path,
    points: list[PointSpec],
    records: dict[str, dict[str, Any]],
    workers: int,
    scheduler: str | None,
    progress: bool,
    figures: bool,
    point_fn: Callable[[PointSpec], dict[str, Any]] | None,
    start: float,
) -> SweepReport:
    from verification.sweep.execution import PointFailed, execute

    prepare_output(folder, spec)
    remove_temporaries(folder)
    for p in points:
        found = read_record(folder, p)
        if found is not None:
            records[p.point_id] = found
    reused = len(records)
    todo = [p for p in points if p.point_id not in records]
    fresh: set[str] = set()

    def on_result(point: PointSpec, record: dict[str, Any]) -> None:
        try:
            write_record(folder, point, record)
        except ValueError as exc:
            raise PointFailed(str(exc)) from None
        except OSError as exc:
            raise SweepError(f"cannot store grid point {point.point_id}: {exc}") from None
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
        initial=reused,
    )
    # assemble from the files on disk, whoever computed them: one path to the bytes
    stored = {p.point_id: read_record(folder, p) for p in points}
    missing = [k for k, v in stored.items() if v is None]
    if missing:
        raise SweepError(f"grid points missing or invalid after the run: {', '.join(missing)}")
    complete = {k: v for k, v in stored.items() if v is not None}
    rows = assemble_rows(spec, complete)
    results = folder / "results.csv"
    _atomic_write(results, results_csv(rows))
    # the answer is read back from results.csv: the table depends only on those bytes
    table = where_low_rank_wins(parse_results(results))
    answer = folder / WHERE_LOW_RANK_WINS_CSV if table else None
    if answer is not None:
        _atomic_write(answer, answer_csv(table))
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
        reused=reused,
        results=results,
        timings=timings,
        figures=made,
        seconds=seconds,
        answer=answer,
    )
