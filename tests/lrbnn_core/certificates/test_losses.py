"""Per-example losses (lrbnn_core.certificates.losses) against plain Python loops."""

from __future__ import annotations

import math

import pytest
import torch

from lrbnn_core.certificates import Loss, example_losses
from tests.lrbnn_core.certificates.twins import (
    F64_RTOL,
    LOSS_ATOL,
    _twin_bounded_ce,
    _twin_zero_one,
)


def test_example_losses_equal_loop_twins_with_ties_and_clamps(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 9, 4, generator=gen, dtype=torch.float64) * 3.0
    logits[0, 0] = torch.tensor([1.0, 1.0, 0.0, 1.0])  # a three-way tie: argmax is class 0
    logits[1, 1] = torch.tensor([800.0, 0.0, -800.0, 0.0])  # log p_2 = -1600: clamped
    targets = torch.randint(0, 4, (9,), generator=gen)
    targets[0], targets[1] = 1, 2
    p_min = 0.05
    zero_one = example_losses(logits, targets, loss="zero_one")
    ce = example_losses(logits, targets, loss=Loss.BOUNDED_CE, p_min=p_min)
    assert zero_one.dtype == torch.float64 and ce.shape == (2, 9)
    for s in range(2):
        for i in range(9):
            row, t = logits[s, i].tolist(), int(targets[i])
            assert float(zero_one[s, i]) == _twin_zero_one(row, t)
            assert float(ce[s, i]) == pytest.approx(
                _twin_bounded_ce(row, t, p_min), rel=F64_RTOL, abs=LOSS_ATOL
            )
    assert float(zero_one[0, 0]) == 1.0  # the tie went to class 0, label 1
    assert float(ce[1, 1]) == 1.0  # a clamped example costs exactly 1
    assert bool(((ce >= 0) & (ce <= 1)).all())


def test_example_losses_rejects_bad_logits_and_labels() -> None:
    with pytest.raises(ValueError, match=r"`targets` must have shape \(2,\) to match `logits`"):
        example_losses(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(FloatingPointError, match=r"NaN or infinite logits"):
        example_losses(torch.tensor([[math.inf, 0.0]]), torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"`logits` must be a tensor of shape \(\.\.\., N, C\)"):
        example_losses(torch.zeros(3), torch.zeros(3, dtype=torch.long))
