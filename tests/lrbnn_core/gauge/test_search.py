"""Properties of balancing under every prior kind (lrbnn_core.gauge.search) against brute-force
grids of theory's elementwise KL over the log-scale of each column and replayed shared-mode forward
passes: the predictions do not move, the KL never grows and reaches the minimum of the grid, a
second pass changes nothing, and a double well gets its deeper minimum.

Rounding tolerances are in units of float64 eps times the magnitude of what was rounded (stated at
each use); the examples are small (m, n <= 4), so every count of roundings is small too."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lrbnn_core import GaussianPrior, LowRankBayesLinear, ScaleMixturePrior, model_kl, set_generator
from lrbnn_core.gauge import ROUNDING_FACTOR, balance_gauge, optimal_gauge
from lrbnn_core.layers import inverse_softplus
from tests.lrbnn_core.gauge.twins import EPS64, F64, _gen, _params
from theory.pac_bayes import gaussian_kl_elementwise
from verification.testing.strategies import factor_posteriors, scales

#: Prior kinds drawn by the property tests: N(0, s^2) (closed form), N(mu0, s^2) with a scalar mean,
#: N(centre_ij, s^2) per entry (a prior at the initialisation), N(0, s_ij^2) and
#: N(centre_ij, s_ij^2) per entry (data-dependent priors with learnt scales) and the scale mixture
#: (its declared upper bound is what is minimised).
PRIOR_KINDS = ("zero_mean", "scalar_mean", "centred", "scaled", "learnt", "mixture")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _set_factors(layer: LowRankBayesLinear, mu_a, sig_a, mu_b, sig_b) -> None:
    with torch.no_grad():
        for name, mean, std in (("A", mu_a, sig_a), ("B", mu_b, sig_b)):
            dtype = getattr(layer, f"{name}_mean").dtype
            getattr(layer, f"{name}_mean").copy_(torch.as_tensor(mean, dtype=dtype))
            getattr(layer, f"{name}_rho").copy_(inverse_softplus(torch.as_tensor(std, dtype=dtype)))


@st.composite
def priored_layers(draw, kinds: tuple[str, ...] = PRIOR_KINDS) -> LowRankBayesLinear:
    """A float64 LowRankBayesLinear with factor posteriors from ``factor_posteriors`` (means 0 or
    up to 1e2 in magnitude, stds in [1e-3, 10]) and a prior of a drawn kind."""
    mu_a, sig_a, mu_b, sig_b = draw(factor_posteriors(max_dim=4))
    (m, r), n = mu_a.shape, mu_b.shape[0]
    layer = LowRankBayesLinear(n, m, r, generator=_gen(0), dtype=F64, eta=0.5)
    _set_factors(layer, mu_a, sig_a, mu_b, sig_b)
    kind = draw(st.sampled_from(kinds))
    if kind == "mixture":
        pi = draw(st.floats(min_value=0.05, max_value=0.95))
        std1 = draw(scales(min_value=1e-2, max_value=10.0))
        layer.set_prior(ScaleMixturePrior(pi, std1, draw(scales(min_value=1e-3, max_value=10.0))))
        return layer
    std = draw(scales(min_value=1e-2, max_value=1e2))
    mean = draw(st.floats(min_value=-5.0, max_value=5.0)) if kind == "scalar_mean" else 0.0

    def per_entry(elements: st.SearchStrategy[float]) -> dict[str, torch.Tensor]:
        return {
            name: torch.from_numpy(draw(hnp.arrays(np.float64, tuple(mu.shape), elements=elements)))
            for name, (mu, _) in layer.factor_posteriors().items()
        }

    centres = st.floats(min_value=-10.0, max_value=10.0)
    means = per_entry(centres) if kind in ("centred", "learnt") else None
    stds = (
        per_entry(scales(min_value=1e-2, max_value=1e2)) if kind in ("scaled", "learnt") else None
    )
    layer.set_prior(GaussianPrior(std, mean=mean), means=means, stds=stds)
    return layer


def _column_twin(layer: LowRankBayesLinear, k: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """KL (declared bound for the mixture) of column k of A and B after the gauge e^t, for each t
    of shape (T,), from theory's elementwise Gaussian KL; and the sum of the magnitudes of the
    terms (what the rounding of one evaluation is proportional to)."""
    prior, centres, stds = layer.prior, layer.prior_means(), layer.prior_stds()
    total, size = np.zeros(t.shape), np.zeros(t.shape)
    for name, sign in (("A", 1.0), ("B", -1.0)):
        mean, std = (_np(v[:, k]) for v in layer.factor_posteriors()[name])
        lam = np.exp(sign * t)[:, None]
        mq, sq = mean * lam, std * lam
        if isinstance(prior, ScaleMixturePrior):
            comps = [
                (prior.std1, -math.log(prior.pi), 0.0),
                (prior.std2, -math.log1p(-prior.pi), 0.0),
            ]
        else:
            loc = prior.mean if centres is None else _np(centres[name][:, k])
            scale = prior.std if stds is None else _np(stds[name][:, k])
            comps = [(scale, 0.0, loc)]
        kls = [gaussian_kl_elementwise(mq, sq, loc, s) + pen for s, pen, loc in comps]
        mags = [
            np.abs(np.log(s / sq)) + (sq**2 + (mq - loc) ** 2) / (2 * s * s) + 0.5 + abs(pen)
            for s, pen, loc in comps
        ]
        total += np.minimum.reduce(kls).sum(axis=1)
        size += np.maximum.reduce(mags).sum(axis=1)
    return total, size


def _layer_twin(layer: LowRankBayesLinear) -> tuple[float, float]:
    """The A and B blocks' KL as the sum of the column twins at t = 0, and its magnitude."""
    zero = np.zeros(1)
    parts = [_column_twin(layer, k, zero) for k in range(layer.rank)]
    return float(sum(p[0][0] for p in parts)), float(sum(p[1][0] for p in parts))


def _slack(magnitude: float, terms: int) -> float:
    """Rounding slack of a comparison of two KL evaluations: each term of each evaluation carries
    a few roundings and the sums at most (terms - 1) more, all relative to the magnitude; the
    library keeps a gauge only if it wins by ROUNDING_FACTOR eps times the magnitudes, so a twin
    may see the kept gauge lose by about as much. Factor 2 of margin on the sum."""
    return 2.0 * (terms + 8 + ROUNDING_FACTOR) * EPS64 * magnitude


def _replayed_forward(layer: LowRankBayesLinear, x: torch.Tensor, seed: int):
    """Shared-mode output for the draw of ``seed`` and the magnitude |x| (|mu_B| + sigma_B
    |eps_B|) (|mu_A| + sigma_A |eps_A|)^T + |bias| that its rounding scales with."""
    set_generator(layer, _gen(seed))
    y = layer(x)
    a, b, bias = layer.sample_factors(_gen(seed))
    assert bias is not None
    post = layer.factor_posteriors()
    mags = []
    for draw, (mean, std) in ((a, post["A"]), (b, post["B"])):
        mags.append(mean.abs() + std * ((draw - mean) / std).abs())
    return y.detach(), (x.abs() @ mags[1] @ mags[0].T + bias.abs()).detach()


def _forward_tolerance(layer: LowRankBayesLinear, magnitude: torch.Tensor) -> torch.Tensor:
    """|y' - y| bound for one layer: both products x B A^T + b carry (n + r + 2) roundings each, and
    every sampled factor entry moves relatively by at most (|rho| + 8) eps (the mean: one rounding;
    the std: inverse_softplus and softplus, whose condition number is at most |rho| + 1), times 2
    factors; all relative to the magnitude, with a factor 2 of margin."""
    rho = max(float(layer.A_rho.detach().abs().max()), float(layer.B_rho.detach().abs().max()))
    units = 2 * (layer.in_features + layer.rank + 2) + 2 * (rho + 8)
    return 2.0 * units * EPS64 * magnitude


@given(layer=priored_layers(), data=st.data(), seed=st.integers(0, 2**31))
def test_balance_gauge_leaves_predictions_and_mean_weight_unchanged(layer, data, seed) -> None:
    """One replayed shared draw gives the same outputs before and after balancing, within the
    rounding bound of _forward_tolerance; the mean weight mu_A mu_B^T moves by at most
    2 (r + 3) eps |mu_A| |mu_B|^T (one rounding per scaled mean, r + 1 in the product, margin 2)."""
    elements = st.floats(min_value=-10.0, max_value=10.0)
    x = torch.from_numpy(
        data.draw(hnp.arrays(np.float64, (3, layer.in_features), elements=elements))
    )
    y0, magnitude = _replayed_forward(layer, x, seed)
    mean_a, mean_b = layer.A_mean.detach().clone(), layer.B_mean.detach().clone()
    w0 = layer.mean_weight().detach()
    balance_gauge(layer)
    y1, magnitude1 = _replayed_forward(layer, x, seed)
    tol = _forward_tolerance(layer, torch.maximum(magnitude, magnitude1))
    assert bool(((y1 - y0).abs() <= tol).all()), float(((y1 - y0).abs() / tol).max())
    w_tol = 2 * (layer.rank + 3) * EPS64 * (mean_a.abs() @ mean_b.abs().T)
    assert bool(((layer.mean_weight().detach() - w0).abs() <= w_tol).all())


@given(layer=priored_layers())
def test_balance_gauge_never_increases_the_kl_and_reaches_the_grid_minimum(layer) -> None:
    """After <= before + slack for the library's KL and for theory's twin; the returned decrease
    equals the twin's before - after within the slack; and no point of a brute-force grid of
    1281 log-scales per column (step 0.0125 over [-8, 8] around 0 and around the chosen c) beats
    the balanced column by more than the slack (the minimiser is global, not local)."""
    terms = layer.in_features + layer.out_features
    before_lib = float(model_kl(layer).detach())
    before, mag_before = _layer_twin(layer)
    reference = copy.deepcopy(layer)
    c = optimal_gauge(layer).numpy()
    decrease = balance_gauge(layer)
    after, mag_after = _layer_twin(layer)
    slack = _slack(mag_before + mag_after, terms * layer.rank)
    assert decrease >= 0.0
    assert float(model_kl(layer).detach()) <= before_lib + slack
    assert after <= before + slack
    assert decrease == pytest.approx(before - after, abs=slack)
    grid = np.linspace(-8.0, 8.0, 1281)
    for k in range(layer.rank):
        balanced, mag = _column_twin(layer, k, np.zeros(1))
        candidates = np.concatenate([grid, grid + math.log(c[k])])
        brute, mag_grid = _column_twin(reference, k, candidates)
        best = int(np.argmin(brute))
        assert balanced[0] <= brute[best] + _slack(mag[0] + mag_grid[best], terms)


@given(layer=priored_layers())
def test_balance_gauge_twice_changes_nothing(layer) -> None:
    """The second pass finds every column balanced (c = 1 exactly: no gauge wins beyond
    rounding), so it returns 0.0 and leaves the parameters bit for bit."""
    balance_gauge(layer)
    first = _params(layer)
    assert bool((optimal_gauge(layer) == 1.0).all())
    assert balance_gauge(layer) == 0.0
    for old, new in zip(first, _params(layer), strict=True):
        assert torch.equal(old, new)


def _tied_layer(centre_b: float) -> LowRankBayesLinear:
    """m = n = 1, mu = 1, sigma = 0.1, prior N(centre, 1): with centre 3 for both factors, t = 0 is
    a local maximum of a symmetric double well (the prior pulls A up and B up), with centre_b
    slightly smaller the well at t < 0 (B large, A small) is shallower."""
    layer = LowRankBayesLinear(1, 1, 1, bias=False, generator=_gen(0), dtype=F64)
    _set_factors(layer, [[1.0]], [[0.1]], [[1.0]], [[0.1]])
    centres = {"A": torch.tensor([[3.0]], dtype=F64), "B": torch.tensor([[centre_b]], dtype=F64)}
    layer.set_prior(GaussianPrior(1.0), means=centres)
    return layer


def test_double_well_gets_the_deeper_minimum_and_stays_there() -> None:
    """Brute-force twin on a dense grid: the balanced KL is the grid minimum (to the grid's
    resolution: 1e-6 nats at step 1e-4, curvature O(10)); with an exact tie (symmetric well)
    either minimum is kept by a second pass."""
    grid = np.linspace(-4.0, 4.0, 80001)
    for centre_b in (3.0, 2.9):
        layer = _tied_layer(centre_b)
        brute = _column_twin(layer, 0, grid)[0]
        assert brute[40000] > brute.min() + 0.1  # t = 0 is far from optimal
        balance_gauge(layer)
        assert _layer_twin(layer)[0] == pytest.approx(brute.min(), abs=1e-6)
        first = _params(layer)
        assert balance_gauge(layer) == 0.0
        assert all(torch.equal(a, b) for a, b in zip(first, _params(layer), strict=True))
    # the deeper well of the asymmetric case is at t > 0 (A grows towards its larger centre)
    assert float(layer.A_mean.detach()[0, 0]) > 1.0
