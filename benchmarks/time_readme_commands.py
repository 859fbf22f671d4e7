"""Time the README's shorter commands as a new user runs them (issue 19): each in its own process,
one after another, writing into a temporary folder so that the tree stays clean, and record the
wall seconds in ``--json`` (``make bench`` writes ``benchmarks/results/readme_commands.json``,
which the README's times are read from: ``verification/readme_numbers.py``).

The commands (their README sentences say "measured by this script"):

* ``sweep``: ``lrbnn sweep --workers 2`` (what ``make sweep`` runs; 28 points);
* ``check``: ``lrbnn check`` (every claim at the quick budget);
* ``mutants``: ``lrbnn check --mutants`` (every mutant at the quick budget);
* ``examples_quick``: ``python -m lrbnn_core.examples --quick`` (36 smoke models);
* ``compare_smoke``: ``lrbnn compare --profile smoke`` (48 smoke points).

The longer runs (``make paper-sweep``, ``make compare``, the full examples) state their own
measured times where the README cites them. Times depend on what else the machine runs: the
JSON records the CPU count and the load average at the start of each command.
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

ROOT = Path(__file__).resolve().parents[1]
LRBNN = [sys.executable, "-m", "verification"]

#: name -> the command's arguments after the interpreter (``{out}`` is a fresh folder)
COMMANDS: dict[str, list[str]] = {
    "sweep": [*LRBNN, "sweep", "--workers", "2", "--out", "{out}/sweep", "--no-progress"],
    "check": [*LRBNN, "check", "--out", "{out}/checks.md", "--no-progress"],
    "mutants": [*LRBNN, "check", "--mutants", "--no-progress"],
    "examples_quick": [sys.executable, "-m", "lrbnn_core.examples", "--quick", "--no-progress"],
    "compare_smoke": [
        *LRBNN,
        "compare",
        "--profile",
        "smoke",
        "--out",
        "{out}/compare",
        "--no-progress",
    ],
}


def time_command(argv: list[str]) -> float:
    """Wall seconds of one command run from the repository root (its output discarded); a
    failing command stops the script with its exit status."""
    with tempfile.TemporaryDirectory() as out:
        args = [a.format(out=out) for a in argv]
        start = time.perf_counter()
        done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {' | '.join(tail)}")
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--json", type=Path, default=None, help="write the seconds here")
    args = parser.parse_args()
    values: dict[str, dict[str, float]] = {}
    for name in args.only:
        load = os.getloadavg()[0]
        seconds = time_command(COMMANDS[name])
        values[name] = {"seconds": round(seconds, 1), "load_at_start": round(load, 2)}
        print(f"{name:16s} {seconds:8.1f} s  (load average at start {load:.2f})", flush=True)
    if args.json is not None:
        print(f"wrote {write_result(args.json, 'time_readme_commands', values)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
