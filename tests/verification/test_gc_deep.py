"""Deep lower estimates of E17: the linear twin, validity per draw, and the required-C0 twins."""

from __future__ import annotations

import numpy as np
import pytest

from theory.gaussian_complexity import pinto_bound_as_restated
from theory.gaussian_complexity.corrected import pinto_bound_corrected
from verification.claims.complexity.deep import (
    Architecture,
    corrected_c0,
    deep_lower_sups,
    required_c0,
    restated_c0_two_layer,
)

_EPS = float(np.finfo(np.float64).eps)
#: The optimiser must reach the exact supremum of the linear twin to within this fraction
#: (projected ascent on a smooth objective from 3 starts; 0.1% is a loose quality floor).
_REACH = 0.999


@pytest.mark.parametrize(
    "arch",
    [Architecture(4, (4, 2), (2, 1), 15), Architecture(3, (5, 4, 3), (3, 2, 2), 12)],
    ids=["depth2", "depth3"],
)
def test_deep_lower_sups_reach_the_exact_linear_supremum(
    arch: Architecture, rng: np.random.Generator
) -> None:
    """With the identity activation the deep class is {W : ||W||_2 <= 1, rank <= min r_i},
    whose supremum per draw is the Ky Fan norm of Gamma^T X: never exceeded, nearly reached."""
    X = rng.standard_normal((arch.m, arch.d))
    gamma = rng.standard_normal((24, arch.m, arch.widths[-1]))
    got = deep_lower_sups(
        X, gamma, arch, n_starts=3, n_steps=60, n_random=16, rng=rng, activation="linear"
    )
    r = min(arch.ranks)
    exact = np.linalg.svd(np.einsum("smk,md->skd", gamma, X), compute_uv=False)[:, :r].sum(1)
    assert (got <= exact * (1 + 64 * _EPS)).all()
    assert (got >= _REACH * exact).all()


def test_deep_lower_sups_relu_stay_below_a_norm_bound(rng: np.random.Generator) -> None:
    """ReLU networks with unit spectral norms satisfy ||f(x)|| <= ||x||, so every value found is
    at most sum_j ||gamma_j|| ||x_j||; and optimising beats random networks alone on average."""
    arch = Architecture(4, (4, 2), (2, 1), 20)
    X = rng.standard_normal((arch.m, arch.d))
    gamma = rng.standard_normal((32, arch.m, 2))
    opt = deep_lower_sups(X, gamma, arch, n_starts=3, n_steps=40, n_random=0, rng=rng)
    rnd = deep_lower_sups(X, gamma, arch, n_starts=0, n_steps=0, n_random=32, rng=rng)
    cap = (np.linalg.norm(gamma, axis=2) * np.linalg.norm(X, axis=1)).sum(axis=1)
    assert (opt <= cap).all() and (rnd <= cap).all()
    assert opt.mean() > rnd.mean()


def test_required_c0_matches_the_two_layer_closed_form(rng: np.random.Generator) -> None:
    arch = Architecture(4, (4, 2), (2, 1), 20)
    X = rng.standard_normal((20, 4))
    for g in (0.1, 0.47, 2.0):
        numeric, at = required_c0(pinto_bound_as_restated, X, arch, g)
        closed = restated_c0_two_layer(float(np.linalg.norm(X)), 20, arch, g)
        assert numeric == pytest.approx(closed, rel=1e-8)
        # at the worst scaling the bound touches the lower estimate
        b = pinto_bound_as_restated(
            X, spectral_bounds=list(at), ranks=[2, 1], widths=[4, 2], c0=numeric
        )
        assert b == pytest.approx(float(np.prod(at)) * g, rel=1e-7)


@pytest.mark.parametrize(
    "arch", [Architecture(4, (4, 2), (2, 1), 20), Architecture(4, (4, 4, 2), (2, 2, 1), 20)]
)
def test_corrected_c0_is_the_supremum_of_the_numeric_search(
    arch: Architecture, rng: np.random.Generator
) -> None:
    X = rng.standard_normal((arch.m, arch.d))
    g = 0.6
    closed = corrected_c0(float(np.linalg.norm(X)), arch.m, arch, g)
    numeric, _ = required_c0(pinto_bound_corrected, X, arch, g, log_range=12.0, n_grid=5)
    assert numeric <= closed * (1 + 1e-9)
    assert numeric >= closed * (1 - 1e-3)


def test_architecture_and_activation_validation(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="depth >= 2"):
        Architecture(3, (2,), (1,), 5)
    with pytest.raises(ValueError, match=r"`ranks\[1\]` must be an int in \[1, 2\]; got 3"):
        Architecture(3, (4, 2), (2, 3), 5)
    arch = Architecture(3, (4, 2), (2, 1), 5)
    X = np.ones((5, 3))
    with pytest.raises(ValueError, match="`activation` must be one of"):
        deep_lower_sups(
            X,
            np.ones((2, 5, 2)),
            arch,
            n_starts=1,
            n_steps=1,
            n_random=1,
            rng=rng,
            activation="tanh",
        )
    with pytest.raises(ValueError, match="do not match the architecture"):
        deep_lower_sups(X, np.ones((2, 5, 3)), arch, n_starts=1, n_steps=1, n_random=1, rng=rng)
    with pytest.raises(ValueError, match="the closed form is for depth 2"):
        restated_c0_two_layer(1.0, 5, Architecture(3, (4, 4, 2), (2, 2, 1), 5), 0.5)
