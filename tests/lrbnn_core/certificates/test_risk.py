"""The Monte Carlo risks of networks drawn from the posterior (lrbnn_core.certificates.risk)
against replayed layer-by-layer twins."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lrbnn_core.certificates.risk as risk_module
from lrbnn_core.base import SamplingMode, bayesian_modules, set_sampling
from lrbnn_core.certificates import gibbs_risks
from tests.lrbnn_core.certificates.twins import (
    F64_RTOL,
    LOSS_ATOL,
    WIDTHS,
    _data,
    _mlp,
    _twin_logits,
    _twin_risks,
)


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
@pytest.mark.parametrize("batch_size", [5, 1000])
@pytest.mark.parametrize("chunked", [False, True])
def test_gibbs_risks_zero_one_equal_layer_by_layer_twin(
    kind: str, batch_size: int, chunked: bool, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One network per draw over the whole data set, whatever the data batches, the chunks of
    draws and the layers' own sampling mode ("local" here, put back afterwards): the 0-1 risks
    equal the twin's exactly (counts over n)."""
    model = _mlp(kind, seed)
    x, y = _data(model, 23, seed)
    set_sampling(model, "local")
    if chunked:  # two networks per predict call
        monkeypatch.setattr(risk_module, "_MAX_CHUNK_ELEMENTS", 2 * 23 * WIDTHS[-1])
    risks = gibbs_risks(
        model, x, y, n_mc=7, generator=torch.Generator().manual_seed(seed), batch_size=batch_size
    )
    twin = _twin_risks(model, x, y, 7, seed, "zero_one", 1e-4)
    assert risks.dtype == np.float64 and risks.shape == (7,)
    assert risks.tolist() == twin
    assert all(m.sampling is SamplingMode.LOCAL for m in bayesian_modules(model))
    assert len(set(twin)) > 1  # the draws differ, so a network reused or skipped would show


def test_gibbs_risks_bounded_ce_equal_hand_formula(seed: int) -> None:
    """The bounded cross-entropy per network against the hand log-sum-exp formula; p_min is
    chosen (between two middle values of the first network's p_y) so that both the clamped and
    the unclamped branch occur whatever the seed."""
    model = _mlp("low_rank", seed, eta=0.9)
    x, y = _data(model, 23, seed)
    with torch.no_grad():
        first = torch.softmax(_twin_logits(model, x, torch.Generator().manual_seed(seed)), -1)
    middle = first.gather(1, y[:, None]).flatten().sort().values[10:12]
    p_min = float(middle.mean())
    risks = gibbs_risks(
        model,
        x,
        y,
        n_mc=5,
        generator=torch.Generator().manual_seed(seed),
        loss="bounded_ce",
        p_min=p_min,
        batch_size=4,
    )
    twin = _twin_risks(model, x, y, 5, seed, "bounded_ce", p_min)
    np.testing.assert_allclose(risks, twin, rtol=F64_RTOL, atol=LOSS_ATOL)
    with torch.no_grad():
        probs = torch.softmax(_twin_logits(model, x, torch.Generator().manual_seed(seed)), -1)
    p_y = probs.gather(1, y[:, None])
    assert bool((p_y < p_min).any()) and bool((p_y > p_min).any())
