"""MLPs of lrbnn_core.models against a hand-composed twin, their ranks, counts and KL."""

from __future__ import annotations

import pytest
import torch

from lrbnn_core import model_kl, set_sampling, stochastic_parameter_count
from lrbnn_core.examples import Example, format_table, run_example
from lrbnn_core.models import MLP, LayerKind, layer_ranks
from verification.claims.counts.layer_counts import mlp_counts

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("kind", list(LayerKind))
def test_mlp_mean_network_is_the_composition_of_mean_layers(kind) -> None:
    net = MLP((6, 5, 4, 3), kind, rank=2, generator=_gen(0), dtype=F64)
    set_sampling(net, "mean")
    x = torch.randn(7, 6, generator=_gen(1), dtype=F64)
    h = x
    for i, layer in enumerate(net.layers):
        if kind is LayerKind.DETERMINISTIC:
            w, b = layer.weight, layer.bias
        else:
            w, b = layer.mean_weight(), layer.bias_mean
        h = h @ w.T + b
        if i < 2:
            h = torch.clamp(h, min=0.0)  # ReLU, written independently
    torch.testing.assert_close(net(x), h, rtol=1e-12, atol=1e-12)


def test_layer_ranks_caps_an_int_and_checks_a_sequence() -> None:
    assert layer_ranks((784, 1200, 1200, 10), 25) == (25, 25, 10)
    assert layer_ranks((5, 3), 1) == (1,)
    with pytest.raises(ValueError, match=r"`rank\[1\]` must be an int in \[1, 3\]; got 4"):
        layer_ranks((8, 6, 3), (2, 4))
    with pytest.raises(ValueError, match=r"`rank` must have one entry per layer \(2\); got 1"):
        layer_ranks((8, 6, 3), (2,))
    with pytest.raises(ValueError, match=r"`rank` must be an int >= 1; got 0"):
        layer_ranks((8, 6, 3), 0)
    with pytest.raises(TypeError, match=r"`rank` must be an int or a sequence of ints; got True"):
        layer_ranks((8, 6, 3), True)
    with pytest.raises(ValueError, match=r"`widths` must hold at least 2 ints >= 1; got \(8,\)"):
        layer_ranks((8,), 1)
    with pytest.raises(ValueError, match=r"`rank` is required for kind 'low_rank'; got None"):
        MLP((8, 3), "low_rank")


def test_mlp_counts_and_kl_add_up_over_layers() -> None:
    """The paper's MNIST MLP (claim P3's architecture, deterministic biases) has the counts of
    verification's P3 twin, and model_kl is the sum of the layers' KLs."""
    widths, ranks = (784, 1200, 1200, 10), (25, 25, 10)
    counts = mlp_counts(widths, ranks)
    for kind, key in [("low_rank", "low_rank"), ("mean_field", "mean_field")]:
        net = MLP(widths, kind, rank=ranks, bayesian_bias=False, generator=_gen(2))
        assert sum(p.numel() for p in net.parameters()) == counts[key]
    net = MLP((9, 7, 4), "low_rank", rank=3, generator=_gen(3), dtype=F64)
    assert stochastic_parameter_count(net) == 3 * (9 + 7) + 7 + 3 * (7 + 4) + 4
    total = sum(layer.kl() for layer in net.layers)
    torch.testing.assert_close(model_kl(net), total)


@pytest.mark.parametrize("example", list(Example))
def test_examples_run_quick_and_report_three_models(example) -> None:
    """Smoke run (small data, few epochs): one finite row per kind of model, parameter counts in
    the order low-rank < deterministic < mean-field (the point of the low-rank layers)."""
    rows = run_example(example, quick=True, progress=False)
    assert [r.kind for r in rows] == [k.value for k in LayerKind]
    for row in rows:
        assert 0.0 <= row.accuracy <= 1.0 and 0.0 <= row.ece <= 1.0
        assert 0.0 <= row.ood_auroc <= 1.0 and row.nll > 0.0
        assert 1 <= row.best_epoch <= row.epochs <= 3 and row.seconds_per_epoch > 0.0
        assert row.n_samples == (1 if row.kind == "deterministic" else 100)
        if row.kind == "deterministic":
            assert row.gibbs_error == pytest.approx(1.0 - row.accuracy, abs=1e-12)
        else:
            assert 0.0 <= row.gibbs_error <= 1.0
    params = {r.kind: r.params for r in rows}
    assert params["low_rank"] < params["deterministic"] < params["mean_field"]
    assert format_table(rows).count("\n") == 4
