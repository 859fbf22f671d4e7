"""Gauge balancing against its twins: a sympy derivation of the stationary point, a numeric
minimiser polished at 40 digits by mpmath, brute-force grids of theory's elementwise KL over the
log-scale of each column, and replayed shared-mode forward passes (the predictions must not move).

Rounding tolerances are in units of float64 eps times the magnitude of what was rounded (stated at
each use); the examples are small (m, n <= 4), so every count of roundings is small too."""

from __future__ import annotations

import copy
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import optimize
from torch import nn

from lrbnn_core import (
    MLP,
    GaussianPrior,
    LowRankBayesLinear,
    MeanFieldBayesLinear,
    ScaleMixturePrior,
    SequenceClassifier,
    make_lstm,
    model_kl,
    set_generator,
    set_prior,
)
from lrbnn_core.gauge import (
    ROUNDING_FACTOR,
    apply_gauge,
    balance_gauge,
    isotropic_gauge,
    optimal_gauge,
)
from lrbnn_core.layers import inverse_softplus
from theory.gaussian_kl import gaussian_kl_elementwise
from theory.symbolic.pac_bayes import gaussian_kl_expr
from theory.symbolic.symbols import mu_p, mu_q, sigma_p, sigma_q
from verification.strategies import factor_posteriors, scales

F64 = torch.float64
EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
#: The closed form against the 40-digit numeric minimiser, relative in c (the closed form itself
#: carries a few roundings, ~1e-15; 1e-8 is the requirement of issue 7).
TWIN_RTOL = 1e-8
#: Prior kinds drawn by the property tests: N(0, s^2) (closed form), N(mu0, s^2) with a scalar mean,
#: N(centre_ij, s^2) per entry (a prior at the initialisation), N(0, s_ij^2) and
#: N(centre_ij, s_ij^2) per entry (data-dependent priors with learnt scales) and the scale mixture
#: (its declared upper bound is what is minimised).
PRIOR_KINDS = ("zero_mean", "scalar_mean", "centred", "scaled", "learnt", "mixture")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _params(layer: LowRankBayesLinear) -> list[torch.Tensor]:
    return [p.detach().clone() for p in (layer.A_mean, layer.A_rho, layer.B_mean, layer.B_rho)]


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


# ---------------------------------------------------------------------------------------------
# The closed form against its twins


@pytest.mark.parametrize(("m", "n"), [(2, 3), (3, 1)])
def test_isotropic_gauge_solves_the_symbolic_stationarity_condition(m, n, rng) -> None:
    """sympy twin: the column KL built from the integrated Gaussian KL (theory.symbolic) gives
    c^3 s^2 dKL/dc = S_A c^4 + (n - m) s^2 c^2 - S_B identically; at numeric values that quartic
    has exactly one positive root, which isotropic_gauge returns."""
    c, s = sp.symbols("c s", positive=True)
    mus_a = sp.symbols(f"mua0:{m}", real=True)
    sds_a = sp.symbols(f"sda0:{m}", positive=True)
    mus_b = sp.symbols(f"mub0:{n}", real=True)
    sds_b = sp.symbols(f"sdb0:{n}", positive=True)
    kl = gaussian_kl_expr()
    column = sum(
        kl.subs({mu_q: c * mu, sigma_q: c * sd, mu_p: 0, sigma_p: s})
        for mu, sd in zip(mus_a, sds_a, strict=True)
    ) + sum(
        kl.subs({mu_q: mu / c, sigma_q: sd / c, mu_p: 0, sigma_p: s})
        for mu, sd in zip(mus_b, sds_b, strict=True)
    )
    s_a = sum(sd**2 + mu**2 for mu, sd in zip(mus_a, sds_a, strict=True))
    s_b = sum(sd**2 + mu**2 for mu, sd in zip(mus_b, sds_b, strict=True))
    stationarity = sp.cancel(sp.together(c**3 * s**2 * sp.diff(column, c)))
    assert sp.expand(stationarity - (s_a * c**4 + (n - m) * s**2 * c**2 - s_b)) == 0

    def rational() -> sp.Rational:
        return sp.Rational(int(rng.integers(1, 400)), 100)

    values = {sym: rational() for sym in (*mus_a, *sds_a, *mus_b, *sds_b, s)}
    roots = sp.Poly(stationarity.subs(values), c).nroots(n=30)
    positive = [complex(z).real for z in roots if abs(complex(z).imag) == 0 and complex(z).real > 0]
    assert len(positive) == 1
    got = isotropic_gauge(
        [float(s_a.subs(values))], [float(s_b.subs(values))], m=m, n=n, prior_std=float(values[s])
    )
    assert got[0] == pytest.approx(positive[0], rel=64 * EPS64)


def _mp_column_kl(mean_a, std_a, mean_b, std_b, s: float, t):
    """KL of one column to N(0, s^2) after the gauge e^t, term by term in mpmath."""
    total = mpmath.mpf(0)
    for means, stds, lam in ((mean_a, std_a, mpmath.exp(t)), (mean_b, std_b, mpmath.exp(-t))):
        for mu, sd in zip(means, stds, strict=True):
            mq, sq = mpmath.mpf(float(mu)) * lam, mpmath.mpf(float(sd)) * lam
            total += mpmath.log(s / sq) + (sq**2 + mq**2) / (2 * mpmath.mpf(s) ** 2) - 0.5
    return total


@given(post=factor_posteriors(max_dim=4), s=scales(min_value=1e-2, max_value=1e2))
def test_isotropic_gauge_matches_a_high_precision_numeric_minimiser(post, s) -> None:
    """Numeric twin: scipy's bounded minimiser of the column KL over t = ln c (float64, from
    theory's elementwise KL), then the root of dKL/dt polished by mpmath at 40 digits (float64 alone
    is limited to ~sqrt(eps) relative by the rounding of KL values). Agreement to TWIN_RTOL."""
    mu_a, sig_a, mu_b, sig_b = post
    (m, r), n = mu_a.shape, mu_b.shape[0]
    got = isotropic_gauge(
        (sig_a**2 + mu_a**2).sum(axis=0), (sig_b**2 + mu_b**2).sum(axis=0), m=m, n=n, prior_std=s
    )
    for k in range(r):

        def kl64(t: float, k: int = k) -> float:
            lam = math.exp(t)
            return float(
                gaussian_kl_elementwise(mu_a[:, k] * lam, sig_a[:, k] * lam, 0.0, s).sum()
                + gaussian_kl_elementwise(mu_b[:, k] / lam, sig_b[:, k] / lam, 0.0, s).sum()
            )

        # the minimiser has |t| < 15 for these draws (second moments in [1e-6, 4e4], m, n <= 4)
        start = optimize.minimize_scalar(kl64, bounds=(-50.0, 50.0), method="bounded").x

        def kl_mp(t, k: int = k):
            return _mp_column_kl(mu_a[:, k], sig_a[:, k], mu_b[:, k], sig_b[:, k], s, t)

        with mpmath.workdps(40):
            t_star = float(mpmath.findroot(lambda t: mpmath.diff(kl_mp, t), start))
        assert got[k] == pytest.approx(math.exp(t_star), rel=TWIN_RTOL)


# ---------------------------------------------------------------------------------------------
# Properties of balancing, every prior kind


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


# ---------------------------------------------------------------------------------------------
# Models, dtypes, what must not move


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


# ---------------------------------------------------------------------------------------------
# Bad input


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
