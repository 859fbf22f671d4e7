"""``verification.sweep.execution`` and the driver: byte-identical results across runs and
executors (sequential, two spawned workers, a local dask cluster), kill -9 then resume, and a
failing point named with the finished points kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.verification.sweep.tiny import (
    PROCESS_TIMEOUT_S,
    REPO,
    TINY,
    TINY_ARGV,
    deadline,
    run_tiny,
)
from verification.cli import main
from verification.sweep import (
    BOUND_VS_RANK,
    COMPLEXITY_RATIO,
    PointFailed,
    PointSpec,
    execute,
    make_spec,
    run_point,
    run_sweep,
)


def test_two_runs_are_byte_identical(reference: Path, tmp_path: Path) -> None:
    """Results and figures depend only on the arguments: a fresh run reproduces every byte."""
    run_tiny(tmp_path)
    for name in ("results.csv", f"figures/{BOUND_VS_RANK}", f"figures/{COMPLEXITY_RATIO}"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name


def test_two_workers_equal_sequential(reference: Path, tmp_path: Path) -> None:
    with deadline(PROCESS_TIMEOUT_S):
        report = run_tiny(tmp_path, workers=2, figures=False)
    assert report.computed == 6
    assert (tmp_path / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_dask_local_cluster_equals_localrun_tiny(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with deadline(PROCESS_TIMEOUT_S):
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster:
            report = run_tiny(tmp_path, scheduler=cluster.scheduler_address, figures=False)
    assert report.computed == 6
    assert (tmp_path / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_kill_9_then_resume_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m verification sweep`` killed with SIGKILL right after its first point file
    appears, then rerun: only the missing points are computed and results.csv is identical to
    an uninterrupted run's. (Four seeds: 12 points leave the kill a window of about a second.)"""
    argv = [*TINY_ARGV[: TINY_ARGV.index("--seeds") + 1], "0", "1", "2", "3"]
    argv += TINY_ARGV[TINY_ARGV.index("--profile") :]
    uninterrupted = tmp_path / "uninterrupted"
    run_sweep(make_spec(**{**TINY, "seeds": [0, 1, 2, 3]}), uninterrupted, progress=False)
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "verification", *argv, "--out", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while not list((out / "points").glob("*.json")):
            assert proc.poll() is None, "the sweep ended before writing a point"
            assert time.monotonic() < deadline, "no point file appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = sorted(p.stem for p in (out / "points").glob("*.json"))
    assert 1 <= len(done) < 12, done
    assert not (out / "results.csv").exists()
    assert main([*argv, "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert f"12 grid points, {12 - len(done)} computed now, {len(done)} found" in summary
    assert (out / "results.csv").read_bytes() == (uninterrupted / "results.csv").read_bytes()


def test_a_failing_point_is_named_and_finished_points_are_kept(tmp_path: Path) -> None:
    def flaky(point: PointSpec) -> dict[str, Any]:
        if point.point_id == "w8-s0-mf":
            raise FloatingPointError("NaN loss")
        return run_point(point)

    with pytest.raises(PointFailed, match="grid point w8-s0-mf failed: NaN loss"):
        run_tiny(tmp_path, point_fn=flaky, figures=False)
    assert sorted(p.stem for p in (tmp_path / "points").glob("*.json")) == ["w8-s0-r1", "w8-s0-r2"]


def test_execute_calls_back_once_per_point() -> None:
    seen: list[tuple[str, int]] = []
    pts = [PointSpec("d", "mlp", "low_rank", r, 8, 0, "smoke", 0.0, "") for r in (1, 2, 3)]
    fn: Callable[[PointSpec], int] = lambda p: (p.rank or 0) * 10  # noqa: E731
    assert execute(pts, fn, lambda p, r: seen.append((p.point_id, r)), progress=False) == 3
    assert seen == [("w8-s0-r1", 10), ("w8-s0-r2", 20), ("w8-s0-r3", 30)]
    assert execute([], fn, lambda p, r: None, progress=False) == 0
