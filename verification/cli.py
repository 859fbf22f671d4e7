"""The ``lrbnn`` command line (also ``python -m verification``).

Only commands that do something real are offered: ``check`` and ``figures`` now; ``sweep``
arrives with the issue that builds it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from verification.registry import CLAIMS, Profile, claim_by_id

__all__ = ["main"]


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so an interrupted run leaves no torn file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lrbnn",
        description="Check the theory of low-rank Bayesian neural networks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        help="run every claim check of CLAIMS.md and write paper_checks.md",
        description="Run every claim check and write paper_checks.md (one row per claim).",
    )
    check.add_argument(
        "--profile",
        choices=[p.value for p in Profile],
        default=Profile.QUICK.value,
        help="quick: minutes on two cores (default); thorough: larger samples and grids",
    )
    check.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the markdown (default paper_checks.md; with --only, print only)",
    )
    check.add_argument(
        "--only",
        nargs="+",
        metavar="ID",
        default=None,
        help="check only these claim ids and print their rows",
    )
    check.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    figures = sub.add_parser(
        "figures",
        help="regenerate every theory figure",
        description="Regenerate every theory figure (PNG) into a folder.",
    )
    figures.add_argument("--out", type=Path, default=Path("figures"), help="default figures/")
    figures.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _figures(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from verification.figures import make_figures

    out: Path = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out must be a folder; got the file {out}")
    for path in make_figures(out, progress=not args.no_progress):
        print(f"wrote {path}")
    return 0


def _check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from verification.report import CheckCrashed, render_markdown, run_claims

    profile = Profile(args.profile)
    claims = list(CLAIMS)
    if args.only is not None:
        try:
            claims = [claim_by_id(i) for i in args.only]
        except KeyError as exc:
            parser.error(str(exc.args[0]))
    out: Path | None = args.out
    if out is None and args.only is None:
        out = Path("paper_checks.md")
    if out is not None and out.exists() and out.is_dir():
        parser.error(f"--out must be a file path; got the directory {out}")
    try:
        results = run_claims(claims, profile=profile, progress=not args.no_progress)
    except CheckCrashed as exc:
        print(f"lrbnn check: {exc}", file=sys.stderr)
        return 1
    text = render_markdown(results, profile=profile)
    for r in results:
        print(f"{r.claim.id:7s} {r.outcome.verdict.value:18s} {r.seconds:7.2f} s", file=sys.stderr)
    if out is None:
        print(text, end="")
    else:
        _atomic_write(out, text)
        print(f"wrote {out} ({len(results)} claims, profile {profile.value})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "check":
        return _check(args, parser)
    if args.command == "figures":
        return _figures(args, parser)
    parser.print_help(sys.stderr)
    return 2
