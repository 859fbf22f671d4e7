"""``DIR/where_low_rank_wins.csv`` and its heat map (issue 17): the table against a hand-computed
twin, the matched-test-error columns, a real multi-mode sweep writing both, and
``bound_vs_rank.png`` drawn one row per prior mode while a single-mode figure keeps its bytes."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest

from tests.verification.sweep.tiny import TINY
from verification.sweep import (
    ANSWER_COLUMNS,
    WHERE_LOW_RANK_WINS,
    WHERE_LOW_RANK_WINS_CSV,
    answer_csv,
    make_spec,
    make_sweep_figures,
    read_results,
    run_sweep,
    where_low_rank_wins,
)
from verification.sweep.figures import plot_bound_vs_rank

_PNG = b"\x89PNG\r\n\x1a\n"


def _row(prior: str, family: str, rank: int | None, seed: int, cert: float, err: float) -> Any:
    return {"prior": prior, "width": 8, "family": family, "rank": rank, "seed": seed,
            "kl_inverse": cert, "test_gibbs_error": err}  # fmt: skip


#: 2 modes x 1 width x 2 seeds x (ranks 1, 2 and the mean field): (kl_inverse, test Gibbs
#: error), dyadic so that every mean below is exact. Data-dependent: rank 2 has the tighter
#: certificate in seed 0 but a worse mean test error (0.5) than the mean field's (0.3125).
TWIN = [
    _row("data_dependent", "low_rank", 1, 0, 0.5, 0.25),
    _row("data_dependent", "low_rank", 2, 0, 0.375, 0.5),
    _row("data_dependent", "mean_field", None, 0, 0.625, 0.25),
    _row("data_dependent", "low_rank", 1, 1, 0.4375, 0.25),
    _row("data_dependent", "low_rank", 2, 1, 0.5, 0.5),
    _row("data_dependent", "mean_field", None, 1, 0.5, 0.375),
    _row("init", "low_rank", 1, 0, 0.75, 0.5),
    _row("init", "low_rank", 2, 0, 0.5, 0.75),
    _row("init", "mean_field", None, 0, 0.625, 0.25),
    _row("init", "low_rank", 1, 1, 0.875, 0.5),
    _row("init", "low_rank", 2, 1, 0.625, 0.75),
    _row("init", "mean_field", None, 1, 0.75, 0.25),
]
#: computed by hand from TWIN (module docstring of verification.sweep.answer):
#: data-dependent: B = (0.375 [r2], 0.4375 [r1]), MF = (0.625, 0.5), Delta = (-0.25, -0.0625),
#: winners r2, r1 (a tie: the smaller rank), best rows' errors (0.5, 0.25), MF errors
#: (0.25, 0.375); matched ranks {1} (mean error 0.25 <= 0.3125; rank 2's 0.5 is not):
#: B= = (0.5, 0.4375), Delta= = (-0.125, -0.0625).
#: init: B = (0.5, 0.625) [r2 both], MF = (0.625, 0.75), Delta = (-0.125, -0.125), best rows'
#: error 0.75, MF's 0.25: no rank matches (0.5 and 0.75 > 0.25), blank matched cells.
TWIN_CSV = (
    ",".join(ANSWER_COLUMNS) + "\n"
    "data_dependent,8,0;1,1;2,0.40625,0.375,0.4375,1,1,0.5625,0.5,0.625,"
    "-0.15625,-0.25,-0.0625,2,0.375,0.3125,1,0.46875,1,-0.09375,-0.125,-0.0625\n"
    "init,8,0;1,1;2,0.5625,0.5,0.625,2,2,0.6875,0.625,0.75,"
    "-0.125,-0.125,-0.125,2,0.75,0.25,,,,,,\n"
)


def test_where_low_rank_wins_matches_the_hand_computed_twin() -> None:
    assert answer_csv(where_low_rank_wins(TWIN)).decode() == TWIN_CSV
    # the table does not depend on the order of the rows
    assert answer_csv(where_low_rank_wins(TWIN[::-1])).decode() == TWIN_CSV


def test_where_low_rank_wins_matched_error_excludes_a_worse_model() -> None:
    dd, init = where_low_rank_wins(TWIN)
    assert dd["matched_ranks"] == [1]
    # a mutant that ignores the test error lets rank 2 in: the matched columns would equal the
    # unrestricted ones (-0.15625); excluding it gives -0.09375
    assert dd["difference_mean"] == -0.15625
    assert dd["matched_difference_mean"] == -0.09375
    assert init["matched_ranks"] is None and init["matched_difference_mean"] is None
    # a rank whose mean test error equals the mean field's is matched (<=, not <)
    equal = [r if r["family"] != "low_rank" or r["rank"] != 2 else {**r, "test_gibbs_error": 0.3125}
             for r in TWIN if r["prior"] == "data_dependent"]  # fmt: skip
    (row,) = where_low_rank_wins(equal)
    assert row["matched_ranks"] == [1, 2]
    assert row["matched_difference_mean"] == row["difference_mean"] == -0.15625


def test_where_low_rank_wins_needs_both_families() -> None:
    assert where_low_rank_wins([r for r in TWIN if r["family"] == "low_rank"]) == []
    only_init = where_low_rank_wins([r for r in TWIN if r["prior"] == "init" or r["rank"]])
    assert [r["prior"] for r in only_init] == ["init"]
    assert answer_csv([]) == (",".join(ANSWER_COLUMNS) + "\n").encode()


def test_where_low_rank_wins_a_tie_is_not_a_win() -> None:
    tie = [
        _row("zero", "low_rank", 4, 0, 0.5, 0.25),
        _row("zero", "mean_field", None, 0, 0.5, 0.25),
    ]
    (row,) = where_low_rank_wins(tie)
    assert row["difference_mean"] == 0.0 and row["low_rank_tighter_seeds"] == 0
    assert row["matched_ranks"] == [4] and row["matched_difference_max"] == 0.0


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == _PNG
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.fixture(scope="module")
def multi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real sweep under two prior modes (one rank, the mean field, one seed: 4 points)."""
    out = tmp_path_factory.mktemp("answer")
    spec = make_spec(**{**TINY, "ranks": [1], "seeds": [0]}, priors=["init", "data-dependent"])
    report = run_sweep(spec, out, progress=False)
    assert report.computed == 4 and report.answer == out / WHERE_LOW_RANK_WINS_CSV
    return out


def test_a_multi_mode_sweep_writes_the_table_and_the_heat_map(multi: Path, tmp_path: Path) -> None:
    data = (multi / WHERE_LOW_RANK_WINS_CSV).read_bytes()
    rows = read_results(multi / "results.csv")
    assert data == answer_csv(where_low_rank_wins(rows))
    lines = data.decode().splitlines()
    assert lines[0] == ",".join(ANSWER_COLUMNS)
    assert [ln.split(",")[:4] for ln in lines[1:]] == [
        ["data_dependent", "8", "0", "1"],
        ["init", "8", "0", "1"],
    ]
    for table_row in where_low_rank_wins(rows):
        at = [r for r in rows if r["prior"] == table_row["prior"]]
        (low,) = (r for r in at if r["family"] == "low_rank")
        (mf,) = (r for r in at if r["family"] == "mean_field")
        assert table_row["difference_mean"] == low["kl_inverse"] - mf["kl_inverse"]
    png = multi / "figures" / WHERE_LOW_RANK_WINS
    # 7.0 x (1.1 x 2 modes + 2.0) inches at 130 dpi
    assert _png_size(png) == (910, 546)
    assert (multi / "figures" / "where_low_rank_wins.json").is_file()
    # one row of panels per prior mode: taller than the one-mode figure (5.2 in at 130 dpi)
    assert _png_size(multi / "figures" / "bound_vs_rank.png") == (975, 1183)
    # `lrbnn figures --sweep DIR --out X` draws it again and copies the table next to it
    made = make_sweep_figures(multi, tmp_path, prefix="sweep_")
    assert [p.name for p in made][-3:] == [
        "sweep_where_low_rank_wins.png",
        "sweep_where_low_rank_wins.json",
        "sweep_where_low_rank_wins.csv",
    ]
    assert (tmp_path / "sweep_where_low_rank_wins.csv").read_bytes() == data
    assert (tmp_path / "sweep_where_low_rank_wins.png").read_bytes() == png.read_bytes()


def _hand_rows(prior: str) -> list[dict[str, Any]]:
    """Rows of a one-width, one-mode sweep with every column the figure reads (no training)."""
    rows = []
    for seed in (0, 1):
        for rank in (1, 2, None):
            k = 3 if rank is None else rank
            rows.append({
                "arch": "mlp", "dataset": "teacher_student_classification", "confidence": 0.95,
                "family": "mean_field" if rank is None else "low_rank", "rank": rank,
                "width": 8, "seed": seed, "prior": prior, "layer_shapes": "8x20;8x8;10x8",
                "kl_per_coord_max": 1e-3 * k, "mc_risk": 0.25 + 0.0625 * seed, "n_bound": 1000,
                "mcallester": 0.5 + 0.125 * k + 0.0625 * seed,
                "kl_inverse": 0.375 + 0.0625 * k + 0.03125 * seed,
                "test_gibbs_error": 0.3125 + 0.015625 * k,
            })  # fmt: skip
    return rows


#: SHA-256 of bound_vs_rank.png drawn from _hand_rows("data_dependent") by the code before
#: prior modes got their own rows (git show de4960c:verification/sweep/figures.py), with the
#: matplotlib of constraints.txt: a single-mode sweep's figure is unchanged byte for byte.
SINGLE_MODE_SHA256 = "d663de63234bf94f8c38511e300ed1085663939e3f8b3b9f84b3187e0871c0d9"


@pytest.mark.parametrize("prior", ["data_dependent", "scale_mixture"])
def test_bound_vs_rank_single_mode_keeps_its_bytes(tmp_path: Path, prior: str) -> None:
    path = plot_bound_vs_rank(_hand_rows(prior), tmp_path / "b.png", delta=0.025)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SINGLE_MODE_SHA256
    assert _png_size(path) == (975, 676)


def test_bound_vs_rank_draws_one_row_per_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statistic and every critical-rank annotation is computed from one mode's rows:
    the init rows are shifted by +4, so a mixed list would hold values on both sides of 2."""
    import verification.sweep.figures as figures

    shifted = [
        {**r, **{c: r[c] + 4.0 for c in ("mcallester", "kl_inverse", "test_gibbs_error")}}
        for r in _hand_rows("init")
    ]
    both = shifted + _hand_rows("data_dependent")
    stats: list[list[float]] = []
    panels: list[set[str]] = []
    real_stats, real_critical = figures._stats, figures.critical_rank_for

    def recorded_stats(values: Any) -> tuple[float, float, float]:
        stats.append([float(v) for v in values])
        return real_stats(values)

    def recorded_critical(rows: Any, delta: float) -> Any:
        panels.append({r["prior"] for r in rows})
        return real_critical(rows, delta)

    monkeypatch.setattr(figures, "_stats", recorded_stats)
    monkeypatch.setattr(figures, "critical_rank_for", recorded_critical)
    path = plot_bound_vs_rank(both, tmp_path / "b.png", delta=0.025)
    assert _png_size(path) == (975, 1183)
    assert panels == [{"data_dependent"}, {"init"}]  # SweepPrior order, one mode per panel
    assert stats and all(max(v) < 2.0 or min(v) > 2.0 for v in stats)
