"""Benchmark (not a test): the sweep's wall time now against a baseline commit, side by side.

Issue 16 asks for the default sweep at least 2x shorter and the LSTM and Transformer sweeps at
least 3x shorter than before its work began (``BASELINE``, the commit before the first lean
step). This extracts that commit (``git archive``, into a temporary folder), then runs the same
``python -m verification sweep ...`` command from both trees at the same time, one worker
each (one process per core on a 2-core machine, so both see the same load), and prints both
wall times and their ratio (baseline / now). The times include starting Python, importing torch
and drawing the figures, as a user's command does.

Grids:

* ``mlp``: the default sweep (MLP on MNIST-1D, 28 points);
* ``lstm`` and ``transformer``: a slice of their default grids (width 32, seed 0, ranks 1 and 8
  plus mean field: 3 points; the whole grids take 20 minutes and an hour on one worker).

The results are compared too, point by point, and the largest differences of the test error and
of the kl-inverse bound are printed. The issue allows the numbers to move within float tolerance
(the fused layer step's gradients differ from autograd's at rounding level, so a trajectory can
drift). The bound also moved by design: since the baseline a grid's certificates split their
Monte Carlo budget over the grid's K posteriors (714e88e: each Monte Carlo step at
``mc_delta / K``), which loosens every kl-inverse bound a little and costs no time; the test
error is the column that compares the trained models.

Run: ``python benchmarks/bench_sweep_wall.py [--archs mlp lstm transformer] [--base REV]
[--json PATH]`` (``make bench`` writes ``benchmarks/results/bench_sweep_wall.json``; about
12 minutes on two cores).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _results import write_result  # type: ignore[import-not-found]

#: the commit before issue 16's first lean step (972a733)
BASELINE = "5852658"
ROOT = Path(__file__).resolve().parent.parent
GRIDS: dict[str, list[str]] = {
    "mlp": [],
    "lstm": ["--arch", "lstm", "--widths", "32", "--seeds", "0", "--ranks", "1", "8"],
    "transformer": ["--arch", "transformer", "--widths", "32", "--seeds", "0", "--ranks", "1", "8"],
}
#: columns whose largest difference between the two runs is printed
COMPARED = ("test_error", "kl_inverse")


def extract(rev: str, dest: Path) -> Path:
    """The tree of ``rev`` (its tracked files) unpacked into ``dest``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_sweep(tree: Path, grid: list[str], out: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of ``python -m verification sweep GRID --out OUT`` run from ``tree`` (its
    packages first on the path), one worker; ``env``: more environment variables."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": str(tree),
        **(env or {}),
    }
    argv = [sys.executable, "-m", "verification", "sweep", *grid]
    argv += ["--out", str(out), "--workers", "1", "--no-progress"]
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, cwd=tree, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return {row["point_id"]: row for row in csv.DictReader(f)}


def largest_differences(before: Path, after: Path) -> dict[str, float]:
    """The largest absolute difference of each :data:`COMPARED` column over the points both
    ``results.csv`` hold (the two grids are the same: every point is in both)."""
    old, new = _rows(before), _rows(after)
    if set(old) != set(new):
        raise SystemExit(f"the two runs computed different points: {sorted(set(old) ^ set(new))}")
    return {col: max(abs(float(old[p][col]) - float(new[p][col])) for p in old) for col in COMPARED}


def bench(arch: str, base_tree: Path, tmp: Path) -> dict[str, Any]:
    grid = GRIDS[arch]
    outs = (tmp / f"{arch}-before", tmp / f"{arch}-after")
    with ThreadPoolExecutor(2) as pool:
        before = pool.submit(run_sweep, base_tree, grid, outs[0])
        after = pool.submit(run_sweep, ROOT, grid, outs[1])
        before_s, after_s = before.result(), after.result()
    diffs = largest_differences(outs[0] / "results.csv", outs[1] / "results.csv")
    return {
        "grid": " ".join(grid) or "default",
        "before_s": before_s,
        "after_s": after_s,
        "ratio": before_s / after_s,
        "largest_difference": diffs,
    }


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """The options of a benchmark against the baseline: ``--base`` and ``--json``."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--base", default=BASELINE, help=f"baseline commit (default {BASELINE})")
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    return parser


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--archs", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        base_tree = extract(args.base, tmp / "base")
        for arch in args.archs:
            r = results[arch] = bench(arch, base_tree, tmp)
            diffs = ", ".join(f"{k} {v:.3g}" for k, v in r["largest_difference"].items())
            print(
                f"{arch:12s} ({r['grid']}): before {r['before_s']:7.1f} s, now "
                f"{r['after_s']:7.1f} s, {r['ratio']:.2f}x shorter; largest differences: {diffs}",
                flush=True,
            )
    if args.json is not None:
        values = {"base": args.base, "workers": 1, "runs": results}
        print(f"wrote {write_result(args.json, 'bench_sweep_wall', values)}")


if __name__ == "__main__":
    main()
