"""``lrbnn sweep --pbb``: the PBB recipe (lrbnn_core.pbb) as a baseline family of the grid,
paying for its prior stds in every certificate's union bound."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.verification.sweep.tiny import TINY
from verification.cli import main
from verification.sweep import SweepError, grid, grid_penalty, make_spec, read_results, run_sweep


def test_pbb_points_come_last_and_every_certificate_pays_for_them() -> None:
    spec = make_spec(**{**TINY, "seeds": [0]}, pbb=True)
    ids = [p.point_id for p in grid(spec)]
    assert ids == ["w8-s0-r1", "w8-s0-r2", "w8-s0-mf", "w8-s0-pbb"]
    # K = widths x ((ranks + MF) x 1 prior scale + 3 PBB prior stds)
    assert grid_penalty(spec)[0] == pytest.approx(math.log(1 * (3 * 1 + 3)), rel=1e-15)
    assert "plus 1 widths x 3 PBB prior stds" in grid_penalty(spec)[1]
    without = make_spec(**{**TINY, "seeds": [0]})
    assert grid_penalty(without)[0] == pytest.approx(math.log(3), rel=1e-15)
    assert spec.arguments()["pbb"] is True and without.arguments()["pbb"] is False
    with pytest.raises(SweepError, match="`--pbb` runs the PBB recipe on MLPs only"):
        make_spec(**{**TINY, "arch": "lstm", "ranks": [1]}, pbb=True)


def test_a_pbb_sweep_stores_validates_and_draws_its_row(tmp_path: Path) -> None:
    spec = make_spec(**{**TINY, "seeds": [0]}, pbb=True)
    report = run_sweep(spec, tmp_path, progress=False)
    assert report.computed == 4
    rows = {r["point_id"]: r for r in read_results(tmp_path / "results.csv")}
    pbb = rows["w8-s0-pbb"]
    assert pbb["family"] == "pbb" and pbb["rank"] is None and pbb["layer_ranks"] is None
    assert pbb["prior_scale"] in (0.01, 0.03, 0.1)
    assert pbb["penalty"] == pytest.approx(math.log(6), rel=1e-15)
    assert pbb["gauge_gain"] == 0.0 and pbb["measured_ratio"] is None
    assert 0.0 <= pbb["kl_inverse"] <= 1.0 and pbb["kl"] >= 0.0
    record = json.loads((tmp_path / "points" / "w8-s0-pbb.json").read_text())
    assert record["point"]["family"] == "pbb"
    assert (tmp_path / "figures" / "bound_vs_rank.png").stat().st_size > 0


def test_cli_takes_pbb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "sweep",
        "--dataset",
        "teacher_student",
        "--ranks",
        "1",
        "--widths",
        "8",
        "--seeds",
        "0",
        "--profile",
        "smoke",
        "--no-progress",
        "--no-mean-field",
        "--pbb",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    assert "2 grid points, 2 computed now" in capsys.readouterr().out
