"""``lrbnn compare``'s folder: the round trip (rows and arrays back bit for bit), resuming (a
rerun calls ``run_compare`` only for the missing points), and every untrustworthy file refused
in one line (edited records, results or meta.json, changed arrays, foreign folders, another
grid), and non-finite results never written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.verification.compare.fakes import (
    SMALL,
    SMALL_IDS,
    Counting,
    fake_arrays,
    fake_row,
    fake_run_compare,
    files,
)
from verification.compare import CompareError, make_compare_spec, read_results, run_comparison
from verification.compare.columns import check_row
from verification.compare.storage import read_arrays
from verification.sweep import PointFailed
from verification.sweep.storage import _digest


def _run(out: Path, fn: Any = fake_run_compare, **kw: Any) -> Any:
    spec = make_compare_spec(**{**SMALL, **kw.pop("spec", {})})
    return run_comparison(spec, out, progress=False, figures=False, compare_fn=fn, **kw)


def test_storage_round_trip(tmp_path: Path) -> None:
    """results.csv holds one row per point in grid order, each equal to what run_compare gave;
    the arrays read back bit for bit; meta.json records the grid, runs and wall times."""
    report = _run(tmp_path / "c")
    assert (report.n_points, report.computed, report.reused) == (8, 8, 0)
    rows = read_results(tmp_path / "c" / "results.csv")
    assert [f"{r['task']}_{r['family']}_{r['seed']}" for r in rows] == SMALL_IDS
    for row in rows:
        assert row == check_row(fake_row(row["task"], row["family"], row["seed"]))
        stored = read_arrays(tmp_path / "c", f"{row['task']}_{row['family']}_{row['seed']}")
        for name, arr in fake_arrays(row["task"], row["family"], row["seed"]).items():
            assert stored[name].dtype == np.float32
            np.testing.assert_array_equal(stored[name], arr)
    meta = json.loads((tmp_path / "c" / "meta.json").read_text())
    assert meta["grid"] == SMALL_IDS and meta["arguments"]["profile"] == "smoke"
    assert set(meta["point_seconds"]) == set(SMALL_IDS)
    (run,) = meta["runs"]
    assert run["computed"] == 8 and run["end"] is not None and run["threads"] == 1
    assert meta["digest"] == _digest({k: v for k, v in meta.items() if k != "digest"})


def test_storage_resume_skips_finished_rows(tmp_path: Path) -> None:
    """A rerun computes nothing and rewrites the same results; with two point records
    deleted it computes exactly those two, and results.csv ends byte-identical."""
    out = tmp_path / "c"
    _run(out)
    before = files(out)
    again = Counting()
    report = _run(out, again)
    assert again.calls == [] and (report.computed, report.reused) == (0, 8)
    assert files(out) == before
    for name in ("mlp_digits_low_rank_1", "lstm_co2_deterministic_0"):
        (out / "points" / f"{name}.json").unlink()
    third = Counting()
    report = _run(out, third)
    assert third.calls == ["mlp_digits_low_rank_1", "lstm_co2_deterministic_0"]
    assert (report.computed, report.reused) == (2, 6)
    assert files(out)["results.csv"] == before["results.csv"]
    assert len(json.loads((out / "meta.json").read_text())["runs"]) == 3


def _edit_record(out: Path) -> None:
    path = out / "points" / "mlp_digits_low_rank_0.json"
    record = json.loads(path.read_text())
    record["row"]["accuracy"] = 0.99
    path.write_text(json.dumps(record))


def _forge_record(out: Path) -> None:
    """A consistent digest around a value out of range: the schema catches it."""
    path = out / "points" / "mlp_digits_low_rank_0.json"
    record = json.loads(path.read_text())
    record["row"]["ece"] = 1.5
    body = {k: v for k, v in record.items() if k != "digest"}
    path.write_text(json.dumps({**body, "digest": _digest(body)}))


def _nan_record(out: Path) -> None:
    path = out / "points" / "mlp_digits_low_rank_0.json"
    path.write_text(path.read_text().replace('"nll": ', '"nll": NaN, "x": '))


def _change_arrays(out: Path) -> None:
    path = out / "arrays" / "mlp_digits_low_rank_0.npz"
    np.savez(path, **{k: v + 1 for k, v in fake_arrays("mlp_digits", "low_rank", 0).items()})


def _edit_results(out: Path) -> None:
    path = out / "results.csv"
    path.write_text(
        path.read_text().replace("mlp_digits,low_rank,0,2,600", "mlp_digits,low_rank,0,2,601")
    )


def _garble_results(out: Path) -> None:
    (out / "results.csv").write_text("task,family\nnot,a results file\n")


def _edit_meta(out: Path) -> None:
    path = out / "meta.json"
    path.write_text(path.read_text().replace('"profile": "smoke"', '"profile": "quick"'))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_edit_record, "mlp_digits_low_rank_0.json fails its digest"),
        (_forge_record, "column `ece` holds 1.5, outside"),
        (_nan_record, "non-finite number NaN"),
        (_change_arrays, "does not match its arrays file"),
        (_edit_results, "results.csv disagrees with mlp_digits_low_rank_0"),
        (_garble_results, "results.csv line 1: the header"),
        (_edit_meta, "meta.json was edited"),
    ],
)
def test_storage_corrupt_file_refused(tmp_path: Path, damage: Any, message: str) -> None:
    """Each damaged file is refused in one line naming it, before any point runs."""
    out = tmp_path / "c"
    _run(out)
    damage(out)
    calls = Counting()
    with pytest.raises(CompareError, match=message) as info:
        _run(out, calls)
    assert "\n" not in str(info.value) and calls.calls == []


def test_storage_other_comparison_or_code_refused(
    tmp_path: Path, fixed_git: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another grid, or other code (the commit or the uncommitted changes), is refused."""
    out = tmp_path / "c"
    _run(out)
    with pytest.raises(CompareError, match=r"holds another comparison \(arguments"):
        _run(out, spec={"seeds": [0]})
    import verification.compare.storage as storage

    monkeypatch.setattr(storage, "_git_state", lambda: {**fixed_git, "git_commit": "d" * 40})
    with pytest.raises(CompareError, match=r"holds another comparison \(git_commit"):
        _run(out)


def test_storage_foreign_folders_refused(tmp_path: Path) -> None:
    """A folder of other files, a sweep's folder (its meta.json) and a file are refused before
    anything is written into them."""
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(CompareError, match=r"holds other files \(notes.txt\)"):
        _run(other)
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "meta.json").write_text(json.dumps({"format": "lrbnn-sweep"}))
    with pytest.raises(CompareError, match=r"not a meta\.json of lrbnn compare"):
        _run(sweep)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CompareError, match="is a file, not a folder"):
        _run(tmp_path / "file")


def _nan_row(task: str, family: str, seed: int, **kw: Any) -> Any:
    row, arrays = fake_run_compare(task, family, seed, **kw)
    if family == "low_rank":
        row = {**row, "nll": float("nan")}
    return row, arrays


def _inf_array(task: str, family: str, seed: int, **kw: Any) -> Any:
    row, arrays = fake_run_compare(task, family, seed, **kw)
    if family == "low_rank":
        arrays["ood_score_out"][3] = np.inf
    return row, arrays


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_nan_row, "mlp_digits_low_rank_0: column `nll` holds the non-finite number nan"),
        (_inf_array, "array `ood_score_out` holds 1 non-finite value.s. .first at index 3"),
    ],
)
def test_storage_non_finite_never_written(tmp_path: Path, fn: Any, message: str) -> None:
    """A NaN in a row or an infinity in an array fails its point (named) and nothing of it is
    stored; the points before it are."""
    out = tmp_path / "c"
    with pytest.raises(PointFailed, match=message):
        _run(out, fn)
    assert sorted(p.stem for p in (out / "points").iterdir()) == [
        "mlp_digits_deterministic_0",
        "mlp_digits_deterministic_1",
    ]
    assert not (out / "arrays" / "mlp_digits_low_rank_0.npz").exists()


def test_storage_workers_equal_sequential(tmp_path: Path) -> None:
    """Two spawned worker processes store the same rows as one process (timing columns aside:
    the fake's are fixed too, so the whole file matches)."""
    _run(tmp_path / "seq")
    _run(tmp_path / "par", workers=2)
    assert (tmp_path / "par" / "results.csv").read_bytes() == (
        tmp_path / "seq" / "results.csv"
    ).read_bytes()
