"""``verification.sweep.spec``: the grid (order, ids, the union-bound penalty), the defaults,
and the refusals of nonsense arguments, from Python and from the command line (one line, exit
2, before any training)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from lrbnn_core.certified_training import GridSettings
from tests.verification.sweep.tiny import TINY, TINY_ARGV, TINY_IDS
from verification.cli import main
from verification.sweep import PointSpec, SweepError, grid, grid_penalty, make_spec
from verification.sweep import point as sweep_point


def test_grid_order_ids_and_penalty() -> None:
    spec = make_spec(**TINY)
    points = grid(spec)
    assert [p.point_id for p in points] == TINY_IDS
    # twin: count the choices a reader selects among (rank or MF, width, prior scale) directly
    choices = {(p.family, p.rank, p.width) for p in points}
    assert points[0].penalty == math.log(len(choices) * len(GridSettings().std_scales))
    assert grid_penalty(spec)[0] == points[0].penalty
    assert (
        "3 ranks (mean field counted as one) x 1 widths x 1 prior scales" in points[0].penalty_note
    )


def test_make_spec_defaults_fit_every_layer() -> None:
    assert make_spec().ranks == (1, 2, 4, 8, 16, 32)
    assert make_spec().widths == (64, 128) and make_spec().seeds == (0, 1)
    # the teacher-student inputs have 20 features: rank 32 does not fit the first layer
    assert make_spec(dataset="teacher_student").ranks == (1, 2, 4, 8, 16)
    assert make_spec(ranks=[4, 1, 2], widths=[128, 64]).ranks == (1, 2, 4)
    assert make_spec(arch="lstm").widths == make_spec(arch="transformer").widths == (32, 64)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dataset": "mnist2d"}, r"`--dataset` must be one of 'mnist1d', 'digits', 'teacher_stu"),
        ({"arch": "cnn"}, r"`--arch` must be one of 'mlp', 'lstm', 'transformer'; got 'cnn'"),
        ({"profile": "huge"}, r"`--profile` must be one of 'quick', 'thorough', 'smoke'"),
        ({"widths": []}, r"`--widths` is empty: the grid has no point"),
        ({"seeds": []}, r"`--seeds` is empty: the grid has no point"),
        ({"ranks": [], "mean_field": False}, r"the grid is empty: no `--ranks` and `--no-mean"),
        ({"ranks": [48], "widths": [64]}, r"`--ranks` 48 is above min\(in, out\) of the first "),
        ({"ranks": [16], "widths": [8], "arch": "lstm"}, r"`--ranks` 16 is above the width 8"),
        ({"ranks": [16], "widths": [64, 8]}, r"`--ranks` 16 is above the width 8"),
        ({"ranks": [2, 2]}, r"`--ranks` lists 2 twice"),
        ({"ranks": [0]}, r"`--ranks` values must be ints in \[1, inf\]; got 0"),
        ({"seeds": [-1]}, r"`--seeds` values must be ints in \[0, 4294967295\]; got -1"),
        ({"widths": [0]}, r"`--widths` values must be ints in \[1, inf\]; got 0"),
    ],
)
def test_make_spec_refuses_nonsense(options: dict[str, Any], message: str) -> None:
    with pytest.raises(SweepError, match=message):
        make_spec(**options)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ranks", "64", "--widths", "8"], "`--ranks` 64 is above"),
        (["--dataset", "cifar"], "`--dataset` must be one of"),
        (["--ranks", "--no-mean-field"], "the grid is empty"),
        (["--workers", "0"], "`--workers` must be an int >= 1; got 0"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "`--workers` is for local runs"),
        (["--prior", "flat"], "`--prior` must be one of 'data-dependent', 'init', 'zero', "
                              "'scale-mixture'; got 'flat'"),
        (["--prior"], "`--prior` is empty"),
        (["--prior", "init", "--pbb"], "`--pbb` is a data-dependent recipe"),
    ],
)  # fmt: skip
def test_cli_refuses_before_training_with_one_line(
    extra: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_training(point: PointSpec) -> dict[str, Any]:
        raise AssertionError("a refused sweep must not train")

    monkeypatch.setattr(sweep_point, "compute_point", no_training)
    out = tmp_path / "out"
    assert main([*TINY_ARGV, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrbnn sweep: ") and message in err
    assert not out.exists()
