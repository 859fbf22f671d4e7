r"""Lower estimates of the Gaussian complexity of deep rank- and spectral-norm-constrained networks.

The class of claim E17 at depth :math:`D \ge 2`:

.. math:: F = \{x \mapsto W_D \phi(W_{D-1} \cdots \phi(W_1 x)) : \|W_i\|_2 \le C_i,
    \mathrm{rank}\, W_i \le r_i,\ W_i \in \mathbb R^{h_i \times h_{i-1}}\}, \quad
    \phi = \mathrm{ReLU}.

Its supremum has no closed form, but every network of the class gives a lower bound of the
supremum for each draw of :math:`\Gamma`, so the mean over draws of the best network found is an
estimate of a number at most :math:`\hat G(F)`. Two devices make the networks good:

- the last layer is exact: for fixed hidden features :math:`H` (m x h_{D-1}), the supremum over
  :math:`W_D` is :math:`C_D` times the Ky Fan :math:`r_D`-norm of :math:`\Gamma^\top H`;
- the other layers are chosen by projected gradient ascent of that Ky Fan norm (projection onto
  :math:`\{\mathrm{rank} \le r, \|W\|_2 \le 1\}` by truncating and clipping the singular values),
  from several random starts, and random networks with flat spectra are tried as well.

ReLU is positively homogeneous, so :math:`F(tC_1, C_2, \dots) = t F(C_1, C_2, \dots)` and
:math:`\hat G(F(C)) = \prod_i C_i\, \hat G(F(1, \dots, 1))` exactly: one estimate at unit bounds
serves every scaling.

References: claim E17 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from theory._validation import check_int

__all__ = [
    "Architecture",
    "corrected_c0",
    "deep_lower_sups",
    "required_c0",
    "restated_c0_two_layer",
]

Array = NDArray[np.float64]
#: Activations of the deep class: ReLU (the claim's phi) and identity (the exact linear twin).
ACTIVATIONS = ("relu", "linear")


@dataclass(frozen=True)
class Architecture:
    """Widths :math:`h_1..h_D` (output last), ranks :math:`r_1..r_D`, input dim d, sample size m."""

    d: int
    widths: tuple[int, ...]
    ranks: tuple[int, ...]
    m: int

    def __post_init__(self) -> None:
        if len(self.widths) < 2 or len(self.ranks) != len(self.widths):
            raise ValueError(
                f"`widths` and `ranks` must have one entry per layer, depth >= 2; got "
                f"{self.widths} and {self.ranks}"
            )
        dims = (self.d, *self.widths)
        for i, r in enumerate(self.ranks):
            check_int(r, f"ranks[{i}]", low=1, high=min(dims[i], dims[i + 1]))

    @property
    def depth(self) -> int:
        return len(self.widths)

    def label(self) -> str:
        return f"d={self.d} h={list(self.widths)} r={list(self.ranks)} m={self.m}"


def _project(w: Array, rank: int) -> Array:
    """Nearest point (Frobenius) of {rank <= r, ||W||_2 <= 1}: truncate, then clip at 1."""
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    s = np.minimum(s[..., :rank], 1.0)
    return np.asarray((u[..., :rank] * s[..., None, :]) @ vt[..., :rank, :])


def _flat_random(shape: tuple[int, ...], rank: int, rng: np.random.Generator) -> Array:
    """Random rank-r matrices whose r singular values all equal 1 (the boundary of the class)."""
    u, _, vt = np.linalg.svd(rng.standard_normal(shape), full_matrices=False)
    return np.asarray(u[..., :rank] @ vt[..., :rank, :])


def _forward(x: Array, weights: Sequence[Array], relu: bool) -> tuple[list[Array], list[Array]]:
    """Pre-activations Z_l and features H_l (H_0 = X broadcast) of the hidden layers, batched."""
    hs: list[Array] = [np.broadcast_to(x, (weights[0].shape[0], *x.shape))]
    zs: list[Array] = []
    for w in weights:
        z = np.einsum("smi,shi->smh", hs[-1], w)
        zs.append(z)
        hs.append(np.maximum(z, 0.0) if relu else z)
    return zs, hs


def _ky_fan(gamma: Array, h: Array, rank: int) -> tuple[Array, Array]:
    """Ky Fan r-norm of Gamma^T H per batch element, and its gradient with respect to H."""
    mat = np.einsum("smk,smh->skh", gamma, h)
    u, s, vt = np.linalg.svd(mat, full_matrices=False)
    grad_m = u[..., :rank] @ vt[..., :rank, :]
    return s[..., :rank].sum(axis=-1), np.einsum("smk,skh->smh", gamma, grad_m)


def deep_lower_sups(
    X: Array,
    gamma: Array,
    arch: Architecture,
    *,
    n_starts: int,
    n_steps: int,
    n_random: int,
    rng: np.random.Generator,
    activation: str = "relu",
) -> Array:
    r"""For each draw of :math:`\Gamma`, the best value of :math:`\sup_{W_D} \sum_j \langle
    \gamma_j, f(x_j)\rangle` found over networks with unit spectral bounds.

    .. math:: v_s = \max_{\text{networks tried}} \sum_{i \le r_D}
        \sigma_i\big(\Gamma_s^\top H_{D-1}(W_1, \dots, W_{D-1})\big) \le
        \sup_{f \in F(1, \dots, 1)} \sum_j \langle \gamma_{s,j}, f(x_j) \rangle

    Parameters
    ----------
    X : ndarray, shape (m, d)
    gamma : ndarray, shape (n_draws, m, k)
        The Gaussian draws, :math:`k = h_D`.
    arch : Architecture
    n_starts, n_steps : int
        Random starts per draw and projected-gradient steps per start.
    n_random : int
        Random flat-spectrum networks tried for every draw (common to all draws).
    rng : numpy.random.Generator
    activation : {"relu", "linear"}

    Returns
    -------
    ndarray, shape (n_draws,)
        Unnormalised sums (divide by m for the complexity); each is a lower bound of the draw's
        supremum.

    References
    ----------
    Claim E17 (depth >= 2).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {ACTIVATIONS}; got {activation!r}")
    relu = activation == "relu"
    n_draws, m, k = gamma.shape
    if X.shape != (m, arch.d) or k != arch.widths[-1]:
        raise ValueError(
            f"`X` {X.shape} and `gamma` {gamma.shape} do not match the architecture {arch.label()}"
        )
    dims = (arch.d, *arch.widths)
    hidden = range(arch.depth - 1)
    r_last = arch.ranks[-1]
    best = np.zeros(n_draws)
    if n_random > 0:
        nets = [_flat_random((n_random, dims[i + 1], dims[i]), arch.ranks[i], rng) for i in hidden]
        feats = _forward(X, nets, relu)[1][-1]
        mats = np.einsum("smk,Rmh->sRkh", gamma, feats)
        sv = np.linalg.svd(mats, compute_uv=False)
        best = np.maximum(best, sv[..., :r_last].sum(axis=-1).max(axis=1))
    if n_starts == 0 or n_steps == 0:
        return best
    size = n_draws * n_starts
    g = np.repeat(gamma, n_starts, axis=0)
    ws = [_flat_random((size, dims[i + 1], dims[i]), arch.ranks[i], rng) for i in hidden]
    found = np.zeros(size)
    for step in range(n_steps + 1):
        zs, hs = _forward(X, ws, relu)
        value, d_h = _ky_fan(g, hs[-1], r_last)
        found = np.maximum(found, value)
        if step == n_steps:
            break
        # Normalised steps with a linearly decaying length: the objective is homogeneous of
        # degree one in each W_i, so the raw gradient's scale carries no information.
        eta = 0.5 * (1.0 - step / n_steps) + 0.02
        grads: list[Array] = []
        for i in reversed(hidden):
            d_z = d_h * (zs[i] > 0) if relu else d_h
            grads.append(np.einsum("smh,smi->shi", d_z, hs[i]))
            d_h = np.einsum("smh,shi->smi", d_z, ws[i])
        grads.reverse()
        for i in hidden:
            norm = np.sqrt((grads[i] ** 2).sum(axis=(1, 2), keepdims=True))
            step_dir = grads[i] / np.where(norm > 0, norm, 1.0)
            ws[i] = _project(ws[i] + eta * step_dir, arch.ranks[i])
    return np.maximum(best, found.reshape(n_draws, n_starts).max(axis=1))


def _root_c0(bound: Callable[[float], float], target: float) -> float:
    """Smallest c0 > 0 with bound(c0) >= target (bound increasing in c0); 0 if none is needed."""
    lo = 1e-12
    if bound(lo) >= target:
        return 0.0
    hi = 1.0
    while bound(hi) < target:
        hi *= 2.0
    return float(optimize.brentq(lambda c: bound(c) - target, lo, hi, xtol=1e-12, rtol=1e-10))


def required_c0(
    bound_fn: Callable[..., float],
    X: Array,
    arch: Architecture,
    unit_complexity: float,
    *,
    log_range: float = 6.0,
    n_grid: int = 7,
) -> tuple[float, tuple[float, ...]]:
    r"""The largest, over spectral bounds :math:`C`, of the smallest :math:`C_0` for which
    ``bound_fn`` stays above :math:`\prod_i C_i \cdot` ``unit_complexity``.

    .. math:: \sup_{C} \min\{C_0 : B(X; C, r, h, C_0) \ge \textstyle\prod_i C_i\, g\}

    A grid over :math:`\log C \in [-L, L]^D` picks the starts of a Nelder-Mead search.

    Returns
    -------
    (float, tuple of float)
        The required :math:`C_0` and the spectral bounds where it is reached.

    References
    ----------
    Claim E17 (depth >= 2).
    """

    def need(log_c: Array) -> float:
        cs = np.exp(np.clip(log_c, -log_range, log_range))
        target = float(np.prod(cs)) * unit_complexity

        def bound(c0: float) -> float:
            return float(
                bound_fn(
                    X, spectral_bounds=cs, ranks=list(arch.ranks), widths=list(arch.widths), c0=c0
                )
            )

        return _root_c0(bound, target)

    axes = [np.linspace(-log_range, log_range, n_grid)] * arch.depth
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, arch.depth)
    values = np.array([need(p) for p in grid])
    best_val, best_at = float(values.max()), grid[int(values.argmax())]
    for start in grid[np.argsort(values)[-2:]]:
        res = optimize.minimize(
            lambda p: -need(p), start, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-9}
        )
        if -res.fun > best_val:
            best_val, best_at = float(-res.fun), res.x
    cs = np.exp(np.clip(best_at, -log_range, log_range))
    return best_val, tuple(float(c) for c in cs)


def restated_c0_two_layer(
    x_fro: float, m: int, arch: Architecture, unit_complexity: float
) -> float:
    r"""Closed form at D = 2 of :func:`required_c0` for the restated bound (its twin).

    With :math:`g = \hat G_1 m/\|X\|_F`, :math:`a = \sqrt{r_1 h_1}`, :math:`b = \sqrt{r_2 h_2}`,
    the restated bound is :math:`(a C_0^2 C_1^2 + b)\, C_2 \|X\|_F/m` against
    :math:`C_1 C_2\, g \|X\|_F/m`: a quadratic in :math:`C_1` without a positive root iff
    :math:`g^2 \le 4abC_0^2`, so

    .. math:: C_0^{restated} = \frac{g}{2\sqrt{ab}}.

    References
    ----------
    Claim E17 (depth 2).

    Examples
    --------
    >>> arch = Architecture(3, (4, 1), (1, 1), 9)  # a = 2, b = 1
    >>> restated_c0_two_layer(3.0, 9, arch, 1.0)  # g = 3, so 3 / (2 sqrt 2)
    1.0606601717798212
    """
    if arch.depth != 2:
        raise ValueError(f"the closed form is for depth 2; got depth {arch.depth}")
    g = unit_complexity * m / x_fro
    a = np.sqrt(arch.ranks[0] * arch.widths[0])
    b = np.sqrt(arch.ranks[1] * arch.widths[1])
    return float(g / (2.0 * np.sqrt(a * b)))


def corrected_c0(x_fro: float, m: int, arch: Architecture, unit_complexity: float) -> float:
    r"""The supremum over spectral bounds of the :math:`C_0` the corrected form needs.

    Its first term alone is :math:`a\, C_0^{D-1} \prod_i C_i \|X\|_F/m` with
    :math:`a = \sqrt{r_1 h_1}`, the others are positive and vanish relative to it as
    :math:`C_1 \to \infty`, so with :math:`g = \hat G_1 m/\|X\|_F`

    .. math:: C_0^{corrected} = (g / a)^{1/(D-1)}.

    References
    ----------
    Claim E17 (depth >= 2, corrected form).

    Examples
    --------
    >>> corrected_c0(3.0, 9, Architecture(3, (4, 2, 1), (1, 1, 1), 9), 1.0)  # sqrt(3 / 2)
    1.224744871391589
    """
    g = unit_complexity * m / x_fro
    a = np.sqrt(arch.ranks[0] * arch.widths[0])
    return float((g / a) ** (1.0 / (arch.depth - 1)))
