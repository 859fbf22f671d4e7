"""``lrbnn compare`` on the command line: bad options refused in one line with exit code 2,
before any training; a run through a fake ``run_compare`` and ``--summary-only``."""

from __future__ import annotations

from pathlib import Path

import pytest

import verification.compare.point as point_module
from tests.verification.compare.fakes import fake_run_compare
from verification.cli import main


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(point_module, "_real_run_compare", fake_run_compare)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> None:
    """Exit code 2 (returned, or argparse's SystemExit) and one line on stderr."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--profile", "huge"], "`--profile` must be one of smoke, quick, full; got 'huge'"),
        (["--tasks", "mlp_cifar"], "`--tasks` must be among mlp_mnist1d, mlp_digits"),
        (["--families"], "`--families` is empty"),
        (["--families", "rank1", "rank1"], "`--families` lists rank1 twice"),
        (["--seeds", "-1"], "`--seeds` values must be ints in [0, 4294967295]; got -1"),
        (["--seeds", "x"], "argument --seeds: invalid int value: 'x'"),
        (["--workers", "0"], "`--workers` must be an int >= 1; got 0"),
        (["--threads", "0"], "argument --threads: must be an int >= 1; got '0'"),
    ],
)
def test_cli_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: None, options: list[str], message: str
) -> None:
    out = tmp_path / "c"
    _refused(["compare", "--no-progress", "--out", str(out), *options], capsys, message)
    assert not out.exists()


def test_cli_folder_refusals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: None
) -> None:
    (tmp_path / "file").write_text("x")
    _refused(["compare", "--out", str(tmp_path / "file" / "c")], capsys, "is under the file")
    _refused(["compare", "--summary-only", str(tmp_path)], capsys, "holds no results.csv")
    _refused(
        ["compare", "--summary-only", str(tmp_path), "--tasks", "mlp_digits"],
        capsys,
        "--summary-only DIR takes no --tasks",
    )


def test_cli_run_then_summary_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake: None
) -> None:
    """A run through the fake writes everything; --summary-only redraws the same summary; a
    garbled results.csv is then refused in one line."""
    out = tmp_path / "c"
    argv = ["compare", "--profile", "smoke", "--tasks", "mlp_digits", "--families",
            "deterministic", "low_rank", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "lrbnn compare: 4 points, 4 computed now, 0 found" in printed
    summary = (out / "summary.csv").read_bytes()
    (out / "summary.csv").unlink()
    assert main(["compare", "--summary-only", str(out)]) == 0
    assert (out / "summary.csv").read_bytes() == summary
    capsys.readouterr()
    (out / "results.csv").write_text((out / "results.csv").read_text().replace(",mi,", ",std,"))
    _refused(["compare", "--summary-only", str(out)], capsys, "column `ood_score` is 'std'")
