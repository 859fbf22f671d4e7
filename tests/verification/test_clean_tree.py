"""Issue 19: the README's commands leave ``git status`` clean.

A scratch copy of the working tree (tracked and untracked files that git does not ignore, with
the repository's ``.gitignore``) is committed in a throw-away repository; the documented commands
run there (``python -m verification`` is ``lrbnn``, imported from the copy because it is the
working directory), and ``git status --porcelain`` must stay empty: ``lrbnn figures`` redraws the
tracked figures with sidecars that carry no commit, a sweep writes into its ignored folder,
``lrbnn figures --sweep DIR`` writes into ``DIR/figures``, and the README's "other grids" example
has its own ``--out`` so that it runs right after ``make sweep``, and ``lrbnn compare`` writes
into its ignored ``compare_out/``. The sweeps use the seconds-long
smoke profile (the README's commands with ``--profile smoke`` added).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=120
    )
    return proc.stdout


def _scratch_copy(dest: Path) -> Path:
    """The working tree's non-ignored files, committed in a new repository at ``dest``."""
    names = _git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, names.split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    for args in (
        ("init", "-q"),
        ("add", "-A"),
        ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "scratch"),
    ):
        _git(dest, *args)
    return dest


def _lrbnn(cwd: Path, *args: str, bar: bool = True) -> str:
    """``lrbnn ARGS`` in ``cwd`` with no thread variables (``--no-progress`` where it has a bar)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.run(
        [sys.executable, "-m", "verification", *args, *(["--no-progress"] if bar else [])],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, (args, proc.stderr[-2000:])
    return proc.stdout


def _status(repo: Path) -> str:
    return _git(repo, "status", "--porcelain", "--untracked-files=all")


@pytest.mark.slow
@pytest.mark.slow_ci
def test_documented_commands_leave_the_tree_clean(tmp_path: Path) -> None:
    repo = _scratch_copy(tmp_path / "clone")
    assert _status(repo) == ""
    # lrbnn figures: every theory figure and its sidecar redrawn over the tracked ones
    _lrbnn(repo, "figures")
    assert _status(repo) == "", "lrbnn figures changed tracked files"
    # make sweep, at the smoke budget, then lrbnn figures --sweep sweep_out: into sweep_out/figures
    _lrbnn(repo, "sweep", "--profile", "smoke", "--widths", "8", "--ranks", "1", "2")
    out = _lrbnn(repo, "figures", "--sweep", "sweep_out")
    assert all(line.startswith("wrote sweep_out/figures/") for line in out.splitlines() if line), (
        out
    )
    # the README's "other grids" example, as printed (with the smoke budget), right after
    readme = (repo / "README.md").read_text(encoding="utf-8")
    other = "--ranks 1 4 16 --widths 256 --seeds 0 1 2 --dataset digits --out results/sweep_digits`"
    assert other in " ".join(readme.split())  # as printed, whatever the line breaks
    _lrbnn(repo, "sweep", "--profile", "smoke", "--ranks", "1", "4", "16", "--widths", "256",
           "--seeds", "0", "--dataset", "digits", "--out", "results/sweep_digits")  # fmt: skip
    assert (repo / "results" / "sweep_digits" / "results.csv").is_file()
    # lrbnn compare --profile smoke (narrowed here) writes into its ignored compare_out/
    _lrbnn(repo, "compare", "--profile", "smoke", "--tasks", "mlp_digits",
           "--families", "deterministic", "low_rank", "--seeds", "0")  # fmt: skip
    assert (repo / "compare_out" / "summary.csv").is_file()
    _lrbnn(repo, "compare", "--summary-only", "compare_out", bar=False)
    # lrbnn check --only prints its rows and writes nothing
    _lrbnn(repo, "check", "--only", "P1")
    _lrbnn(repo, "claims", bar=False)
    assert _status(repo) == "", "a documented command left the tree dirty"


def test_the_scan_can_fail(tmp_path: Path) -> None:
    """The status check is not vacuous: a changed tracked file shows up."""
    repo = tmp_path / "r"
    repo.mkdir()
    (repo / "a.json").write_text('{"commit": "1"}\n', encoding="utf-8")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    assert _status(repo) == ""
    (repo / "a.json").write_text('{"commit": "2"}\n', encoding="utf-8")
    assert _status(repo) == " M a.json\n"
