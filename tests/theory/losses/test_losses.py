"""theory.losses (loss, constants and search): formulas against finite
differences, analytic constants against their witnesses and the numerical search, properties
over the whole domain (hypothesis), bad input."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given

from theory.losses import LOSS_NAMES, LOSSES, Loss, Reduction, make_loss
from theory.losses.search import search_constants
from verification.testing.strategies import loss_point_pairs

_EPS = float(np.finfo(np.float64).eps)
#: Central differences with step H on |z| <= 3: truncation H^2 |l'''| / 6 <= 1e-11 (third
#: derivatives <= 1 here) plus rounding eps |l| / H ~ 1e-10, against values of order 1.
H = 1e-5
FD_ATOL = 1e-8
#: Points stay this far from every kink (z_i = y_i, y z = 1, abs(z_i - y_i) = delta) so that the
#: central difference never straddles one.
KINK_MARGIN = 1e-3
#: A computed gradient norm or eigenvalue may exceed its exact supremum by its own rounding
#: (< 20 roundings, as in verification.claims.eym.constants.ROUND_RTOL).
ROUND_RTOL = 64 * _EPS
#: Rounding of |l(z) - l(z')| (values up to ~100 on these domains, each with relative error
#: <= 8 eps) and of norm(g(z) - g(z')) (gradients <= 30).
VALUE_ATOL = 1e-11


def _cases() -> list[Loss]:
    return [
        make_loss("mae", k=3),
        make_loss("mae", k=2, reduction="mean"),
        make_loss("mse", k=3, radius=2.0),
        make_loss("softmax_ce", k=2),
        make_loss("softmax_ce", k=4),
        make_loss("bce"),
        make_loss("hinge"),
        make_loss("huber", k=3, delta=0.7),
    ]


def _ids(cases: list[Loss]) -> list[str]:
    return [f"{c.name}-{c.k}" for c in cases]


def _points(loss: Loss, rng: np.random.Generator, n: int) -> tuple[np.ndarray, Any]:
    """n points (z, y) of the domain, each at least KINK_MARGIN away from a kink."""
    k = loss.k
    if loss.name == "softmax_ce":
        return rng.uniform(-3, 3, (n, k)), rng.integers(0, k, n)
    if loss.name == "bce":
        return rng.uniform(-3, 3, (n, 1)), rng.choice([0.0, 1.0], (n, 1))
    if loss.name == "hinge":
        y = rng.choice([-1.0, 1.0], (n, 1))
        margin = rng.choice([-1.0, 1.0], (n, 1)) * rng.uniform(KINK_MARGIN, 2, (n, 1))
        return y * (1.0 + margin), y
    y = rng.uniform(-1, 1, (n, k)) * (0.4 if loss.name == "mse" else 1.0)
    r = rng.choice([-1.0, 1.0], (n, k)) * rng.uniform(0.05, 1.5, (n, k))
    if loss.name == "huber":
        d = loss.params["delta"]
        r = np.where(np.abs(np.abs(r) - d) < KINK_MARGIN, r + 2 * KINK_MARGIN, r)
    if loss.name == "mse":
        r *= 0.4
    return y + r, y


def _fd_grad(loss: Loss, z: np.ndarray, y: Any) -> np.ndarray:
    out = np.empty_like(z)
    for i in range(z.shape[-1]):
        e = np.zeros(z.shape[-1])
        e[i] = H
        out[..., i] = (loss.value(z + e, y) - loss.value(z - e, y)) / (2 * H)
    return out


def _fd_hessian(loss: Loss, z: np.ndarray, y: Any) -> np.ndarray:
    k = z.shape[-1]
    out = np.empty((*z.shape, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = H
        out[..., :, j] = (loss.grad(z + e, y) - loss.grad(z - e, y)) / (2 * H)
    return out


CASES = _cases()


@pytest.mark.claim("CT")
@pytest.mark.parametrize("loss", CASES, ids=_ids(CASES))
def test_loss_gradient_and_hessian_match_finite_differences(
    loss: Loss, rng: np.random.Generator
) -> None:
    """CT: the formulas behind every constant are the derivatives of the values."""
    z, y = _points(loss, rng, 50)
    np.testing.assert_allclose(loss.grad(z, y), _fd_grad(loss, z, y), rtol=0, atol=FD_ATOL)
    np.testing.assert_allclose(loss.hessian(z, y), _fd_hessian(loss, z, y), rtol=0, atol=FD_ATOL)


@pytest.mark.parametrize("loss", CASES, ids=_ids(CASES))
def test_loss_batches_agree_with_single_points(loss: Loss, rng: np.random.Generator) -> None:
    z, y = _points(loss, rng, 4)
    values = loss.value(z, y)
    assert values.shape == (4,)
    assert loss.grad(z, y).shape == (4, loss.k)
    assert loss.hessian(z, y).shape == (4, loss.k, loss.k)
    for i in range(4):
        assert loss.value(z[i], y[i]) == values[i]
        assert np.array_equal(loss.grad(z[i], y[i]), loss.grad(z, y)[i])


def test_loss_values_at_known_points() -> None:
    assert LOSSES["mae"].value([-2.0], [0.5]) == 2.5
    assert make_loss("mae", k=2).value([1.0, -2.0], [0.0, 0.0]) == 3.0
    assert make_loss("mae", k=2, reduction=Reduction.MEAN).value([1.0, -2.0], 0.0) == 1.5
    assert LOSSES["mse"].value([0.6, 0.0], [-0.4, 0.0]) == 0.5
    assert LOSSES["softmax_ce"].value([0.0, 0.0], 1) == math.log(2.0)
    assert LOSSES["bce"].value([0.0], [1.0]) == math.log(2.0)
    assert LOSSES["hinge"].value([0.25], [-1.0]) == 1.25
    assert LOSSES["huber"].value([0.5, 3.0], 0.0) == 0.125 + 2.5


def test_loss_values_stay_accurate_for_large_logits() -> None:
    ce, bce = make_loss("softmax_ce", k=3), LOSSES["bce"]
    assert ce.value([40.0, 0.0, 0.0], 0) == pytest.approx(2 * math.exp(-40.0), rel=1e-12)
    assert ce.value([800.0, 0.0, 0.0], 1) == pytest.approx(800.0, rel=1e-15)
    assert bce.value([-800.0], [0.0]) == 0.0
    assert bce.value([-40.0], [0.0]) == pytest.approx(math.exp(-40.0), rel=1e-12)
    assert bce.value([800.0], [0.0]) == 800.0
    assert bce.hessian([40.0], 1.0)[0, 0] == pytest.approx(math.exp(-40.0), rel=1e-12)


def test_softmax_ce_soft_labels_and_one_hot_rows_equal_integer_labels() -> None:
    ce = make_loss("softmax_ce", k=3)
    z = np.array([[0.3, -1.0, 2.0], [1.0, 1.0, 0.0]])
    one_hot = np.array([[0, 0, 1], [1, 0, 0]])
    assert np.array_equal(ce.value(z, one_hot), ce.value(z, np.array([2, 0])))
    soft = np.array([0.2, 0.3, 0.5])
    expected = -np.sum(soft * (z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))), axis=-1)
    np.testing.assert_allclose(ce.value(z, soft), expected, rtol=1e-14)


@pytest.mark.claim("CT")
def test_loss_table_constants_are_the_derived_ones() -> None:
    """CT: the analytic truth and the paper's claims, as derived in theory.losses.constants."""
    table = {
        name: (
            loss.claimed_lipschitz,
            loss.true_lipschitz,
            loss.claimed_smoothness,
            loss.true_smoothness,
        )
        for name, loss in LOSSES.items()
    }
    assert table == {
        "mae": (1.0, 1.0, None, math.inf),
        "mse": (2.0, 2.0, 1.0, 1.0),
        "softmax_ce": (math.sqrt(2.0), math.sqrt(2.0), 0.25, 0.5),
        "bce": (1.0, 1.0, None, 0.25),
        "hinge": (1.0, 1.0, None, math.inf),
        "huber": (None, math.sqrt(2.0), None, 1.0),
    }
    ce = LOSSES["softmax_ce"]
    assert (ce.lipschitz_valid, ce.lipschitz_tight) == (True, True)
    assert (ce.smoothness_valid, ce.smoothness_tight) == (False, False)
    # The paper's MAE is scalar: L = 1 valid and tight. On k outputs (ours) it has no claim.
    mae = LOSSES["mae"]
    assert (mae.k, mae.lipschitz_valid, mae.lipschitz_tight) == (1, True, True)
    for red in Reduction:
        assert make_loss("mae", k=1, reduction=red).lipschitz_tight is True
        wide = make_loss("mae", k=4, reduction=red)
        assert (wide.claimed_lipschitz, wide.lipschitz_valid, wide.lipschitz_tight) == (
            None,
            None,
            None,
        )
    assert make_loss("mae", k=4).true_lipschitz == 2.0
    assert make_loss("mae", k=4, reduction="mean").true_lipschitz == 0.5
    mse = make_loss("mse", k=5, radius=3.0)
    assert (mse.claimed_lipschitz, mse.true_lipschitz, mse.lipschitz_tight) == (6.0, 6.0, True)
    assert LOSSES["huber"].lipschitz_valid is None
    assert make_loss("huber", k=4, delta=0.5).true_lipschitz == 1.0
    assert make_loss("softmax_ce", k=7).true_smoothness == 0.5


@pytest.mark.claim("CT")
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_loss_witnesses_attain_their_suprema(k: int) -> None:
    """CT: every supremum marked attained is reached at its witness point."""
    for name in LOSS_NAMES:
        if (name == "softmax_ce" and k == 1) or (name in ("bce", "hinge") and k > 1):
            continue
        loss = make_loss(name, k=k, radius=1.5, delta=0.5)
        t = loss.truth
        assert (t.lipschitz_witness is not None) == t.lipschitz_attained, name
        assert (t.smoothness_witness is not None) == t.smoothness_attained, name
        if t.lipschitz_witness is not None:
            g = loss.grad(*t.lipschitz_witness)
            assert np.linalg.norm(g) == pytest.approx(t.lipschitz, rel=ROUND_RTOL)
        if t.smoothness_witness is not None:
            eig = np.linalg.eigvalsh(loss.hessian(*t.smoothness_witness))[-1]
            assert eig == pytest.approx(t.smoothness, rel=ROUND_RTOL)


@pytest.mark.claim("C9")
def test_softmax_ce_gradient_norm_approaches_sqrt2_without_reaching_it() -> None:
    """C9: at z = (0, t), label 0, the norm is sqrt(2) sigma(t), so the gap is sqrt(2) sigma(-t)."""
    ce = LOSSES["softmax_ce"]
    for t in (1.0, 5.0, 10.0, 20.0):
        norm = float(np.linalg.norm(ce.grad([0.0, t], 0)))
        gap = math.sqrt(2.0) / (1.0 + math.exp(t))
        assert math.sqrt(2.0) - norm == pytest.approx(gap, rel=1e-6)
        assert norm < math.sqrt(2.0)


@pytest.mark.claim("CT")
def test_softmax_ce_two_logit_hessian_has_eigenvalue_one_half_at_equal_logits() -> None:
    """CT: the smallest counterexample to 'Hessian eigenvalues <= 1/4' (k = 2, z = 0)."""
    hess = LOSSES["softmax_ce"].hessian([0.0, 0.0], 0)
    assert hess.tolist() == [[0.25, -0.25], [-0.25, 0.25]]
    assert np.linalg.eigvalsh(hess)[-1] == pytest.approx(0.5, rel=ROUND_RTOL)
    # The one-logit BCE is where 1/4 belongs.
    assert LOSSES["bce"].hessian([0.0], 0.0)[0, 0] == 0.25


@pytest.mark.claim("CT")
@given(loss_point_pairs())
@example((make_loss("softmax_ce", k=2), np.zeros(2), np.array([1.0, -1.0]), 0))
@example((make_loss("mae", k=2), np.zeros(2), np.ones(2), np.zeros(2)))
def test_loss_constants_bound_every_point_and_pair(
    case: tuple[Loss, np.ndarray, np.ndarray, Any],
) -> None:
    """CT and C9: gradient norm <= L, top eigenvalue <= beta, and the definitions on pairs:
    |l(z) - l(z')| <= L |z - z'|, |g(z) - g(z')| <= beta |z - z'| (beta finite)."""
    loss, z1, z2, y = case
    t = loss.truth
    assert np.linalg.norm(loss.grad(z1, y)) <= t.lipschitz * (1 + ROUND_RTOL)
    assert np.linalg.eigvalsh(loss.hessian(z1, y))[-1] <= t.smoothness * (1 + ROUND_RTOL)
    dist = float(np.linalg.norm(z1 - z2))
    assert abs(loss.value(z1, y) - loss.value(z2, y)) <= t.lipschitz * dist + VALUE_ATOL
    if math.isfinite(t.smoothness):
        moved = float(np.linalg.norm(loss.grad(z1, y) - loss.grad(z2, y)))
        assert moved <= t.smoothness * dist * (1 + ROUND_RTOL) + VALUE_ATOL


@pytest.mark.claim("CT")
@pytest.mark.parametrize(
    "loss",
    [
        make_loss("mae", k=3),
        make_loss("mse", k=2, radius=0.5),
        make_loss("softmax_ce", k=3),
        LOSSES["bce"],
        LOSSES["hinge"],
        make_loss("huber", k=2, delta=2.0),
    ],
    ids=lambda loss: f"{loss.name}-{loss.k}",
)
def test_search_constants_reaches_the_analytic_suprema_from_below(
    loss: Loss, rng: np.random.Generator
) -> None:
    """CT: the numerical twin never exceeds the analytic constants and comes within 1e-4."""
    found = search_constants(loss, rng, n_random=200, n_starts=2, n_pairs=60)
    t = loss.truth
    assert t.lipschitz * (1 - 1e-4) <= found.lipschitz <= t.lipschitz * (1 + ROUND_RTOL)
    assert found.value_quotient <= t.lipschitz * (1 + 1e-8)
    assert found.gradient_jump == math.isinf(t.smoothness)
    if math.isfinite(t.smoothness):
        assert t.smoothness * (1 - 1e-4) <= found.smoothness <= t.smoothness * (1 + ROUND_RTOL)
        assert found.eigen_quotient == pytest.approx(found.smoothness, rel=1e-8)
        assert found.gradient_quotient <= t.smoothness * (1 + 1e-8)
    else:
        assert found.gradient_quotient > 1e5


def test_search_constants_is_deterministic_given_the_rng() -> None:
    kw: dict[str, Any] = {"n_random": 50, "n_starts": 1, "n_pairs": 20}
    a = search_constants(LOSSES["softmax_ce"], np.random.default_rng(3), **kw)
    b = search_constants(LOSSES["softmax_ce"], np.random.default_rng(3), **kw)
    assert (a.lipschitz, a.smoothness, a.gradient_quotient) == (
        b.lipschitz,
        b.smoothness,
        b.gradient_quotient,
    )


def test_with_dim_and_with_claims_keep_the_rest() -> None:
    mse = make_loss("mse", k=2, radius=3.0)
    wide = mse.with_dim(6)
    assert (wide.k, wide.params, wide.claimed_lipschitz, wide.true_lipschitz) == (
        6,
        mse.params,
        6.0,
        6.0,
    )
    wrong = mse.with_claims(5.0, 0.9)
    assert (wrong.lipschitz_valid, wrong.smoothness_valid, wrong.true_lipschitz) == (
        False,
        False,
        6.0,
    )


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: make_loss("mape"), ValueError, "`name` must be one of mae, mse"),
        (lambda: make_loss("softmax_ce", k=1), ValueError, r"`k` must be an int in \[2, inf\]"),
        (lambda: make_loss("bce", k=2), ValueError, r"`k` must be an int in \[1, 1\]; got 2"),
        (
            lambda: make_loss("mae", k=2.0),  # type: ignore[arg-type]
            TypeError,
            "`k` must be an int; got 2.0",
        ),
        (lambda: make_loss("mse", radius=0.0), ValueError, r"`radius` must be a float in \(0"),
        (lambda: make_loss("huber", delta=-1.0), ValueError, r"`delta` must be a float in \(0"),
        (lambda: make_loss("mae", reduction="max"), ValueError, "`reduction` must be 'sum'"),
        (lambda: LOSSES["mae"].value([1.0, 2.0, 3.0], 0.0), ValueError, "size k = 1 for mae"),
        (lambda: LOSSES["mae"].value(1.0, 0.0), ValueError, r"got shape \(\)"),
        (lambda: LOSSES["mae"].grad([np.nan, 0.0], 0.0), ValueError, "`z` must not be NaN"),
        (lambda: LOSSES["mae"].grad([1.0], [[0.0, 0.0]]), ValueError, "keeping the trailing"),
        (lambda: LOSSES["mae"].value([1.0], [0.0, 0.0, 0.0]), ValueError, "size k = 1 for mae"),
        (lambda: LOSSES["hinge"].value(np.zeros((3, 1)), np.ones(3)), ValueError, r"shape \(3,\)"),
        (lambda: LOSSES["bce"].value(np.zeros((2, 1)), np.ones(2)), ValueError, "for bce"),
        (lambda: make_loss("mae", k=2).grad([1.0, 0.0], [0.0] * 3), ValueError, "`y` must broad"),
        (lambda: LOSSES["mse"].value([1.0, 1.0], 0.0), ValueError, "`z` must lie in the ball"),
        (lambda: LOSSES["mse"].value([0.0, 0.0], [2.0, 0.0]), ValueError, "`y` must lie"),
        (lambda: LOSSES["softmax_ce"].value([0.0, 0.0], 2), ValueError, r"ints in \[0, 1\]"),
        (lambda: LOSSES["softmax_ce"].value([0.0, 0.0], -1), ValueError, "must be an int >= 0"),
        (lambda: LOSSES["softmax_ce"].value([0.0, 0.0], [0.5, 0.6]), ValueError, "sum to 1"),
        (lambda: LOSSES["softmax_ce"].value([0.0, 0.0], [1.5, -0.5]), ValueError, r"\[0, 1\]"),
        (lambda: LOSSES["softmax_ce"].value([0.0, 0.0], 0.5), ValueError, "integer labels for"),
        (lambda: LOSSES["bce"].value([0.0], [2.0]), ValueError, r"`y` must be a float in \[0"),
        (lambda: LOSSES["hinge"].value([0.0], [0.0]), ValueError, "`y` must be -1 or \\+1; got 0"),
        (lambda: LOSSES["hinge"].value([0.0], True), TypeError, "`y` must be a real number"),
    ],
)
def test_losses_reject_bad_input(call: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()
