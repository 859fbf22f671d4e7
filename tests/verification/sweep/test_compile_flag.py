"""``lrbnn sweep --compile``: the flag reaches every grid point's settings and its trainers (the
low-rank points' dropout ERM and bound training run the compiled loops, the mean-field points
the eager ones), it is part of the sweep's identity (a folder never mixes compiled and eager
points), and it is refused where nothing would be compiled (sequence models). The compiled
loops' numbers are tested in tests/lrbnn_core/test_compiled_loops.py."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import lrbnn_core.erm_prior as erm_prior
import lrbnn_core.objectives.compiled as cbound
import lrbnn_core.objectives.trainer as trainer
import lrbnn_core.training._compiling as compiling
import lrbnn_core.training.compiled_erm as cerm
from tests.verification.sweep.tiny import TINY, TINY_ARGV
from verification.cli import main
from verification.sweep import PointSpec, SweepError, grid, make_spec, prepare_output
from verification.sweep import point as sweep_point
from verification.sweep.budgets import _settings


def test_the_flag_reaches_every_point_and_the_sweeps_identity() -> None:
    spec = make_spec(**TINY, compile=True)
    assert spec.arguments()["compile"] is True
    assert make_spec(**TINY).arguments()["compile"] is False
    assert all(p.compile for p in grid(spec))
    # the compiled loops train low-rank MLPs: the mean-field points' trainers run eagerly
    assert [_settings(p).compile for p in grid(spec)] == [
        p.family == "low_rank" for p in grid(spec)
    ]
    assert not any(p.compile or _settings(p).compile for p in grid(make_spec(**TINY)))


def test_a_folder_of_eager_points_refuses_a_compiled_run(reference: Path) -> None:
    with pytest.raises(SweepError, match=r"holds a different sweep \(compile: False there, True"):
        prepare_output(reference, make_spec(**TINY, compile=True))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"compile": True, "arch": "lstm"}, "`--compile` compiles MLPs' training loops only"),
        ({"compile": 1}, "`compile` must be a bool; got 1"),
    ],
)
def test_make_spec_refuses_a_flag_that_compiles_nothing(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(SweepError, match=message):
        make_spec(**options)


def test_the_cli_refuses_compiling_a_sequence_sweep_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main([*TINY_ARGV, "--out", str(out), "--compile", "--arch", "lstm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "`--compile` compiles MLPs' training loops only" in err
    assert not out.exists()


@pytest.mark.parametrize("compile", [True, False])
def test_a_compiled_points_trainers_run_the_compiled_loops(
    compile: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the compiled loops' functions run uncompiled here (fast, no compiler needed): this test
    # checks the wiring, not the compiler
    monkeypatch.setattr(cerm, "compile_dynamic", lambda fn: fn)
    monkeypatch.setattr(cbound, "compile_dynamic", lambda fn: fn)
    monkeypatch.setattr(erm_prior, "compiler_available", lambda: True)
    monkeypatch.setattr(trainer, "compiler_available", lambda: True)
    monkeypatch.setattr(compiling, "_WARNED", set())
    calls: list[str] = []
    run_erm, terms = cerm.run_compiled_erm, cbound.BoundTerms.__call__

    def erm_spy(*args: Any, **kw: Any) -> None:
        calls.append("erm")
        run_erm(*args, **kw)

    def terms_spy(self: Any, *args: Any) -> Any:
        if "bound" not in calls:
            calls.append("bound")
        return terms(self, *args)

    monkeypatch.setattr(erm_prior, "run_compiled_erm", erm_spy)
    monkeypatch.setattr(cbound.BoundTerms, "__call__", terms_spy)
    points: list[PointSpec] = grid(make_spec(**{**TINY, "seeds": [0]}, compile=compile))
    low_rank = next(p for p in points if p.family == "low_rank")
    sweep_point.compute_point(low_rank)
    assert calls == (["erm", "bound"] if compile else [])
    calls.clear()
    mean_field = next(p for p in points if p.family == "mean_field")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sweep_point.compute_point(mean_field)
    assert calls == []
    # not asked to compile (the sweep's low-rank points only are), so no warning either
    assert not any("compiled" in str(w.message) for w in seen)
