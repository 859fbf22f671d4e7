"""``lrbnn compare`` through the real ``lrbnn_core.comparison.run_compare``, and this package's
names kept equal to that one's (tasks, families, CompareRow's fields and which may be blank,
CompareArrays's fields)."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path

import pytest

from verification.cli import main
from verification.compare import ARRAY_FIELDS, COLUMNS, FAMILIES, TASKS, read_results
from verification.compare.columns import NULLABLE


def test_names_match_lrbnn_core() -> None:
    from lrbnn_core.comparison import CompareArrays, CompareRow, CompareTask, Family

    assert TASKS == tuple(t.value for t in CompareTask)
    assert FAMILIES == tuple(f.value for f in Family)
    assert COLUMNS == tuple(f.name for f in dataclasses.fields(CompareRow))
    assert ARRAY_FIELDS == tuple(f.name for f in dataclasses.fields(CompareArrays))
    hints = typing.get_type_hints(CompareRow)
    optional = {
        name
        for name, hint in hints.items()
        if isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    }
    assert optional == NULLABLE


def test_end_to_end_smoke_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The brief's command: 4 points on digits (about 5 s), every output written; a rerun
    computes nothing."""
    out = tmp_path / "c"
    argv = ["compare", "--profile", "smoke", "--tasks", "mlp_digits", "--families",
            "deterministic", "low_rank", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    rows = read_results(out / "results.csv")
    assert [(r["family"], r["seed"]) for r in rows] == [
        ("deterministic", 0),
        ("deterministic", 1),
        ("low_rank", 0),
        ("low_rank", 1),
    ]
    assert all(r["accuracy"] is not None and r["mae"] is None for r in rows)
    for name in ("summary.csv", "summary.md", "meta.json"):
        assert (out / name).is_file()
    assert len(list((out / "arrays").glob("*.npz"))) == 4
    assert (out / "figures" / "reliability_mlp_digits.png").is_file()
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 computed now, 4 found" in capsys.readouterr().out
