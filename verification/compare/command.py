"""The ``lrbnn compare`` subcommand: its options (:func:`add_compare_parser`) and what it runs
(:func:`compare_command`); :mod:`verification.cli` wires both in.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from verification.compare.driver import run_comparison, summarise_folder
from verification.compare.spec import make_compare_spec
from verification.sweep.storage import first_file

__all__ = ["add_compare_parser", "compare_command"]


def add_compare_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``compare`` subcommand to ``sub`` (``common``: the ``--threads`` and
    ``--debug`` options every computing command takes)."""
    compare = sub.add_parser(
        "compare",
        parents=[common],
        help="train and evaluate the paper's families (deterministic, deep ensemble, mean field, "
        "low rank, LR-SVD, rank-1) on the same tasks over several seeds",
        description=(
            "One point per task x family x seed (lrbnn_core.comparison.run_compare); write "
            "DIR/results.csv (as each point finishes), DIR/meta.json, DIR/arrays/, "
            "DIR/summary.csv, DIR/summary.md and DIR/figures/. Resumable: rerun the same "
            "command and only the missing points are computed."
        ),
    )
    compare.add_argument(
        "--profile",
        default="quick",
        help="smoke (every task x family on tiny data, seeds 0 1: 20 s in all on 2 cores), quick "
        "(default; seeds 0-3, a quarter of the data and epochs: 142 s with --workers 2), full "
        "(seeds 0-3, the full training scale: about 20 minutes with --workers 2 on 2 cores)",
    )
    # lists take nargs="*" so that an empty list reaches the one-line refusal
    compare.add_argument("--tasks", nargs="*", default=None, help="narrow the profile's tasks")
    compare.add_argument("--families", nargs="*", default=None, help="narrow its families")
    compare.add_argument("--seeds", type=int, nargs="*", default=None, help="narrow its seeds")
    compare.add_argument(
        "--workers", type=int, default=1, help="local worker processes (default 1: this process)"
    )
    compare.add_argument(
        "--out", type=Path, default=Path("compare_out"), help="default compare_out/"
    )
    compare.add_argument(
        "--summary-only",
        type=Path,
        default=None,
        metavar="DIR",
        help="train nothing: rewrite DIR's summary and figures from DIR/results.csv",
    )
    compare.add_argument(
        "--wait", action="store_true", help="if another run holds DIR, wait for it to finish"
    )
    compare.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def compare_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run ``lrbnn compare``; returns the exit code. Refusals are one line and exit 2: bad
    options through ``parser.error``, a :class:`CompareError` through the caller."""
    if args.summary_only is not None:
        given = [o for o in ("tasks", "families", "seeds") if getattr(args, o) is not None]
        if given:
            parser.error(f"--summary-only DIR takes no --{given[0]}: it reads DIR/results.csv")
        for path in summarise_folder(args.summary_only):
            print(f"wrote {path}")
        return 0
    blocking = first_file(args.out.parent)
    if blocking is not None:
        parser.error(f"--out {args.out} is under the file {blocking}, not a folder")
    spec = make_compare_spec(
        profile=args.profile, tasks=args.tasks, families=args.families, seeds=args.seeds
    )
    report = run_comparison(
        spec,
        args.out,
        workers=args.workers,
        threads=args.threads,
        progress=not args.no_progress,
        wait=args.wait,
    )
    print(
        f"lrbnn compare: {report.n_points} points, {report.computed} computed now, "
        f"{report.reused} found in {report.out / 'points'}; {report.seconds:.1f} s"
    )
    for path in (report.results, *report.written):
        print(f"wrote {path}")
    return 0
