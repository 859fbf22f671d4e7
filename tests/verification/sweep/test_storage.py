"""``verification.sweep.storage``: the folder's refusals, the outputs of a run, atomic point
files and resuming after deleted, torn and foreign files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.verification.sweep.tiny import TINY, TINY_ARGV, TINY_IDS, copy_sweep
from verification.cli import main
from verification.sweep import (
    BOUND_VS_RANK,
    COLUMNS,
    COMPLEXITY_RATIO,
    PointSpec,
    SweepError,
    grid,
    make_spec,
    prepare_output,
    read_record,
    run_point,
    run_sweep,
    write_record,
)
from verification.sweep.storage import _umask


def test_output_holding_another_sweep_is_refused(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_spec(**{**TINY, "ranks": [1]})
    with pytest.raises(SweepError, match=r"holds a different sweep \(ranks: \[1, 2\] there, \[1\]"):
        prepare_output(reference, other)
    before = sorted(p.name for p in (reference / "points").iterdir())
    argv = [a for a in TINY_ARGV if a != "2"]  # --ranks 1
    assert main([*argv, "--out", str(reference)]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert sorted(p.name for p in (reference / "points").iterdir()) == before
    # sweep files without meta.json, an unreadable meta.json, a file as --out
    (tmp_path / "a" / "points").mkdir(parents=True)
    (tmp_path / "a" / "points" / "w8-s0-r1.json").write_text("{}")
    with pytest.raises(SweepError, match=r"holds sweep files but no meta\.json"):
        prepare_output(tmp_path / "a", other)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "meta.json").write_text("{not json")
    with pytest.raises(SweepError, match=r"holds an unreadable meta\.json"):
        prepare_output(tmp_path / "b", other)
    (tmp_path / "c").write_text("")
    with pytest.raises(SweepError, match="is a file, not a folder"):
        prepare_output(tmp_path / "c", other)


def test_outputs_of_arun_tiny(reference: Path) -> None:
    points = reference / "points"
    assert sorted(p.name for p in points.iterdir()) == sorted(f"{i}.json" for i in TINY_IDS)
    meta = json.loads((reference / "meta.json").read_text())
    assert meta["arguments"] == make_spec(**TINY).arguments()
    assert meta["grid"] == TINY_IDS and meta["columns"] == list(COLUMNS)
    assert meta["versions"]["torch"] and meta["git_commit"]
    lines = (reference / "results.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and [ln.split(",")[0] for ln in lines[1:]] == TINY_IDS
    timings = (reference / "timings.csv").read_text().splitlines()
    assert timings[0] == "point_id,seconds,computed,host,pid" and len(timings) == 1 + 6 + 1
    assert "seconds" not in lines[0]  # wall times never reach results.csv
    for name in (BOUND_VS_RANK, COMPLEXITY_RATIO):
        assert (reference / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        side = json.loads((reference / "figures" / name).with_suffix(".json").read_text())
        assert side["figure"] == name and side["commit"] == meta["git_commit"]
        assert side["command"].startswith("lrbnn figures --sweep ")


def test_point_files_are_written_atomically(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write interrupted before the rename leaves the old file (or none) and no temp file."""
    point = grid(make_spec(**TINY))[0]
    record = json.loads((reference / "points" / f"{point.point_id}.json").read_text())

    def crash(src: Any, dst: Any) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        write_record(tmp_path, point, record)
    assert list((tmp_path / "points").iterdir()) == []
    monkeypatch.undo()
    path = write_record(tmp_path, point, record)
    assert read_record(tmp_path, point) == {k: v for k, v in record.items() if k != "digest"}
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    with pytest.raises(ValueError, match="does not belong to grid point w8-s0-r2"):
        write_record(tmp_path, grid(make_spec(**TINY))[1], record)


def test_resume_computes_only_missing_points(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleted, torn and foreign point files are recomputed, a stale temp file is removed, and
    every other point is reused; results.csv equals the uninterrupted run's byte for byte."""
    out = tmp_path / "resumed"
    copy_sweep(reference, out)
    points = out / "points"
    (points / "w8-s0-r2.json").unlink()
    (points / "w8-s1-mf.json").write_text('{"format": "lrbnn-sweep-point", "ver')  # torn
    foreign = json.loads((points / "w8-s0-r1.json").read_text())
    (points / "w8-s1-r1.json").write_text(json.dumps(foreign))  # another point's record
    (points / ".w8-s1-r2.json.abc123.tmp").write_text('{"trunc')  # a write killed mid-way
    (out / ".timings.csv.def456.tmp").write_text("point_id,sec")  # the driver killed mid-write
    calls: list[str] = []

    def counting(point: PointSpec) -> dict[str, Any]:
        calls.append(point.point_id)
        return run_point(point)

    report = run_sweep(make_spec(**TINY), out, progress=False, point_fn=counting)
    assert sorted(calls) == ["w8-s0-r2", "w8-s1-mf", "w8-s1-r1"]
    assert (report.computed, report.reused) == (3, 3)
    assert not list(points.glob(".*.tmp")) and not list(out.glob(".*.tmp"))
    err = capsys.readouterr().err
    assert "w8-s1-mf.json is unreadable (not JSON); recomputing it" in err
    assert "w8-s1-r1.json belongs to another grid point; recomputing it" in err
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    again = run_sweep(make_spec(**TINY), out, progress=False, point_fn=counting, figures=False)
    assert again.computed == 0 and len(calls) == 3
