"""``lrbnn sweep``: the grid and its refusals, atomic point files, resuming (after deleted or torn
files and after kill -9), byte-identical results across runs and executors (sequential, two
spawned workers, a local dask cluster), and the assembled columns against independent twins.

Every sweep here is the smoke profile on a tiny teacher-student grid (6 points, well under a
second each), so the whole file stays within the CI budget; the process pool, the dask cluster
and the kill -9 subprocess pay mostly for starting Python and importing torch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lrbnn_core.certified_training import split_for_prior
from lrbnn_core.data import load_teacher_student
from theory.eym import tail_energy
from theory.pac_bayes import param_counts
from verification import sweep
from verification.cli import main
from verification.sweep import (
    COLUMNS,
    PointSpec,
    SweepError,
    grid,
    grid_penalty,
    make_spec,
    prepare_output,
    read_record,
    results_csv,
    run_point,
    run_sweep,
    tail_from_singular_values,
    write_record,
)
from verification.sweep_exec import PointFailed, execute
from verification.sweep_figures import BOUND_VS_RANK, COMPLEXITY_RATIO, read_results

#: The tiny grid every run of this file uses (and its command-line form).
TINY: dict[str, Any] = {
    "dataset": "teacher_student",
    "ranks": [1, 2],
    "widths": [8],
    "seeds": [0, 1],
    "profile": "smoke",
}
TINY_ARGV = [
    "sweep",
    "--dataset",
    "teacher_student",
    "--ranks",
    "1",
    "2",
    "--widths",
    "8",
    "--seeds",
    "0",
    "1",
    "--profile",
    "smoke",
    "--no-progress",
]
TINY_IDS = ["w8-s0-r1", "w8-s0-r2", "w8-s0-mf", "w8-s1-r1", "w8-s1-r2", "w8-s1-mf"]
#: Wall-clock guard for the tests that start other processes (a hang fails, never blocks CI).
PROCESS_TIMEOUT_S = 120
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail with TimeoutError if the block runs longer than ``seconds`` (SIGALRM, main thread)."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the test ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _run(out: Path, **options: Any) -> sweep.SweepReport:
    return run_sweep(make_spec(**TINY), out, progress=False, **options)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted sequential run of the tiny grid: the bytes every other run must equal."""
    out = tmp_path_factory.mktemp("reference")
    report = _run(out)
    assert (report.computed, report.reused) == (6, 0)
    return out


def _copy_sweep(src: Path, dst: Path) -> None:
    shutil.copytree(
        src, dst, ignore=shutil.ignore_patterns("results.csv", "figures", "timings.csv")
    )


# --- the grid and its refusals -----------------------------------------------------------------


def test_columns_order_is_pinned() -> None:
    """results.csv's column order is an interface: append new columns, never reorder."""
    assert COLUMNS == (
        "point_id", "dataset", "arch", "family", "rank", "layer_ranks", "width", "seed",
        "layer_shapes", "n_train", "n_bound", "params", "stochastic", "prior", "prior_scale",
        "test_error", "test_gibbs_error", "test_nll", "test_ece", "ood_auroc", "kl",
        "kl_per_coord_mean", "kl_per_coord_max", "mc_risk", "mc_risk_bound", "penalty",
        "mcallester", "kl_inverse", "catoni", "confidence", "gauge_gain", "spectral_norms",
        "tail_energy", "mf_tail_energy", "mf_tail_energy_rel", "predicted_ratio",
        "measured_ratio", "gc_restated", "gc_first_layer", "gc_first_layer_se",
        "gc_first_layer_restated",
    )  # fmt: skip


def test_grid_order_ids_and_penalty() -> None:
    spec = make_spec(**TINY)
    points = grid(spec)
    assert [p.point_id for p in points] == TINY_IDS
    # twin: count the choices a reader selects among (rank or MF, width, prior scale) directly
    choices = {(p.family, p.rank, p.width) for p in points}
    assert points[0].penalty == math.log(len(choices) * 3)
    assert grid_penalty(spec)[0] == points[0].penalty
    assert (
        "3 ranks (mean field counted as one) x 1 widths x 3 prior scales" in points[0].penalty_note
    )


def test_make_spec_defaults_fit_every_layer() -> None:
    assert make_spec().ranks == (1, 2, 4, 8, 16, 32)
    assert make_spec().widths == (64, 128) and make_spec().seeds == (0, 1)
    # the teacher-student inputs have 20 features: rank 32 does not fit the first layer
    assert make_spec(dataset="teacher_student").ranks == (1, 2, 4, 8, 16)
    assert make_spec(ranks=[4, 1, 2], widths=[128, 64]).ranks == (1, 2, 4)
    assert make_spec(arch="lstm").widths == make_spec(arch="transformer").widths == (32, 64)


@pytest.mark.parametrize(
    ("arch", "layer_ranks", "shapes"),
    [
        ("lstm", [1, 2, 2], "16x1;16x4;10x4"),
        ("transformer", [2] * 7, "4x4;4x4;4x4;4x4;8x4;4x8;10x4"),
    ],
)
def test_sequence_architectures_run(
    arch: str, layer_ranks: list[int], shapes: str, tmp_path: Path
) -> None:
    """The LSTM and the Transformer on sequences: every Bayesian matrix listed with its rank
    (the LSTM's input matrix has rank 1: scalar inputs); the MLP-only complexity cells blank."""
    spec = make_spec(**{**TINY, "arch": arch, "widths": [4], "seeds": [0]})
    report = run_sweep(spec, tmp_path, progress=False, figures=False)
    rows = read_results(report.results)
    assert [r["point_id"] for r in rows] == ["w4-s0-r1", "w4-s0-r2", "w4-s0-mf"]
    assert rows[1]["layer_ranks"] == layer_ranks and rows[1]["layer_shapes"] == shapes
    for row in rows:
        assert row["gc_restated"] is None and row["gc_first_layer"] is None
        assert row["arch"] == arch and 0.0 < row["kl_inverse"] <= row["mcallester"]


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
    ],
)
def test_cli_refuses_before_training_with_one_line(
    extra: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_training(point: PointSpec) -> dict[str, Any]:
        raise AssertionError("a refused sweep must not train")

    monkeypatch.setattr(sweep, "compute_point", no_training)
    out = tmp_path / "out"
    assert main([*TINY_ARGV, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lrbnn sweep: ") and message in err
    assert not out.exists()


def test_output_holding_another_sweep_is_refused(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = make_spec(**{**TINY, "ranks": [1]})
    with pytest.raises(SweepError, match=r"holds a different sweep \(ranks: \[1, 2\] there, \[1\]"):
        prepare_output(reference, other)
    before = sorted(p.name for p in (reference / "points").iterdir())
    argv = [a for a in TINY_ARGV if a != "2"]  # --ranks 1
    assert main([*argv, "--out", str(reference)]) == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert sorted(p.name for p in (reference / "points").iterdir()) == before
    # sweep files without meta.json, an unreadable meta.json, a file as --out
    (tmp_path / "a" / "points").mkdir(parents=True)
    with pytest.raises(SweepError, match=r"holds sweep files but no meta\.json"):
        prepare_output(tmp_path / "a", other)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "meta.json").write_text("{not json")
    with pytest.raises(SweepError, match=r"holds an unreadable meta\.json"):
        prepare_output(tmp_path / "b", other)
    (tmp_path / "c").write_text("")
    with pytest.raises(SweepError, match="is a file, not a folder"):
        prepare_output(tmp_path / "c", other)


# --- storage and resuming ----------------------------------------------------------------------


def test_outputs_of_a_run(reference: Path) -> None:
    points = reference / "points"
    assert sorted(p.name for p in points.iterdir()) == sorted(f"{i}.json" for i in TINY_IDS)
    meta = json.loads((reference / "meta.json").read_text())
    assert meta["arguments"] == make_spec(**TINY).arguments()
    assert meta["grid"] == TINY_IDS and meta["columns"] == list(COLUMNS)
    assert meta["versions"]["torch"] and meta["git_commit"]
    lines = (reference / "results.csv").read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and [ln.split(",")[0] for ln in lines[1:]] == TINY_IDS
    timings = (reference / "timings.csv").read_text().splitlines()
    assert timings[0] == "point_id,seconds,computed,host,pid" and len(timings) == 1 + 6 + 1
    assert "seconds" not in lines[0]  # wall times never reach results.csv
    for name in (BOUND_VS_RANK, COMPLEXITY_RATIO):
        assert (reference / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        side = json.loads((reference / "figures" / name).with_suffix(".json").read_text())
        assert side["figure"] == name and side["commit"] == meta["git_commit"]
        assert side["command"].startswith("lrbnn figures --sweep ")


def test_point_files_are_written_atomically(
    reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write interrupted before the rename leaves the old file (or none) and no temp file."""
    point = grid(make_spec(**TINY))[0]
    record = json.loads((reference / "points" / f"{point.point_id}.json").read_text())

    def crash(src: Any, dst: Any) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        write_record(tmp_path, point, record)
    assert list((tmp_path / "points").iterdir()) == []
    monkeypatch.undo()
    path = write_record(tmp_path, point, record)
    assert read_record(tmp_path, point) == record
    assert path.stat().st_mode & 0o777 == 0o666 & ~sweep._umask()
    with pytest.raises(ValueError, match="does not belong to grid point w8-s0-r2"):
        write_record(tmp_path, grid(make_spec(**TINY))[1], record)


def test_resume_computes_only_missing_points(
    reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleted, torn and foreign point files are recomputed, a stale temp file is removed, and
    every other point is reused; results.csv equals the uninterrupted run's byte for byte."""
    out = tmp_path / "resumed"
    _copy_sweep(reference, out)
    points = out / "points"
    (points / "w8-s0-r2.json").unlink()
    (points / "w8-s1-mf.json").write_text('{"format": "lrbnn-sweep-point", "ver')  # torn
    foreign = json.loads((points / "w8-s0-r1.json").read_text())
    (points / "w8-s1-r1.json").write_text(json.dumps(foreign))  # another point's record
    (points / ".w8-s1-r2.json.abc123.tmp").write_text('{"trunc')  # a write killed mid-way
    calls: list[str] = []

    def counting(point: PointSpec) -> dict[str, Any]:
        calls.append(point.point_id)
        return run_point(point)

    report = run_sweep(make_spec(**TINY), out, progress=False, point_fn=counting)
    assert sorted(calls) == ["w8-s0-r2", "w8-s1-mf", "w8-s1-r1"]
    assert (report.computed, report.reused) == (3, 3)
    assert not list(points.glob(".*.tmp"))
    assert "is unreadable; recomputing it" in capsys.readouterr().err
    assert (out / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()
    again = run_sweep(make_spec(**TINY), out, progress=False, point_fn=counting, figures=False)
    assert again.computed == 0 and len(calls) == 3


def test_two_runs_are_byte_identical(reference: Path, tmp_path: Path) -> None:
    """Results and figures depend only on the arguments: a fresh run reproduces every byte."""
    _run(tmp_path)
    for name in ("results.csv", f"figures/{BOUND_VS_RANK}", f"figures/{COMPLEXITY_RATIO}"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name


def test_two_workers_equal_sequential(reference: Path, tmp_path: Path) -> None:
    with _deadline(PROCESS_TIMEOUT_S):
        report = _run(tmp_path, workers=2, figures=False)
    assert report.computed == 6
    assert (tmp_path / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_dask_local_cluster_equals_local_run(reference: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with _deadline(PROCESS_TIMEOUT_S):
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster:
            report = _run(tmp_path, scheduler=cluster.scheduler_address, figures=False)
    assert report.computed == 6
    assert (tmp_path / "results.csv").read_bytes() == (reference / "results.csv").read_bytes()


def test_kill_9_then_resume_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m verification sweep`` killed with SIGKILL right after its first point file
    appears, then rerun: only the missing points are computed and results.csv is identical to
    an uninterrupted run's. (Four seeds: 12 points leave the kill a window of about a second.)"""
    argv = [*TINY_ARGV[: TINY_ARGV.index("--seeds") + 1], "0", "1", "2", "3"]
    argv += TINY_ARGV[TINY_ARGV.index("--profile") :]
    uninterrupted = tmp_path / "uninterrupted"
    run_sweep(make_spec(**{**TINY, "seeds": [0, 1, 2, 3]}), uninterrupted, progress=False)
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "verification", *argv, "--out", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT_S
        while not list((out / "points").glob("*.json")):
            assert proc.poll() is None, "the sweep ended before writing a point"
            assert time.monotonic() < deadline, "no point file appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = sorted(p.stem for p in (out / "points").glob("*.json"))
    assert 1 <= len(done) < 12, done
    assert not (out / "results.csv").exists()
    assert main([*argv, "--out", str(out)]) == 0
    summary = capsys.readouterr().out
    assert f"12 grid points, {12 - len(done)} computed now, {len(done)} found" in summary
    assert (out / "results.csv").read_bytes() == (uninterrupted / "results.csv").read_bytes()


def test_sweep_without_mean_field_leaves_the_joined_columns_blank(tmp_path: Path) -> None:
    report = run_sweep(
        make_spec(**{**TINY, "ranks": [1], "seeds": [0], "mean_field": False}),
        tmp_path,
        progress=False,
    )
    (row,) = read_results(report.results)
    assert row["point_id"] == "w8-s0-r1" and row["penalty"] == math.log(1 * 1 * 3)
    for column in ("mf_tail_energy", "mf_tail_energy_rel", "predicted_ratio", "measured_ratio"):
        assert row[column] is None
    assert [p.name for p in report.figures] == [BOUND_VS_RANK, "bound_vs_rank.json"]


def test_a_failing_point_is_named_and_finished_points_are_kept(tmp_path: Path) -> None:
    def flaky(point: PointSpec) -> dict[str, Any]:
        if point.point_id == "w8-s0-mf":
            raise FloatingPointError("NaN loss")
        return run_point(point)

    with pytest.raises(PointFailed, match="grid point w8-s0-mf failed: NaN loss"):
        _run(tmp_path, point_fn=flaky, figures=False)
    assert sorted(p.stem for p in (tmp_path / "points").glob("*.json")) == ["w8-s0-r1", "w8-s0-r2"]


def test_execute_calls_back_once_per_point() -> None:
    seen: list[tuple[str, int]] = []
    pts = [PointSpec("d", "mlp", "low_rank", r, 8, 0, "smoke", 0.0, "") for r in (1, 2, 3)]
    fn: Callable[[PointSpec], int] = lambda p: (p.rank or 0) * 10  # noqa: E731
    assert execute(pts, fn, lambda p, r: seen.append((p.point_id, r)), progress=False) == 3
    assert seen == [("w8-s0-r1", 10), ("w8-s0-r2", 20), ("w8-s0-r3", 30)]
    assert execute([], fn, lambda p, r: None, progress=False) == 0


# --- the columns against twins -----------------------------------------------------------------


def test_cells_are_repr_exact() -> None:
    rows = [dict.fromkeys(COLUMNS)]
    rows[0].update({"point_id": "x", "kl": 0.1 + 0.2, "rank": 3, "spectral_norms": [1 / 3, 2.0]})
    text = results_csv(rows).decode()
    cells = dict(zip(COLUMNS, text.splitlines()[1].split(","), strict=True))
    assert float(cells["kl"]) == 0.1 + 0.2 and cells["rank"] == "3"
    assert [float(v) for v in cells["spectral_norms"].split(";")] == [1 / 3, 2.0]
    assert cells["measured_ratio"] == ""
    rows[0]["kl"] = float("nan")
    with pytest.raises(ValueError, match="a results cell is not finite: nan"):
        results_csv(rows)


def test_tail_from_singular_values_matches_eym(rng: np.random.Generator) -> None:
    """Twin: theory.eym.tail_energy on the matrix itself (same float64 algorithm, so equal up
    to the SVD's rounding, a few ulps of the largest singular value)."""
    for m, n in ((5, 3), (4, 9), (6, 6)):
        w = rng.standard_normal((m, n))
        s = np.linalg.svd(w, compute_uv=False)
        for r in range(min(m, n) + 1):
            assert tail_from_singular_values(s, r) == pytest.approx(
                tail_energy(w, r), rel=1e-12, abs=64 * np.finfo(float).eps * s[0]
            )


def test_assembled_columns_against_twins(reference: Path) -> None:
    """Predicted ratios from parameter counts (theory.pac_bayes.param_counts, biases added),
    measured ratios and tails from the mean-field point's own record, the per-coordinate KLs
    summing to the certificate's KL, and the restated one-layer complexity by hand."""
    rows = {r["point_id"]: r for r in read_results(reference / "results.csv")}
    spec = make_spec(**TINY)
    for point in grid(spec):
        row = rows[point.point_id]
        record = read_record(reference, point)
        assert record is not None
        # the certificate's KL (float64 from float32 parameters) is the per-coordinate sum
        assert record["kl_sum_check"] == pytest.approx(row["kl"], rel=1e-5, abs=1e-9)
        assert row["kl_per_coord_mean"] == row["kl"] / row["stochastic"]
        assert row["penalty"] == point.penalty and row["n_bound"] == 100
        assert 0.0 <= row["test_error"] <= 1.0 and row["kl_inverse"] <= row["mcallester"]
        shapes = [tuple(int(d) for d in s.split("x")) for s in row["layer_shapes"].split(";")]
        assert shapes == [(8, 20), (8, 8), (10, 8)]
        data = load_teacher_student(seed=point.seed, n_train=200, n_test=100, n_ood=100)
        _, bound = split_for_prior(200, 0.5, point.seed)
        x = data.x_train[bound].double().numpy()[:50]
        c1 = row["spectral_norms"][0]
        r1 = min(point.rank or 8, 8)  # mean field: the full rank min(8, 20)
        by_hand = c1 * c1 * math.sqrt(r1 * 8) * float(np.linalg.norm(x)) / 50  # C0 = 1
        assert row["gc_first_layer_restated"] == pytest.approx(by_hand, rel=1e-12)
        if point.family == "mean_field":
            assert row["tail_energy"] is None and row["predicted_ratio"] is None
            continue
        mf = rows[f"w8-s{point.seed}-mf"]
        mf_record = read_record(reference, grid(spec)[2 if point.seed == 0 else 5])
        assert mf_record is not None
        counts = [param_counts(m, n, min(point.rank, m, n)) for m, n in shapes]
        biases = sum(m for m, _ in shapes)
        d_lr = sum(c["d_low_rank"] for c in counts) + biases
        d_mf = sum(c["d_full"] for c in counts) + biases
        assert (row["stochastic"], mf["stochastic"]) == (d_lr, d_mf)
        assert row["predicted_ratio"] == math.sqrt(d_lr / d_mf)
        assert row["measured_ratio"] == math.sqrt(row["kl"] / mf["kl"])
        for layer, (s, r) in enumerate(
            zip(mf_record["singular_values"], row["layer_ranks"], strict=True)
        ):
            assert row["mf_tail_energy"][layer] == tail_from_singular_values(s, int(r))
            frob = math.sqrt(sum(v * v for v in s))
            assert row["mf_tail_energy_rel"][layer] == pytest.approx(
                row["mf_tail_energy"][layer] / frob, rel=1e-14
            )
        # the model's own mean weights have rank <= r: its tail is float32 rounding
        assert max(row["tail_energy"]) < 1e-5 * max(row["spectral_norms"])


def test_points_compute_single_threaded_and_restore_the_counts() -> None:
    """Inside a point: one torch thread and one BLAS thread; afterwards the caller's counts."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas() -> list[int]:
        return [int(i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"]

    # two BLAS threads to start from (CI exports OPENBLAS_NUM_THREADS=1), so that the limit shows
    outer = threadpool_limits(limits=2, user_api="blas")
    try:
        torch_before, blas_before = torch.get_num_threads(), blas()
        assert blas_before and set(blas_before) == {2}
        with sweep._single_threaded():
            inside = (torch.get_num_threads(), blas())
        assert inside == (1, [1] * len(blas_before))
        assert (torch.get_num_threads(), blas()) == (torch_before, blas_before)
    finally:
        outer.restore_original_limits()


def test_thread_limit_is_counted_across_points_sharing_a_process() -> None:
    """Points sharing a process (a dask worker with several threads): torch's count belongs to
    each thread and is restored there; the process-wide BLAS limit is lifted by the last point
    to leave, not the first."""
    import threading

    import torch

    limit = sweep._single_threaded
    torch_before = torch.get_num_threads()
    seen: dict[str, Any] = {}
    first_in, main_out = threading.Event(), threading.Event()

    def other_point() -> None:
        with limit():
            first_in.set()
            main_out.wait(timeout=30)
            seen["other"] = torch.get_num_threads()

    worker = threading.Thread(target=other_point)
    worker.start()
    assert first_in.wait(timeout=30)
    with limit():
        seen["main"] = (torch.get_num_threads(), limit._users)
    seen["main after"] = (torch.get_num_threads(), limit._users, limit._blas is not None)
    main_out.set()
    worker.join(timeout=30)
    assert seen == {"main": (1, 2), "main after": (torch_before, 1, True), "other": 1}
    assert (limit._users, limit._blas) == (0, None)
