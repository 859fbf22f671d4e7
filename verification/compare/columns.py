"""``results.csv`` of ``lrbnn compare``: its columns (:data:`COLUMNS`, exactly the fields of
``lrbnn_core.comparison.CompareRow``), the kind and range of each, the rules across columns
(:func:`check_row`), the bytes of the file (:func:`results_csv`: repr-exact floats, blank for
``None``) and its strict reader (:func:`read_results`: a header other than :data:`COLUMNS`, a
cell of the wrong kind, a non-finite number or a broken rule is refused, naming the line and
the column; nothing is dropped).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verification.compare.spec import (
    CLASSIFICATION_TASKS,
    FAMILIES,
    REGRESSION_TASKS,
    TASKS,
    CompareError,
)

__all__ = [
    "COLUMNS",
    "INT_COLUMNS",
    "METRICS",
    "NULLABLE",
    "TEXT_COLUMNS",
    "BadRow",
    "check_row",
    "read_results",
    "results_csv",
]

#: The columns of ``results.csv``, in order: the fields of ``CompareRow``.
COLUMNS: tuple[str, ...] = (
    "task",
    "family",
    "seed",
    "rank",
    "params",
    "n_samples",
    "accuracy",
    "mae",
    "nll",
    "brier",
    "ece",
    "picp",
    "mi_in",
    "mi_ood",
    "mi_ratio",
    "ood_auroc",
    "ood_aupr",
    "ood_score",
    "selective_90",
    "selective_80",
    "epochs",
    "seconds_per_epoch",
    "train_seconds",
    "peak_memory_mb",
    "n_test",
    "n_ood",
)
TEXT_COLUMNS = frozenset({"task", "family", "ood_score"})
INT_COLUMNS = frozenset({"seed", "rank", "params", "n_samples", "n_test", "n_ood"})
#: The numeric columns the summary averages over seeds (every numeric column but the seed).
METRICS: tuple[str, ...] = tuple(c for c in COLUMNS if c not in TEXT_COLUMNS and c != "seed")
#: Columns blank where they do not apply (the ``Optional`` fields of ``CompareRow``: the rank
#: of the full-rank families, the metrics of the other kind of task, the MI of a model whose
#: draws agree everywhere); every other column is always defined.
NULLABLE = frozenset({"rank", "accuracy", "mae", "brier", "picp", "mi_in", "mi_ood", "mi_ratio"})
#: Probabilities, rates and areas under curves.
_UNIT = frozenset({"accuracy", "ece", "picp", "ood_auroc", "ood_aupr"})
#: Columns that cannot be negative (a Gaussian NLL can: it is not here).
_NON_NEGATIVE = frozenset(
    {
        "mae",
        "brier",
        "mi_in",
        "mi_ood",
        "mi_ratio",
        "selective_90",
        "selective_80",
        "epochs",
        "seconds_per_epoch",
        "train_seconds",
        "peak_memory_mb",
    }
)
#: Integer columns and their least value.
_INT_LOW = {"seed": 0, "rank": 1, "params": 1, "n_samples": 1, "n_test": 1, "n_ood": 1}
#: The OOD score of each kind of task (MI for classification, predictive std for regression).
_OOD_SCORES = ("mi", "std")


class BadRow(ValueError):
    """One value or rule of a row is broken (the message names the column)."""


def _value(column: str, value: Any) -> Any:
    if value is None:
        if column not in NULLABLE:
            raise BadRow(f"column `{column}` is blank, but it is always defined")
        return None
    if column in TEXT_COLUMNS:
        allowed = {"task": TASKS, "family": FAMILIES, "ood_score": _OOD_SCORES}[column]
        if value not in allowed:
            raise BadRow(f"column `{column}` holds {value!r} (known: {', '.join(allowed)})")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRow(f"column `{column}` holds {value!r}, not a number")
    if column in INT_COLUMNS:
        if not isinstance(value, int):
            raise BadRow(f"column `{column}` holds {value!r}, not an integer")
        if value < _INT_LOW[column]:
            raise BadRow(f"column `{column}` holds {value!r}, below {_INT_LOW[column]}")
        return value
    if not math.isfinite(value):
        raise BadRow(f"column `{column}` holds the non-finite number {value!r}")
    if column in _UNIT and not 0.0 <= value <= 1.0:
        raise BadRow(f"column `{column}` holds {value!r}, outside [0, 1]")
    if column in _NON_NEGATIVE and value < 0.0:
        raise BadRow(f"column `{column}` holds the negative value {value!r}")
    return float(value)


def check_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """``row`` checked and normalised (ints stay ints, other numbers become floats); raises
    :class:`BadRow` naming the column of the first problem: a missing or unknown column, a
    value of the wrong kind or range, a non-finite number, or a broken rule (accuracy is
    defined exactly for classification tasks and MAE exactly for regression; PICP only for
    regression; the OOD score is ``mi`` for classification and ``std`` for regression).

    Examples
    --------
    >>> row = dict.fromkeys(COLUMNS)
    >>> row.update(task="lstm_co2", family="low_rank", seed=0, params=10, n_samples=8, nll=0.1,
    ...            ece=0.1, ood_auroc=0.5, ood_aupr=0.5, ood_score="std", selective_90=0.2,
    ...            selective_80=0.2, epochs=3.0, seconds_per_epoch=0.1, train_seconds=0.3,
    ...            peak_memory_mb=1.0, n_test=5, n_ood=5, mae=0.2, accuracy=0.9)
    >>> try:
    ...     check_row(row)
    ... except BadRow as exc:
    ...     print(exc)
    column `accuracy` is 0.9 for the regression task lstm_co2 (blank there)
    """
    missing = [c for c in COLUMNS if c not in row]
    extra = [c for c in row if c not in COLUMNS]
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"has unknown {', '.join(extra)}"
        raise BadRow(f"the row {what} (the columns are CompareRow's fields)")
    out = {c: _value(c, row[c]) for c in COLUMNS}
    task = out["task"]
    regression = task in REGRESSION_TASKS
    for column, wanted in (("accuracy", not regression), ("mae", regression)):
        if (out[column] is not None) != wanted:
            kind = "regression" if regression else "classification"
            where = "always defined there" if wanted else "blank there"
            raise BadRow(
                f"column `{column}` is {out[column]!r} for the {kind} task {task} ({where})"
            )
    if task in CLASSIFICATION_TASKS and out["picp"] is not None:
        raise BadRow(f"column `picp` is {out['picp']!r} for the classification task {task}")
    score = out["ood_score"]
    if score is not None and score != ("std" if regression else "mi"):
        raise BadRow(f"column `ood_score` is {score!r} for task {task}")
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def results_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The bytes of ``results.csv``: the header :data:`COLUMNS`, then one line per row (floats
    with ``repr``, so they read back bit for bit; ``None`` blank)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return buf.getvalue().encode()


def _parse(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in TEXT_COLUMNS:
        return text
    try:
        return int(text) if column in INT_COLUMNS else float(text)
    except ValueError:
        what = "an integer" if column in INT_COLUMNS else "a number"
        raise BadRow(f"column `{column}` holds {text!r}, not {what}") from None


def read_results(path: Path | str) -> list[dict[str, Any]]:
    """The rows of a comparison's ``results.csv``, every cell parsed and checked
    (:func:`check_row`). Raises :class:`~verification.compare.spec.CompareError` naming the
    file, the line and the column of the first problem; a file with no rows, or the same
    task x family x seed twice, is refused too."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            lines = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CompareError(f"{path} cannot be read: {exc}") from None
    if not lines or tuple(lines[0]) != COLUMNS:
        raise CompareError(
            f"{path} line 1: the header is not CompareRow's fields in order (not a results.csv "
            "of lrbnn compare, or of another version)"
        )
    if len(lines) == 1:
        raise CompareError(f"{path} has a header but no rows")
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(COLUMNS):
            raise CompareError(
                f"{path} line {number}: {len(cells)} cells, the header has {len(COLUMNS)}"
            )
        try:
            row = check_row({c: _parse(c, t) for c, t in zip(COLUMNS, cells, strict=True)})
        except BadRow as exc:
            raise CompareError(f"{path} line {number}: {exc}") from None
        key = (row["task"], row["family"], row["seed"])
        if key in seen:
            raise CompareError(f"{path} line {number}: {'/'.join(map(str, key))} appears twice")
        seen.add(key)
        rows.append(row)
    return rows
