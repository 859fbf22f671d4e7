"""One point of ``lrbnn compare``: train and evaluate one family on one task with one seed through
``lrbnn_core.comparison.run_compare`` (imported when a point runs: the command line and the
summary never load torch), and turn its ``(CompareRow, CompareArrays)`` into plain values
(:func:`row_values`, :func:`array_values`), checked before anything is stored: the row against
:func:`~verification.compare.columns.check_row`, every array 1-D, float32 and finite (an exact
entry-wise check, naming the array).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import numpy as np

from verification.compare.columns import BadRow, check_row
from verification.compare.spec import ComparePoint

__all__ = ["ARRAY_FIELDS", "CompareFn", "array_values", "compute_point", "row_values"]

#: The fields of ``CompareArrays``, stored in ``DIR/arrays/<point_id>.npz``: the confidence of
#: each test prediction (classification: the top-label probability; regression: minus the
#: predictive std) and whether it was right (regression: the absolute error), and the OOD score
#: (MI or predictive std) of each test and each OOD example.
ARRAY_FIELDS: tuple[str, ...] = ("test_confidence", "test_correct", "ood_score_in", "ood_score_out")

#: ``run_compare``'s signature: ``(task, family, seed, *, scale, progress) -> (row, arrays)``.
CompareFn = Callable[..., tuple[Any, Any]]


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _fields(obj: Any, what: str) -> dict[str, Any]:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"run_compare returned a {type(obj).__name__} as its {what}, not a dataclass")


def row_values(row: Any, point: ComparePoint) -> dict[str, Any]:
    """``CompareRow`` (a dataclass or a mapping) as checked plain values; raises
    ``ValueError`` naming the point and the column when it breaks the schema or is not the
    point's row.

    Examples
    --------
    >>> from verification.compare.columns import COLUMNS
    >>> row = dict.fromkeys(COLUMNS)
    >>> row.update(task="mlp_digits", family="deterministic", seed=1, params=10, n_samples=1,
    ...            accuracy=0.5, nll=0.7, ece=0.1, ood_auroc=0.5, ood_aupr=0.5, ood_score="mi",
    ...            selective_90=0.5, selective_80=0.5, epochs=3.0, seconds_per_epoch=0.1,
    ...            train_seconds=0.3, peak_memory_mb=1.0, n_test=5, n_ood=5)
    >>> row_values(row, ComparePoint("mlp_digits", "deterministic", 0, "smoke"))
    Traceback (most recent call last):
    ...
    ValueError: point mlp_digits_deterministic_0: its row has seed 1
    """
    values = {k: _plain(v) for k, v in _fields(row, "row").items()}
    try:
        checked = check_row(values)
    except BadRow as exc:
        raise ValueError(f"point {point.point_id}: {exc}") from None
    for key in ("task", "family", "seed"):
        if checked[key] != getattr(point, key):
            raise ValueError(f"point {point.point_id}: its row has {key} {checked[key]!r}")
    return checked


def array_values(arrays: Any, point_id: str) -> dict[str, np.ndarray]:
    """``CompareArrays`` as float32 1-D arrays keyed by :data:`ARRAY_FIELDS`; raises
    ``ValueError`` naming the point and the array when a field is missing or unknown, not 1-D,
    or holds a NaN or an infinity (``test_confidence`` and ``test_correct`` must also have one
    entry per test example each)."""
    fields = _fields(arrays, "arrays")
    if set(fields) != set(ARRAY_FIELDS):
        raise ValueError(
            f"point {point_id}: the arrays have fields {sorted(fields)}, not {list(ARRAY_FIELDS)}"
        )
    out: dict[str, np.ndarray] = {}
    for name in ARRAY_FIELDS:
        arr = np.asarray(fields[name])
        if arr.ndim != 1 or not (
            np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
        ):
            raise ValueError(
                f"point {point_id}: array `{name}` must be 1-D numbers; got {arr.dtype} "
                f"of shape {arr.shape}"
            )
        arr = arr.astype(np.float32)
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"point {point_id}: array `{name}` holds {int(bad.sum())} non-finite value(s) "
                f"(first at index {first}: {arr[first]!r})"
            )
        out[name] = arr
    n_conf, n_correct = out["test_confidence"].size, out["test_correct"].size
    if n_conf != n_correct:
        raise ValueError(
            f"point {point_id}: `test_confidence` has {n_conf} entries, `test_correct` {n_correct}"
        )
    return out


def _real_run_compare(task: str, family: str, seed: int, *, scale: str, progress: bool) -> Any:
    from lrbnn_core.comparison import CompareTask, Family, run_compare

    return run_compare(CompareTask(task), Family(family), seed, scale=scale, progress=progress)


def compute_point(point: ComparePoint, compare_fn: CompareFn | None = None) -> dict[str, Any]:
    """Run one point (``compare_fn``, default ``lrbnn_core.comparison.run_compare``) with
    ``point.threads`` threads; returns ``{"row", "arrays", "seconds", "threads", "host",
    "pid"}``, the row and arrays checked (:func:`row_values`, :func:`array_values`). A module
    function: the worker processes of ``--workers`` run it."""
    from lrbnn_core.threads import set_thread_limits

    set_thread_limits(point.threads)
    fn = compare_fn or _real_run_compare
    start = time.perf_counter()
    row, arrays = fn(point.task, point.family, point.seed, scale=point.scale, progress=False)
    seconds = time.perf_counter() - start
    return {
        "row": row_values(row, point),
        "arrays": array_values(arrays, point.point_id),
        "seconds": seconds,
        "threads": point.threads,
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
