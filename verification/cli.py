"""The ``lrbnn`` command line (also ``python -m verification``).

``sweep`` (the main job: certificates and theory terms over ranks x widths x seeds), ``compare``
(the paper's model families on the same tasks over seeds: :mod:`verification.compare`), ``check``
(every claim check, into ``paper_checks.md``), ``figures`` (every theory figure, or a sweep's
figures) and ``claims`` (every claim id of ``CLAIMS.md`` with its statement and its source in the
paper).

Threads: every command that computes sets its own limits (``--threads N``, default 1, through
:func:`lrbnn_core.threads.set_thread_limits`) before any work, so that the commands are as fast
without ``OPENBLAS_NUM_THREADS=1`` / ``OMP_NUM_THREADS=1`` in the environment as with them.

Exit codes: 0 success; 1 a finding (``check --mutants`` with a surviving mutant); 2 a failure
(bad arguments, an unusable folder or file, a failing grid point, a crashed check, any other
error), always one line on stderr, never a traceback (``--debug`` shows it); 130 interrupted
(Ctrl-C or SIGTERM; a sweep keeps its finished points and says how many).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

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


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (argparse prints the usage block first)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _refuse_out_under_a_file(out: Path | None, parser: argparse.ArgumentParser) -> None:
    """Refuse before any work an ``--out`` that lies under a file (it could never be written)."""
    from verification.sweep.storage import first_file

    blocking = None if out is None else first_file(out.parent)
    if blocking is not None:
        parser.error(f"--out {out} is under the file {blocking}, not a folder")


#: ``--threads``: as :data:`lrbnn_core.threads.THREADS_HELP` (not imported here: importing
#: lrbnn_core loads torch, which ``lrbnn --help`` and ``lrbnn claims`` do not need).
_THREADS_HELP = (
    "BLAS and torch threads of this process and its workers (default 1, as the Makefile's "
    "OPENBLAS_NUM_THREADS=1: these checks make many small matrix calls, where more threads only "
    "contend; `lrbnn check --only D2` took 65 s with the libraries' defaults, 6.9 s with 1, on "
    "2 cores). A sweep's grid points always run on one thread each, for reproducible bits"
)


def _threads(value: str) -> int:
    """argparse type of ``--threads``: an int >= 1."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {value!r}")
    return n


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lrbnn",
        description="Check the theory of low-rank Bayesian neural networks.",
    )
    debug = _Parser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", help="on an error, show the traceback (default: one line)"
    )
    common = _Parser(add_help=False, parents=[debug])
    common.add_argument("--threads", type=_threads, default=1, metavar="N", help=_THREADS_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = sub.add_parser(
        "check",
        parents=[common],
        help="run every claim check of CLAIMS.md and write paper_checks.md (about 70 s on 2 cores)",
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
    check.add_argument(
        "--mutants",
        action="store_true",
        help="run every claim's mutants instead (perturbed formulas, constants, targets) and "
        "print a table of verdicts before -> after; exit 1 when a mutant survives",
    )
    check.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    figures = sub.add_parser(
        "figures",
        parents=[common],
        help="regenerate every theory figure (or, with --sweep DIR, a sweep's figures)",
        description=(
            "Regenerate every theory figure (PNG and JSON sidecar) into a folder; with --sweep "
            "DIR, draw that sweep's figures instead."
        ),
    )
    figures.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default figures/ (with --sweep DIR: DIR/figures/, where the sweep drew them; "
        "another folder gets them named sweep_*.png)",
    )
    figures.add_argument(
        "--sweep",
        type=Path,
        default=None,
        metavar="DIR",
        help="draw the figures of the sweep in DIR (bound vs rank, complexity ratio, where low "
        "rank wins) from DIR/results.csv, instead of the theory figures",
    )
    figures.add_argument(
        "--prefix",
        default=None,
        help="with --sweep: what the file names start with (default: nothing in DIR/figures, "
        "sweep_ in another folder; e.g. sweep_paper_mnist1d_ for the paper profile's figures)",
    )
    figures.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    claims = sub.add_parser(
        "claims",
        parents=[debug],
        help="list every claim id of CLAIMS.md with its statement and its source in the paper",
        description="List every claim id of CLAIMS.md, one line each: statement and source.",
    )
    claims.add_argument("--id", nargs="+", metavar="ID", default=None, help="only these ids")
    _add_sweep(sub, common)
    from verification.compare.command import add_compare_parser

    add_compare_parser(sub, common)
    return parser


def _add_sweep(sub: Any, common: _Parser) -> None:
    sweep = sub.add_parser(
        "sweep",
        parents=[common],
        help="certificates, test metrics and theory terms over ranks x widths x seeds",
        description=(
            "Train and certify one model per grid point (low-rank at each rank, plus the "
            "mean-field baseline) with each prior of --prior (default data-dependent); write "
            "DIR/results.csv, DIR/meta.json, DIR/timings.csv and DIR/figures/. Resumable: rerun "
            "the same command after an interruption and only the missing points are computed."
        ),
    )
    # lists take nargs="*" so that an empty list reaches the one-line refusal of make_spec
    sweep.add_argument(
        "--dataset", default="mnist1d", help="mnist1d (default), digits, teacher_student"
    )
    sweep.add_argument("--arch", default="mlp", help="mlp (default), lstm, transformer")
    sweep.add_argument(
        "--ranks",
        type=int,
        nargs="*",
        default=None,
        help="ranks of the low-rank models (default 1 2 4 8 16 32, those that fit every layer)",
    )
    sweep.add_argument(
        "--widths",
        type=int,
        nargs="*",
        default=None,
        help="hidden widths (default 64 128; LSTM and Transformer 32 64)",
    )
    sweep.add_argument("--seeds", type=int, nargs="*", default=None, help="seeds (default 0 1)")
    sweep.add_argument(
        "--no-mean-field", action="store_true", help="leave out the mean-field baseline"
    )
    sweep.add_argument(
        "--pbb",
        action="store_true",
        help="add the PBB recipe (Perez-Ortiz et al. 2021: dropout-ERM prior, prior stds 0.01, "
        "0.03, 0.1 paid for, f_quad posterior on the bound half) as a baseline family (MLP only; "
        "run once, beside the data-dependent points)",
    )
    sweep.add_argument(
        "--prior",
        nargs="*",
        default=None,
        metavar="MODE",
        help="prior modes, each a dimension of the grid and paid for in the union bound: "
        "data-dependent (default: learnt on half the training set), init (Gaussian at the "
        "seeded initialisation, stds 0.01 0.03 0.1), zero (Gaussian at 0, stds 0.1 0.3 1), "
        "scale-mixture (the paper's 0.5 N(0,1) + 0.5 N(0,(e^-6)^2), closed-form KL bound); "
        "the data-free ones certify on every training example",
    )
    sweep.add_argument("--out", type=Path, default=Path("sweep_out"), help="default sweep_out/")
    sweep.add_argument(
        "--workers", type=int, default=1, help="local worker processes (default 1: this process)"
    )
    sweep.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the points on an existing dask.distributed cluster (tcp://host:8786)",
    )
    sweep.add_argument(
        "--profile",
        default="quick",
        help="quick (default: minutes), thorough (certified_training's full budget), "
        "smoke (seconds, tiny data: for trying the command), paper (issue 17's map: widths 64 "
        "256 1024, ranks 4 16 32, data-dependent, init and scale-mixture priors, MLP only; "
        "about 25 minutes per data set with --workers 2)",
    )
    sweep.add_argument(
        "--wait",
        action="store_true",
        help="if another run holds DIR, wait for it to finish (default: say who holds it and stop)",
    )
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sweep.add_argument(
        "--compile",
        action="store_true",
        help="train the low-rank points' dropout ERM and bound training as torch.compile "
        "graphs (MLP, data-dependent prior; other points run eagerly; needs a C++ compiler, "
        "else warns and runs eagerly; the same numbers up to "
        "rounding, so a folder holds one or the other; compiling costs about a minute per "
        "process on a first run, seconds once inductor's cache holds the graphs)",
    )


def _sweep(args: argparse.Namespace) -> int:
    from verification.sweep import SweepError, make_spec, run_sweep

    try:
        spec = make_spec(
            dataset=args.dataset,
            arch=args.arch,
            ranks=args.ranks,
            widths=args.widths,
            seeds=args.seeds,
            mean_field=not args.no_mean_field,
            profile=args.profile,
            pbb=args.pbb,
            priors=args.prior,
            compile=args.compile,
        )
        # run_sweep refuses bad --workers / --scheduler before it touches the folder
        report = run_sweep(
            spec,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            wait=args.wait,
        )
    except SweepError as exc:
        return _fail("sweep", exc)
    print(
        f"lrbnn sweep: {report.n_points} grid points, {report.computed} computed now, "
        f"{report.reused} found in {report.out / 'points'}; {report.seconds:.1f} s"
    )
    print(f"wrote {report.results}")
    if report.answer is not None:
        print(f"wrote {report.answer}")
    print(f"wrote {report.timings}")
    for path in report.figures:
        print(f"wrote {path}")
    return 0


#: what ``lrbnn figures --prefix`` accepts: a plain file-name start
_PREFIX = re.compile(r"[A-Za-z0-9._-]*")


def _figures(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from verification.figures import make_figures

    sweep: Path | None = args.sweep
    prefix: str | None = args.prefix
    if prefix is not None and (sweep is None or not _PREFIX.fullmatch(prefix)):
        parser.error(
            "--prefix needs --sweep and letters, digits, '.', '-' or '_' only; got "
            f"{prefix!r}" + ("" if sweep is not None else " without --sweep")
        )
    if args.out is None:
        out: Path = Path("figures") if sweep is None else sweep / "figures"
    else:
        out = args.out
    if out.exists() and not out.is_dir():
        parser.error(f"--out must be a folder; got the file {out}")
    _refuse_out_under_a_file(out, parser)
    if sweep is not None and not (sweep / "results.csv").is_file():
        parser.error(f"--sweep must be a sweep folder holding results.csv; got {sweep}")
    if sweep is None:
        for path in make_figures(out, progress=not args.no_progress):
            print(f"wrote {path}")
        return 0
    from verification.sweep import make_sweep_figures

    # by default into DIR/figures, under the names the sweep itself gives them (what the sidecars'
    # command `--out DIR/figures` redraws); another folder gets sweep_*.png (the README's tracked
    # figures/sweep_*.png are redrawn only when --out figures says so)
    into = None if out.resolve() == (sweep / "figures").resolve() else out
    if prefix is None:
        prefix = "" if into is None else "sweep_"
    for path in make_sweep_figures(sweep, into, prefix=prefix):
        print(f"wrote {path}")
    return 0


def _claims(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from verification.claim_sources import SOURCES, claim_lines

    ids: list[str] | None = args.id
    unknown = [i for i in ids or () if i not in SOURCES]
    if unknown:
        parser.error(f"unknown claim id {unknown[0]!r}; known ids: {', '.join(SOURCES)}")
    for line in claim_lines(ids):
        print(line)
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
    _refuse_out_under_a_file(out, parser)
    if args.mutants:
        return _mutants(args, claims, profile, args.out)
    try:
        results = run_claims(claims, profile=profile, progress=not args.no_progress)
    except CheckCrashed as exc:
        return _fail("check", exc)
    text = render_markdown(results, profile=profile)
    for r in results:
        print(f"{r.claim.id:7s} {r.outcome.verdict.value:18s} {r.seconds:7.2f} s", file=sys.stderr)
    if out is None:
        print(text, end="")
    else:
        _atomic_write(out, text)
        print(f"wrote {out} ({len(results)} claims, profile {profile.value})")
    return 0


def _mutants(
    args: argparse.Namespace, claims: Sequence[Any], profile: Profile, out: Path | None
) -> int:
    from verification.mutation import mutants_for, render_mutants, run_mutants

    mutants = [m for c in claims for m in mutants_for(c.id)]
    results = run_mutants(mutants, profile=profile, progress=not args.no_progress)
    text = render_mutants(results)
    if out is None:
        print(text, end="")
    else:
        _atomic_write(out, text)
        print(f"wrote {out}")
    survivors = [r.mutant.id for r in results if not r.killed]
    killed = len(results) - len(survivors)
    print(
        f"mutation score: {killed}/{len(results)} killed ({profile.value} budget)", file=sys.stderr
    )
    if survivors:
        print(f"lrbnn check: mutants not killed: {', '.join(survivors)}", file=sys.stderr)
        return 1
    return 0


def _fail(command: str, exc: BaseException | str) -> int:
    """Print ``exc`` as one line on stderr; exit code 2."""
    print(f"lrbnn {command}: {_one_line(str(exc))}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "check":
        return _check(args, parser)
    if args.command == "claims":
        return _claims(args, parser)
    from lrbnn_core.threads import set_thread_limits

    set_thread_limits(args.threads)
    if args.command == "figures":
        return _figures(args, parser)
    if args.command == "compare":
        from verification.compare.command import compare_command

        return compare_command(args, parser)
    return _sweep(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (module docstring)."""
    from verification.sweep import PointFailed, SweepError, SweepInterrupted

    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    command = args.command
    try:
        return _run(args, parser)
    except SweepInterrupted as exc:
        print(f"lrbnn {command}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"lrbnn {command}: interrupted", file=sys.stderr)
        return 130
    except (SweepError, PointFailed) as exc:
        if args.debug:
            raise
        return _fail(command, exc)
    except OSError as exc:
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(command, f"{where}{exc.strerror or exc}")
    except Exception as exc:
        if args.debug:
            raise
        return _fail(command, f"{type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
