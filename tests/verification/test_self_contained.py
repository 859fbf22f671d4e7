"""Issue 19: the repository is self-contained (the spec lives in it, ``lrbnn claims`` lists it,
nothing points outside it) and the commands set their own thread limits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from verification.claim_sources import NOT_REGISTERED, SOURCES, claim_lines
from verification.cli import main
from verification.registry import CLAIMS

ROOT = Path(__file__).resolve().parents[2]
CLAIMS_MD = ROOT / "CLAIMS.md"
#: Files of the project that may name paths (code, docs, build and CI files).
_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".json", ""}


def _spec_ids() -> list[str]:
    text = CLAIMS_MD.read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(r"^\| ([A-Z][A-Za-z0-9.]*) \|", text, re.M)]


def test_every_spec_id_has_a_source_in_spec_order() -> None:
    ids = _spec_ids()
    assert len(ids) == len(set(ids)) == 58
    assert list(SOURCES) == [*(c.id for c in CLAIMS), *NOT_REGISTERED]
    assert sorted(SOURCES) == sorted(ids)
    assert all(source.strip() for source in SOURCES.values())


def test_lrbnn_claims_lists_every_id_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claims"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(SOURCES)
    by_id = dict(zip(SOURCES, lines, strict=True))
    assert "Lemma 3.2" in by_id["L3.2"] and "has rank <= r" in by_id["L3.2"]
    assert (
        by_id["X3"].startswith("X3     Substantially better OOD")
        and "(no check yet)" not in by_id["X3"]
    )
    assert main(["claims", "--id", "E17", "D2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == claim_lines(["E17", "D2"]) and out[0].startswith("E17 ")
    assert "Theorem E.17" in out[0]


def test_lrbnn_claims_refuses_an_unknown_id(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["claims", "--id", "Z9"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown claim id 'Z9'; known ids: P1, P2" in err and err.count("\n") == 1


def _project_files() -> list[Path]:
    """The files git would commit (tracked, or untracked and not ignored)."""
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    paths = (ROOT / name for name in proc.stdout.split("\0") if name)
    return [p for p in paths if p.suffix in _SUFFIXES and p.is_file()]


def test_nothing_points_outside_the_repository() -> None:
    """No file names the spec folder outside the clone (``../shared``, ``shared/spec``) or the
    paper's reconstruction kept there (``PAPER.md``: cite the paper's own sections instead)."""
    this = Path(__file__).resolve()
    needles = ("shared/spec", "../shared", '"shared" / "spec"', "'shared' / 'spec'", "PAPER.md")
    offenders = []
    for path in _project_files():
        if path.resolve() == this:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{path.relative_to(ROOT)}: {n}" for n in needles if n in text]
    assert not offenders


def test_a_mutant_reference_would_be_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan above can fail: a file naming ``../shared/spec/CLAIMS.md`` is reported."""
    (tmp_path / "x.py").write_text('SPEC = "../shared/spec/CLAIMS.md"\n', encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True, timeout=60)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(AssertionError):
        test_nothing_points_outside_the_repository()


_PROBE = """
import json, sys
import numpy  # loads numpy's OpenBLAS with the default thread count
from lrbnn_core.threads import set_thread_limits
set_thread_limits({n})
import torch
from threadpoolctl import threadpool_info
print(json.dumps({{"torch": torch.get_num_threads(),
                  "pools": [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]}}))
"""


def test_set_thread_limits_limits_every_loaded_pool() -> None:
    """With no thread variables in the environment, every BLAS/OpenMP pool and torch end at one
    thread, the default (run in a fresh process: the limits are process-wide; the libraries'
    own default is the number of cores, 2 or more here, so the check can fail)."""
    n = 1
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(n=n)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert seen["torch"] == n
    assert seen["pools"] and all(threads == n for _, threads in seen["pools"]), seen


def test_set_thread_limits_refuses_bad_counts() -> None:
    from lrbnn_core.threads import set_thread_limits

    with pytest.raises(ValueError, match=r"`threads` must be >= 1; got 0"):
        set_thread_limits(0)
    with pytest.raises(TypeError, match=r"`threads` must be an int; got True"):
        set_thread_limits(True)
    with pytest.raises(TypeError, match=r"`threads` must be an int; got 1.5"):
        set_thread_limits(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_threads_option_refuses_bad_values(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--only", "P1", "--threads", bad])
    assert exc.value.code == 2
    assert f"--threads: must be an int >= 1; got '{bad}'" in capsys.readouterr().err
