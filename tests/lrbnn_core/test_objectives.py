"""Certificate-minimising training objectives (lrbnn_core.objectives).

Twins: ``theory.pac_bayes.mcallester_bound`` and ``kl_bound`` (numpy), the quadratic bound and
the ELBO written out in numpy, the bounded cross-entropy in mpmath at 50 digits, central finite
differences (``torch.autograd.gradcheck``) for every gradient, and Monte Carlo with an empirical
Bernstein interval for the trained posterior's objective.
"""

from __future__ import annotations

import copy
import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode, model_kl, set_generator, set_sampling
from lrbnn_core.models import MLP
from lrbnn_core.objectives import (
    BoundTrainResult,
    Objective,
    bound_objective,
    bounded_cross_entropy,
    train_bound,
)
from theory.pac_bayes import kl_bound, mcallester_bound
from verification.testing.strategies import confidences, kl_values, probabilities, sample_sizes

#: float64 twins that evaluate the same formula in another order agree to a few ulps; 1e-12
#: leaves three orders of magnitude to spare.
F64_RTOL = 1e-12

#: The kl inverse is conservative: never below the true value and within 1e-12 of it
#: (``theory.pac_bayes.kl_inv_upper``), so orderings against it allow this absolute slack.
KL_INV_SLACK = 1e-12

#: gradcheck perturbs by EPS; the kl inverse's 1e-12 solver error then moves a finite difference
#: by at most 2e-12 / (2 EPS) = 1e-6 < GRAD_ATOL (the other objectives are closed forms).
GRAD_EPS = 1e-6
GRAD_ATOL = 1e-5
GRAD_RTOL = 1e-4

#: False-failure probability of each side of an empirical Bernstein interval (and so at most
#: 2 * ALPHA for an assertion that compares two intervals).
ALPHA = 1e-6

#: Posterior draws per Monte Carlo estimate of a trained model's risk: the empirical Bernstein
#: half-width is then at most sqrt(2 V ln(2/ALPHA)/500) + 7 ln(2/ALPHA)/1497 ~ 0.07 + 0.24 sqrt(V).
N_DRAWS = 500

F64 = torch.float64


def t64(value: float) -> Tensor:
    return torch.tensor(value, dtype=F64)


def numpy_twin(objective: Objective, risk: float, kl: float, n: int, delta: float) -> float:
    """Each objective written out independently (theory.pac_bayes for the two bounds it has)."""
    if objective is Objective.ELBO:
        return float(np.float64(risk) + np.float64(kl) / n)
    if objective is Objective.MCALLESTER:
        return float(mcallester_bound(risk, kl, n, delta))
    if objective is Objective.KL:
        return float(kl_bound(risk, kl, n, delta))
    b = (np.float64(kl) + np.log(2.0 * np.sqrt(np.float64(n)) / delta)) / (2.0 * n)
    return float((np.sqrt(risk + b) + np.sqrt(b)) ** 2)


# --- bound_objective: values, gradients, orderings ------------------------------------------------


@pytest.mark.parametrize("objective", list(Objective))
@given(risk=probabilities(), kl=kl_values(), n=sample_sizes(), delta=confidences())
@example(risk=0.0, kl=0.0, n=1, delta=0.5)
@example(risk=1.0, kl=1e6, n=10**7, delta=1e-12)
def test_bound_objective_equals_numpy_twin(
    objective: Objective, risk: float, kl: float, n: int, delta: float
) -> None:
    got = bound_objective(objective, t64(risk), t64(kl), n=n, delta=delta)
    assert got.dtype == F64 and got.shape == ()
    np.testing.assert_allclose(
        float(got), numpy_twin(objective, risk, kl, n, delta), rtol=F64_RTOL, atol=0.0
    )


def test_bound_objective_accepts_string_and_float32() -> None:
    r32 = torch.tensor(0.1, dtype=torch.float32)
    k32 = torch.tensor(10.0, dtype=torch.float32)
    got = bound_objective("quadratic", r32, k32, n=1000, delta=0.05)
    assert got.dtype == torch.float32
    # float32 rounding of the inputs and of five operations: a few float32 ulps
    np.testing.assert_allclose(
        float(got), numpy_twin(Objective.QUADRATIC, 0.1, 10.0, 1000, 0.05), rtol=1e-6
    )


# away from the edges: the kl inverse's slope is infinite at risk 0 and its curvature large near 1
_interior_risks = st.floats(min_value=0.01, max_value=0.99)
# kl >= 1e-3 keeps the perturbed kl (by GRAD_EPS) inside the domain kl >= 0
_moderate_kls = st.floats(min_value=1e-3, max_value=1e3)


@pytest.mark.parametrize("objective", list(Objective))
@given(
    risk=_interior_risks,
    kl=_moderate_kls,
    n=st.integers(min_value=1, max_value=10**5),
    delta=st.floats(min_value=1e-4, max_value=0.5),
)
@example(risk=0.05, kl=1e-3, n=10**5, delta=0.5)  # smallest budget: steepest kl-inverse branch
def test_bound_objective_gradcheck(
    objective: Objective, risk: float, kl: float, n: int, delta: float
) -> None:
    """Autograd (the implicit-function gradient for "kl") against central finite differences."""
    inputs = (t64(risk).requires_grad_(), t64(kl).requires_grad_())

    def f(r: Tensor, k: Tensor) -> Tensor:
        return bound_objective(objective, r, k, n=n, delta=delta)

    assert torch.autograd.gradcheck(f, inputs, eps=GRAD_EPS, atol=GRAD_ATOL, rtol=GRAD_RTOL)


@given(risk=probabilities(), kl=kl_values(), n=sample_sizes(), delta=confidences())
@example(risk=0.0, kl=0.0, n=1, delta=0.5)
def test_bound_objective_orderings(risk: float, kl: float, n: int, delta: float) -> None:
    """kl <= quadratic (refined Pinsker) and kl <= mcallester (Pinsker): theorems; quadratic <=
    mcallester exactly when mcallester <= 1/4 (module docstring), checked outside a 1e-9 band
    around 1/4 where rounding decides."""
    v = {o: float(bound_objective(o, t64(risk), t64(kl), n=n, delta=delta)) for o in Objective}
    kl_v, quad, mc = v[Objective.KL], v[Objective.QUADRATIC], v[Objective.MCALLESTER]
    assert kl_v <= mc + KL_INV_SLACK + 4 * np.spacing(mc)
    assert kl_v <= quad + KL_INV_SLACK + 4 * np.spacing(quad)
    if mc < 0.25 - 1e-9:
        assert quad <= mc
    elif mc > 0.25 + 1e-9:
        assert quad > mc


def test_bound_objective_quadratic_vs_mcallester_crossover() -> None:
    """The switch at mcallester = 1/4 on both sides, at a fixed complexity term b."""
    n, delta, kl = 1000, 0.05, 10.0
    b = (kl + math.log(2 * math.sqrt(n) / delta)) / (2 * n)
    at_quarter = 0.25 - math.sqrt(b)  # the risk with mcallester = 1/4
    for risk, quad_tighter in ((at_quarter - 1e-3, True), (at_quarter + 1e-3, False)):
        quad = bound_objective("quadratic", t64(risk), t64(kl), n=n, delta=delta)
        mc = bound_objective("mcallester", t64(risk), t64(kl), n=n, delta=delta)
        assert bool(quad < mc) is quad_tighter


def test_bound_objective_kl_has_infinite_slope_at_zero_risk() -> None:
    risk = t64(0.0).requires_grad_()
    bound_objective("kl", risk, t64(5.0), n=100, delta=0.05).backward()
    assert risk.grad is not None and float(risk.grad) == math.inf


# --- bounded cross-entropy ------------------------------------------------------------------------


def mpmath_bounded_ce(logits: np.ndarray, targets: np.ndarray, p_min: float) -> float:
    """-ln max(p_y, p_min) / ln(1 / p_min), averaged, at 50 significant digits."""
    with mpmath.workdps(50):
        cap = -mpmath.log(mpmath.mpf(p_min))
        total = mpmath.mpf(0)
        for row, label in zip(logits, targets, strict=True):
            z = [mpmath.mpf(float(v)) for v in row]
            nll = mpmath.log(sum(mpmath.exp(v - z[int(label)]) for v in z))
            total += min(nll, cap) / cap
        return float(total / len(targets))


@pytest.mark.parametrize("scale", [0.1, 3.0, 40.0, 400.0])
def test_bounded_cross_entropy_equals_mpmath(rng: np.random.Generator, scale: float) -> None:
    """Scales 40 and 400 make -ln p_y far below float64's epsilon for well-classified rows: the
    logaddexp form keeps it to full relative precision."""
    logits = scale * rng.standard_normal((12, 5))
    targets = rng.integers(0, 5, size=12)
    for p_min in (1e-4, 0.2):
        got = bounded_cross_entropy(torch.tensor(logits), torch.tensor(targets), p_min=p_min)
        assert 0.0 <= float(got) <= 1.0
        np.testing.assert_allclose(
            float(got), mpmath_bounded_ce(logits, targets, p_min), rtol=F64_RTOL, atol=0.0
        )


def test_bounded_cross_entropy_tiny_loss_stays_positive() -> None:
    """A margin of 60 gives -ln p_y = e^-60 ~ 8.8e-27: positive, to full precision (the naive
    log_softmax rounds it to 0)."""
    logits = torch.tensor([[60.0, 0.0]], dtype=F64)
    got = float(bounded_cross_entropy(logits, torch.tensor([0]), p_min=1e-4))
    assert float(torch.log_softmax(logits, dim=1)[0, 0]) == 0.0
    np.testing.assert_allclose(got, math.exp(-60.0) / math.log(1e4), rtol=F64_RTOL)


def test_bounded_cross_entropy_gradcheck(rng: np.random.Generator) -> None:
    """Rows away from the clamp (p_y > p_min), where the loss is smooth."""
    logits = torch.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    targets = torch.tensor(rng.integers(0, 3, size=6))
    assert torch.autograd.gradcheck(
        lambda z: bounded_cross_entropy(z, targets, p_min=1e-3), (logits,), eps=1e-6
    )


# --- train_bound ----------------------------------------------------------------------------------


def blobs(rng: np.random.Generator, n: int = 96) -> tuple[Tensor, Tensor]:
    """Two Gaussian blobs at +-(1.5, 1.5) with std 0.5: separable except with probability
    ~1e-5 per point."""
    y = rng.integers(0, 2, size=n)
    x = 0.5 * rng.standard_normal((n, 2)) + 1.5 * (2.0 * y - 1.0)[:, None]
    return torch.tensor(x), torch.tensor(y)


def tiny_net(seed: int) -> MLP:
    return MLP((2, 8, 2), "low_rank", rank=1, generator=torch.Generator().manual_seed(seed),
               dtype=F64)  # fmt: skip


def empirical_bernstein(draws: Tensor) -> tuple[float, float]:
    """Two-sided interval for the mean of i.i.d. draws in [0, 1], each side failing with
    probability <= ALPHA (Maurer and Pontil 2009, Thm 4)."""
    m = len(draws)
    log_term = math.log(2.0 / ALPHA)
    half = math.sqrt(2.0 * float(draws.var()) * log_term / m) + 7.0 * log_term / (3.0 * (m - 1))
    mean = float(draws.mean())
    return max(0.0, mean - half), min(1.0, mean + half)


def objective_interval(
    model: nn.Module, x: Tensor, y: Tensor, objective: Objective, *, p_min: float, seed: int
) -> tuple[float, float]:
    """Every objective increases in the risk, so the interval of the full-data bounded risk
    (N_DRAWS posterior draws, one network each) maps to an interval of the objective."""
    set_generator(model, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        draws = torch.stack(
            [bounded_cross_entropy(model(x), y, p_min=p_min) for _ in range(N_DRAWS)]
        )
    set_generator(model, None)
    kl = model_kl(model).detach()
    lo, hi = empirical_bernstein(draws)
    n = len(x)
    return (
        float(bound_objective(objective, t64(lo), kl, n=n, delta=0.05)),
        float(bound_objective(objective, t64(hi), kl, n=n, delta=0.05)),
    )


@pytest.mark.parametrize("objective", list(Objective))
def test_train_bound_decreases_objective(rng: np.random.Generator, objective: Objective) -> None:
    """The trained posterior's objective (upper end of its interval) lies below the initial
    one's (lower end): false failure <= 2 * ALPHA once the true decrease exceeds the two
    half-widths (about 0.1 each; the decreases measured over seeds are 0.2 to 0.9)."""
    x, y = blobs(rng)
    net = tiny_net(int(rng.integers(2**31)))
    before_lo, _ = objective_interval(net, x, y, objective, p_min=1e-2, seed=1)
    train_bound(net, x, y, objective=objective, delta=0.05, epochs=20, batch_size=32, lr=0.02,
                seed=0, p_min=1e-2, progress=False)  # fmt: skip
    _, after_hi = objective_interval(net, x, y, objective, p_min=1e-2, seed=2)
    assert after_hi < before_lo


def test_train_bound_is_deterministic_and_restores_state(rng: np.random.Generator) -> None:
    x, y = blobs(rng, n=40)
    base = tiny_net(3)
    sentinel = torch.Generator().manual_seed(99)
    set_generator(base, sentinel)
    set_sampling(base, SamplingMode.LOCAL)
    base.eval()
    runs: list[tuple[MLP, BoundTrainResult]] = []
    for seed in (5, 5, 6):
        net = copy.deepcopy(base)
        set_generator(net, sentinel)  # deepcopy copied the generator
        res = train_bound(net, x, y, objective="kl", delta=0.05, epochs=3, batch_size=16,
                          lr=1e-2, seed=seed, progress=False)  # fmt: skip
        runs.append((net, res))
        assert all(m.generator is sentinel for m in net.layers)
        assert all(m.sampling is SamplingMode.LOCAL for m in net.layers)
        assert not any(m.training for m in net.modules())
    (a, ra), (b, rb), (c, _) = runs
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ra.steps == rb.steps and ra.history == rb.history
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)  # the seed matters
    assert [(s.epoch, s.step) for s in ra.steps] == [(e, k) for e in (1, 2, 3) for k in (1, 2, 3)]


def test_train_bound_records_the_certified_objective(rng: np.random.Generator) -> None:
    """The first step's numbers are those of the initial model: KL = model_kl + penalty, and the
    value is bound_objective at n_bound (default len(x))."""
    x, y = blobs(rng, n=20)
    for n_bound, n_used in ((None, 20), (1000, 1000)):
        net = tiny_net(4)
        kl0 = float(model_kl(net).detach())
        res = train_bound(net, x, y, objective="mcallester", delta=0.1, n_bound=n_bound,
                          penalty=2.5, epochs=1, batch_size=20, lr=1e-3, seed=0,
                          progress=False)  # fmt: skip
        first = res.steps[0]
        assert first.kl == kl0 + 2.5
        want = bound_objective("mcallester", t64(first.risk), t64(first.kl), n=n_used, delta=0.1)
        assert first.value == float(want)
        assert res.history[0].value == first.value  # one full batch


class _NaNAfter(nn.Module):
    """Returns NaN logits from the ``calls``-th training-mode forward pass on."""

    def __init__(self, net: nn.Module, calls: int) -> None:
        super().__init__()
        self.net, self.calls, self.seen = net, calls, 0

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x)
        if self.training:
            self.seen += 1
            if self.seen >= self.calls:
                return out * math.nan
        return out


class _Saturated(nn.Module):
    """Logits with a margin of 1000 for the class given by one-hot inputs: every bounded
    cross-entropy is exactly 0."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.net = tiny_net(seed)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.net(x) + 1000.0 * x
        return out


def test_train_bound_raises_on_non_finite(rng: np.random.Generator) -> None:
    x, y = blobs(rng, n=8)
    with pytest.raises(
        FloatingPointError, match=r"outputs became non-finite at epoch 2/3, step 1/2;"
    ):
        train_bound(_NaNAfter(tiny_net(0), calls=3), x, y, objective="elbo", delta=0.05,
                    epochs=3, batch_size=4, lr=1e-3, seed=0, progress=False)  # fmt: skip
    y1 = torch.tensor([0, 1, 0, 1])
    x1 = nn.functional.one_hot(y1, 2).to(F64)
    with pytest.raises(FloatingPointError, match=r"gradient .* 'kl' .* epoch 1/1, step 1/1 "):
        train_bound(_Saturated(0), x1, y1, objective="kl", delta=0.05, epochs=1, batch_size=4,
                    lr=1e-3, seed=0, progress=False)  # fmt: skip
    # the same minibatch is fine for an objective with a finite slope at risk 0
    res = train_bound(_Saturated(0), x1, y1, objective="quadratic", delta=0.05, epochs=1,
                      batch_size=4, lr=1e-3, seed=0, progress=False)  # fmt: skip
    assert res.steps[0].risk == 0.0


# --- bad input ------------------------------------------------------------------------------------


def test_bound_objective_rejects_bad_input() -> None:
    r, k = t64(0.1), t64(1.0)
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (ValueError, "`objective` must be one of 'elbo', 'mcallester'", {"objective": "fquad"}),
        (TypeError, "`risk` must be a torch.Tensor; got float", {"risk": 0.1}),
        (TypeError, "`risk` must be a floating-point tensor", {"risk": torch.tensor(0)}),
        (ValueError, r"`risk` must be a 0-dim tensor; got shape \(2,\)", {"risk": r.repeat(2)}),
        (ValueError, r"`risk` must be in \[0, 1\]; got 1.5", {"risk": t64(1.5)}),
        (ValueError, r"`risk` must be in \[0, 1\]; got nan", {"risk": t64(math.nan)}),
        (ValueError, "`kl` must be finite and >= 0; got -1.0", {"kl": t64(-1.0)}),
        (ValueError, "`kl` must be finite and >= 0; got inf", {"kl": t64(math.inf)}),
        (ValueError, r"`n` must be an int in \[1, inf\]; got 0", {"n": 0}),
        (TypeError, "`n` must be an int; got 2.0", {"n": 2.0}),
        (ValueError, r"`delta` must be a float in \(0, 1\); got 1.0", {"delta": 1.0}),
        (ValueError, r"`delta` must be a float in \(0, 1\); got 0.0", {"delta": 0.0}),
        (TypeError, "`delta` must be a real number; got '0.1'", {"delta": "0.1"}),
    ]
    for exc, message, change in cases:
        args: dict[str, object] = {"objective": "kl", "risk": r, "kl": k, "n": 10, "delta": 0.1}
        args.update(change)
        with pytest.raises(exc, match=message):
            bound_objective(
                args["objective"],  # type: ignore[arg-type]
                args["risk"],  # type: ignore[arg-type]
                args["kl"],  # type: ignore[arg-type]
                n=args["n"],  # type: ignore[arg-type]
                delta=args["delta"],  # type: ignore[arg-type]
            )


def test_bounded_cross_entropy_rejects_bad_input() -> None:
    z, t = torch.zeros(3, 2, dtype=F64), torch.tensor([0, 1, 1])
    with pytest.raises(ValueError, match=r"`p_min` must be a float in \(0, 1\); got 1.0"):
        bounded_cross_entropy(z, t, p_min=1.0)
    with pytest.raises(ValueError, match=r"`logits` must have shape \(N, C\) .* got \(3, 1\)"):
        bounded_cross_entropy(z[:, :1], t)
    with pytest.raises(ValueError, match=r"`logits` must have shape \(N, C\) .* got \(3,\)"):
        bounded_cross_entropy(z[:, 0], t)
    with pytest.raises(TypeError, match=r"`logits` must be a floating-point torch\.Tensor"):
        bounded_cross_entropy(torch.zeros(3, 2, dtype=torch.long), t)
    with pytest.raises(TypeError, match=r"`targets` must be an integer torch\.Tensor"):
        bounded_cross_entropy(z, t.double())
    with pytest.raises(ValueError, match=r"`targets` must have shape \(3,\); got \(2,\)"):
        bounded_cross_entropy(z, t[:2])
    with pytest.raises(ValueError, match=r"`targets` labels must be in \[0, 1\]; got 2"):
        bounded_cross_entropy(z, torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match="`logits` contains NaN or infinite values"):
        bounded_cross_entropy(torch.tensor([[0.0, math.nan]]), t[:1])


def test_train_bound_rejects_bad_input(rng: np.random.Generator) -> None:
    x, y = blobs(rng, n=8)
    good: dict[str, object] = {
        "objective": "kl", "delta": 0.05, "epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 0,
        "progress": False,
    }  # fmt: skip
    with pytest.raises(ValueError, match=r"`model` \(Linear\) has no stochastic parameters"):
        train_bound(nn.Linear(2, 2, dtype=F64), x, y, **good)  # type: ignore[arg-type]
    cases: list[tuple[type[Exception], str, dict[str, object]]] = [
        (ValueError, "`objective` must be one of", {"objective": "bbb"}),
        (ValueError, r"`delta` must be a float in \(0, 1\); got 1.5", {"delta": 1.5}),
        (ValueError, "`penalty` must be a finite number >= 0; got -1.0", {"penalty": -1.0}),
        (ValueError, r"`n_bound` must be an int in \[1, inf\]; got 0", {"n_bound": 0}),
        (ValueError, r"`epochs` must be an int in \[1, inf\]; got 0", {"epochs": 0}),
        (ValueError, r"`batch_size` must be an int in \[1, inf\]; got 0", {"batch_size": 0}),
        (ValueError, r"`lr` must be a finite number in \(0, 10\] .*; got 0.0", {"lr": 0.0}),
        (ValueError, r"`p_min` must be a float in \(0, 1\); got 0.0", {"p_min": 0.0}),
        (TypeError, "`progress` must be a bool; got 1", {"progress": 1}),
    ]
    for exc, message, change in cases:
        with pytest.raises(exc, match=message):
            train_bound(tiny_net(0), x, y, **{**good, **change})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`y` labels must be in \[0, 1\].*got 2"):
        train_bound(tiny_net(0), x, torch.full((8,), 2), **good)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`x` is empty"):
        train_bound(tiny_net(0), x[:0], y[:0], **good)  # type: ignore[arg-type]


def test_bounded_cross_entropy_of_a_clamped_float32_batch_is_at_most_one() -> None:
    """Before the final clamp, a float32 batch of 6 or more clamped examples could score
    1.0000001 (the mean of the clamped values divided by the cap rounds up), which the bound
    objectives then refused as a loss outside [0, 1]."""
    for n in (6, 7, 64, 299):
        for p_min in (1e-5, 1e-4, 1e-2, 0.3):
            logits = torch.zeros(n, 10)
            logits[:, 1] = 50.0  # the true class 0 far below p_min: every example clamped
            value = bounded_cross_entropy(logits, torch.zeros(n, dtype=torch.long), p_min=p_min)
            assert float(value) == 1.0
