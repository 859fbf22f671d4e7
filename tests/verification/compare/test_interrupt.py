"""A comparison interrupted as a terminal does (Ctrl-C to the whole process group, two workers)
exits 130 with one line, keeps every finished point and leaves no worker or temporary file; the
same command then resumes, and the results equal an uninterrupted run's in every column but the
timings (the real ``run_compare`` at the smoke scale, in a subprocess)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
#: 2 tasks x 2 families x 2 seeds of the smoke profile: a few seconds, room for a signal
ARGV = [
    "compare",
    "--profile",
    "smoke",
    "--tasks",
    "mlp_digits",
    "lstm_co2",
    "--families",
    "deterministic",
    "low_rank",
    "--no-progress",
]
TIMINGS = {"seconds_per_epoch", "train_seconds"}


def _run(out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "verification", *ARGV, "--out", str(out), *extra],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
    )


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "results.csv").open(newline="", encoding="utf-8") as fh:
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in csv.DictReader(fh)]


@pytest.mark.slow
def test_ctrl_c_keeps_finished_points_and_resumes(tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    done = _run(whole)
    _, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    out = tmp_path / "interrupted"
    proc = _run(out, "--workers", "2")
    try:
        deadline = time.monotonic() + 300
        while not list((out / "points").glob("*.json")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no point record appeared"
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    saved = len(list((out / "points").glob("*.json")))
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        f"lrbnn compare: interrupted: {saved} of 8 points saved in {out}; "
        "run the same command to resume"
    ], err
    assert 1 <= saved < 8
    assert not list(out.rglob("*.tmp"))
    resumed = _run(out, "--workers", "2")
    stdout, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"{8 - saved} computed now, {saved} found" in stdout
    assert _rows(out) == _rows(whole)
