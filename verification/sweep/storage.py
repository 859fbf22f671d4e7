"""A sweep's folder: one atomically written, self-proving file per finished point
(``DIR/points/<point_id>.json``: temporary file, fsync, ``os.replace``; it carries its point's
spec and the SHA-256 digest of its content), read back on resume (a missing, torn, foreign,
edited, incomplete or non-finite file is recomputed, with one line naming it),
``DIR/meta.json`` (the arguments, the grid, the settings, package versions, the commit and
whether the tree was dirty, with its own digest: an edited ``meta.json``, or one written with
other settings, versions or code, is refused) and the bytes of ``DIR/timings.csv`` (wall
times: never in ``results.csv``).

The digests catch edits and corruption, not forgery: whoever can write the folder can
recompute a digest. The folder's lock (:mod:`~verification.sweep.lock`) keeps two runs apart;
temporary files are removed only while it is held, so no run deletes a live run's file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from verification.sweep.budgets import PINTO_C0, _budget, sweep_settings
from verification.sweep.columns import COLUMNS
from verification.sweep.point import _POINT_FORMAT, _VERSION
from verification.sweep.schema import validate_record
from verification.sweep.spec import (
    PointSpec,
    SweepError,
    SweepPrior,
    SweepSpec,
    grid,
    grid_penalty,
)

__all__ = [
    "check_folder",
    "prepare_output",
    "read_record",
    "remove_temporaries",
    "version_difference",
    "write_record",
]

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


def _digest(record: dict[str, Any]) -> str:
    """SHA-256 of the record without its ``digest``, as canonical JSON (sorted keys, no
    spaces, repr floats; NaN and infinities refused)."""
    body = {k: v for k, v in record.items() if k != "digest"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"holds the non-finite number {name}")


def write_record(out: Path, point: PointSpec, record: dict[str, Any]) -> Path:
    """Store one finished point atomically, with its digest; returns its path. Raises
    ``ValueError`` when the record is not a complete, finite record of ``point``."""
    if record.get("point") != point.as_dict():
        raise ValueError(f"the record does not belong to grid point {point.point_id}")
    try:
        validate_record(record, point)
    except ValueError as exc:
        raise ValueError(f"the record of grid point {point.point_id} {exc}") from None
    sealed = {**record, "digest": _digest(record)}
    path = _point_path(out, point)
    # json writes floats with repr: they read back bit for bit
    _atomic_write(path, (json.dumps(sealed, indent=1, sort_keys=True) + "\n").encode())
    return path


def _problem(path: Path, point: PointSpec) -> tuple[dict[str, Any] | None, str]:
    """The record at ``path`` and ``""``, or ``None`` and why it cannot be used."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ""
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"is unreadable ({exc})"
    try:
        record = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        reason = str(exc) if str(exc).startswith("holds") else "is unreadable (not JSON)"
        return None, reason
    if not isinstance(record, dict) or record.get("format") != _POINT_FORMAT:
        return None, "is not a sweep point file"
    if record.get("version") != _VERSION:
        return None, f"was written by point format {record.get('version')!r}, not {_VERSION}"
    if record.get("point") != point.as_dict():
        return None, "belongs to another grid point"
    if record.get("digest") != _digest(record):
        return None, "fails its digest (edited or corrupted)"
    try:
        validate_record(record, point)
    except ValueError as exc:
        return None, f"is incomplete or invalid: {exc}"
    return {k: v for k, v in record.items() if k != "digest"}, ""


def read_record(out: Path, point: PointSpec) -> dict[str, Any] | None:
    """The stored record of ``point`` (without its digest), or ``None`` when it is missing or
    unusable: unreadable, torn, written for another point or by another format, failing its
    digest, or breaking the schema (:func:`~verification.sweep.schema.validate_record`: a
    missing key, a wrong type, a non-finite number). An unusable file is named in one line on
    stderr; the sweep then recomputes and replaces it."""
    path = _point_path(out, point)
    record, reason = _problem(path, point)
    if reason:
        print(f"lrbnn sweep: {path} {reason}; recomputing it", file=sys.stderr)
    return record


def _git(*args: str) -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else None


def _git_commit() -> str:
    commit = (_git("rev-parse", "HEAD") or "").strip()
    return commit or "unknown"


#: the files whose uncommitted changes change a sweep's numbers
_CODE = ("*.py", "pyproject.toml", "constraints.txt")


def _git_state() -> dict[str, Any]:
    """The commit, whether the tree is dirty (any uncommitted change), and the SHA-256 of the
    uncommitted code changes (tracked diffs and untracked files matching ``_CODE``; ``None``
    when there are none): resuming needs the same commit and the same code changes."""
    commit = _git_commit()
    status = _git("status", "--porcelain")
    diff = _git("diff", "HEAD", "--binary", "--", *_CODE) or ""
    untracked = _git("ls-files", "--others", "--exclude-standard", "-z", "--", *_CODE) or ""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256(diff.encode())
    for name in sorted(n for n in untracked.split("\0") if n):
        h.update(name.encode() + b"\0")
        try:
            h.update((root / name).read_bytes())
        except OSError:
            pass
    changed = bool(diff or untracked.strip("\0"))
    return {
        "git_commit": commit,
        "git_dirty": None if status is None else bool(status.strip()),
        "git_code_changes": h.hexdigest() if changed else None,
    }


#: package versions whose change can change a sweep's numbers (part of its identity)
_RESULT_VERSIONS = (
    "python",
    "lrbnn-toolkit",
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "mnist1d",
)
#: package versions meta.json records for information only (figures, progress, clusters)
_OTHER_VERSIONS = ("matplotlib", "pillow", "tqdm", "threadpoolctl", "dask", "distributed")


def _versions() -> dict[str, str | None]:
    """The Python version and the versions of :data:`_RESULT_VERSIONS` and
    :data:`_OTHER_VERSIONS` (``None``: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in (*_RESULT_VERSIONS[1:], *_OTHER_VERSIONS):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


#: what meta.json says of each prior mode
_PRIOR_NOTES = {
    SweepPrior.DATA_DEPENDENT: (
        "data-dependent: Gaussian centred at a model trained on the prior half of the "
        "training set (dropout ERM then a tempered ELBO for the MLP, a tempered ELBO for the "
        "sequence models), stds scaled by each of std_scales; certificates on the other half"
    ),
    SweepPrior.INIT: (
        "init: N(w0, s^2) entry by entry, w0 the seeded random initialisation, for each s of "
        "init_stds; one posterior per s trained on every training example from w0 (stds s), "
        "chosen on selection draws; certificates on every training example"
    ),
    SweepPrior.ZERO: (
        "zero: N(0, s^2) for each s of zero_stds; one posterior per s trained on every training "
        "example from the initialisation, chosen on selection draws; certificates on every "
        "training example"
    ),
    SweepPrior.SCALE_MIXTURE: (
        "scale-mixture: the paper's 0.5 N(0, 1) + 0.5 N(0, (e^-6)^2) on every stochastic "
        "scalar; the posterior trained on every training example from the initialisation; KL "
        "certified through its declared closed-form upper bound (kl_is_exact false); "
        "certificates on every training example"
    ),
}


def _data_free_settings(spec: SweepSpec) -> dict[str, Any]:
    """The settings of the data-free prior modes (none for a data-dependent grid)."""
    if spec.priors == (SweepPrior.DATA_DEPENDENT,):
        return {}
    from lrbnn_core import prior_modes as pm

    mix = pm.MIXTURE
    return {
        "data_free": {
            "epochs": _budget(spec.profile, spec.arch).data_free_epochs,
            "lr": pm.DATA_FREE_LR,
            "objective": pm.DATA_FREE_OBJECTIVE.value,
            "selection_fraction": pm.SELECTION_FRACTION,
            "init_stds": list(pm.INIT_STDS),
            "zero_stds": list(pm.ZERO_STDS),
            "scale_mixture": {"pi": mix.pi, "std1": mix.std1, "std2": mix.std2},
        }
    }


def _meta(spec: SweepSpec) -> dict[str, Any]:
    penalty, note = grid_penalty(spec)
    budget = _budget(spec.profile, spec.arch)
    settings = asdict(sweep_settings(spec.profile, spec.arch, None, spec.compile))
    settings.pop("hidden")
    settings.update(
        {
            "gc_points": budget.gc_points,
            "gc_draws": budget.gc_draws,
            "pinto_c0": PINTO_C0,
            "data_sizes": {k.value: v for k, v in budget.sizes.items()},
            **_data_free_settings(spec),
        }
    )
    return {
        "format": _FORMAT,
        "version": _VERSION,
        "arguments": spec.arguments(),
        "seeds": list(spec.seeds),
        "grid": [p.point_id for p in grid(spec)],
        "prior": {p.value: _PRIOR_NOTES[p] for p in spec.priors},
        "penalty": penalty,
        "penalty_note": note,
        "settings": settings,
        "columns": list(COLUMNS),
        "versions": _versions(),
        **_git_state(),
    }


#: meta.json's keys that make a sweep's identity (with the versions above): a folder whose
#: meta.json differs in any of them holds points that this run must not reuse
_IDENTITY = (
    "format",
    "version",
    "seeds",
    "grid",
    "prior",
    "penalty",
    "penalty_note",
    "settings",
    "columns",
    "git_commit",
    "git_code_changes",
)
#: what a sweep writes into its folder (anything else there, without meta.json: not ours)
_OURS = frozenset({"meta.json", "points", "results.csv", "timings.csv", "figures", ".lock"})


def _ours(name: str) -> bool:
    return name in _OURS or (name.startswith(".") and name.endswith(".tmp"))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _identity_difference(there: dict[str, Any], here: dict[str, Any]) -> str | None:
    """The first identity difference between two meta.json objects, as a phrase."""
    for key in _IDENTITY:
        a, b = there.get(key), here[key]
        if a == b:
            continue
        if key in ("git_commit", "git_code_changes"):
            what = "commit" if key == "git_commit" else "uncommitted code changes"
            return f"{what}: {str(a)[:12]} there, {str(b)[:12]} here"
        if key == "settings" and isinstance(a, dict):
            name = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
            return f"settings.{name}: {_short(a.get(name))} there, {_short(b.get(name))} here"
        return f"{key}: {_short(a)} there, {_short(b)} here"
    return version_difference(there, here)


def version_difference(there: dict[str, Any], here: dict[str, Any]) -> str | None:
    """The first package of :data:`_RESULT_VERSIONS` (those that decide the numbers) whose
    version in ``there["versions"]`` differs from ``here``'s, as one line; ``None`` if none."""
    versions = there.get("versions")
    for dist in _RESULT_VERSIONS:
        v = versions.get(dist) if isinstance(versions, dict) else None
        if v != here["versions"][dist]:
            return f"{dist} version: {v} there, {here['versions'][dist]} here"
    return None


def remove_temporaries(out: Path) -> int:
    """Remove the temporary files (``.<name>.<random>.tmp``) that a killed run of this sweep
    left in ``out`` and ``out/points``; returns how many. Call it only while holding the
    folder's lock: then no live run owns them."""
    stale = [*out.glob(".*.tmp"), *(out / "points").glob(".*.tmp")]
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return len(stale)


def prepare_output(out: Path, spec: SweepSpec) -> bool:
    """Check that ``out`` can hold this sweep and write ``meta.json`` if it is new; returns
    whether the same sweep was there. Call it while holding the folder's lock
    (:func:`~verification.sweep.lock.folder_lock`; :func:`~verification.sweep.run_sweep` does).

    Raises :class:`SweepError` (before any training) when ``out`` is a file or cannot be
    written, holds other files, holds sweep files without ``meta.json``, or holds a
    ``meta.json`` that is unreadable, edited (its digest fails), or written for other
    arguments, settings, package versions or code (commit and uncommitted code changes).
    """
    try:
        return _prepare(out, spec)
    except OSError as exc:
        where = exc.filename or out
        raise SweepError(f"`--out` {out} cannot be used: {where}: {exc.strerror or exc}") from None


def _check_existing(out: Path, spec: SweepSpec, meta_path: Path) -> None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
        there = meta["arguments"]
        sealed = meta["digest"] == _digest(meta)
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
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
    if not sealed:
        raise SweepError(
            f"`--out` {out} holds a meta.json that was edited (its digest fails): its points "
            "cannot be trusted; use another --out"
        )
    # compared as JSON reads it back (tuples become lists)
    here_meta = json.loads(json.dumps(_meta(spec)))
    difference = _identity_difference(meta, here_meta)
    if difference is not None:
        raise SweepError(
            f"`--out` {out} holds this sweep run with other settings, versions or code "
            f"({difference}): its points are not reusable here; use another --out"
        )


def first_file(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that exists and is not a folder (a path
    under it can never be written), or ``None``."""
    return next((p for p in reversed([path, *path.parents]) if p.exists() and not p.is_dir()), None)


def check_folder(out: Path) -> None:
    """Refuse, before anything is written there, an ``out`` that is a file, sits under a file,
    holds sweep files without ``meta.json``, or holds files a sweep does not write (without
    ``meta.json``: not a sweep folder; nothing of ours goes into it, not even the lock)."""
    try:
        blocking = first_file(out)
        if blocking is not None:
            what = "is a file" if blocking == out else f"is under the file {blocking}"
            raise SweepError(f"`--out` {out} {what}, not a folder")
        if (out / "meta.json").exists() or not out.is_dir():
            return
        points = out / "points"
        if (out / "results.csv").exists() or (points.is_dir() and any(points.iterdir())):
            raise SweepError(
                f"`--out` {out} holds sweep files but no meta.json: they cannot be checked or "
                "resumed; use another --out"
            )
        foreign = sorted(p.name for p in out.iterdir() if not _ours(p.name))
    except OSError as exc:
        raise SweepError(f"`--out` {out} cannot be used: {exc.strerror or exc}") from None
    if foreign:
        listed = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise SweepError(
            f"`--out` {out} holds other files ({listed}); a sweep needs a new or empty folder"
        )


def _prepare(out: Path, spec: SweepSpec) -> bool:
    check_folder(out)
    meta_path = out / "meta.json"
    points = out / "points"
    if meta_path.exists():
        _check_existing(out, spec, meta_path)
        points.mkdir(parents=True, exist_ok=True)
        return True
    meta = _meta(spec)
    text = json.dumps({**meta, "digest": _digest(meta)}, indent=1, sort_keys=True) + "\n"
    _atomic_write(meta_path, text.encode())
    points.mkdir(parents=True, exist_ok=True)
    return False


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
