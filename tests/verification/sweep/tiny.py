"""The tiny grid every sweep test runs (the smoke profile on teacher-student: 6 points, well
under a second each) and the helpers the test files share."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from verification.sweep import SweepReport, make_spec, run_sweep

#: The tiny grid every sweep test uses (and its command-line form).
TINY: dict[str, Any] = {
    "dataset": "teacher_student",
    "ranks": [1, 2],
    "widths": [8],
    "seeds": [0, 1],
    "profile": "smoke",
}
TINY_ARGV = [
    "sweep",
    "--dataset",
    "teacher_student",
    "--ranks",
    "1",
    "2",
    "--widths",
    "8",
    "--seeds",
    "0",
    "1",
    "--profile",
    "smoke",
    "--no-progress",
]
TINY_IDS = ["w8-s0-r1", "w8-s0-r2", "w8-s0-mf", "w8-s1-r1", "w8-s1-r2", "w8-s1-mf"]
#: Wall-clock guard for the tests that start other processes (a hang fails, never blocks CI).
PROCESS_TIMEOUT_S = 120
REPO = Path(__file__).resolve().parents[3]


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than ``seconds`` (SIGALRM, main thread)."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the test ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_tiny(out: Path, **options: Any) -> SweepReport:
    return run_sweep(make_spec(**TINY), out, progress=False, **options)


def copy_sweep(src: Path, dst: Path) -> None:
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("results.csv", "figures", "timings.csv")
    )
