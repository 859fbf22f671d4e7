"""What a sweep's stored values may be: the kind of every column of :data:`COLUMNS` (text,
integer, finite float, per-layer list), which columns may be blank, the allowed names
(families, architectures, datasets); the validation of a point record
(:func:`validate_record`: schema, finiteness, the point it belongs to) and of ``results.csv``
(:func:`parse_results`: the header, then every cell, naming the row and column of the first
problem).

Non-finite numbers are refused everywhere (never dropped: a dropped point silently changes a
figure). One schema serves the point files the sweep reads back and the CSV a user hands to
``lrbnn figures --sweep``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from verification.sweep.columns import COLUMNS
from verification.sweep.spec import Arch, PointSpec, SweepError, SweepPrior

__all__ = ["ASSEMBLED", "KINDS", "MLP_ONLY", "NULLABLE", "Kind", "parse_results", "validate_record"]


class Kind(str, Enum):
    """The kind of a column's values."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    INTS = "ints"
    FLOATS = "floats"


_TEXT = ("point_id", "dataset", "arch", "family", "prior", "layer_shapes")
_INT = ("rank", "width", "seed", "n_train", "n_bound", "params", "stochastic")
_INTS = ("layer_ranks", "layer_stochastic")
#: the per-layer T3.8p ratios joined at assembly (verification.sweep.premise.layer_ratios)
_LAYER_RATIOS = (
    "layer_predicted_ratio",
    "layer_measured_ratio",
    "layer_kl_per_coord_ratio",
    "layer_kl_per_coord_max_ratio",
)
_FLOATS = (
    "spectral_norms",
    "tail_energy",
    "mf_tail_energy",
    "mf_tail_energy_rel",
    "layer_kl",
    "layer_kl_per_coord",
    "layer_kl_per_coord_max",
    *_LAYER_RATIOS,
)
#: the kind of every column of results.csv (and of a point record's ``row``)
KINDS: dict[str, Kind] = {
    c: (
        Kind.TEXT
        if c in _TEXT
        else Kind.INT
        if c in _INT
        else Kind.INTS
        if c in _INTS
        else Kind.FLOATS
        if c in _FLOATS
        else Kind.FLOAT
    )
    for c in COLUMNS
}
#: columns a row may leave blank (see their comments in :mod:`~verification.sweep.columns`)
NULLABLE = frozenset(
    {
        "rank",
        "layer_ranks",
        "tail_energy",
        "mf_tail_energy",
        "mf_tail_energy_rel",
        "predicted_ratio",
        "measured_ratio",
        "gc_restated",
        "gc_first_layer",
        "gc_first_layer_se",
        "gc_first_layer_restated",
        "prior_scale",
        *_LAYER_RATIOS,
    }
)
#: columns joined at assembly (never in a point record's ``row``)
ASSEMBLED = frozenset(
    {"mf_tail_energy", "mf_tail_energy_rel", "predicted_ratio", "measured_ratio", *_LAYER_RATIOS}
)
#: columns a point record has only for MLPs
MLP_ONLY = frozenset({c for c in COLUMNS if c.startswith("gc_")})
_FAMILIES = ("low_rank", "mean_field", "pbb")
_DATASETS = ("mnist1d", "digits", "teacher_student_classification")
#: columns that are probabilities or rates
_UNIT = frozenset(
    {"test_error", "test_gibbs_error", "test_ece", "ood_auroc", "mc_risk", "confidence"}
)
#: columns that cannot be negative
_NON_NEGATIVE = frozenset(
    {"kl", "kl_per_coord_mean", "kl_per_coord_max", "penalty", "test_nll", "prior_scale"}
)


class _Bad(ValueError):
    """One value breaks the schema (the message says how)."""


def _number(kind: Kind, value: Any) -> Any:
    if isinstance(value, bool):
        raise _Bad(f"holds the bool {value!r}, not a number")
    if kind is Kind.INT:
        if not isinstance(value, int):
            raise _Bad(f"holds {value!r}, not an integer")
        return value
    if not isinstance(value, (int, float)):
        raise _Bad(f"holds {value!r}, not a number")
    if not math.isfinite(value):
        raise _Bad(f"holds the non-finite number {value!r}")
    return float(value)


def _check_value(column: str, value: Any) -> Any:
    """``value`` (JSON types) checked against ``column``'s kind and range; returns it."""
    kind = KINDS[column]
    if value is None:
        if column not in NULLABLE:
            raise _Bad("is blank, but the column is always defined")
        return None
    if kind is Kind.TEXT:
        if not isinstance(value, str) or not value:
            raise _Bad(f"holds {value!r}, not a non-empty text")
        allowed = {
            "family": _FAMILIES,
            "arch": tuple(a.value for a in Arch),
            "dataset": _DATASETS,
            "prior": tuple(p.value for p in SweepPrior),
        }.get(column)
        if allowed is not None and value not in allowed:
            raise _Bad(f"holds the unknown {column} {value!r} (known: {', '.join(allowed)})")
        return value
    if kind in (Kind.INTS, Kind.FLOATS):
        if not isinstance(value, list) or not value:
            raise _Bad(f"holds {value!r}, not a non-empty per-layer list")
        item = Kind.INT if kind is Kind.INTS else Kind.FLOAT
        return [_number(item, v) for v in value]
    number = _number(kind, value)
    if column in _UNIT and not 0.0 <= number <= 1.0:
        raise _Bad(f"holds {number!r}, outside [0, 1]")
    if column in _NON_NEGATIVE and number < 0.0:
        raise _Bad(f"holds the negative value {number!r}")
    return number


def _check_row(row: Mapping[str, Any]) -> None:
    """Cross-column rules of one row: the rank is blank exactly for the full-rank families
    (mean_field, pbb); the prior scale is blank exactly for the scale-mixture prior (one prior,
    nothing chosen); pbb is data-dependent; a data-free prior certifies on every training
    example (``n_bound = n_train``); ``layer_stochastic`` sums to ``stochastic``; every
    per-layer list has one entry per layer of ``layer_shapes``."""
    full_rank = row.get("family") != "low_rank"
    if (row.get("rank") is None) != full_rank:
        raise _Bad(
            f"column `rank` is {row.get('rank')!r} for family {row.get('family')!r} "
            "(blank exactly for mean_field and pbb)"
        )
    prior = row.get("prior")
    mixture = prior == SweepPrior.SCALE_MIXTURE.value
    if (row.get("prior_scale") is None) != mixture:
        raise _Bad(
            f"column `prior_scale` is {row.get('prior_scale')!r} for prior {prior!r} "
            "(blank exactly for scale_mixture)"
        )
    if row.get("family") == "pbb" and prior != SweepPrior.DATA_DEPENDENT.value:
        raise _Bad(f"column `prior` is {prior!r} for family 'pbb' (data_dependent only)")
    if prior != SweepPrior.DATA_DEPENDENT.value and row.get("n_bound") != row.get("n_train"):
        raise _Bad(
            f"column `n_bound` is {row.get('n_bound')!r} under the data-free prior {prior!r}, "
            f"not n_train = {row.get('n_train')!r}"
        )
    per_layer = row.get("layer_stochastic")
    if per_layer is not None and sum(per_layer) != row.get("stochastic"):
        raise _Bad(
            f"column `layer_stochastic` sums to {sum(per_layer)}, not stochastic = "
            f"{row.get('stochastic')!r}"
        )
    shapes = row.get("layer_shapes") or ""
    try:
        layers = [tuple(int(d) for d in s.split("x")) for s in shapes.split(";")]
    except ValueError:
        raise _Bad(f"column `layer_shapes` holds {shapes!r}, not MxN;MxN;...") from None
    if any(len(pair) != 2 or min(pair) < 1 for pair in layers):
        raise _Bad(f"column `layer_shapes` holds {shapes!r}, not MxN;MxN;...")
    for column, kind in KINDS.items():
        value = row.get(column)
        if kind in (Kind.INTS, Kind.FLOATS) and value is not None and len(value) != len(layers):
            raise _Bad(
                f"column `{column}` has {len(value)} entries for {len(layers)} layers ({shapes})"
            )


def _expected_row_keys(arch: str) -> set[str]:
    keys = set(COLUMNS) - ASSEMBLED
    return keys if arch == Arch.MLP.value else keys - MLP_ONLY


def validate_record(record: Any, point: PointSpec) -> None:
    """Raise ``ValueError`` (saying what is wrong) unless ``record`` is a complete, finite point
    record of ``point``: its ``row`` holds exactly the columns a point computes, each of its
    kind and range, the identity columns equal the point's, and ``singular_values`` /
    ``layer_ranks`` have one entry per layer."""
    if not isinstance(record, dict):
        raise ValueError(f"holds a {type(record).__name__}, not a record")
    row = record.get("row")
    if not isinstance(row, dict):
        raise ValueError("has no `row` object")
    expected = _expected_row_keys(point.arch)
    missing = sorted(expected - set(row))
    extra = sorted(set(row) - expected)
    if missing or extra:
        raise ValueError(
            f"row has {'missing keys ' + ', '.join(missing) if missing else ''}"
            f"{'; ' if missing and extra else ''}"
            f"{'unexpected keys ' + ', '.join(extra) if extra else ''}"
        )
    try:
        for column in sorted(expected):
            try:
                _check_value(column, row[column])
            except _Bad as exc:
                raise _Bad(f"column `{column}` {exc}") from None
        _check_row(row)
    except _Bad as exc:
        raise ValueError(str(exc)) from None
    own = {
        "point_id": point.point_id,
        "arch": point.arch,
        "family": point.family,
        "rank": point.rank,
        "width": point.width,
        "seed": point.seed,
        "prior": point.prior,
    }
    for key, value in own.items():
        if row[key] != value:
            raise ValueError(f"column `{key}` is {row[key]!r}, but the point has {value!r}")
    n_layers = len(row["layer_shapes"].split(";"))
    svals = record.get("singular_values")
    if not isinstance(svals, list) or len(svals) != n_layers:
        raise ValueError(f"`singular_values` must list {n_layers} layers")
    ranks = record.get("layer_ranks")
    if not isinstance(ranks, list) or len(ranks) != n_layers:
        raise ValueError(f"`layer_ranks` must list {n_layers} layers")
    try:
        for layer in svals:
            if not isinstance(layer, list) or not layer:
                raise _Bad(f"holds {layer!r}, not a list of singular values")
            for v in layer:
                if _number(Kind.FLOAT, v) < 0.0:
                    raise _Bad(f"holds the negative singular value {v!r}")
        for r in ranks:
            if _number(Kind.INT, r) < 1:
                raise _Bad(f"holds the rank {r!r}")
        _number(Kind.FLOAT, record.get("kl_sum_check"))
    except _Bad as exc:
        raise ValueError(f"`singular_values`/`layer_ranks`/`kl_sum_check` {exc}") from None


def _parse_cell(column: str, text: str) -> Any:
    kind = KINDS[column]
    if text == "":
        return None
    if kind is Kind.TEXT:
        return text
    parts = text.split(";") if kind in (Kind.INTS, Kind.FLOATS) else [text]
    item = Kind.INT if kind in (Kind.INT, Kind.INTS) else Kind.FLOAT
    values: list[Any] = []
    for part in parts:
        try:
            values.append(int(part) if item is Kind.INT else float(part))
        except ValueError:
            what = "an integer" if item is Kind.INT else "a number"
            raise _Bad(f"holds {text!r}, not {what}") from None
    return values if kind in (Kind.INTS, Kind.FLOATS) else values[0]


def parse_results(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a ``results.csv``, every cell parsed and checked (blank cells are ``None``;
    per-layer cells are lists). Raises :class:`SweepError` naming the file, the line and the
    column of the first problem: a header other than :data:`COLUMNS`, a short or long row, a
    cell that is not of its column's kind, a non-finite number, an unknown family, or no rows.
    """
    path = Path(path)
    where = f"{path}"
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SweepError(f"{where} cannot be read: {exc}") from None
    if not lines:
        raise SweepError(f"{where} is empty (expected the header and one row per grid point)")
    header = lines[0]
    if tuple(header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        what = (
            f"lacks the column(s) {', '.join(missing)}"
            if missing
            else f"has unknown column(s) {', '.join(extra)}"
            if extra
            else "has the columns in another order"
        )
        raise SweepError(f"{where} line 1: the header {what} (not a results.csv of this version)")
    if len(lines) == 1:
        raise SweepError(f"{where} has a header but no rows")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(COLUMNS):
            raise SweepError(
                f"{where} line {number}: {len(cells)} cells, the header has {len(COLUMNS)}"
            )
        row: dict[str, Any] = {}
        column = COLUMNS[0]
        try:
            for column, text in zip(COLUMNS, cells, strict=True):
                row[column] = _check_value(column, _parse_cell(column, text))
            column = "rank"
            _check_row(row)
        except _Bad as exc:
            message = str(exc)
            if not message.startswith("column"):
                message = f"column `{column}` {message}"
            raise SweepError(f"{where} line {number}: {message}") from None
        rows.append(row)
    return rows
