"""``verification.sweep.columns``: the pinned column order, repr-exact cells, and the
assembled columns against independent twins."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lrbnn_core.certified_training import split_for_prior
from lrbnn_core.data import load_teacher_student
from tests.verification.sweep.tiny import TINY
from theory.pac_bayes import param_counts
from verification.sweep import (
    BOUND_VS_RANK,
    COLUMNS,
    grid,
    make_spec,
    read_record,
    read_results,
    results_csv,
    run_sweep,
    tail_from_singular_values,
)


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
        "gc_first_layer_restated", "layer_stochastic", "layer_kl", "layer_kl_per_coord",
        "layer_kl_per_coord_max", "layer_predicted_ratio", "layer_measured_ratio",
        "layer_kl_per_coord_ratio", "layer_kl_per_coord_max_ratio",
    )  # fmt: skip


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


def test_sweep_without_mean_field_leaves_the_joined_columns_blank(tmp_path: Path) -> None:
    report = run_sweep(
        make_spec(**{**TINY, "ranks": [1], "seeds": [0], "mean_field": False}),
        tmp_path,
        progress=False,
    )
    (row,) = read_results(report.results)
    assert row["point_id"] == "w8-s0-r1" and row["penalty"] == math.log(1 * 1 * 1)
    for column in ("mf_tail_energy", "mf_tail_energy_rel", "predicted_ratio", "measured_ratio"):
        assert row[column] is None
    assert [p.name for p in report.figures] == [BOUND_VS_RANK, "bound_vs_rank.json"]
