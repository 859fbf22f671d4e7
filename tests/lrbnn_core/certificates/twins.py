"""Models, data and the risk twins shared by the certificate tests (lrbnn_core.certificates).

The per-network risks are recomputed by replaying the generator through each layer's own
``sample_factors`` / ``sample_weight`` and explicit matmuls on the whole data set at once (no
``predict``, no batching, no rewinding), with the losses written as plain Python loops. Nothing
here is statistical (the coverage of the certificate is tested elsewhere).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core.base import set_sampling
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear
from lrbnn_core.models import MLP

_EPS = float(np.finfo(np.float64).eps)

#: float64 numbers that differ only by summation order or by a different but exact route (a
#: hand log-sum-exp against torch's log_softmax) agree to a few ulps; 1e-12 leaves plenty.
F64_RTOL = 1e-12

#: The hand bounded cross-entropy goes through exp then log: near p_y = 1 it loses an absolute
#: eps / ln(1/p_min) < eps, where a relative tolerance means nothing.
LOSS_ATOL = 8 * _EPS


WIDTHS = (4, 6, 3)


def _mlp(
    kind: str, seed: int, *, dtype: torch.dtype = torch.float64, eta: float = 0.5
) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    return MLP(WIDTHS, kind, rank=2, eta=eta, generator=gen, dtype=dtype)


def _data(model: nn.Module, n: int, seed: int, flip: float = 1 / 3) -> tuple[Tensor, Tensor]:
    """Inputs and the posterior-mean network's labels, a fraction ``flip`` of them replaced at
    random, so that the drawn networks disagree with the labels at varied rates."""
    gen = torch.Generator().manual_seed(seed + 1)
    dtype = next(model.parameters()).dtype
    x = torch.randn(n, WIDTHS[0], generator=gen, dtype=dtype)
    set_sampling(model, "mean")
    with torch.no_grad():
        y = model(x).argmax(dim=-1)
    set_sampling(model, "shared")
    noise = torch.randint(0, WIDTHS[-1], (n,), generator=gen)
    flipped = torch.rand(n, generator=gen, dtype=torch.float64) < flip
    return x, torch.where(flipped, noise, y)


def _twin_logits(model: nn.Module, x: Tensor, gen: torch.Generator) -> Tensor:
    """One network drawn layer by layer through the layers' own samplers, applied to all of x."""
    assert isinstance(model, MLP)
    h = x
    layers = list(model.layers)
    for i, layer in enumerate(layers):
        if isinstance(layer, LowRankBayesLinear):
            a, b, bias = layer.sample_factors(gen)
            assert bias is not None
            h = (h @ b) @ a.T + bias
        else:
            assert isinstance(layer, MeanFieldBayesLinear)
            w = layer.sample_weight(gen)
            mean, std = layer.factor_posteriors()["bias"]
            bias = mean + std * torch.randn(mean.shape, generator=gen, dtype=mean.dtype)
            h = h @ w.T + bias
        if i < len(layers) - 1:
            h = torch.where(h > 0, h, torch.zeros_like(h))
    return h


def _twin_zero_one(row: list[float], label: int) -> float:
    prediction = max(range(len(row)), key=row.__getitem__)  # the first maximum, as argmax
    return float(prediction != label)


def _twin_bounded_ce(row: list[float], label: int, p_min: float) -> float:
    top = max(row)
    lse = top + math.log(math.fsum(math.exp(v - top) for v in row))
    p_y = math.exp(row[label] - lse)
    return -math.log(max(p_y, p_min)) / math.log(1.0 / p_min)


def _twin_risks(
    model: nn.Module, x: Tensor, y: Tensor, n_mc: int, seed: int, loss: str, p_min: float
) -> list[float]:
    gen = torch.Generator().manual_seed(seed)
    risks = []
    with torch.no_grad():
        for _ in range(n_mc):
            logits = _twin_logits(model, x, gen).tolist()
            labels = y.tolist()
            if loss == "zero_one":
                errors = sum(_twin_zero_one(r, t) for r, t in zip(logits, labels, strict=True))
                risks.append(errors / len(labels))
            else:
                values = [
                    _twin_bounded_ce(r, t, p_min) for r, t in zip(logits, labels, strict=True)
                ]
                risks.append(math.fsum(values) / len(labels))
    return risks
