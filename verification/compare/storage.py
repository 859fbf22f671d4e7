"""A comparison's folder, with the sweep's guarantees (:mod:`verification.sweep.storage`, whose
atomic writes, digests, versions and git state it reuses): every file is written atomically
(temporary file, fsync, ``os.replace``), proves itself, and a file that does not is refused in
one line, never trusted and never silently replaced.

* ``DIR/meta.json``: the comparison's identity (profile, grid, columns, result-relevant package
  versions, commit and uncommitted code changes; another identity is refused), and its runs
  (start and end times, threads, workers, machine) and each point's wall time; with its digest.
* ``DIR/points/<point_id>.json``: one finished point (its row, its wall time and the SHA-256
  of its arrays), with its digest: a rerun skips the points stored here.
* ``DIR/arrays/<point_id>.npz``: the point's ``CompareArrays`` (written before its record).
* ``DIR/results.csv``: the rows of the stored points in grid order, rewritten as each point
  finishes; on a rerun it must agree with the point records (an edited file is refused).

The digests catch edits and corruption, not forgery. The folder's lock
(:func:`verification.sweep.lock.folder_lock`) keeps two runs apart.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from verification.compare.columns import COLUMNS, BadRow, check_row, read_results, results_csv
from verification.compare.point import ARRAY_FIELDS
from verification.compare.spec import CompareError, ComparePoint, CompareSpec
from verification.sweep.storage import (
    _atomic_write,
    _digest,
    _git_state,
    _refuse_constant,
    _versions,
    first_file,
    version_difference,
)

__all__ = [
    "FORMAT",
    "POINT_FORMAT",
    "check_folder",
    "prepare_folder",
    "read_arrays",
    "read_point",
    "write_meta_run",
    "write_point",
    "write_results",
]

FORMAT = "lrbnn-compare"
POINT_FORMAT = "lrbnn-compare-point"
_VERSION = 1
#: what a comparison writes into its folder (anything else there, without meta.json: not ours)
_OURS = frozenset(
    {
        "meta.json",
        "points",
        "arrays",
        "results.csv",
        "summary.csv",
        "summary.md",
        "figures",
        ".lock",
    }
)
#: meta.json's keys that make a comparison's identity (with the result versions)
_IDENTITY = ("format", "version", "arguments", "grid", "columns", "arrays", "git_commit",
             "git_code_changes")  # fmt: skip


def point_path(out: Path, point: ComparePoint) -> Path:
    return out / "points" / f"{point.point_id}.json"


def arrays_path(out: Path, point: ComparePoint) -> Path:
    return out / "arrays" / f"{point.point_id}.npz"


def _machine() -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def _identity(spec: CompareSpec, grid: Sequence[ComparePoint]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": _VERSION,
        "arguments": spec.arguments(),
        "grid": [p.point_id for p in grid],
        "columns": list(COLUMNS),
        "arrays": list(ARRAY_FIELDS),
        "versions": _versions(),
        **_git_state(),
    }


def _difference(there: dict[str, Any], here: dict[str, Any]) -> str | None:
    for key in _IDENTITY:
        if there.get(key) != here[key]:
            a, b = json.dumps(there.get(key))[:60], json.dumps(here[key])[:60]
            return f"{key}: {a} there, {b} here"
    return version_difference(there, here)


def check_folder(out: Path) -> None:
    """Refuse, before anything is written there, an ``out`` that is a file or under one, or
    that holds files a comparison does not write while lacking ``meta.json``."""
    try:
        blocking = first_file(out)
        if blocking is not None:
            what = "is a file" if blocking == out else f"is under the file {blocking}"
            raise CompareError(f"`--out` {out} {what}, not a folder")
        if (out / "meta.json").exists() or not out.is_dir():
            return
        names = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise CompareError(f"`--out` {out} cannot be used: {exc.strerror or exc}") from None
    ours = [n for n in names if n in _OURS and n != ".lock"]
    foreign = [n for n in names if n not in _OURS and not n.endswith(".tmp")]
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CompareError(f"`--out` {out} holds other files ({listed}); use a new or empty folder")
    if any(n != "figures" and (out / n).exists() for n in ours):
        raise CompareError(
            f"`--out` {out} holds comparison files but no meta.json: they cannot be checked; "
            "use another --out"
        )


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
        sealed = isinstance(meta, dict) and meta.get("digest") == _digest(meta)
    except (OSError, ValueError, UnicodeDecodeError):
        raise CompareError(f"{path} is unreadable") from None
    if meta.get("format") != FORMAT:
        raise CompareError(
            f"{path} is not a meta.json of lrbnn compare (format {meta.get('format')!r}); "
            "use another --out"
        )
    if not sealed:
        raise CompareError(f"{path} was edited (its digest fails): use another --out")
    return {k: v for k, v in meta.items() if k != "digest"}


def _write_meta(path: Path, meta: dict[str, Any]) -> None:
    text = json.dumps({**meta, "digest": _digest(meta)}, indent=1, sort_keys=True) + "\n"
    _atomic_write(path, text.encode())


def prepare_folder(out: Path, spec: CompareSpec, grid: Sequence[ComparePoint]) -> dict[str, Any]:
    """Check that ``out`` can hold this comparison (call it while holding the folder's lock);
    write ``meta.json`` if it is new; return its contents. Raises :class:`CompareError` for
    a folder of another comparison (arguments, grid, versions, code), an edited or foreign
    ``meta.json``, or other files."""
    check_folder(out)
    path = out / "meta.json"
    here = json.loads(json.dumps(_identity(spec, grid)))
    if path.exists():
        meta = _read_meta(path)
        difference = _difference(meta, here)
        if difference is not None:
            raise CompareError(
                f"`--out` {out} holds another comparison ({difference}): its points are not "
                "reusable here; use another --out"
            )
        return meta
    meta = {**here, "runs": [], "point_seconds": {}}
    _write_meta(path, meta)
    return meta


def write_meta_run(
    out: Path, meta: dict[str, Any], run: dict[str, Any], seconds: dict[str, float]
) -> dict[str, Any]:
    """Rewrite ``meta.json`` with ``run`` as its latest run (replacing an entry with the same
    ``start``) and ``seconds`` (point id -> wall time) merged into ``point_seconds``."""
    runs = [r for r in meta.get("runs", []) if r.get("start") != run["start"]]
    new = {
        **meta,
        "runs": [*runs, {**run, "machine": _machine()}],
        "point_seconds": {**meta.get("point_seconds", {}), **seconds},
    }
    _write_meta(out / "meta.json", new)
    return new


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    # numpy's stubs match a **dict against savez's allow_pickle keyword
    np.savez(buf, **{k: arrays[k] for k in ARRAY_FIELDS})  # type: ignore[arg-type]
    return buf.getvalue()


def write_point(out: Path, point: ComparePoint, result: dict[str, Any]) -> Path:
    """Store one finished point: its arrays first, then its record (the row, the wall time, the
    arrays' SHA-256, the digest). A crash between the two leaves the point unfinished."""
    data = _npz_bytes(result["arrays"])
    _atomic_write(arrays_path(out, point), data)
    record = {
        "format": POINT_FORMAT,
        "version": _VERSION,
        "point": point.identity(),
        "row": result["row"],
        "arrays_sha256": hashlib.sha256(data).hexdigest(),
        "timing": {k: result[k] for k in ("seconds", "threads", "host", "pid")},
    }
    path = point_path(out, point)
    _atomic_write(
        path, (json.dumps({**record, "digest": _digest(record)}, indent=1) + "\n").encode()
    )
    return path


def _record_problem(record: Any, point: ComparePoint) -> str:
    if not isinstance(record, dict) or record.get("format") != POINT_FORMAT:
        return "is not a point record of lrbnn compare"
    if record.get("version") != _VERSION:
        return f"was written by point format {record.get('version')!r}, not {_VERSION}"
    if record.get("point") != point.identity():
        return "belongs to another point"
    if record.get("digest") != _digest(record):
        return "fails its digest (edited or corrupted)"
    try:
        row = check_row(record.get("row") or {})
    except BadRow as exc:
        return f"is invalid: {exc}"
    if any(row[k] != getattr(point, k) for k in ("task", "family", "seed")):
        return "holds the row of another point"
    return ""


def read_point(out: Path, point: ComparePoint) -> dict[str, Any] | None:
    """The stored record of ``point`` (without its digest), ``None`` when it has none; raises
    :class:`CompareError` naming the file when the record or its arrays cannot be trusted
    (unreadable, foreign, another point, a failing digest, a broken row, missing or changed
    arrays): delete the file to recompute the point."""
    path = point_path(out, point)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{path} is unreadable ({exc}); delete it to recompute") from None
    try:
        record = json.loads(text, parse_constant=_refuse_constant)
        reason = _record_problem(record, point)
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith("holds") else "is unreadable (not JSON)"
    if not reason:
        try:
            data = arrays_path(out, point).read_bytes()
        except OSError:
            reason = f"has no arrays file {arrays_path(out, point).name}"
        else:
            if hashlib.sha256(data).hexdigest() != record["arrays_sha256"]:
                reason = f"does not match its arrays file {arrays_path(out, point).name}"
    if reason:
        raise CompareError(f"{path} {reason}; it cannot be trusted: delete it to recompute")
    return {k: v for k, v in record.items() if k != "digest"}


def read_arrays(out: Path, point_id: str) -> dict[str, np.ndarray]:
    """The arrays of a stored point (``allow_pickle=False``), each checked finite."""
    path = out / "arrays" / f"{point_id}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in ARRAY_FIELDS}
    except (OSError, KeyError, ValueError) as exc:
        raise CompareError(f"{path} cannot be read: {exc}") from None
    for name, arr in arrays.items():
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise CompareError(f"{path}: array `{name}` is not a finite 1-D array")
    return arrays


def check_results_agree(out: Path, records: dict[str, dict[str, Any]]) -> None:
    """Refuse a ``results.csv`` that is malformed or disagrees with the point records (edited);
    a row whose point record is missing (deleted to be recomputed) is allowed."""
    path = out / "results.csv"
    if not path.exists():
        return
    for row in read_results(path):
        point_id = f"{row['task']}_{row['family']}_{row['seed']}"
        record = records.get(point_id)
        if record is not None and check_row(record["row"]) != row:
            raise CompareError(
                f"{path} disagrees with {point_id}'s point record (edited?); delete results.csv "
                "to rewrite it from the point records"
            )


def write_results(out: Path, grid: Sequence[ComparePoint], records: dict[str, Any]) -> Path:
    """Rewrite ``results.csv`` from the stored records, in grid order."""
    rows = [records[p.point_id]["row"] for p in grid if p.point_id in records]
    path = out / "results.csv"
    _atomic_write(path, results_csv(rows))
    return path
