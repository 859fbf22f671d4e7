"""The ``lrbnn`` command line: check, figures, bad arguments, and the markdown it writes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from verification.cli import main
from verification.registry import CLAIMS, Outcome, Profile, Verdict, claim_by_id
from verification.report import ClaimResult, render_markdown


def test_check_only_prints_the_rows_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--only", "P3", "E21", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\| P3 \| .* \| \*\*reproduced\*\* \|", out, re.M)
    assert re.search(r"^\| E21 \| .* \| \*\*refuted-as-stated\*\* \|", out, re.M)
    assert not (tmp_path / "paper_checks.md").exists()


def test_check_writes_the_requested_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    target = tmp_path / "sub" / "checks.md"
    assert main(["check", "--only", "P1", "--out", str(target), "--no-progress"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert target.read_text().count("\n| P1 |") == 1
    assert [p.name for p in target.parent.iterdir()] == ["checks.md"]  # no temp files left


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--only", "Z9"], "unknown claim id 'Z9'"),
        (["check", "--profile", "huge"], "invalid choice: 'huge'"),
        (["sweep", "--ranks", "x"], "invalid int value: 'x'"),
        (["figures", "--sweep", "/nonexistent"], "--sweep must be a sweep folder holding"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_check_out_must_not_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["check", "--only", "P1", "--out", str(tmp_path)])
    assert exc.value.code == 2


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: lrbnn" in capsys.readouterr().err


def test_figures_writes_pngs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["figures", "--out", str(tmp_path), "--no-progress"]) == 0
    from verification.figures import FIGURES

    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == sorted(FIGURES)
    assert (tmp_path / pngs[0]).read_bytes()[:4] == b"\x89PNG"


def test_python_dash_m_verification_is_the_same_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "verification", "check", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "--profile" in proc.stdout


def test_render_markdown_has_one_row_per_claim_and_escapes_pipes() -> None:
    results = [ClaimResult(c, Outcome(Verdict.PENDING, "a | b"), 0.0) for c in CLAIMS]
    text = render_markdown(results, profile=Profile.QUICK)
    for c in CLAIMS:
        # the row pattern the project's pre-stop hook looks for
        assert len(re.findall(rf"^\| {re.escape(c.id)} \|", text, re.M)) == 1
    assert r"a \| b" in text
    kl_row = next(line for line in text.splitlines() if line.startswith("| KLF |"))
    assert kl_row.count(" | ") == 5  # six cells: pipes inside cells are escaped
    assert claim_by_id("KLF").statement.split("||")[0] in kl_row.replace(r"\|", "|")


def test_check_mutants_prints_the_table_and_the_score(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--mutants", "--only", "F4", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "| F4 | `used_bound_is_ours` | target | not-reproduced -> reproduced | killed |" in (
        captured.out
    )
    assert "Mutation score: 2/2 mutants killed (1 claims)." in captured.out
    assert "mutation score: 2/2 killed (quick budget)" in captured.err
    assert list(tmp_path.iterdir()) == []  # printed, not written


def test_check_mutants_fails_when_a_mutant_survives(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import verification.mutation as mutation
    from verification.mutation import Aim, Mutant, replace

    same = Mutant(
        "P3",
        "no_op",
        Aim.TARGET,
        "changes nothing",
        (replace("verification.claims.counts.layer_counts:_PAPER_MNIST_LOW_RANK", 245_810),),
    )
    monkeypatch.setattr(mutation, "MUTANTS", (same,))
    out = tmp_path / "mutants.md"
    assert main(["check", "--mutants", "--only", "P3", "--out", str(out), "--no-progress"]) == 1
    assert "reproduced -> reproduced | survived" in out.read_text()
    assert "mutants not killed: P3/no_op" in capsys.readouterr().err


def test_any_failure_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error inside a command (here: a figure function that raises) is one line
    with exit code 2; ``--debug`` lets the traceback through. Ctrl-C outside a sweep exits 130
    with one line."""
    import verification.figures as figures

    def broken(*args: object, **kwargs: object) -> list[Path]:
        raise RuntimeError("the renderer broke\non two lines")

    monkeypatch.setattr(figures, "make_figures", broken)
    assert main(["figures", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "lrbnn figures: RuntimeError: the renderer broke on two lines "
        "(rerun with --debug for the traceback)\n"
    )
    with pytest.raises(RuntimeError, match="the renderer broke"):
        main(["figures", "--out", str(tmp_path), "--no-progress", "--debug"])

    def interrupted(*args: object, **kwargs: object) -> list[Path]:
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "make_figures", interrupted)
    assert main(["figures", "--out", str(tmp_path), "--no-progress"]) == 130
    assert capsys.readouterr().err == "lrbnn figures: interrupted\n"


def test_an_unwritable_out_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    for argv in (
        ["figures", "--out", str(tmp_path / "file" / "sub"), "--no-progress"],
        ["check", "--only", "P1", "--out", str(tmp_path / "file" / "x.md")],
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"is under the file {tmp_path / 'file'}" in err and len(err.splitlines()) == 1
    import verification.cli as cli

    def read_only(path: Path, text: str) -> None:  # tests run as root: simulate the refusal
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cli, "_atomic_write", read_only)
    assert main(["check", "--only", "P1", "--out", str(tmp_path / "x.md"), "--no-progress"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == f"lrbnn check: {tmp_path / 'x.md'}: Permission denied"
