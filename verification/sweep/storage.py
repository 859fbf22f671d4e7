"""A sweep's folder: one atomically written file per finished point
(``DIR/points/<point_id>.json``: temporary file, fsync, ``os.replace``), read back on resume
(a missing, torn or foreign file is recomputed), ``DIR/meta.json`` (the arguments, the grid,
the settings, package versions and commit; a folder holding another sweep is refused) and the
bytes of ``DIR/timings.csv`` (wall times: never in ``results.csv``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path
from typing import Any

from verification.sweep.budgets import PINTO_C0, _budget
from verification.sweep.columns import COLUMNS
from verification.sweep.point import _POINT_FORMAT, _VERSION
from verification.sweep.spec import PointSpec, SweepError, SweepSpec, grid, grid_penalty

__all__ = ["prepare_output", "read_record", "write_record"]

_FORMAT = "lrbnn-sweep"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, then ``os.replace``: a reader (or a
    restarted sweep) sees the old file or the new one, never a torn one, even after kill -9."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600): give it the mode a plain open() would
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _point_path(out: Path, point: PointSpec) -> Path:
    return out / "points" / f"{point.point_id}.json"


def write_record(out: Path, point: PointSpec, record: dict[str, Any]) -> Path:
    """Store one finished point atomically; returns its path."""
    if record.get("point") != point.as_dict():
        raise ValueError(f"the record does not belong to grid point {point.point_id}")
    path = _point_path(out, point)
    # json writes floats with repr: they read back bit for bit
    _atomic_write(path, (json.dumps(record, indent=1, sort_keys=True) + "\n").encode())
    return path


def read_record(out: Path, point: PointSpec) -> dict[str, Any] | None:
    """The stored record of ``point``, or ``None`` when it is missing or unusable (unreadable,
    or written for another point: it is then recomputed and replaced)."""
    path = _point_path(out, point)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        print(f"lrbnn sweep: {path} is unreadable; recomputing it", file=sys.stderr)
        return None
    ok = (
        isinstance(record, dict)
        and record.get("format") == _POINT_FORMAT
        and record.get("version") == _VERSION
        and record.get("point") == point.as_dict()
    )
    if not ok:
        print(f"lrbnn sweep: {path} belongs to another grid point; recomputing it", file=sys.stderr)
        return None
    return record


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else "unknown"


def _versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in (
        "lrbnn-toolkit",
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "mnist1d",
        "matplotlib",
        "pillow",
        "tqdm",
        "threadpoolctl",
        "dask",
        "distributed",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _meta(spec: SweepSpec) -> dict[str, Any]:
    from lrbnn_core.certified_training import GridSettings

    penalty, note = grid_penalty(spec)
    budget = _budget(spec.profile, spec.arch)
    settings = asdict(replace(GridSettings(), hidden=()))
    settings.pop("hidden")
    settings.update(
        {
            "prior_epochs": budget.prior_epochs,
            "posterior_epochs": budget.posterior_epochs,
            "n_mc": budget.n_mc,
            "n_test_mc": budget.n_test_mc,
            "gc_points": budget.gc_points,
            "gc_draws": budget.gc_draws,
            "pinto_c0": PINTO_C0,
            "data_sizes": {k.value: v for k, v in budget.sizes.items()},
        }
    )
    return {
        "format": _FORMAT,
        "version": _VERSION,
        "arguments": spec.arguments(),
        "seeds": list(spec.seeds),
        "grid": [p.point_id for p in grid(spec)],
        "prior": (
            "data-dependent: Gaussian centred at an ELBO model trained on the prior half of the "
            "training set, stds scaled by each of std_scales; certificates on the other half"
        ),
        "penalty": penalty,
        "penalty_note": note,
        "settings": settings,
        "columns": list(COLUMNS),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def prepare_output(out: Path, spec: SweepSpec) -> bool:
    """Check that ``out`` can hold this sweep and write ``meta.json`` if it is new; returns
    whether a sweep with the same arguments was there. Raises :class:`SweepError` (before any
    training) when ``out`` is a file, holds another sweep, or holds sweep files without
    ``meta.json``. Stale temporary files of an interrupted run are removed."""
    if out.exists() and not out.is_dir():
        raise SweepError(f"`--out` {out} is a file, not a folder")
    meta_path = out / "meta.json"
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            there = meta["arguments"]
        except (OSError, ValueError, KeyError, TypeError):
            raise SweepError(f"`--out` {out} holds an unreadable meta.json") from None
        here = spec.arguments()
        if there != here:
            diff = (
                ", ".join(
                    f"{k}: {there.get(k)!r} there, {here[k]!r} here"
                    for k in here
                    if there.get(k) != here[k]
                )
                or "unknown keys"
            )
            raise SweepError(
                f"`--out` {out} holds a different sweep ({diff}); use another --out or delete it"
            )
        existing = True
    else:
        if (out / "points").exists() or (out / "results.csv").exists():
            raise SweepError(f"`--out` {out} holds sweep files but no meta.json; delete them")
        existing = False
    points = out / "points"
    points.mkdir(parents=True, exist_ok=True)
    for tmp in points.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
    if not existing:
        text = json.dumps(_meta(spec), indent=1, sort_keys=True) + "\n"
        _atomic_write(meta_path, text.encode())
    return existing


def _timings_csv(
    points: Sequence[PointSpec], records: dict[str, dict[str, Any]], fresh: set[str], total: float
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["point_id", "seconds", "computed", "host", "pid"])
    for p in points:
        t = records[p.point_id].get("timing", {})
        when = "this run" if p.point_id in fresh else "earlier run"
        writer.writerow(
            [p.point_id, repr(float(t.get("seconds", 0.0))), when, t.get("host"), t.get("pid")]
        )
    writer.writerow(
        ["total (this run, wall)", repr(total), "this run", socket.gethostname(), os.getpid()]
    )
    return buf.getvalue().encode()
