"""The T3.8p columns of every sweep row (``verification.sweep.premise``): per-layer,
gauge-balanced per-coordinate KLs at the point and the per-layer predicted and measured
complexity ratios at assembly, against independent twins (parameter counts by hand, the
network-level columns, the point's own per-coordinate KLs), with mutants that the checks catch."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lrbnn_core.base import bayesian_modules, model_kl
from lrbnn_core.certified_training import GridSettings, train_and_certify
from lrbnn_core.data import load_teacher_student
from lrbnn_core.gauge.balance import balance_gauge
from lrbnn_core.models import MLP
from lrbnn_core.prior_modes import data_free_start, train_and_certify_data_free
from tests.verification.sweep.tiny import TINY
from verification.sweep import grid, make_spec, read_record, read_results, run_sweep
from verification.sweep import premise as premise_module
from verification.sweep.premise import coordinate_kls, layer_kls, layer_ratios
from verification.sweep.schema import validate_record

#: three prior modes, two ranks and the mean field, one seed: 9 points of the smoke profile
MODES = ["data-dependent", "init", "scale-mixture"]
GRID: dict[str, Any] = {**TINY, "seeds": [0]}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("premise")
    report = run_sweep(make_spec(**GRID, priors=MODES), out, progress=False)
    assert (report.computed, report.reused) == (9, 0)
    return out


def _d_by_hand(m: int, n: int, rank: int | None) -> int:
    """Stochastic scalars of an m x n layer with Bayesian biases: r(m + n) + m or mn + m."""
    return (rank * (m + n) if rank is not None else m * n) + m


def test_layer_columns_against_twins(sweep: Path) -> None:
    rows = {r["point_id"]: r for r in read_results(sweep / "results.csv")}
    spec = make_spec(**GRID, priors=MODES)
    for point in grid(spec):
        row = rows[point.point_id]
        record = read_record(sweep, point)
        assert record is not None
        shapes = [tuple(int(d) for d in s.split("x")) for s in row["layer_shapes"].split(";")]
        ranks = row["layer_ranks"] or [None] * len(shapes)
        assert row["layer_stochastic"] == [
            _d_by_hand(m, n, r) for (m, n), r in zip(shapes, ranks, strict=True)
        ]
        assert sum(row["layer_stochastic"]) == row["stochastic"]
        # the certificate's KL, summed by layer: the point's own per-coordinate sum, and cert.kl
        assert math.fsum(row["layer_kl"]) == pytest.approx(record["kl_sum_check"], rel=1e-12)
        assert math.fsum(row["layer_kl"]) == pytest.approx(row["kl"], rel=1e-5, abs=1e-9)
        assert row["layer_kl_per_coord"] == [
            k / d for k, d in zip(row["layer_kl"], row["layer_stochastic"], strict=True)
        ]
        assert max(row["layer_kl_per_coord_max"]) == row["kl_per_coord_max"]
        joined = (
            "layer_predicted_ratio",
            "layer_measured_ratio",
            "layer_kl_per_coord_ratio",
            "layer_kl_per_coord_max_ratio",
        )
        if point.family == "mean_field":
            assert all(row[c] is None for c in joined)
            continue
        mf = rows[point.point_id.replace(f"-r{point.rank}", "-mf")]
        assert mf["family"] == "mean_field" and mf["prior"] == row["prior"]
        for i, ((m, n), r) in enumerate(zip(shapes, ranks, strict=True)):
            predicted = math.sqrt(_d_by_hand(m, n, r) / _d_by_hand(m, n, None))
            assert row["layer_predicted_ratio"][i] == pytest.approx(predicted, rel=1e-15)
            measured = math.sqrt(row["layer_kl"][i] / mf["layer_kl"][i])
            assert row["layer_measured_ratio"][i] == measured
            # T3.8p's identity: measured = predicted x sqrt(C_mean^LR / C_mean^MF)
            identity = predicted * math.sqrt(row["layer_kl_per_coord_ratio"][i])
            assert row["layer_measured_ratio"][i] == pytest.approx(identity, rel=1e-12)
            assert row["layer_kl_per_coord_max_ratio"][i] == (
                row["layer_kl_per_coord_max"][i] / mf["layer_kl_per_coord_max"][i]
            )
        # the network's ratios are the layers' pooled
        pooled = math.fsum(row["layer_kl"]) / math.fsum(mf["layer_kl"])
        assert row["measured_ratio"] ** 2 == pytest.approx(pooled, rel=1e-5)


def _tiny_data() -> Any:
    return load_teacher_student(seed=0, n_train=120, n_test=40, n_ood=40)


def _build(rank: int) -> Any:
    return lambda gen: MLP((20, 8, 8, 10), "low_rank", rank=rank, generator=gen)


@pytest.mark.parametrize("prior", ["data_dependent", "init", "scale_mixture"])
def test_the_certified_low_rank_posterior_is_gauge_balanced(prior: str) -> None:
    """The posterior whose KLs a row records is balanced: balancing it again saves nothing
    (float32 rounding) and leaves the per-layer KLs where they were; an unbalanced copy (the
    mutant: mean factors A x 3 and B / 3, the same mean weights) is caught by the same check."""
    settings = GridSettings(hidden=(8, 8), n_mc=10, n_test_mc=2, prior_epochs=1,
                            posterior_epochs=2)  # fmt: skip
    common = {"family": "low_rank", "rank": 2, "penalty": math.log(3), "penalty_note": "3",
              "settings": settings, "seed": 0, "build": _build(2), "progress": False}  # fmt: skip
    if prior == "data_dependent":
        _, model = train_and_certify(_tiny_data(), **common)
    else:
        _, model = train_and_certify_data_free(_tiny_data(), prior=prior, **common)
    before = layer_kls(model)
    again = copy.deepcopy(model)
    gain = balance_gauge(again)
    assert gain <= 1e-6 * math.fsum(before["layer_kl"])
    assert layer_kls(again)["layer_kl"] == pytest.approx(before["layer_kl"], rel=1e-6)
    mutant = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in mutant.named_parameters():
            if name.endswith("A_mean"):
                p.mul_(3.0)
            elif name.endswith("B_mean"):
                p.div_(3.0)
    assert balance_gauge(mutant) > 1e-3 * math.fsum(before["layer_kl"])


def _mixture_bound_twin(model: Any) -> np.ndarray:
    """The scale mixture's declared per-coordinate bound min_k [KL(q_i || N(0, s_k^2)) +
    ln(1 / pi_k)], written out in numpy from the Gaussian KL's closed form (the library goes
    through ``gaussian_kl_elementwise`` in torch)."""
    parts = []
    for layer in bayesian_modules(model):
        mix = layer.prior
        for mean, std in layer.factor_posteriors().values():
            m = mean.detach().double().numpy().ravel()
            sd = std.detach().double().numpy().ravel()
            terms = [
                np.log(s / sd) + (sd**2 + m**2) / (2.0 * s**2) - 0.5 - np.log(w)
                for s, w in ((mix.std1, mix.pi), (mix.std2, 1.0 - mix.pi))
            ]
            parts.append(np.minimum(*terms))
    return np.concatenate(parts)


def test_mixture_layer_kls_match_a_numpy_twin() -> None:
    """Under the scale mixture, the per-layer declared bounds are a numpy twin's per-coordinate
    bounds split by layer (and :func:`coordinate_kls` is them in one array), and sum to the
    model's KL."""
    start = _build(2)(torch.Generator().manual_seed(1))
    model = data_free_start(start, "scale_mixture", None)
    cols = layer_kls(model)
    twin = _mixture_bound_twin(model)
    np.testing.assert_allclose(coordinate_kls(model), twin, rtol=1e-9, atol=1e-12)
    assert sum(cols["layer_stochastic"]) == twin.size
    edges = [0]
    for d in cols["layer_stochastic"]:
        edges.append(edges[-1] + d)
    for i in range(len(cols["layer_kl"])):
        part = twin[edges[i] : edges[i + 1]]
        assert cols["layer_kl"][i] == pytest.approx(math.fsum(part), rel=1e-12)
        assert cols["layer_kl_per_coord_max"][i] == float(part.max())
    assert math.fsum(cols["layer_kl"]) == pytest.approx(float(model_kl(model).detach()), rel=1e-5)


def test_layer_kls_refuse_a_wrong_or_non_finite_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _build(2)(torch.Generator().manual_seed(0))
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if n.startswith("layers.1")).fill_(math.inf)
    with pytest.raises(ValueError, match=r"layer 1 \(LowRankBayesLinear\) has the non-finite"):
        layer_kls(model)
    # mutant: the per-coordinate KLs lose a coordinate; the layer's own KL catches it
    real = premise_module._coordinate_kls
    monkeypatch.setattr(premise_module, "_coordinate_kls", lambda layer: real(layer)[1:])
    with pytest.raises(ValueError, match="differ from the layer's own KL"):
        layer_kls(_build(2)(torch.Generator().manual_seed(0)))


def test_layer_ratios_blank_an_undefined_layer_and_refuse_mismatched_rows() -> None:
    low = {"layer_stochastic": [10, 4], "layer_kl": [2.0, 1.0], "layer_kl_per_coord": [0.2, 0.25],
           "layer_kl_per_coord_max": [0.5, 0.3]}  # fmt: skip
    full = {"layer_stochastic": [40, 8], "layer_kl": [4.0, 0.0], "layer_kl_per_coord": [0.1, 0.0],
            "layer_kl_per_coord_max": [1.0, 0.0]}  # fmt: skip
    out = layer_ratios(low, full)
    assert out["layer_predicted_ratio"] == [0.5, math.sqrt(0.5)]
    assert out["layer_measured_ratio"] is None and out["layer_kl_per_coord_ratio"] is None
    with pytest.raises(ValueError, match="the low-rank row has 2 layers and the mean-field row 1"):
        layer_ratios(low, {k: v[:1] for k, v in full.items()})


def test_an_old_record_without_the_layer_columns_is_recomputed(sweep: Path) -> None:
    """A point record from before these columns is incomplete: read_record refuses it (the
    sweep recomputes it); an old folder is refused as a whole by meta.json's `columns`."""
    point = grid(make_spec(**GRID, priors=MODES))[0]
    record = read_record(sweep, point)
    assert record is not None
    old = copy.deepcopy(record)
    for column in ("layer_stochastic", "layer_kl", "layer_kl_per_coord", "layer_kl_per_coord_max"):
        del old["row"][column]
    with pytest.raises(ValueError, match="missing keys layer_kl, layer_kl_per_coord"):
        validate_record(old, point)
    bad = copy.deepcopy(record)
    bad["row"]["layer_stochastic"][0] += 1
    with pytest.raises(ValueError, match="`layer_stochastic` sums to"):
        validate_record(bad, point)
