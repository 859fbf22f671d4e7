"""theory.symbolic.losses: sympy-derived values, gradients and Hessians against theory.losses,
and the symbolic derivations of the suprema (C9, CT)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import sympy as sp

from theory.losses import Loss, make_loss
from theory.symbolic.losses import (
    bce_curvature_max,
    huber_gradient_jumps,
    loss_derivatives,
    loss_expr,
    loss_functions,
    loss_symbols,
    softmax_gradient_gap_residual,
    softmax_gradient_norm_limit,
    softmax_hessian_certificate_residual,
    softmax_two_logit_eigen_max,
)

#: Two float64 evaluations of one formula in different orders (logsumexp against log(sum(exp)),
#: sigma(z) sigma(-z) against exp(z)/(1 + exp(z))^2), on |z| <= 5: a few ulps of values <= 20.
RTOL = 1e-12
ATOL = 1e-13
#: Points stay this far from every kink, where the lambdified Heaviside(0) = 1/2 and the
#: numeric minimum-norm subgradient (0) legitimately differ.
KINK_MARGIN = 1e-3

CASES = [
    ("mae", 1),
    ("mae", 3),
    ("mae_mean", 2),
    ("mse", 2),
    ("mse", 3),
    ("huber", 1),
    ("huber", 3),
    ("softmax_ce", 2),
    ("softmax_ce", 3),
    ("bce", 1),
    ("hinge", 1),
]


def _numeric(name: str, k: int, delta: float) -> Loss:
    if name == "mae_mean":
        return make_loss("mae", k=k, reduction="mean")
    return make_loss(name, k=k, radius=100.0, delta=delta)


def _args(name: str, k: int, rng: np.random.Generator, n: int) -> tuple[Any, Any, list[Any]]:
    """Points (z, y) away from kinks, and the positional arguments of the lambdified twin."""
    z = rng.uniform(-5, 5, (n, k))
    if name == "softmax_ce":
        return z, 0, list(z.T)
    if name in ("bce", "hinge"):
        y = rng.choice([0.0, 1.0] if name == "bce" else [-1.0, 1.0], (n, 1))
        if name == "hinge":
            far = np.abs(y * z - 1.0) > KINK_MARGIN
            z = np.where(far, z, z + 2 * KINK_MARGIN)
        return z, y, [*z.T, y[:, 0]]
    y = rng.uniform(-5, 5, (n, k))
    z = np.where(np.abs(z - y) > KINK_MARGIN, z, z + 2 * KINK_MARGIN)
    return z, y, [*z.T, *y.T]


@pytest.mark.claim("CT")
@pytest.mark.parametrize(("name", "k"), CASES)
def test_symbolic_loss_derivatives_match_numpy(name: str, k: int, rng: np.random.Generator) -> None:
    """CT: value, gradient and (a.e.) Hessian derived by sympy.diff equal the numpy formulas."""
    delta = 1.3
    z, y, args = _args(name, k, rng, 200)
    if name == "huber":
        r = np.abs(z - y)
        assert np.all(np.abs(r - delta) > KINK_MARGIN), "points too close to the Huber edge"
        args = [*args, delta]
    value, grad, hess = loss_functions(name, k)
    numeric = _numeric(name, k, delta)
    n = z.shape[0]
    sym_grad = np.stack([np.broadcast_to(g, (n,)) for g in grad(*args)], axis=-1)
    sym_hess = np.stack(
        [np.stack([np.broadcast_to(h, (n,)) for h in row], axis=-1) for row in hess(*args)],
        axis=-2,
    )
    np.testing.assert_allclose(value(*args), numeric.value(z, y), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(sym_grad, numeric.grad(z, y), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(sym_hess, numeric.hessian(z, y), rtol=RTOL, atol=ATOL)


def test_symbolic_loss_jumps_are_exactly_the_non_smooth_losses() -> None:
    """A DiracDelta in the derived Hessian marks a gradient jump (beta = inf)."""
    jumps = {name: loss_derivatives(name, k).has_jump for name, k in CASES}
    assert jumps == {
        "mae": True,
        "mae_mean": True,
        "mse": False,
        "huber": False,
        "softmax_ce": False,
        "bce": False,
        "hinge": True,
    }
    # Piecewise differentiation cannot show a jump between branches: compared at the edges.
    assert huber_gradient_jumps() == (0, 0)


def test_symbolic_loss_expr_forms() -> None:
    (z0, z1), (y0, y1) = loss_symbols(2)
    assert loss_expr("mse", 2) == ((z0 - y0) ** 2 + (z1 - y1) ** 2) / 2
    assert loss_expr("softmax_ce", 2, label=1) == sp.log(sp.exp(z0) + sp.exp(z1)) - z1
    assert loss_derivatives("mse", 2).hessian == sp.eye(2)
    with pytest.raises(ValueError, match="`name` must be one of mae, mae_mean"):
        loss_expr("mape", 2)
    with pytest.raises(ValueError, match="`k` must be 1 for bce; got 2"):
        loss_expr("bce", 2)


@pytest.mark.claim("CT")
def test_symbolic_bce_curvature_peaks_at_one_quarter() -> None:
    """CT: the one-logit sigmoid curvature is at most 1/4, at z = 0 only."""
    assert bce_curvature_max() == (0, sp.Rational(1, 4))


@pytest.mark.claim("CT")
def test_symbolic_two_logit_softmax_eigenvalue_peaks_at_one_half(
    rng: np.random.Generator,
) -> None:
    """CT: the k = 2 softmax Hessian eigenvalue 1 / (2 cosh^2(t/2)) peaks at 1/2, not 1/4."""
    lam, top = softmax_two_logit_eigen_max()
    assert top == sp.Rational(1, 2)
    (z0, _), _ = loss_symbols(2)
    f = sp.lambdify(z0, lam, "numpy")
    t = rng.uniform(-8, 8, 50)
    numeric = make_loss("softmax_ce", k=2).hessian(np.stack([t, np.zeros_like(t)], -1), 0)
    np.testing.assert_allclose(f(t), np.linalg.eigvalsh(numeric)[:, -1], rtol=1e-12, atol=0)


@pytest.mark.claim("C9")
def test_symbolic_softmax_gradient_norm_tends_to_sqrt2() -> None:
    """C9: the supremum sqrt(2) is a limit (t -> inf at z = (0, t))."""
    assert softmax_gradient_norm_limit() == sp.sqrt(2)


@pytest.mark.claim("C9")
@pytest.mark.parametrize("k", [2, 3, 4])
def test_symbolic_softmax_gradient_gap_identity(k: int) -> None:
    """C9: 2 - |grad|^2 = 2 p_y + 2 sum_{i<j} p_i p_j > 0 for every label: |grad| < sqrt 2."""
    assert [softmax_gradient_gap_residual(k, label) for label in range(k)] == [0] * k


@pytest.mark.claim("CT")
@pytest.mark.parametrize("k", [2, 3])
def test_symbolic_softmax_hessian_certificate_holds_for_half_not_quarter(k: int) -> None:
    """CT: the sum-of-squares certificate of lambda_max <= 1/2; the same form fails for 1/4."""
    assert softmax_hessian_certificate_residual(k) == 0
    assert softmax_hessian_certificate_residual(k, sp.Rational(1, 4)) != 0
