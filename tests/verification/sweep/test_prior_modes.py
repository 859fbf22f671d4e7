"""``lrbnn sweep --prior``: prior modes as a dimension of the grid (issue 17). Several modes at
once, their point ids and union-bound penalty (a twin that counts the choices directly), the
``prior`` column and its schema, one-line refusals, and the default grid left as it was."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lrbnn_core.certified_training import GridSettings
from lrbnn_core.prior_modes import INIT_STDS, ZERO_STDS, PriorMode
from tests.verification.sweep.tiny import TINY, TINY_ARGV, TINY_IDS
from verification.cli import main
from verification.sweep import (
    COLUMNS,
    DEFAULT_PRIORS,
    SweepError,
    SweepPrior,
    grid,
    grid_penalty,
    make_spec,
    parse_results,
    read_results,
    run_sweep,
)

ALL = ["data-dependent", "init", "zero", "scale-mixture"]
#: the priors each mode chooses among, counted by hand from the documented grids
CHOICES = {"data_dependent": 1, "init": 3, "zero": 3, "scale_mixture": 1}
#: a small multi-prior grid: one rank and the mean field, one seed, three modes (6 points)
SMALL: dict[str, Any] = {**TINY, "ranks": [1], "seeds": [0]}
SMALL_PRIORS = ["scale-mixture", "data-dependent", "init"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("priors")
    report = run_sweep(make_spec(**SMALL, priors=SMALL_PRIORS), out, progress=False)
    assert (report.computed, report.reused) == (6, 0)
    return out


def test_modes_match_the_library() -> None:
    assert [p.value for p in SweepPrior] == [m.value for m in PriorMode]
    assert CHOICES["init"] == len(INIT_STDS) and CHOICES["zero"] == len(ZERO_STDS)
    assert len(GridSettings().std_scales) == CHOICES["data_dependent"]


def test_several_modes_are_grid_dimensions_with_ids_and_one_penalty() -> None:
    spec = make_spec(**TINY, priors=list(reversed(ALL)))
    assert spec.priors == tuple(SweepPrior)  # sorted into SweepPrior order
    points = grid(spec)
    suffixes = ["", "-init", "-zero", "-scale-mixture"]
    expected = [
        f"w8-s{seed}-{tail}{suffix}"
        for seed in (0, 1)
        for suffix in suffixes
        for tail in ("r1", "r2", "mf")
    ]
    assert [p.point_id for p in points] == expected
    assert [p.point_id for p in points if p.prior == "data_dependent"] == TINY_IDS
    # twin: every (width, rank or MF, prior) a reader selects among, counted directly
    selectable = {
        (p.width, p.family, p.rank, p.prior, k) for p in points for k in range(CHOICES[p.prior])
    }
    assert len(selectable) == 1 * 3 * (1 + 3 + 3 + 1)
    assert {p.penalty for p in points} == {math.log(len(selectable))}
    note = points[0].penalty_note
    assert "x 8 priors (data-dependent: 1 prior scale, init: 3 stds, zero: 3 stds, " in note
    assert spec.arguments()["priors"] == ["data_dependent", "init", "zero", "scale_mixture"]
    with_pbb = make_spec(**TINY, priors=["init", "data-dependent"], pbb=True)
    ids = [p.point_id for p in grid(with_pbb)]
    assert ids[:8] == ["w8-s0-r1", "w8-s0-r2", "w8-s0-mf", "w8-s0-pbb", "w8-s0-r1-init",
                       "w8-s0-r2-init", "w8-s0-mf-init", "w8-s1-r1"]  # fmt: skip
    assert grid_penalty(with_pbb)[0] == pytest.approx(math.log(3 * (1 + 3) + 3), rel=1e-15)


def test_the_default_grid_is_the_data_dependent_one() -> None:
    default = make_spec(**TINY)
    explicit = make_spec(**TINY, priors=["data_dependent"])
    assert default == explicit and default.priors == DEFAULT_PRIORS
    assert grid(default) == grid(explicit)
    assert [p.point_id for p in grid(default)] == TINY_IDS
    assert grid_penalty(default) == (
        math.log(3),
        "uniform union over 3 ranks (mean field counted as one) x 1 widths x 1 prior scales",
    )
    point = grid(default)[0]
    assert point.prior == "data_dependent" and point.as_dict()["prior"] == "data_dependent"


@pytest.mark.parametrize(
    ("priors", "message"),
    [
        (["flat"], r"`--prior` must be one of 'data-dependent', 'init', 'zero', 'scale-mixture'; "
                   r"got 'flat'"),
        ([], r"`--prior` is empty: the grid has no point"),
        (["init", "init"], r"`--prior` lists init twice"),
        (["init", "scale_mixture", "scale-mixture"], r"`--prior` lists scale-mixture twice"),
        ("init", r"`--prior` must be a list of prior modes; got 'init'"),
    ],
)  # fmt: skip
def test_bad_modes_are_refused(priors: Any, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        make_spec(**TINY, priors=priors)


def test_pbb_needs_the_data_dependent_mode() -> None:
    with pytest.raises(SweepError, match=r"`--pbb` is a data-dependent recipe, run once beside"):
        make_spec(**TINY, priors=["init"], pbb=True)


def test_cli_takes_several_modes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line reaches make_spec with every mode (the grid is not trained here)."""
    seen: list[Any] = []

    def record(spec: Any, out: Any, **options: Any) -> Any:
        seen.append(spec)
        raise SweepError("stop here")

    monkeypatch.setattr("verification.sweep.run_sweep", record)
    argv = [*TINY_ARGV, "--out", str(tmp_path / "o"), "--prior", "zero", "data-dependent"]
    assert main(argv) == 2
    assert seen[0].priors == (SweepPrior.DATA_DEPENDENT, SweepPrior.ZERO)


def test_a_multi_prior_sweep_records_each_mode(small: Path) -> None:
    rows = {r["point_id"]: r for r in read_results(small / "results.csv")}
    assert list(rows) == ["w8-s0-r1", "w8-s0-mf", "w8-s0-r1-init", "w8-s0-mf-init",
                          "w8-s0-r1-scale-mixture", "w8-s0-mf-scale-mixture"]  # fmt: skip
    penalty = math.log(1 * 2 * (1 + 3 + 1))
    for pid, row in rows.items():
        prior = "data_dependent" if pid in ("w8-s0-r1", "w8-s0-mf") else row["prior"]
        assert row["prior"] == prior and pid.endswith(SweepPrior(prior).suffix)
        assert row["penalty"] == pytest.approx(penalty, rel=1e-15)
        data_free = prior != "data_dependent"
        # data-free priors certify on every training example; the data-dependent on half
        assert row["n_bound"] == (row["n_train"] if data_free else row["n_train"] // 2)
    assert rows["w8-s0-r1-init"]["prior_scale"] in INIT_STDS
    assert rows["w8-s0-mf-scale-mixture"]["prior_scale"] is None
    # the complexity ratio joins a low-rank point to the mean field of its own prior mode
    for tail in ("", "-init", "-scale-mixture"):
        low, mf = rows[f"w8-s0-r1{tail}"], rows[f"w8-s0-mf{tail}"]
        assert low["measured_ratio"] == pytest.approx(math.sqrt(low["kl"] / mf["kl"]), rel=1e-12)
    # the scale mixture's certified KL is its closed-form bound: at least ln 2 per scalar
    mixture = rows["w8-s0-r1-scale-mixture"]
    assert mixture["kl"] >= mixture["stochastic"] * math.log(2.0)
    meta = json.loads((small / "meta.json").read_text())
    assert meta["arguments"]["priors"] == ["data_dependent", "init", "scale_mixture"]
    assert set(meta["prior"]) == {"data_dependent", "init", "scale_mixture"}
    assert meta["settings"]["data_free"]["init_stds"] == list(INIT_STDS)
    record = json.loads((small / "points" / "w8-s0-r1-init.json").read_text())
    assert record["point"]["prior"] == "init"
    assert record["kl_sum_check"] == pytest.approx(rows["w8-s0-r1-init"]["kl"], rel=1e-6)
    mix = json.loads((small / "points" / "w8-s0-r1-scale-mixture.json").read_text())
    assert mix["kl_sum_check"] == pytest.approx(mixture["kl"], rel=1e-6)


def _edited(small: Path, tmp_path: Path, pid: str, column: str, value: str) -> Path:
    lines = (small / "results.csv").read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(pid + ","))
    cells = lines[row].split(",")
    cells[COLUMNS.index(column)] = value
    lines[row] = ",".join(cells)
    path = tmp_path / "results.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("pid", "column", "value", "message"),
    [
        ("w8-s0-r1-init", "prior", "flat", "column `prior` holds the unknown prior 'flat'"),
        ("w8-s0-r1-init", "prior_scale", "", "column `prior_scale` is None for prior 'init'"),
        ("w8-s0-mf-scale-mixture", "prior_scale", "1.0", "column `prior_scale` is 1.0 for pr"),
        ("w8-s0-r1-init", "n_bound", "100", "column `n_bound` is 100 under the data-free prior"),
    ],
)
def test_the_schema_checks_the_prior_columns(
    small: Path, tmp_path: Path, pid: str, column: str, value: str, message: str
) -> None:
    assert parse_results(small / "results.csv")  # the unedited file parses
    with pytest.raises(SweepError, match=None) as exc:
        parse_results(_edited(small, tmp_path, pid, column, value))
    assert message in str(exc.value)


def test_explicit_data_dependent_mode_is_the_default_byte_for_byte(
    reference: Path, tmp_path: Path
) -> None:
    """``--prior data-dependent`` is the default grid: same ids, penalty and results.csv bytes
    as the reference run (whose rows carry the prior column "data_dependent")."""
    report = run_sweep(make_spec(**TINY, priors=["data-dependent"]), tmp_path, progress=False)
    assert report.computed == len(TINY_IDS)
    assert (tmp_path / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    rows = read_results(reference / "results.csv")
    assert [r["point_id"] for r in rows] == TINY_IDS
    assert {r["prior"] for r in rows} == {"data_dependent"}
