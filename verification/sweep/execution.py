"""Executors of a sweep's grid points: in this process, in a pool of spawned processes, or on an
existing dask.distributed cluster.

All three run the same module-level point function on the same point specs and hand each result
to the driver's ``on_result`` *as it completes* (the driver writes it to disk at once, so a run
killed at any moment loses only the points in flight). Results do not depend on the executor: a
point's numbers depend only on its spec (every point runs single-threaded and seeds everything
it draws). A tqdm bar over grid points, with an ETA, shows progress in every mode.

A failing point stops the run: the points not yet started are cancelled and the error names the
point; every point that finished before is already stored, so rerunning resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from enum import Enum
from typing import Any, Protocol, TypeVar

from tqdm import tqdm

__all__ = ["Executor", "PointFailed", "execute", "executor_kind"]


class _HasId(Protocol):
    @property
    def point_id(self) -> str: ...


P = TypeVar("P", bound=_HasId)
R = TypeVar("R")


class Executor(str, Enum):
    """Where the grid points run."""

    #: one after another in this process (``--workers 1``)
    SEQUENTIAL = "sequential"
    #: a ``concurrent.futures.ProcessPoolExecutor`` of ``--workers`` spawned processes, each with
    #: one torch thread
    PROCESSES = "processes"
    #: the workers of the dask.distributed scheduler at ``--scheduler ADDRESS``
    DASK = "dask"


class PointFailed(RuntimeError):
    """A grid point raised; the message names it (the cause is chained)."""


def executor_kind(workers: int, scheduler: str | None) -> Executor:
    """Which executor ``workers`` and ``scheduler`` select.

    Examples
    --------
    >>> executor_kind(1, None).value, executor_kind(2, None).value, executor_kind(1, "tcp://x:1").value
    ('sequential', 'processes', 'dask')
    """
    if scheduler is not None:
        return Executor.DASK
    return Executor.PROCESSES if workers > 1 else Executor.SEQUENTIAL


#: How often a pool worker checks that the driver is still alive, in seconds.
_PARENT_POLL_S = 0.5


def _exit_with_parent(parent: int) -> None:
    while True:
        time.sleep(_PARENT_POLL_S)
        if os.getppid() != parent:
            # the driver died (kill -9 leaves no chance to shut the pool down): nobody can
            # receive this worker's result, so stop now instead of computing for nothing
            os._exit(1)


def _worker_init() -> None:
    """Runs once in every spawned worker: one torch thread, so that concurrent workers do not
    oversubscribe the cores (each point also sets it while it runs), and a watchdog that ends
    the worker when the driver process is gone."""
    import torch

    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def execute(
    points: Sequence[P],
    fn: Callable[[P], R],
    on_result: Callable[[P, R], None],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: bool = True,
    total: int | None = None,
    initial: int = 0,
) -> int:
    """Run ``fn`` on every point and call ``on_result(point, result)`` in this process as each
    one completes; returns the number of points run.

    Parameters
    ----------
    points : sequence
        Picklable specs with a ``point_id`` (for messages).
    fn : callable
        A module-level function (pickled by reference to worker processes and dask workers).
    on_result : callable
        Called in this process, once per point, in completion order.
    workers : int
        1: this process; more: a pool of that many spawned processes.
    scheduler : str, optional
        Address of a running dask.distributed scheduler (``tcp://host:8786``); needs the
        ``distributed`` package (``pip install 'lrbnn-toolkit[dask]'``).
    progress : bool
        Show a tqdm bar over grid points on stderr.
    total, initial : int
        The bar's length and its starting count (points finished by an earlier run).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> seen = []
    >>> pts = [SimpleNamespace(point_id="a", x=1), SimpleNamespace(point_id="b", x=2)]
    >>> execute(pts, lambda p: p.x * 10, lambda p, r: seen.append(r), progress=False), seen
    (2, [10, 20])
    """
    kind = executor_kind(workers, scheduler)
    bar = tqdm(
        total=len(points) + initial if total is None else total,
        initial=initial,
        desc="sweep",
        unit="point",
        disable=not progress,
    )
    try:
        if not points:
            return 0
        if kind is Executor.SEQUENTIAL:
            for point in points:
                try:
                    result = fn(point)
                except Exception as exc:
                    raise PointFailed(f"grid point {point.point_id} failed: {exc}") from exc
                on_result(point, result)
                bar.update(1)
        elif kind is Executor.PROCESSES:
            _run_pool(points, fn, on_result, workers, bar)
        else:
            assert scheduler is not None
            _run_dask(points, fn, on_result, scheduler, bar)
    finally:
        bar.close()
    return len(points)


def _run_pool(
    points: Sequence[P],
    fn: Callable[[P], R],
    on_result: Callable[[P, R], None],
    workers: int,
    bar: Any,
) -> None:
    # spawn, not fork: a forked child would inherit torch's thread pools and locks mid-state
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(points)), mp_context=context, initializer=_worker_init
    )
    try:
        futures: dict[Future[R], P] = {pool.submit(fn, p): p for p in points}
        for future in as_completed(futures):
            point = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                raise PointFailed(f"grid point {point.point_id} failed: {exc}") from exc
            on_result(point, result)
            bar.update(1)
    finally:
        # on an error or Ctrl-C: drop the points not started, do not wait for them
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(
    points: Sequence[P],
    fn: Callable[[P], R],
    on_result: Callable[[P, R], None],
    scheduler: str,
    bar: Any,
) -> None:
    try:
        from distributed import Client
        from distributed import as_completed as dask_as_completed
    except ImportError:
        raise PointFailed(
            "`--scheduler` needs the dask extra: pip install 'lrbnn-toolkit[dask]'"
        ) from None
    try:
        client = Client(scheduler, timeout="30s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise PointFailed(f"could not connect to the dask scheduler at {scheduler}: {exc}") from exc
    try:
        # pure=False: every submission runs (no result cached from another sweep)
        futures = [client.submit(fn, p, pure=False) for p in points]
        by_key = {f.key: p for f, p in zip(futures, points, strict=True)}
        for future in dask_as_completed(futures, loop=client.loop):
            point = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:
                client.cancel(futures)
                raise PointFailed(f"grid point {point.point_id} failed: {exc}") from exc
            on_result(point, result)
            bar.update(1)
    finally:
        client.close()
