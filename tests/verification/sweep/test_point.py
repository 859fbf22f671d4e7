"""``verification.sweep.point``: the sequence architectures run, the tail energy from
singular values against its twin, and the one-thread limit every point runs under."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.verification.sweep.tiny import TINY
from theory.eym import tail_energy
from verification.sweep import make_spec, read_results, run_sweep, tail_from_singular_values
from verification.sweep.point import _single_threaded


@pytest.mark.parametrize(
    ("arch", "layer_ranks", "shapes"),
    [
        ("lstm", [1, 2, 2], "16x1;16x4;10x4"),
        ("transformer", [2] * 7, "4x4;4x4;4x4;4x4;8x4;4x8;10x4"),
    ],
)
def test_sequence_architecturesrun_tiny(
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
        with _single_threaded():
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

    limit = _single_threaded
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
