"""Runs CSV of the certificate commands (lrbnn_core.run_table): what is written is read back,
in full precision, with the context first; bad context and foreign files are refused."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lrbnn_core.run_table import RUN_COLUMNS, format_runs, read_runs_csv, write_runs_csv

CONTEXT = {"dataset": "mnist1d", "arch": "mlp", "data_seed": 42, "seed": 0, "mc_bound": "kl"}


def _run(family: str, rank: int | None, kl_inverse: float) -> Any:
    cert = SimpleNamespace(n=2000, kl=1.25, mc_risk=0.35, mcallester=0.5, kl_inverse=kl_inverse,
                           catoni=0.49, penalty=1.3862943611198906)  # fmt: skip
    values = {"family": family, "rank": rank, "prior_scale": 1.0, "n_bound": 2000,
              "mc_risk": 0.35, "kl": 1.25, "penalty": cert.penalty, "mcallester": 0.5,
              "kl_inverse": kl_inverse, "catoni": 0.49, "test_gibbs_error": 0.354,
              "test_predictive_error": 0.3, "stochastic": 100, "params": 200,
              "gauge_gain": 0.0}  # fmt: skip
    return SimpleNamespace(**values, certificate=cert, as_dict=lambda: dict(values))


def test_written_runs_read_back_in_full_precision(tmp_path: Path) -> None:
    runs = [_run("low_rank", 64, 0.4701234567890123), _run("mean_field", None, 0.479)]
    path = write_runs_csv(runs, tmp_path / "runs.csv", CONTEXT)
    rows = read_runs_csv(path)
    assert [tuple(r) for r in rows] == [RUN_COLUMNS] * 2
    assert rows[0]["kl_inverse"] == "0.4701234567890123" and rows[0]["rank"] == "64"
    assert rows[1]["rank"] == "" and rows[1]["dataset"] == "mnist1d"
    assert float(rows[0]["penalty"]) == runs[0].certificate.penalty
    table = format_runs(runs).splitlines()
    assert len(table) == 4 and "0.470" in table[2] and table[3].startswith("mean_field")


def test_bad_context_and_foreign_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`context` must have exactly the keys"):
        write_runs_csv([], tmp_path / "x.csv", {**CONTEXT, "extra": 1})
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ValueError, match="are not a runs CSV's"):
        read_runs_csv(foreign)
