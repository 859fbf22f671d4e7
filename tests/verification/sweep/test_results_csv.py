"""``lrbnn figures --sweep`` on a malformed ``results.csv``: every case of the issue (a column
removed, a non-number, an empty file, a short row, ``inf``, a ``NaN`` cell, an unknown family)
exits 2 with one line naming the line and column, before any figure is drawn; the parser
returns the reference's rows unchanged."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from verification.cli import main
from verification.sweep import COLUMNS, SweepError, parse_results, read_results


def _edit_cell(column: str, value: str, line: int = 2) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        cells = lines[line - 1].split(",")
        cells[COLUMNS.index(column)] = value
        return [*lines[: line - 1], ",".join(cells), *lines[line:]]

    return edit


def _drop_column(column: str) -> Callable[[list[str]], list[str]]:
    i = COLUMNS.index(column)
    return lambda lines: [
        ",".join(c for j, c in enumerate(ln.split(",")) if j != i) for ln in lines
    ]


CASES = {
    "column removed": (_drop_column("kl"), "line 1: the header lacks the column(s) kl"),
    "non-number": (_edit_cell("kl", "abc"), "line 2: column `kl` holds 'abc', not a number"),
    "empty file": (lambda lines: [], "is empty"),
    "header only": (lambda lines: lines[:1], "has a header but no rows"),
    "short row": (
        lambda lines: [lines[0], lines[1].rsplit(",", 3)[0], *lines[2:]],
        f"line 2: {len(COLUMNS) - 3} cells, the header has {len(COLUMNS)}",
    ),
    "inf": (_edit_cell("mcallester", "inf", 3), "line 3: column `mcallester` holds the non-finite"),
    "nan": (_edit_cell("test_error", "nan", 4), "line 4: column `test_error` holds the non-finite"),
    "unknown family": (
        _edit_cell("family", "ensemble"),
        "line 2: column `family` holds the unknown family 'ensemble'",
    ),
    "blank required": (_edit_cell("kl", ""), "line 2: column `kl` is blank"),
    "non-finite in a list": (
        _edit_cell("spectral_norms", "1.0;nan;2.0"),
        "line 2: column `spectral_norms` holds the non-finite",
    ),
    "rank on a mean-field row": (_edit_cell("rank", "3", 4), "line 4: column `rank` is 3"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_results_are_refused_naming_line_and_column(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    edit, message = CASES[case]
    folder = tmp_path / "sweep"
    folder.mkdir()
    shutil.copy(reference / "meta.json", folder / "meta.json")
    lines = (reference / "results.csv").read_text().splitlines()
    edited = edit(lines)
    (folder / "results.csv").write_text("\n".join(edited) + ("\n" if edited else ""))
    with pytest.raises(SweepError, match=None) as exc:
        parse_results(folder / "results.csv")
    assert message in str(exc.value) and str(folder / "results.csv") in str(exc.value)
    figures = tmp_path / "figures"
    assert main(["figures", "--out", str(figures), "--sweep", str(folder), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not figures.exists()  # refused before drawing anything


def test_reference_results_parse_to_every_row(reference: Path) -> None:
    rows = read_results(reference / "results.csv")
    assert [r["point_id"] for r in rows] == [
        ln.split(",")[0] for ln in (reference / "results.csv").read_text().splitlines()[1:]
    ]
    mf = [r for r in rows if r["family"] == "mean_field"]
    assert mf and all(r["rank"] is None and r["measured_ratio"] is None for r in mf)
    low = [r for r in rows if r["family"] == "low_rank"]
    assert all(isinstance(r["layer_ranks"], list) and r["measured_ratio"] > 0 for r in low)


def test_a_broken_meta_json_is_named(reference: Path, tmp_path: Path) -> None:
    from verification.sweep import make_sweep_figures

    folder = tmp_path / "sweep"
    folder.mkdir()
    shutil.copy(reference / "results.csv", folder / "results.csv")
    with pytest.raises(SweepError, match=r"meta\.json is missing"):
        make_sweep_figures(folder)
    (folder / "meta.json").write_text('{"settings": {"delta": NaN}}')
    with pytest.raises(SweepError, match=r"settings\.delta must be in \(0, 1\); got nan"):
        make_sweep_figures(folder)
