"""Generic baseline conversions (lrbnn_core.baselines.conversion) on every architecture of the
comparison: LR-SVD's mean network is the layer-wise truncated SVD (theory.eym twin) and, at full
rank, the deterministic model itself; rank-1 by conversion equals rank1_mlp on an MLP, and the
fused LSTM kernel reads a rank-1 layer as the reference loop does."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from lrbnn_core.base import model_kl, set_generator, set_sampling
from lrbnn_core.baselines import (
    Rank1BayesLinear,
    bayesian_layer_names,
    rank1_mlp,
    svd_warm_start_,
    to_rank1,
)
from lrbnn_core.comparison.tasks import CompareTask, build_model, compare_recipe, task_data
from lrbnn_core.layers import LowRankBayesLinear
from lrbnn_core.models import MLP
from theory.eym import truncated_svd

#: float32 products of at most a few dozen terms (the mean network against the dense model)
RTOL, ATOL = 1e-5, 1e-5


def _pair(task: CompareTask, rank: int | None = None) -> tuple[nn.Module, nn.Module, torch.Tensor]:
    """A deterministic model and a low-rank one of the smoke recipes of ``task``."""
    det_rec = compare_recipe(task, "deterministic", "smoke")
    lr_rec = compare_recipe(task, "low_rank", "smoke")
    if rank is not None:
        lr_rec = replace(lr_rec, rank=rank)
    data = det_rec.inputs(task_data(task, 0, "smoke"))
    det = build_model(det_rec, data, torch.Generator().manual_seed(1))
    with torch.no_grad():  # away from the initialisation (biases nonzero)
        for p in det.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    low = build_model(lr_rec, data, torch.Generator().manual_seed(2))
    return det, low, data.x_test[:16]


@pytest.mark.parametrize(
    "task", [CompareTask.MLP_DIGITS, CompareTask.LSTM_CO2, CompareTask.TRANSFORMER_MNIST1D]
)
def test_svd_warm_start_means_are_the_truncated_svd(task: CompareTask) -> None:
    det, low, _ = _pair(task)
    svd_warm_start_(low, det)
    sources = dict(det.named_modules())
    names = bayesian_layer_names(low)
    assert names
    for name in names:
        layer = low.get_submodule(name)
        assert isinstance(layer, LowRankBayesLinear)
        w = sources[name].weight.detach().double().numpy()
        mean = layer.mean_weight().detach().double().numpy()
        np.testing.assert_allclose(mean, truncated_svd(w, layer.rank), rtol=RTOL, atol=ATOL)
        # the mutant: one rank less is not the truncation
        if layer.rank > 1:
            assert not np.allclose(mean, truncated_svd(w, layer.rank - 1), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(
    "task", [CompareTask.MLP_DIGITS, CompareTask.LSTM_CO2, CompareTask.TRANSFORMER_MNIST1D]
)
def test_svd_warm_start_at_full_rank_gives_the_deterministic_outputs(task: CompareTask) -> None:
    hidden = compare_recipe(task, "low_rank", "smoke").hidden
    det, low, x = _pair(task, rank=hidden)
    svd_warm_start_(low, det)
    set_sampling(low, "mean")
    with torch.no_grad():
        torch.testing.assert_close(low(x), det(x), rtol=RTOL, atol=ATOL)
    # the check can fail: before the warm start the outputs differ
    _, fresh, _ = _pair(task, rank=hidden)
    set_sampling(fresh, "mean")
    with torch.no_grad():
        assert not torch.allclose(fresh(x), det(x), rtol=RTOL, atol=ATOL)


def test_svd_warm_start_refuses_a_mismatched_model() -> None:
    det = MLP((6, 5, 3), "deterministic")
    with pytest.raises(ValueError, match=r"torch\.nn\.Linear 4 x 5 named 'layers\.1'"):
        svd_warm_start_(MLP((6, 5, 4), "low_rank", rank=2), det)
    with pytest.raises(ValueError, match="must be a LowRankBayesLinear; got MeanFieldBayesLinear"):
        svd_warm_start_(MLP((6, 5, 3), "mean_field"), det)


def test_to_rank1_equals_rank1_mlp_forward_and_kl() -> None:
    widths = (10, 8, 6, 4)
    det = MLP(widths, "deterministic", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for layer in det.layers:
            layer.bias.normal_(generator=torch.Generator().manual_seed(3))
    net = to_rank1(det, eta=0.2)
    twin = rank1_mlp(widths, eta=0.2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for mine, theirs, source in zip(net.layers, twin.layers, det.layers, strict=True):
            assert isinstance(mine, Rank1BayesLinear)
            theirs.weight.copy_(source.weight)
            theirs.bias.copy_(source.bias)
            for p, q in zip(mine.parameters(), theirs.parameters(), strict=True):
                p.add_(
                    0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()))
                )
                q.copy_(p)
    x = torch.randn(7, 10, generator=torch.Generator().manual_seed(9))
    set_generator(net, torch.Generator().manual_seed(11))
    set_generator(twin, torch.Generator().manual_seed(11))
    torch.testing.assert_close(net(x), twin(x), rtol=0.0, atol=0.0)
    torch.testing.assert_close(model_kl(net), model_kl(twin), rtol=0.0, atol=0.0)
    # the deterministic model is untouched, and at r = s = 1 the mean network is it
    assert all(isinstance(layer, nn.Linear) for layer in det.layers)
    fresh = to_rank1(det)
    set_sampling(fresh, "mean")
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), det(x), rtol=0.0, atol=0.0)
    # the check can fail: another draw differs
    set_generator(twin, torch.Generator().manual_seed(12))
    assert not torch.allclose(net(x), twin(x))


@pytest.mark.parametrize("sampling", ["shared", "mean"])
def test_rank1_lstm_fused_kernel_equals_the_loop_twin(sampling: str) -> None:
    """dense_draw reads a rank-1 layer (W * r s^T formed) as one_draw applies it."""
    rec = compare_recipe(CompareTask.LSTM_CO2, "deterministic", "smoke")
    data = rec.inputs(task_data(CompareTask.LSTM_CO2, 0, "smoke"))
    det = build_model(rec, data, torch.Generator().manual_seed(0))
    net = to_rank1(det, ["encoder.input_linear", "encoder.hidden_linear", "head"], eta=0.3)
    set_sampling(net, sampling)
    x = data.x_test[:8]
    outs = []
    for fused in (True, False):
        net.encoder._fused = fused  # type: ignore[union-attr]
        set_generator(net, torch.Generator().manual_seed(4))
        outs.append(net(x))
    del net.encoder._fused  # type: ignore[union-attr]
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    if sampling == "shared":
        set_generator(net, torch.Generator().manual_seed(5))
        assert not torch.allclose(net(x), outs[0])


def test_to_rank1_refuses_bad_names() -> None:
    det = MLP((4, 3, 2), "deterministic")
    with pytest.raises(ValueError, match="'layers' is ModuleList"):
        to_rank1(det, ["layers"])
    with pytest.raises(TypeError, match="`warm_start` is set by to_rank1"):
        to_rank1(det, warm_start=None)
