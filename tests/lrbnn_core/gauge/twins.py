"""Constants and small helpers shared by the gauge tests."""

from __future__ import annotations

import numpy as np
import torch

from lrbnn_core import LowRankBayesLinear

F64 = torch.float64
EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _params(layer: LowRankBayesLinear) -> list[torch.Tensor]:
    return [p.detach().clone() for p in (layer.A_mean, layer.A_rho, layer.B_mean, layer.B_rho)]
