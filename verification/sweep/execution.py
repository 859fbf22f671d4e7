"""Executors of a sweep's grid points: in this process, in a pool of spawned processes, or on an
existing dask.distributed cluster.

All three run the same module-level point function on the same point specs and hand each result
to the driver's ``on_result`` *as it completes* (the driver writes it to disk at once, so a run
killed at any moment loses only the points in flight). Results do not depend on the executor: a
point's numbers depend only on its spec (every point runs single-threaded and seeds everything
it draws). A tqdm bar over grid points, with an ETA, shows progress in every mode.

A failing point stops the run: the points not yet started are cancelled and the error names the
point; every point that finished before is already stored, so rerunning resumes.

An interruption (Ctrl-C, or SIGTERM turned into ``KeyboardInterrupt`` by the driver) stops the
run at once: results that workers had finished are still handed to ``on_result`` (so they are
stored), the points in flight are dropped, and the pool's workers are killed within about a
second. Workers ignore SIGINT and SIGTERM themselves: a Ctrl-C in a terminal reaches the whole
process group, and the driver, not each worker, decides what happens.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
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

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing semaphore registered with the resource tracker:
    # a worker killed on an interruption would leave it behind (and Python warns about the
    # leak at exit); a worker shows no bar, so a thread lock does
    tqdm.set_lock(threading.RLock())
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
    desc: str = "sweep",
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
    desc : str
        The bar's label (``lrbnn compare`` shows ``compare``).

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
        desc=desc,
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


#: How long stopped workers get to exit before they are killed, in seconds.
_STOP_GRACE_S = 1.0


def _deliver_finished(
    futures: dict[Any, P],
    delivered: set[str],
    on_result: Callable[[P, Any], None],
    finished: Callable[[Any], bool],
) -> None:
    """Hand every result that finished but was not yet delivered to ``on_result`` (after an
    interruption or another point's failure: finished work is stored, never discarded)."""
    for future, point in futures.items():
        if point.point_id not in delivered and finished(future):
            on_result(point, future.result())
            delivered.add(point.point_id)


def _pool_finished(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and kill the workers (they ignore SIGTERM: see the module
    docstring); returns within about ``_STOP_GRACE_S``."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.kill()
    deadline = time.monotonic() + _STOP_GRACE_S
    for proc in processes:
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
    # the workers are gone: the pool's manager thread sees a broken pool and closes its queues
    # (without this join, their semaphores leak and Python warns at exit)
    if manager is not None:
        manager.join(timeout=max(0.1, deadline - time.monotonic()))


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
    futures: dict[Future[R], P] = {}
    delivered: set[str] = set()
    clean = False
    try:
        futures = {pool.submit(fn, p): p for p in points}
        for future in as_completed(futures):
            point = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                raise PointFailed(f"grid point {point.point_id} failed: {exc}") from exc
            on_result(point, result)
            delivered.add(point.point_id)
            bar.update(1)
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            # on an error or an interruption: keep what finished, drop the rest, do not wait
            try:
                _deliver_finished(futures, delivered, on_result, _pool_finished)
            finally:
                _stop_pool(pool)


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
    futures: list[Any] = []
    delivered: set[str] = set()
    clean = False
    try:
        # pure=False: every submission runs (no result cached from another sweep)
        futures = [client.submit(fn, p, pure=False) for p in points]
        by_key = {f.key: p for f, p in zip(futures, points, strict=True)}
        for future in dask_as_completed(futures, loop=client.loop):
            point = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:
                raise PointFailed(f"grid point {point.point_id} failed: {exc}") from exc
            on_result(point, result)
            delivered.add(point.point_id)
            bar.update(1)
        clean = True
    finally:
        try:
            if not clean:
                done = dict(zip(futures, points, strict=False))
                _deliver_finished(done, delivered, on_result, lambda f: f.status == "finished")
        finally:
            if not clean:
                client.cancel(futures)
            client.close()
