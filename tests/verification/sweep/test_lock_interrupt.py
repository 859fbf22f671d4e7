"""One run per folder and clean interruptions: a second run is refused naming the holder (or
waits with ``--wait`` and then reuses everything), two runs started together compute every
point once, and Ctrl-C or SIGTERM (sequential, or with two workers and the signal sent to the
whole process group as a terminal does) exits 130 within seconds with one line, keeping every
finished point, leaving no worker and no temporary file; rerunning completes to the bytes of an
uninterrupted run."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.verification.sweep.tiny import (
    PROCESS_TIMEOUT_S,
    REPO,
    TINY,
    TINY_ARGV,
    copy_sweep,
    run_tiny,
)
from verification.cli import main
from verification.sweep import FolderBusy, PointSpec, execute, folder_lock, make_spec, run_sweep

#: four seeds: 12 points, a window of a few seconds for a signal to land mid-run
SEEDS = ["0", "1", "2", "3"]
ARGV = [*TINY_ARGV[: TINY_ARGV.index("--seeds") + 1], *SEEDS]
ARGV += TINY_ARGV[TINY_ARGV.index("--profile") :]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _start(out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "verification", *ARGV, "--out", str(out), *extra],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
    )


def _wait_for_points(proc: subprocess.Popen[str], out: Path, n: int = 1) -> None:
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while len(list((out / "points").glob("*.json"))) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no point file appeared"
        time.sleep(0.01)


def _group_gone(pgid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    run_sweep(make_spec(**{**TINY, "seeds": [0, 1, 2, 3]}), out, progress=False, figures=False)
    return out


def test_a_held_folder_is_refused_naming_the_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with folder_lock(tmp_path / "busy"):
        with pytest.raises(FolderBusy, match=rf"is in use by process {os.getpid()} on "):
            run_tiny(tmp_path / "busy")
        assert main([*TINY_ARGV, "--out", str(tmp_path / "busy")]) == 2
        err = capsys.readouterr().err
        assert f"in use by process {os.getpid()}" in err and "--wait" in err
        assert len(err.strip().splitlines()) == 1
        assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == [".lock"]
    report = run_tiny(tmp_path / "busy", figures=False)  # released: the folder is usable
    assert report.computed == 6


def test_two_runs_started_together(tmp_path: Path, uninterrupted: Path) -> None:
    """Two runs into one folder at once: every point is computed once, a run that finds the
    folder held says who holds it (one line, exit 2), and nothing is lost or crashes. (On a
    loaded machine the first may finish before the second starts: the second then finds every
    point; the sum of points computed is 12 either way.)"""
    out = tmp_path / "together"
    procs = [_start(out), _start(out)]
    results = [p.communicate(timeout=PROCESS_TIMEOUT_S) for p in procs]
    assert sorted(p.returncode for p in procs)[0] == 0, results
    computed = 0
    for proc, (stdout, stderr) in zip(procs, results, strict=True):
        if proc.returncode == 0:
            computed += int(stdout.split(" computed now")[0].rsplit(" ", 1)[1])
        else:
            assert proc.returncode == 2, stderr
            assert "is in use by process" in stderr and len(stderr.strip().splitlines()) == 1
    assert computed == 12
    assert (out / "results.csv").read_bytes() == (uninterrupted / "results.csv").read_bytes()


def test_wait_blocks_until_the_holder_ends_then_reuses_its_points(
    tmp_path: Path, uninterrupted: Path
) -> None:
    waited = tmp_path / "waited"
    copy_sweep(uninterrupted, waited)
    with folder_lock(waited):
        proc = _start(waited, "--wait")
        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], PROCESS_TIMEOUT_S)
        assert ready, "the waiting run said nothing"
        line = proc.stderr.readline()
        assert line.startswith(f"lrbnn sweep: waiting for process {os.getpid()} on "), line
        assert proc.poll() is None  # still blocked while the lock is held
    stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    assert proc.returncode == 0, stderr
    assert "12 grid points, 0 computed now, 12 found" in stdout
    assert (waited / "results.csv").read_bytes() == (uninterrupted / "results.csv").read_bytes()


@pytest.mark.parametrize(
    ("workers", "sig", "group"),
    [("1", signal.SIGINT, True), ("2", signal.SIGINT, True), ("2", signal.SIGTERM, False)],
    ids=["ctrl-c", "ctrl-c-two-workers", "sigterm-two-workers"],
)
def test_interrupt_keeps_finished_points(
    tmp_path: Path, uninterrupted: Path, workers: str, sig: int, group: bool
) -> None:
    out = tmp_path / "interrupted"
    proc = _start(out, "--workers", workers)
    try:
        _wait_for_points(proc, out)
        sent = time.monotonic()
        if group:  # a terminal's Ctrl-C reaches the driver and its workers
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    saved = sorted(p.stem for p in (out / "points").glob("*.json"))
    lines = err.strip().splitlines()
    assert lines == [
        f"lrbnn sweep: interrupted: {len(saved)} of 12 points saved in {out}; "
        "run the same command to resume"
    ], err
    assert took < 5.0, f"stopping took {took:.1f} s"
    assert _group_gone(proc.pid, within=3.0), "a worker outlived the interrupted sweep"
    assert not [p for p in out.rglob("*.tmp")]
    assert main([*ARGV, "--out", str(out)]) == 0
    assert (out / "results.csv").read_bytes() == (uninterrupted / "results.csv").read_bytes()


def test_results_finished_in_workers_are_stored_on_interrupt() -> None:
    """The pool delivers results that finished while the driver was being interrupted: the
    first delivery raises KeyboardInterrupt (a Ctrl-C landing in the driver) after the second
    point has finished; both still reach ``on_result``."""
    points = [PointSpec("d", "mlp", "low_rank", r, 8, 0, "smoke", 0.0, "") for r in (1, 2)]
    seen: list[str] = []
    interrupted: list[str] = []

    def on_result(point: PointSpec, result: Any) -> None:
        if not interrupted:
            interrupted.append(point.point_id)
            time.sleep(1.0)  # the other point finishes meanwhile
            raise KeyboardInterrupt
        seen.append(point.point_id)

    with pytest.raises(KeyboardInterrupt):
        execute(points, _identity, on_result, workers=2, progress=False)
    assert sorted(seen) == ["w8-s0-r1", "w8-s0-r2"]


def _identity(point: PointSpec) -> str:
    return point.point_id
