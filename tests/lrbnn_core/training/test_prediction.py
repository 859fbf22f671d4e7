"""Batched Monte Carlo prediction (lrbnn_core.training.prediction)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from lrbnn_core.base import SamplingMode, set_sampling
from lrbnn_core.training import predict
from tests.lrbnn_core.training.tiny import F64_RTOL, X8, TinyBayesLinear

#: Two-sided standard normal quantile for a false-failure probability of 1e-6 per assertion.
Z_1E6 = 4.891638


def test_predict_shapes_probabilities_and_log_probs() -> None:
    model = TinyBayesLinear(2, 3, std=0.5)
    probs = predict(model, X8, n_samples=5, batch_size=3, generator=torch.Generator())
    assert probs.shape == (5, 8, 3) and bool((probs >= 0).all())
    assert torch.allclose(probs.sum(-1), torch.ones(5, 8, dtype=torch.float64), rtol=F64_RTOL)
    logs = predict(
        model, X8, n_samples=5, batch_size=3, generator=torch.Generator(), return_log_probs=True
    )
    assert torch.allclose(logs.exp(), probs, rtol=F64_RTOL)  # same draws: same default seed


@pytest.mark.parametrize("sampling", ["shared", "local"])
def test_predict_samples_are_distinct(sampling: str) -> None:
    model = TinyBayesLinear(2, 3, std=0.5, sampling=sampling)
    probs = predict(model, X8, n_samples=4, generator=torch.Generator().manual_seed(1))
    for s in range(4):
        for t in range(s):
            assert not torch.equal(probs[s], probs[t])


def test_predict_mean_mode_single_sample_equals_forward() -> None:
    model = TinyBayesLinear(2, 3, sampling="mean")
    with torch.no_grad():
        twin = torch.softmax(X8 @ model.weight_mean.T + model.bias, dim=-1)
    assert torch.equal(predict(model, X8, n_samples=1)[0], twin)


def test_predict_shared_samples_do_not_depend_on_batch_size() -> None:
    """Shared mode: sample s is one weight draw for the whole data set, however it is split."""
    model = TinyBayesLinear(2, 3, std=0.5)
    whole = predict(model, X8, n_samples=3, batch_size=8, generator=torch.Generator())
    split = predict(model, X8, n_samples=3, batch_size=3, generator=torch.Generator())
    assert torch.allclose(whole, split, rtol=F64_RTOL, atol=0.0)


def test_predict_same_generator_seed_is_reproducible() -> None:
    model = TinyBayesLinear(2, 3, std=0.5, sampling="local")
    a = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(7))
    b = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(7))
    c = predict(model, X8, n_samples=3, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_predict_local_draws_are_independent_per_example() -> None:
    """y = w x with w ~ N(0.3, 0.5^2), x = 1 and 2, S = 4000 samples by input tiling.

    Local mode: the two examples' outputs are independent, so the sample correlation r has
    sqrt(S) r ~ N(0, 1); the mean of example 1 is 0.3 with standard error 0.5 / sqrt(S); the
    sample variance over 0.25 has standard error sqrt(2 / (S - 1)) (normal approximation of the
    chi-square, accurate at S = 4000). Each bound holds with false-failure probability 1e-6.
    Shared mode: one w per pass, so example 2's output is exactly twice example 1's."""
    s = 4000
    x = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    model = TinyBayesLinear(1, 1, std=0.5, sampling="local")
    with torch.no_grad():
        model.weight_mean.fill_(0.3)
    out = predict(
        model, x, n_samples=s, generator=torch.Generator().manual_seed(0), task="regression"
    )
    assert out.shape == (s, 2, 1)
    y1, y2 = out[:, 0, 0], out[:, 1, 0]
    r = torch.corrcoef(torch.stack([y1, y2]))[0, 1].item()
    assert abs(r) < Z_1E6 / math.sqrt(s)
    assert abs(y1.mean().item() - 0.3) < Z_1E6 * 0.5 / math.sqrt(s)
    assert abs(y1.var().item() / 0.25 - 1.0) < Z_1E6 * math.sqrt(2.0 / (s - 1))
    set_sampling(model, "shared")
    shared = predict(model, x, n_samples=50, task="regression")
    assert torch.equal(shared[:, 1], 2.0 * shared[:, 0])


def test_predict_restores_model_state_even_after_an_error() -> None:
    model = TinyBayesLinear(2, 3, sampling="local")
    own = torch.Generator()
    model.generator = own
    model.train()
    predict(model, X8, n_samples=2, generator=torch.Generator())
    assert model.generator is own and model.sampling is SamplingMode.LOCAL and model.training
    model.sampling = SamplingMode.SHARED
    with pytest.raises(ValueError, match=r"`x` must have shape \(N, ...\)"):
        predict(model, X8[0], n_samples=2)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied"):
        predict(model, torch.zeros(2, 5, dtype=torch.float64), n_samples=2)  # fails mid-pass
    assert model.generator is own and model.sampling is SamplingMode.SHARED and model.training


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, r"`n_samples` must be an int in \[1, inf\]; got 0"),
        ({"n_samples": 1.0}, TypeError, r"`n_samples` must be an int; got 1.0"),
        ({"n_samples": 1, "batch_size": 0}, ValueError, r"`batch_size` .* \[1, inf\]; got 0"),
        (
            {"n_samples": 1, "return_log_probs": True, "task": "regression"},
            ValueError,
            r"`return_log_probs=True` needs task='classification'",
        ),
        ({"n_samples": 1, "generator": 0}, TypeError, r"`generator` must be a torch.Generator"),
        ({"n_samples": 1, "task": "rank"}, ValueError, r"`task` must be one of .*; got 'rank'"),
    ],
)
def test_predict_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        predict(TinyBayesLinear(2, 3), X8, **kwargs)
