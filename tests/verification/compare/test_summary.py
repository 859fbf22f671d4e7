"""The summary against its twin (numpy's mean and ``std(ddof=1)`` on a hand-made table), the
columns the X1-X6 checks read, and the refusals (a seed twice, a metric blank for some seeds)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.verification.compare.fakes import fake_row
from verification.compare import (
    METRICS,
    SUMMARY_COLUMNS,
    make_compare_spec,
    run_comparison,
    summarise,
    summary_csv,
    summary_markdown,
)
from verification.compare.columns import check_row


def _table() -> list[dict[str, Any]]:
    """Three seeds of low rank and two of the deterministic model on digits (listed out of
    order), with hand-picked accuracies and NLLs, one seed of the regression task."""
    rows = []
    for family, seed, acc, nll in [
        ("low_rank", 2, 0.91, 0.30),
        ("deterministic", 0, 0.88, 0.41),
        ("low_rank", 0, 0.87, 0.36),
        ("deterministic", 1, 0.80, 0.52),
        ("low_rank", 1, 0.95, 0.25),
    ]:
        rows.append(
            check_row({**fake_row("mlp_digits", family, seed), "accuracy": acc, "nll": nll})
        )
    rows.append(check_row(fake_row("lstm_co2", "low_rank", 0)))
    return rows


def test_summary_mean_std_match_numpy() -> None:
    """Every mean and std equals numpy's (mean, sample std) over the group's seeds; a metric
    that does not apply is blank; one seed has no std."""
    rows = _table()
    summary = summarise(rows)
    assert [(s["task"], s["family"], s["n_seeds"]) for s in summary] == [
        ("mlp_digits", "deterministic", 2),
        ("mlp_digits", "low_rank", 3),
        ("lstm_co2", "low_rank", 1),
    ]
    for s in summary:
        group = [r for r in rows if (r["task"], r["family"]) == (s["task"], s["family"])]
        for metric in METRICS:
            values = [r[metric] for r in group]
            if values[0] is None:
                assert s[f"{metric}_mean"] is None and s[f"{metric}_std"] is None
                continue
            arr = np.array(values, dtype=np.float64)
            np.testing.assert_allclose(s[f"{metric}_mean"], arr.mean(), rtol=1e-14, atol=0)
            if len(arr) == 1:
                assert s[f"{metric}_std"] is None
            else:
                np.testing.assert_allclose(
                    s[f"{metric}_std"], arr.std(ddof=1), rtol=1e-12, atol=1e-15
                )
    low = summary[1]
    # the hand computation: accuracies 0.87, 0.91, 0.95 -> mean 0.91, sample std 0.04
    assert low["accuracy_mean"] == pytest.approx(0.91, abs=1e-15)
    assert low["accuracy_std"] == pytest.approx(0.04, abs=1e-15)
    # the check can fail: the population std (ddof=0) is 0.0327, not 0.04
    assert abs(np.std([0.87, 0.91, 0.95]) - low["accuracy_std"]) > 1e-3


def test_summary_refuses_inconsistent_rows() -> None:
    rows = _table()
    with pytest.raises(ValueError, match="list a seed twice for mlp_digits/low_rank"):
        summarise([*rows, rows[0]])
    partial = [dict(r) for r in rows]
    partial[0]["mi_ratio"] = None
    with pytest.raises(
        ValueError, match="mi_ratio is blank for 1 of 3 seeds of mlp_digits/low_rank"
    ):
        summarise(partial)


def test_summary_csv_columns_and_values() -> None:
    """summary.csv: task, family, n_seeds, then <metric>_mean and <metric>_std for every
    numeric column but the seed; floats read back exactly; blank for None."""
    summary = summarise(_table())
    lines = list(csv.reader(io.StringIO(summary_csv(summary).decode())))
    assert tuple(lines[0]) == SUMMARY_COLUMNS
    assert lines[0][:5] == ["task", "family", "n_seeds", "rank_mean", "rank_std"]
    assert "accuracy_mean" in lines[0] and "peak_memory_mb_std" in lines[0]
    assert "seed_mean" not in lines[0]
    for line, s in zip(lines[1:], summary, strict=True):
        for column, text in zip(SUMMARY_COLUMNS, line, strict=True):
            value = s[column]
            if value is None:
                assert text == ""
            elif isinstance(value, float):
                assert float(text) == value
            else:
                assert text == str(value)


def test_summary_markdown_tables() -> None:
    text = summary_markdown(summarise(_table()), title="t")
    assert "## mlp_digits" in text and "## lstm_co2" in text
    assert "| low_rank | 0.910 +- 0.040 |" in text and "| 600 | 0.020 | 1.500 |" in text
    # regression table: MAE, PICP; no accuracy column
    co2 = text.split("## lstm_co2")[1]
    assert "| family | mae | nll | picp |" in co2 and "accuracy" not in co2


def test_summary_written_by_a_run(tmp_path: Path) -> None:
    """A run writes summary.csv equal to summarise() of its results and the figures with their
    sidecars (all PNG files non-empty)."""
    from tests.verification.compare.fakes import fake_run_compare
    from verification.compare import read_results

    spec = make_compare_spec(profile="smoke", tasks=["mlp_digits", "lstm_co2"])
    report = run_comparison(spec, tmp_path / "c", progress=False, compare_fn=fake_run_compare)
    rows = read_results(report.results)
    assert (tmp_path / "c" / "summary.csv").read_bytes() == summary_csv(summarise(rows))
    names = sorted(p.name for p in (tmp_path / "c" / "figures").iterdir())
    assert names == [
        "ood_roc_lstm_co2.json",
        "ood_roc_lstm_co2.png",
        "ood_roc_mlp_digits.json",
        "ood_roc_mlp_digits.png",
        "performance_vs_params.json",
        "performance_vs_params.png",
        "reliability_mlp_digits.json",
        "reliability_mlp_digits.png",
    ]
    for png in (tmp_path / "c" / "figures").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
