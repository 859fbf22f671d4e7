"""Point files and ``meta.json`` that prove themselves: tampered, non-finite and incomplete
point files are recomputed (one line names each), a record that is not finite is never
written, an edited ``meta.json`` or one from other settings, versions or code is refused, and
folders that are not sweep folders are refused before anything is written into them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.verification.sweep.tiny import REPO, TINY, TINY_ARGV, copy_sweep
from verification.cli import main
from verification.sweep import (
    PointFailed,
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
from verification.sweep.lock import LOCK_NAME
from verification.sweep.storage import _digest


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _dump(path: Path, record: dict[str, Any]) -> None:
    path.write_text(json.dumps(record, indent=1, sort_keys=True))


def _counting(calls: list[str]) -> Any:
    def fn(point: PointSpec) -> dict[str, Any]:
        calls.append(point.point_id)
        return run_point(point)

    return fn


def test_tampered_point_files_are_recomputed(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's cases: a doubled kl with a changed mcallester (valid JSON, old digest), a
    NaN, a missing key; plus a wrong type and a forged record whose digest was recomputed
    after a value left its range. Each is named in one line and recomputed; the rest is
    reused and results.csv equals the reference byte for byte."""
    out = tmp_path / "tampered"
    copy_sweep(reference, out)
    points = out / "points"
    doubled = _load(points / "w8-s0-r1.json")
    doubled["row"]["kl"] *= 2
    doubled["row"]["mcallester"] += 0.01
    _dump(points / "w8-s0-r1.json", doubled)
    text = (points / "w8-s0-r2.json").read_text()
    (points / "w8-s0-r2.json").write_text(
        text.replace('"kl_sum_check": ', '"kl_sum_check": NaN, "old": ')
    )
    missing = _load(points / "w8-s0-mf.json")
    del missing["singular_values"]
    _dump(points / "w8-s0-mf.json", missing)
    wrong_type = _load(points / "w8-s1-r1.json")
    wrong_type["row"]["width"] = "8"
    _dump(points / "w8-s1-r1.json", wrong_type)
    out_of_range = _load(points / "w8-s1-r2.json")
    out_of_range["row"]["test_error"] = 1.5
    out_of_range["digest"] = _digest(out_of_range)  # a consistent digest: the schema catches it
    _dump(points / "w8-s1-r2.json", out_of_range)
    calls: list[str] = []
    report = run_sweep(make_spec(**TINY), out, progress=False, point_fn=_counting(calls))
    assert sorted(calls) == ["w8-s0-mf", "w8-s0-r1", "w8-s0-r2", "w8-s1-r1", "w8-s1-r2"]
    assert (report.computed, report.reused) == (5, 1)
    err = capsys.readouterr().err.splitlines()
    expected = {
        "w8-s0-r1": "fails its digest (edited or corrupted)",
        "w8-s0-r2": "holds the non-finite number NaN",
        "w8-s0-mf": "fails its digest",
        "w8-s1-r1": "fails its digest",
        "w8-s1-r2": "column `test_error` holds 1.5, outside [0, 1]",
    }
    for point_id, reason in expected.items():
        line = next(ln for ln in err if f"points/{point_id}.json" in ln)
        assert reason in line and line.endswith("; recomputing it"), line
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_schema_catches_what_a_recomputed_digest_hides(reference: Path, tmp_path: Path) -> None:
    """With the digest recomputed, the schema still refuses a missing key, a NaN-free wrong
    type, a foreign identity column and a short per-layer list."""
    point = grid(make_spec(**TINY))[0]
    good = _load(reference / "points" / f"{point.point_id}.json")
    edits = {
        "singular_values missing": lambda r: r.pop("singular_values"),
        "rank as text": lambda r: r["row"].__setitem__("rank", "1"),
        "seed of another point": lambda r: r["row"].__setitem__("seed", 7),
        "short list": lambda r: r["row"].__setitem__("spectral_norms", [1.0]),
        "unknown family": lambda r: r["row"].__setitem__("family", "ensemble"),
        "extra key": lambda r: r["row"].__setitem__("measured_ratio", 1.0),
    }
    for name, edit in edits.items():
        bad = json.loads(json.dumps(good))
        edit(bad)
        bad["digest"] = _digest(bad)
        (tmp_path / "points").mkdir(exist_ok=True)
        _dump(tmp_path / "points" / f"{point.point_id}.json", bad)
        assert read_record(tmp_path, point) is None, name
    _dump(tmp_path / "points" / f"{point.point_id}.json", good)
    assert read_record(tmp_path, point) == {k: v for k, v in good.items() if k != "digest"}


def test_a_non_finite_record_is_never_written(reference: Path, tmp_path: Path) -> None:
    point = grid(make_spec(**TINY))[0]
    record = read_record(reference, point)
    assert record is not None
    record["row"]["kl"] = float("nan")
    with pytest.raises(ValueError, match=r"w8-s0-r1 column `kl` holds the non-finite number nan"):
        write_record(tmp_path, point, record)
    assert not (tmp_path / "points" / f"{point.point_id}.json").exists()

    def nan_kl(p: PointSpec) -> dict[str, Any]:
        rec = run_point(p)
        if p.point_id == "w8-s0-r2":
            rec["row"]["kl"] = float("inf")
        return rec

    with pytest.raises(PointFailed, match=r"w8-s0-r2 column `kl` holds the non-finite"):
        run_sweep(make_spec(**TINY), tmp_path / "run", progress=False, point_fn=nan_kl)
    assert sorted(p.stem for p in (tmp_path / "run" / "points").glob("*.json")) == ["w8-s0-r1"]


def _edit_meta(folder: Path, edit: Any, *, reseal: bool) -> None:
    meta = _load(folder / "meta.json")
    edit(meta)
    if reseal:
        meta["digest"] = _digest(meta)
    _dump(folder / "meta.json", meta)


@pytest.mark.parametrize(
    ("edit", "reseal", "message"),
    [
        (lambda m: m["settings"].__setitem__("delta", 0.5), False, "was edited"),
        (lambda m: m["versions"].__setitem__("torch", "9.9"), False, "was edited"),
        (lambda m: m.__setitem__("git_commit", "0" * 40), False, "was edited"),
        (lambda m: m["settings"].__setitem__("delta", 0.5), True, "settings.delta: 0.5 there"),
        (lambda m: m["versions"].__setitem__("torch", "9.9"), True, "torch version: 9.9 there"),
        (lambda m: m.__setitem__("git_commit", "0" * 40), True, "commit: 000000000000 there"),
        (
            lambda m: m.__setitem__("git_code_changes", "ab" * 32),
            True,
            "uncommitted code changes: abababababab there",
        ),
    ],
)
def test_meta_json_from_elsewhere_is_refused(
    reference: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    edit: Any,
    reseal: bool,
    message: str,
) -> None:
    out = tmp_path / "edited"
    copy_sweep(reference, out)
    _edit_meta(out, edit, reseal=reseal)
    before = sorted(p.name for p in (out / "points").iterdir())
    with pytest.raises(SweepError, match=message):
        prepare_output(out, make_spec(**TINY))
    assert main([*TINY_ARGV, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in (out / "points").iterdir()) == before


def test_meta_records_the_commit_and_a_dirty_tree(reference: Path) -> None:
    meta = _load(reference / "meta.json")
    assert meta["digest"] == _digest(meta)
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert meta["git_commit"] == head
    assert meta["git_dirty"] is bool(status.strip())
    code = subprocess.run(
        ["git", "diff", "HEAD", "--stat", "--", "*.py", "pyproject.toml", "constraints.txt"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if code.strip():
        assert isinstance(meta["git_code_changes"], str) and len(meta["git_code_changes"]) == 64


def test_folders_that_are_not_sweep_folders_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(**TINY)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("mine")
    with pytest.raises(SweepError, match=r"holds other files \(thesis\.tex\)"):
        run_sweep(spec, tmp_path / "notes", progress=False)
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["thesis.tex"]  # no lock
    (tmp_path / "stale" / "points").mkdir(parents=True)
    (tmp_path / "stale" / "points" / "w8-s0-r1.json").write_text("{}")
    with pytest.raises(SweepError, match=r"holds sweep files but no meta\.json") as exc:
        run_sweep(spec, tmp_path / "stale", progress=False)
    assert "delete" not in str(exc.value)  # never tells the user to delete another run's work
    (tmp_path / "file").write_text("")
    for out, message in (
        (tmp_path / "file", "is a file, not a folder"),
        (tmp_path / "file" / "sub", f"is under the file {tmp_path / 'file'}"),
    ):
        assert main([*TINY_ARGV, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err

    def refuse(self: Path, *args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main([*TINY_ARGV, "--out", str(tmp_path / "read-only" / "x")]) == 2
    err = capsys.readouterr().err
    assert "cannot be used: Permission denied" in err and len(err.strip().splitlines()) == 1
    monkeypatch.undo()
    assert not (tmp_path / "notes" / LOCK_NAME).exists()
