r"""Numerical twin of :mod:`theory.losses.constants`: the suprema found by search, not derived.

For one :class:`theory.losses.Loss` on :math:`\mathbb R^k` this maximises, over the domain
truncated to a box (logits and residuals in :math:`[-S, S]`, MSE points projected onto the
ball), by random search at several scales and L-BFGS-B from the best points:

- ``lipschitz``: :math:`\|\nabla_z l\|_2` (uses the gradient formula);
- ``value_quotient``: :math:`|l(z, y) - l(z', y)| / \|z - z'\|_2` over pairs at distance
  >= 1e-3, a lower bound on L that uses loss values only;
- ``smoothness``: :math:`\lambda_{max}(\nabla^2_z l)` (uses the Hessian formula);
- ``gradient_quotient``: :math:`\|\nabla l(z) - \nabla l(z')\| / \|z - z'\|`, a lower bound on
  :math:`\beta` from gradients only, by bisecting random segments toward their steepest half
  (a gradient jump makes it double at each halving: ``gradient_jump``) and at the best Hessian
  point along its top eigenvector (which confirms the eigenvalue from gradients alone).

Classification targets are enumerated (every label; y = 0, 1 for BCE; y = -1, +1 for hinge);
regression targets are searched like z.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import minimize

from theory._validation import FloatArray, check_int, check_positive

if TYPE_CHECKING:
    from theory.losses.loss import Loss

__all__ = ["JUMP_FLOOR", "SearchResult", "search_constants"]

#: Halvings of each bisected segment: from length <= 1 to <= 2^-31 < 4.7e-10.
_HALVINGS = 31
#: A gradient difference still above this on a final segment (length < 4.7e-10) is a jump: it
#: means a difference quotient > 2e3, and a loss with beta <= 2e3 moves its gradient by less.
JUMP_FLOOR = 1e-6
#: Shortest segment whose quotient is recorded: the gradients carry absolute rounding errors
#: ~1e-15 (values <= 2B or sqrt(2)), which over 1e-6 shift a quotient by ~1e-9 at most.
_QUOTIENT_MIN_SEP = 1e-6
#: Shortest pair whose value quotient counts: loss values (<= ~100 on the box) carry rounding
#: errors ~1e-14, which over 1e-3 shift a quotient by ~1e-11 at most.
_VALUE_MIN_SEP = 1e-3
#: Step of the central difference along the top eigenvector: its O(h^2) truncation error and its
#: O(eps/h) rounding error are both ~1e-10 for these losses (third derivatives <= 1).
_EIG_STEP = 1e-5

Point = tuple[FloatArray, FloatArray]


@dataclass(frozen=True)
class SearchResult:
    """What the search found: each supremum's best value and the point ``(z, y)`` reaching it."""

    lipschitz: float
    lipschitz_at: Point
    value_quotient: float
    value_quotient_at: tuple[FloatArray, FloatArray, FloatArray]
    smoothness: float
    smoothness_at: Point
    gradient_quotient: float
    #: the central-difference quotient along the top eigenvector at ``smoothness_at``
    eigen_quotient: float
    #: the gradient difference left on the shortest bisected segment, and whether it is a jump
    final_gradient_gap: float
    gradient_jump: bool
    n_points: int


@dataclass(frozen=True)
class _Domain:
    k: int
    y_dim: int
    targets: tuple[Any, ...]
    bound: float
    to_z: Callable[[FloatArray], FloatArray]
    #: radius of the ball the z live in (MSE), else None
    radius: float | None = None

    def split(self, u: FloatArray, target: Any) -> Point:
        z = self.to_z(u[..., : self.k])
        if self.y_dim:
            return z, self.to_z(u[..., self.k :])
        return z, np.broadcast_to(np.asarray(target, dtype=np.float64), z.shape)


def _ball(radius: float) -> Callable[[FloatArray], FloatArray]:
    def project(u: FloatArray) -> FloatArray:
        norms = np.linalg.norm(u, axis=-1, keepdims=True)
        # Radial projection reaches the sphere exactly, where the MSE supremum lives.
        out: FloatArray = radius * u / np.maximum(radius, norms)
        return out

    return project


def _domain(loss: Loss, box: float) -> _Domain:
    k = loss.k
    if loss.name == "softmax_ce":
        return _Domain(k, 0, tuple(np.eye(k)), box, lambda u: u)
    if loss.name == "bce":
        return _Domain(1, 0, (0.0, 1.0), box, lambda u: u)
    if loss.name == "hinge":
        return _Domain(1, 0, (-1.0, 1.0), box, lambda u: u)
    if loss.name == "mse":
        radius = float(loss.params["radius"])
        return _Domain(k, k, (None,), 2.0 * radius, _ball(radius), radius)
    return _Domain(k, k, (None,), box, lambda u: u)


def _draw(rng: np.random.Generator, n: int, dim: int, bound: float) -> FloatArray:
    """A third uniform on the box, a third on [-2, 2] (the unit scale of margins, thresholds and
    balls), a third on the box shrunk by 10^U(-4, 0) (kinks and flat spots near 0)."""
    u = rng.uniform(-bound, bound, (n, dim))
    third = n // 3
    u[third : 2 * third] *= min(2.0, bound) / bound
    u[2 * third :] *= 10.0 ** rng.uniform(-4.0, 0.0, (n - 2 * third, 1))
    return u


def _maximise(
    objective: Callable[[FloatArray, Any], FloatArray],
    dom: _Domain,
    dim: int,
    rng: np.random.Generator,
    n_random: int,
    n_starts: int,
) -> tuple[float, FloatArray, Any]:
    """Random search then L-BFGS-B (finite-difference gradients) from the best starts."""
    best: list[tuple[float, FloatArray, Any]] = []
    for target in dom.targets:
        u = _draw(rng, n_random, dim, dom.bound)
        vals = objective(u, target)
        for i in np.argsort(vals)[::-1][:n_starts]:
            best.append((float(vals[i]), u[i], target))
    best.sort(key=lambda t: -t[0])
    top = best[0]
    for _, u0, target in best[:n_starts]:

        def neg(x: FloatArray, target: Any = target) -> float:
            return -float(objective(x[None, :], target)[0])

        res = minimize(neg, u0, method="L-BFGS-B", bounds=[(-dom.bound, dom.bound)] * dim)
        if -res.fun > top[0]:
            top = (float(-res.fun), np.asarray(res.x), target)
    return top


def search_constants(
    loss: Loss,
    rng: np.random.Generator,
    *,
    n_random: int = 2000,
    n_starts: int = 4,
    n_pairs: int = 200,
    box: float = 20.0,
) -> SearchResult:
    r"""Maximise the gradient norm, Hessian eigenvalue and difference quotients of ``loss``.

    Parameters
    ----------
    loss : Loss
    rng : numpy.random.Generator
    n_random : int
        Random points per target for each objective.
    n_starts : int
        L-BFGS-B runs per objective, from the best random points.
    n_pairs : int
        Random segments bisected for the gradient quotient.
    box : float
        Half-width S of the box of logits and residuals (MSE uses its ball instead).

    Returns
    -------
    SearchResult
        Every value is attained at a point of the truncated domain, hence a lower bound on the
        true supremum (up to rounding).

    References
    ----------
    Claims C9 and CT.

    Examples
    --------
    >>> from theory.losses import LOSSES
    >>> res = search_constants(LOSSES["bce"], np.random.default_rng(0), n_random=200)
    >>> round(res.smoothness, 9), res.gradient_jump
    (0.25, False)
    """
    n_random = check_int(n_random, "n_random")
    n_starts = check_int(n_starts, "n_starts")
    n_pairs = check_int(n_pairs, "n_pairs")
    dom = _domain(loss, float(check_positive(box, "box")))
    dim = dom.k + dom.y_dim

    def grad_norm(u: FloatArray, t: Any) -> FloatArray:
        return np.asarray(np.linalg.norm(loss.grad(*dom.split(u, t)), axis=-1))

    def top_eig(u: FloatArray, t: Any) -> FloatArray:
        return np.asarray(np.linalg.eigvalsh(loss.hessian(*dom.split(u, t)))[..., -1])

    def value_quotient(v: FloatArray, t: Any) -> FloatArray:
        z1 = dom.to_z(v[..., : dom.k])
        z2, y = dom.split(v[..., dom.k :], t)
        gap = np.linalg.norm(z1 - z2, axis=-1)
        diff = np.abs(loss.value(z1, y) - loss.value(z2, y))
        ok = gap >= _VALUE_MIN_SEP
        return np.asarray(np.where(ok, diff / np.where(ok, gap, 1.0), 0.0))

    lip, lip_u, lip_t = _maximise(grad_norm, dom, dim, rng, n_random, n_starts)
    vq, vq_u, vq_t = _maximise(value_quotient, dom, dom.k + dim, rng, n_random, n_starts)
    smooth, sm_u, sm_t = _maximise(top_eig, dom, dim, rng, n_random, n_starts)
    z_s, y_s = dom.split(sm_u, sm_t)
    if dom.radius is not None:
        # Pull the point inside the ball so that both difference points stay in the domain.
        z_s = z_s * (1.0 - 4.0 * _EIG_STEP / dom.radius)
    vec = np.linalg.eigh(loss.hessian(z_s, y_s))[1][:, -1]
    g_plus = loss.grad(z_s + _EIG_STEP * vec, y_s)
    g_minus = loss.grad(z_s - _EIG_STEP * vec, y_s)
    eig_q = float(np.linalg.norm(g_plus - g_minus) / (2.0 * _EIG_STEP))
    grad_q, gap = _bisect(loss, dom, rng, n_pairs)
    z_l, y_l = dom.split(lip_u, lip_t)
    z1 = dom.to_z(vq_u[: dom.k])
    z2, y2 = dom.split(vq_u[dom.k :], vq_t)
    return SearchResult(
        lipschitz=lip,
        lipschitz_at=(z_l, np.array(y_l)),
        value_quotient=vq,
        value_quotient_at=(z1, z2, np.array(y2)),
        smoothness=smooth,
        smoothness_at=(z_s, np.array(y_s)),
        gradient_quotient=max(grad_q, eig_q),
        eigen_quotient=eig_q,
        final_gradient_gap=gap,
        gradient_jump=gap > JUMP_FLOOR,
        n_points=len(dom.targets) * (3 * n_random + n_pairs * (_HALVINGS + 2)),
    )


def _bisect(
    loss: Loss, dom: _Domain, rng: np.random.Generator, n_pairs: int
) -> tuple[float, float]:
    """Largest gradient difference quotient over bisected segments (of length >= 1e-6), and the
    largest gradient difference left on a final segment (start <= 1, end below 2^-31)."""
    best_q, best_gap = 0.0, 0.0
    for target in dom.targets:
        u = _draw(rng, n_pairs, dom.k + dom.y_dim, dom.bound)
        step = rng.normal(size=(n_pairs, dom.k))
        step *= 10.0 ** rng.uniform(-1.0, 0.0, (n_pairs, 1)) / np.linalg.norm(
            step, axis=-1, keepdims=True
        )
        a, y = dom.split(u, target)
        b = dom.to_z(a + step)
        ga, gb = loss.grad(a, y), loss.grad(b, y)
        for _ in range(_HALVINGS):
            sep = np.linalg.norm(a - b, axis=-1)
            diff = np.linalg.norm(ga - gb, axis=-1)
            ok = sep >= _QUOTIENT_MIN_SEP
            if ok.any():
                best_q = max(best_q, float(np.max(diff[ok] / sep[ok])))
            mid = 0.5 * (a + b)
            gm = loss.grad(mid, y)
            # Keep the half whose gradient moves more: it holds the jump or the steepest part.
            left = (np.linalg.norm(ga - gm, axis=-1) >= np.linalg.norm(gm - gb, axis=-1))[:, None]
            b, gb = np.where(left, mid, b), np.where(left, gm, gb)
            a, ga = np.where(left, a, mid), np.where(left, ga, gm)
        best_gap = max(best_gap, float(np.max(np.linalg.norm(ga - gb, axis=-1))))
    return best_q, best_gap
