"""Benchmark (not a test): ``lrbnn sweep --workers 1`` against ``--workers 2`` on one fixed grid.

Each run is the command line a user types (``python -m verification sweep ...``), in a fresh
output folder, so the times include starting Python, importing torch, spawning the workers and
drawing the figures. Prints both wall times, their ratio (target: clearly below 1 on two cores)
and whether the two ``results.csv`` are byte-identical (they must be). The default grid is small
(MLP on MNIST-1D, ranks 1 4 16 plus mean field, width 64, seeds 0 and 1: 8 points, about two
minutes in all on two cores); ``--default-grid`` times the README's default sweep instead (about
6 minutes in all). Run: ``python benchmarks/bench_sweep_workers.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_result  # type: ignore[import-not-found]

#: the small fixed grid (the quick profile, as the default sweep)
SMALL_GRID = ["--ranks", "1", "4", "16", "--widths", "64", "--seeds", "0", "1"]


def _run(out: Path, workers: int, grid: list[str]) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "verification", "sweep", *grid]
    argv += ["--out", str(out), "--workers", str(workers), "--no-progress"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--default-grid", action="store_true", help="time the default sweep (28 points)"
    )
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()
    grid = [] if args.default_grid else SMALL_GRID
    label = "default grid" if args.default_grid else " ".join(SMALL_GRID)
    with tempfile.TemporaryDirectory() as tmp:
        one = _run(Path(tmp) / "w1", 1, grid)
        two = _run(Path(tmp) / "w2", 2, grid)
        same = (Path(tmp) / "w1" / "results.csv").read_bytes() == (
            Path(tmp) / "w2" / "results.csv"
        ).read_bytes()
    print(f"lrbnn sweep ({label}), {os.cpu_count()} CPUs")
    print(f"  --workers 1: {one:7.1f} s")
    print(f"  --workers 2: {two:7.1f} s")
    print(f"  ratio workers 2 / workers 1: {two / one:.2f}")
    print(f"  results.csv byte-identical: {same}")
    if not same:
        raise SystemExit("the two runs gave different results.csv")
    if args.json is not None:
        values = {"grid": label, "workers_1_s": one, "workers_2_s": two, "ratio": two / one}
        print(f"wrote {write_result(args.json, 'bench_sweep_workers', values)}")


if __name__ == "__main__":
    main()
