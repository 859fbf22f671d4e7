"""Balancing layers and models (lrbnn_core.gauge.balance): mixed models, dtypes, what must not
move, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lrbnn_core import (
    MLP,
    GaussianPrior,
    LowRankBayesLinear,
    MeanFieldBayesLinear,
    SequenceClassifier,
    make_lstm,
    model_kl,
    set_generator,
    set_prior,
)
from lrbnn_core.gauge import apply_gauge, balance_gauge, isotropic_gauge, optimal_gauge
from tests.lrbnn_core.gauge.twins import F64, _gen, _params


def test_balance_gauge_on_a_mixed_model_moves_only_low_rank_factors() -> None:
    """Sequential(low-rank, ReLU, mean-field), unbalanced on purpose (A x 3, B / 3): the KL falls
    by the returned amount (model_kl twin, slack 1e-9 relative: a float64 sum of ~100 terms), the
    shared-mode predictions (replayed generator) stay within 1e-12 relative, and the mean-field
    layer and the bias are bit for bit the same."""
    low = LowRankBayesLinear(5, 4, 2, generator=_gen(1), dtype=F64, eta=0.5)
    mf = MeanFieldBayesLinear(4, 3, generator=_gen(2), dtype=F64, eta=0.5)
    model = nn.Sequential(low, nn.ReLU(), mf)
    apply_gauge(low, torch.tensor([3.0, 1 / 3], dtype=F64))
    x = torch.randn(6, 5, generator=_gen(3), dtype=F64)
    set_generator(model, _gen(4))
    y0 = model(x).detach()
    frozen = {k: v.clone() for k, v in mf.state_dict().items()}
    bias = low.bias_mean.detach().clone()
    before = float(model_kl(model).detach())
    decrease = balance_gauge(model)
    after = float(model_kl(model).detach())
    assert decrease > 0.1
    assert decrease == pytest.approx(before - after, rel=1e-9)
    set_generator(model, _gen(4))
    torch.testing.assert_close(
        model(x).detach(), y0, rtol=1e-12, atol=1e-12 * float(y0.abs().max())
    )
    assert all(torch.equal(v, mf.state_dict()[k]) for k, v in frozen.items())
    assert torch.equal(bias, low.bias_mean.detach())


def test_balance_gauge_keeps_float32_and_reaches_every_lstm_gate() -> None:
    """A float32 LSTM classifier: its low-rank gates are found inside the recurrent module, the
    parameters stay float32, the predictions move by float32 rounding only (1e-4 relative: about
    1e3 float32 eps for a few dozen roundings through 3 time steps) and the float32 KL does not
    grow beyond its own rounding (1e-5 relative)."""
    lstm = make_lstm("low_rank", 3, 4, rank=2, generator=_gen(5), dtype=torch.float32)
    model = SequenceClassifier(lstm, 2, generator=_gen(6), dtype=torch.float32)
    gates = [mod for mod in model.modules() if isinstance(mod, LowRankBayesLinear)]
    assert len(gates) >= 2
    for gate in gates:
        apply_gauge(gate, torch.tensor([2.0, 0.5]))
    x = torch.randn(2, 3, 3, generator=_gen(7))
    set_generator(model, _gen(8))
    y0 = model(x).detach()
    before = float(model_kl(model).detach())
    decrease = balance_gauge(model)
    assert decrease > 0.0
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert float(model_kl(model).detach()) <= before * (1 + 1e-5)
    set_generator(model, _gen(8))
    torch.testing.assert_close(model(x).detach(), y0, rtol=1e-4, atol=1e-4 * float(y0.abs().max()))


def test_apply_gauge_never_rescales_the_prior_centres_or_scales() -> None:
    """A data-dependent prior (centres and learnt stds of another model, via set_prior): the
    gauge moves the posterior only, and balancing then lowers the KL to the fixed prior."""
    layer = LowRankBayesLinear(4, 3, 2, generator=_gen(9), dtype=F64)
    source = LowRankBayesLinear(4, 3, 2, generator=_gen(16), dtype=F64, eta=0.5)
    set_prior(layer, GaussianPrior(1.0), centre=source, centre_std_scale=3.0)
    fixed = [
        {k: v.clone() for k, v in d.items()} for d in (layer.prior_means(), layer.prior_stds())
    ]
    apply_gauge(layer, torch.tensor([4.0, 0.1], dtype=F64))
    before = float(model_kl(layer).detach())
    decrease = balance_gauge(layer)
    assert decrease > 0.0
    assert decrease == pytest.approx(before - float(model_kl(layer).detach()), rel=1e-9)
    for old, new in zip(fixed, (layer.prior_means(), layer.prior_stds()), strict=True):
        assert new is not None
        assert all(torch.equal(v, new[k]) for k, v in old.items())


def test_apply_gauge_leaves_unit_columns_bit_for_bit() -> None:
    layer = LowRankBayesLinear(4, 3, 2, generator=_gen(10), dtype=F64)
    old = _params(layer)
    apply_gauge(layer, np.array([1.0, 2.0]))
    for before, after in zip(old, _params(layer), strict=True):
        assert torch.equal(before[:, 0], after[:, 0])
        assert not torch.equal(before[:, 1], after[:, 1])


def test_balance_gauge_without_low_rank_layers() -> None:
    """Mean-field only: nothing to balance (0.0, parameters untouched); no Bayesian layer at all
    (there is no posterior): ValueError; not a module: TypeError."""
    mf = MLP([4, 3, 2], "mean_field", generator=_gen(11), dtype=F64)
    state = {k: v.clone() for k, v in mf.state_dict().items()}
    assert balance_gauge(mf) == 0.0
    assert all(torch.equal(v, mf.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match=r"`model` \(Linear\) has no Bayesian layer"):
        balance_gauge(nn.Linear(3, 2))
    with pytest.raises(TypeError, match=r"`model` must be a torch\.nn\.Module; got str"):
        balance_gauge("model")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("c", "error", "match"),
    [
        (
            torch.ones(3, dtype=F64),
            ValueError,
            r"`c` must have shape \(rank,\) = \(2,\); got \(3,\)",
        ),
        (torch.ones(2, 1), ValueError, r"shape \(rank,\) = \(2,\); got \(2, 1\)"),
        (torch.tensor([1.0, 0.0]), ValueError, r"finite and > 0 entry by entry; got c\[1\] = 0.0"),
        (torch.tensor([-2.0, 1.0]), ValueError, r"got c\[0\] = -2.0"),
        (torch.tensor([1.0, math.nan]), ValueError, r"got c\[1\] = nan"),
        (torch.tensor([math.inf, 1.0]), ValueError, r"got c\[0\] = inf"),
        ([1.0, 1.0], TypeError, "`c` must be a torch.Tensor; got list"),
        (torch.tensor([True, True]), TypeError, "`c` must be a real tensor; got dtype torch.bool"),
        (torch.tensor([1e-320, 1.0], dtype=F64), ValueError, "non-representable in torch.float64"),
    ],
)
def test_apply_gauge_rejects_bad_scales_and_writes_nothing(c, error, match) -> None:
    layer = LowRankBayesLinear(4, 3, 2, generator=_gen(12), dtype=F64)
    old = _params(layer)
    with pytest.raises(error, match=match):
        apply_gauge(layer, c)
    assert all(torch.equal(a, b) for a, b in zip(old, _params(layer), strict=True))


def test_apply_gauge_rejects_scales_that_underflow_float32() -> None:
    layer = LowRankBayesLinear(4, 3, 2, generator=_gen(13), dtype=torch.float32)
    old = _params(layer)
    with pytest.raises(
        ValueError, match=r"block 'A' of `layer` non-representable in torch\.float32"
    ):
        apply_gauge(layer, torch.tensor([1e-50, 1.0], dtype=F64))
    assert all(torch.equal(a, b) for a, b in zip(old, _params(layer), strict=True))


def test_optimal_gauge_and_isotropic_gauge_reject_bad_input() -> None:
    with pytest.raises(TypeError, match="`layer` must be a LowRankBayesLinear; got MeanFieldBayes"):
        optimal_gauge(MeanFieldBayesLinear(3, 2, generator=_gen(14)))  # type: ignore[arg-type]
    layer = LowRankBayesLinear(4, 3, 2, generator=_gen(15), dtype=F64)
    with torch.no_grad():
        layer.B_mean[0, 0] = math.nan
    with pytest.raises(ValueError, match="`layer` block 'B' has non-finite means"):
        optimal_gauge(layer)
    with torch.no_grad():
        layer.B_mean[0, 0] = 0.0
    tiny = {k: torch.full_like(v[0], 1e-300) for k, v in layer.factor_posteriors().items()}
    layer.set_prior(GaussianPrior(1.0), stds=tiny)
    with pytest.raises(ValueError, match=r"column 0 of `layer` block 'A': .* overflow float64"):
        optimal_gauge(layer)
    with pytest.raises(
        ValueError, match=r"`second_moment_a` must be finite and > 0 .* got -1\.0 at index \(0,\)"
    ):
        isotropic_gauge([-1.0], [1.0], m=2, n=2, prior_std=1.0)
    with pytest.raises(ValueError, match=r"the same shape; got \(2,\) and \(1,\)"):
        isotropic_gauge([1.0, 2.0], [1.0], m=2, n=2, prior_std=1.0)
    with pytest.raises(ValueError, match="`m` must be an int >= 1; got 0"):
        isotropic_gauge([1.0], [1.0], m=0, n=2, prior_std=1.0)
    with pytest.raises(ValueError, match=r"`prior_std` must be finite and > 0 .* got 0.0"):
        isotropic_gauge([1.0], [1.0], m=1, n=2, prior_std=0.0)
