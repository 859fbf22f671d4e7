"""LR-SVD (lrbnn_core.baselines.lr_svd): the mean weights are the best rank-r approximation of the
trained deterministic weights (theory.eym.truncated_svd, the Eckart-Young-Mirsky twin)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrbnn_core.base import set_sampling
from lrbnn_core.baselines import lr_svd_mlp
from lrbnn_core.models import MLP
from lrbnn_core.training import TrainConfig, train
from theory.eym import tail_energy, truncated_svd
from theory.initialisation import target_variance

#: float64 SVD reconstruction of 30 x 20 matrices
RTOL = 1e-10


def _trained() -> tuple[MLP, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    det = MLP((20, 30, 10), "deterministic", generator=gen, dtype=torch.float64)
    x = torch.randn(64, 20, generator=gen, dtype=torch.float64)
    y = x[:, :10].argmax(1)
    train(det, x, y, TrainConfig(epochs=3, batch_size=16, lr=1e-2, progress=False))
    return det, x


def test_lr_svd_means_are_the_truncated_svd() -> None:
    det, _ = _trained()
    net = lr_svd_mlp(det, (6, 4), eta=0.05)
    assert net.kind.value == "low_rank" and net.ranks == (6, 4)
    for layer, source, r in zip(net.layers, det.layers, (6, 4), strict=True):
        w = source.weight.detach().numpy()
        mean = layer.mean_weight().detach().numpy()
        np.testing.assert_allclose(mean, truncated_svd(w, r), rtol=RTOL, atol=RTOL)
        assert np.linalg.norm(w - mean) == pytest.approx(float(tail_energy(w, r)), rel=1e-9)
        # balanced: ||mu_A||_F^2 = ||mu_B||_F^2 = sum of the top r singular values
        a, b = layer.A_mean.detach(), layer.B_mean.detach()
        top = float(np.linalg.svd(w, compute_uv=False)[:r].sum())
        assert float(a.square().sum()) == pytest.approx(top, rel=1e-9)
        assert float(b.square().sum()) == pytest.approx(top, rel=1e-9)
        assert torch.equal(layer.bias_mean.detach(), source.bias.detach())
        m, n = w.shape
        expected = 0.05 * (target_variance(m, n, "glorot") / r) ** 0.25
        for block in ("A", "B"):
            std = layer.factor_posteriors()[block][1].detach()
            torch.testing.assert_close(std, torch.full_like(std, expected), rtol=1e-12, atol=0.0)


def test_lr_svd_twin_catches_a_wrong_rank() -> None:
    """The mutant: rank r - 1 is not the rank-r truncation."""
    det, _ = _trained()
    net = lr_svd_mlp(det, (5, 4))
    w = det.layers[0].weight.detach().numpy()
    mean = net.layers[0].mean_weight().detach().numpy()
    assert not np.allclose(mean, truncated_svd(w, 6), rtol=1e-3, atol=1e-3)


def test_lr_svd_at_full_rank_is_the_deterministic_network() -> None:
    det, x = _trained()
    net = lr_svd_mlp(det, 30, bayesian_bias=False)
    set_sampling(net, "mean")
    with torch.no_grad():
        torch.testing.assert_close(net(x), det(x), rtol=RTOL, atol=RTOL)


def test_lr_svd_fine_tunes_and_leaves_the_source_alone() -> None:
    det, x = _trained()
    before = [p.detach().clone() for p in det.parameters()]
    net = lr_svd_mlp(det, 4)
    y = x[:, :10].argmax(1)
    result = train(net, x, y, TrainConfig(epochs=2, batch_size=16, lr=1e-3, progress=False))
    assert result.steps[0].kl > 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, det.parameters(), strict=True))


def test_lr_svd_refusals() -> None:
    det, _ = _trained()
    with pytest.raises(TypeError, match="an MLP of kind 'deterministic'; got an MLP of kind 'low"):
        lr_svd_mlp(MLP((4, 3), "low_rank", rank=2), 2)
    with pytest.raises(TypeError, match="got Linear"):
        lr_svd_mlp(torch.nn.Linear(3, 2), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`dtype` is set by lr_svd_mlp"):
        lr_svd_mlp(det, 2, dtype=torch.float32)
    with pytest.raises(ValueError, match=r"`rank\[0\]` must be an int in \[1, 20\]; got 21"):
        lr_svd_mlp(det, (21, 4))
    with torch.no_grad():
        det.layers[1].weight[0, 0] = float("nan")
    with pytest.raises(
        ValueError, match=r"`deterministic` has NaN or infinite values in layers\.1\.weight"
    ):
        lr_svd_mlp(det, 2)
