r"""Binary kl divergence and its two inverses, vectorised and conservative.

The inverses solve :math:`\mathrm{kl}(q \,\|\, p) = c` for :math:`p` on one side of :math:`q`. Both
are written as a root of one convex, increasing function of a displacement variable
:math:`t \ge 0` (see :func:`_newton_from_above`), so that Newton's method started above the root
stays above it in exact arithmetic; a final safety margin covers floating-point rounding and a
final check verifies :math:`\mathrm{kl}(q \,\|\, p) \ge c` for every returned point.

References: claim D2 and the kl-inverse (Seeger/Maurer) bound of ``CLAIMS.md`` section 5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from theory._numerics import x_minus_log1p
from theory._validation import (
    FloatArray,
    as_float_array,
    broadcast_arrays,
    check_interval,
    scalar_or_array,
)

__all__ = ["kl_bernoulli", "kl_inv_lower", "kl_inv_upper"]

#: Absolute safety margin added to (upper) or subtracted from (lower) every Newton result. The
#: rounding error of the converged iterate is a few machine epsilons (the kl terms are evaluated
#: with log1p/expm1 around q, so their absolute error is O(eps |p - q|) and the slope is
#: |p - q| / (p (1 - p))); 2**-48 = 16 eps leaves a factor >= 4 over that analysis and is still
#: four orders of magnitude inside the 1e-12 accuracy promised by the API.
SAFETY_MARGIN = 2.0**-48

#: Below this value q is treated as 0 in the Newton solve. The root moves by at most
#: |dp/dq| q <= 750 q (1 - p) < 1e-296 when q < 1e-300, far below SAFETY_MARGIN, and the
#: rescaling (1 - q)/q of the displacement would overflow for subnormal q.
_TINY = 1e-300

_MAX_ITER = 100
_EPS = float(np.finfo(np.float64).eps)
_EPS8 = 8.0 * _EPS


def _kl_core(q: FloatArray, p: FloatArray) -> FloatArray:
    r"""kl(q || p) for validated q, p in [0, 1], to a few ulps relative.

    Written as :math:`q\,\psi(d/q) + (1-q)\,\psi(-d/(1-q))` with :math:`d = p - q` and
    :math:`\psi(x) = x - \ln(1+x) \ge 0`: two non-negative terms, so nothing cancels even when
    p is within rounding of q (the textbook form loses all digits there).
    """
    shape = np.broadcast_shapes(q.shape, p.shape)
    q = np.broadcast_to(q, shape).reshape(-1)
    p = np.broadcast_to(p, shape).reshape(-1)
    d = p - q
    qc = 1.0 - q
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Where p < q/2 (resp. 1 - p < (1 - q)/2), 1 + d/q = p/q would be formed from a rounded
        # d and lose p's digits, so use q psi(d/q) = d + q ln(q/p) there; that also covers
        # subnormal q, where d/q overflows. The logs no longer cancel in that range. Only the
        # points that need another form are patched, so the common case costs one pass.
        x = d / q
        t1 = q * x_minus_log1p(x)
        far1 = ~((x >= -0.5) & np.isfinite(x))
        if far1.any():
            qf, pf = q[far1], p[far1]
            t1[far1] = d[far1] + qf * (np.log(qf) - np.log(pf))
        t1[q == 0.0] = d[q == 0.0]
        y = -d / qc
        t2 = qc * x_minus_log1p(y)
        far2 = ~(y >= -0.5)
        if far2.any():
            qcf = qc[far2]
            t2[far2] = qcf * (np.log(qcf) - np.log1p(-p[far2])) - d[far2]
        t2[qc == 0.0] = -d[qc == 0.0]
        out = t1 + t2
    # p at an end of [0, 1] that q does not sit on: +inf (and 0 ln 0 = 0 where p = q).
    out = np.where(((p == 0.0) & (q > 0.0)) | ((p == 1.0) & (q < 1.0)), np.inf, out)
    out = np.where(p == q, 0.0, out)
    if np.isnan(out).any():  # pragma: no cover - every branch above is finite or +inf
        i = int(np.flatnonzero(np.isnan(out))[0])
        raise RuntimeError(f"kl evaluation produced NaN at q={q[i]!r}, p={p[i]!r}")
    return out.reshape(shape)


def kl_bernoulli(q: Any, p: Any) -> Any:
    r"""Binary kl divergence between Bernoulli(q) and Bernoulli(p), in nats.

    .. math::

        \mathrm{kl}(q \,\|\, p) = q \ln\frac{q}{p} + (1 - q) \ln\frac{1 - q}{1 - p},
        \qquad 0 \ln 0 = 0,

    and :math:`+\infty` where :math:`p \in \{0, 1\}` and :math:`q \ne p`.

    Parameters
    ----------
    q, p : float or array_like
        Probabilities in :math:`[0, 1]`; they broadcast against each other.

    Returns
    -------
    float or ndarray
        Non-negative, possibly ``inf``.

    References
    ----------
    Claim D2 (the kl form of the PAC-Bayes bound).

    Examples
    --------
    >>> round(kl_bernoulli(0.1, 0.5), 6)
    0.368064
    """
    qa = check_interval(as_float_array(q, "q"), "q", 0.0, 1.0)
    pa = check_interval(as_float_array(p, "p"), "p", 0.0, 1.0)
    qa, pa = broadcast_arrays(q=qa, p=pa)
    return scalar_or_array(_kl_core(qa, pa), q, p)


def _series_coefficients(
    alpha: FloatArray, beta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""First three coefficients of :math:`D = a_1 \sqrt c + a_2 c + a_3 c^{3/2} + O(c^2)`.

    For the upper inverse (:math:`\alpha = q`, :math:`\beta = 1 - q`) these are the series of
    :math:`\mathrm{kl}^{-1}_{+}(q, c) - q` derived in
    :func:`theory.symbolic.kl_inverse_series.kl_inv_upper_coefficients` (the tests compare the
    two); the lower inverse is the mirror image :math:`q \to 1 - q`.

    .. math::

        a_1 = \sqrt{2\alpha\beta}, \quad a_2 = \tfrac23(\beta - \alpha), \quad
        a_3 = \frac{\sqrt2\,(1 - 13\alpha\beta)}{18\sqrt{\alpha\beta}}
    """
    ab = alpha * beta
    root = np.sqrt(ab)
    return (
        np.sqrt(2.0) * root,
        (2.0 / 3.0) * (beta - alpha),
        np.sqrt(2.0) * (1.0 - 13.0 * ab) / (18.0 * root),
    )


def _newton_from_above(alpha: FloatArray, beta: FloatArray, c: FloatArray) -> FloatArray:
    r"""Solve for the displacement :math:`D \ge 0`, with :math:`\alpha + \beta = 1`.

    With :math:`s = 1 - e^{-t}` and :math:`D = \beta s`, the function

    .. math:: g(t) = \beta t - \alpha \ln(1 + (\beta/\alpha) s) - c

    is :math:`\mathrm{kl}(q \| q + D) - c` for :math:`\alpha = q` (upper inverse, ``t`` is
    :math:`\ln\frac{1-q}{1-p}`) and :math:`\mathrm{kl}(q \| q - D) - c` for :math:`\alpha = 1 - q`
    (lower inverse, ``t`` is :math:`\ln(q/p)`). It is convex and increasing in ``t``
    (:math:`g' = D/(\alpha + D)`), so Newton's method started at an upper bound of the root
    decreases monotonically to it and never crosses it in exact arithmetic.
    """
    # beta is passed exactly (q for the lower inverse) rather than recomputed as 1 - alpha, which
    # rounds to 0 when alpha = 1 - q rounds to 1.
    d_out = np.empty_like(c)
    tiny = alpha < _TINY
    # alpha ~ 0: g(t) = beta t - c exactly.
    d_out[tiny] = -beta[tiny] * np.expm1(-c[tiny] / beta[tiny])

    idx = np.flatnonzero(~tiny)
    a, b, cc = alpha[idx], beta[idx], c[idx]
    ratio = b / a
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Start from the three-term small-c series (see _series_coefficients), whose relative
        # error is O((c / (alpha beta))^(3/2)); inflated by that much, it is accepted only where
        # g > 0 there: g is convex and increasing, so any point with g > 0 lies above the root.
        ab = a * b
        sc = np.sqrt(cc)
        a1, a2, a3 = _series_coefficients(a, b)
        series = sc * (a1 + sc * (a2 + sc * a3))
        rel = cc / ab
        s_ser = (1.0 + 2.0 * rel * np.sqrt(rel) + 1e-13) * series / b
        t = -np.log1p(-s_ser)
        g_ser = b * t - a * np.log1p(ratio * s_ser) - cc
        bad = ~((s_ser > 0.0) & (s_ser < 1.0) & (g_ser > 0.0))
    if bad.any():
        # Elsewhere, the best of three rigorous upper bounds on the root: Pinsker
        # (D <= sqrt(c/2)), the refined Pinsker kl >= (p-q)^2 / (2 max(p, q)) on each side
        # (D <= c + sqrt(c^2 + 2 alpha c) and D <= sqrt(2 beta c)), and
        # g(t) >= beta t - alpha ln(1 + ratio) - c from ln(1 + ratio s) <= ln(1 + ratio).
        ab_, bb, cb = a[bad], b[bad], cc[bad]
        d_up = np.minimum(np.sqrt(cb / 2.0), cb + np.sqrt(cb * cb + 2.0 * ab_ * cb))
        d_up = np.minimum(d_up, np.sqrt(2.0 * bb * cb))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_from_d = np.where(d_up < bb, -np.log1p(-d_up / bb), np.inf)
        t[bad] = np.minimum(t_from_d, (cb + ab_ * np.log1p(ratio[bad])) / bb)

    # The working set shrinks as points converge; it is compacted (a gather of five arrays) only
    # once at least half of it has converged, since converged points are fixed points anyway.
    active = np.arange(idx.size)
    ta, aa, ba, ra, ca = t, a, b, ratio, cc
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        s = np.expm1(-ta)
        np.negative(s, out=s)
        disp = ba * s
        g = np.log1p(ra * s)
        g *= aa
        np.subtract(ba * ta, g, out=g)
        g -= ca
        apd = aa + disp
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            step = g * apd
            step /= disp
            # Newton's error after this step is about step^2 g''/(2 g'), with g''/g' =
            # alpha (beta - D) / (D (alpha + D)) <= alpha / (D (alpha + D)); stop once that is
            # below rounding of t (the iterate stays above the root either way: stopping early
            # costs accuracy, not safety).
            predicted = step * step
            predicted *= aa
            predicted /= 2.0 * disp * apd
        # Converged once g is within its own rounding noise (the two O(D) terms cancel, so g
        # carries an absolute error of a few eps (beta t + c)) or the step is below rounding of t.
        noise = ba * ta
        noise += ca
        noise *= _EPS8
        moving = g > noise
        moving &= step > 4.0 * _EPS * ta
        ta = np.where(moving, ta - step, ta)
        keep = predicted > _EPS * ta
        keep &= moving
        n_keep = int(np.count_nonzero(keep))
        if n_keep <= keep.size // 2:
            t[active] = ta
            active = active[keep]
            ta, aa, ba, ra, ca = ta[keep], aa[keep], ba[keep], ra[keep], ca[keep]
    else:
        raise RuntimeError(  # pragma: no cover - quadratic convergence makes this unreachable
            f"kl inverse: Newton did not converge for {active.size} points"
        )
    d_out[idx] = b * -np.expm1(-t)
    return d_out


def _prepare(q: Any, c: Any) -> tuple[FloatArray, FloatArray, tuple[int, ...]]:
    """Validated ``q`` and ``c``, broadcast and flattened, and their broadcast shape."""
    qa = check_interval(as_float_array(q, "q"), "q", 0.0, 1.0)
    ca = check_interval(as_float_array(c, "c", allow_inf=True), "c", 0.0, np.inf)
    qb, cb = broadcast_arrays(q=qa, c=ca)
    return qb.reshape(-1).copy(), cb.reshape(-1).copy(), qb.shape


#: Points per block: the solver chains dozens of elementwise passes, which run several times
#: faster on blocks that stay in the CPU cache than on arrays of millions of points.
_BLOCK = 1 << 15


def _chunked(
    solve: Callable[[FloatArray, FloatArray], FloatArray], q: FloatArray, c: FloatArray
) -> FloatArray:
    out = np.empty_like(q)
    for start in range(0, q.size, _BLOCK):
        sl = slice(start, start + _BLOCK)
        out[sl] = solve(q[sl], c[sl])
    return out


def _final_check(
    name: str, qf: FloatArray, cf: FloatArray, out: FloatArray, rest: NDArray[np.bool_]
) -> None:
    """Every solved point must satisfy kl(q || p) >= c (it lies on the far side of the root).

    A failure would be a bug in the solver, never something to hide.
    """
    bad = _kl_core(qf[rest], out[rest]) < cf[rest]
    if bad.any():  # pragma: no cover - guarded by the property tests
        i = np.flatnonzero(rest)[np.flatnonzero(bad)[0]]
        raise RuntimeError(f"{name} is not conservative at q={qf[i]!r}, c={cf[i]!r}")


def _upper_block(qf: FloatArray, cf: FloatArray) -> FloatArray:
    out = np.empty_like(qf)
    top = (qf == 1.0) | np.isinf(cf)
    zero_c = (cf == 0.0) & ~top
    q0 = (qf == 0.0) & ~top & ~zero_c
    rest = ~(top | zero_c | q0)
    out[top] = 1.0
    out[zero_c] = qf[zero_c]
    # 1 - e^{-c} rounded up by one ulp (expm1 is accurate to < 1 ulp), never past 1.
    out[q0] = np.minimum(np.nextafter(-np.expm1(-cf[q0]), np.inf), 1.0)
    disp = _newton_from_above(qf[rest], 1.0 - qf[rest], cf[rest])
    out[rest] = np.minimum(qf[rest] + disp + SAFETY_MARGIN, 1.0)
    _final_check("kl_inv_upper", qf, cf, out, rest)
    return out


def _lower_block(qf: FloatArray, cf: FloatArray) -> FloatArray:
    out = np.empty_like(qf)
    bottom = (qf == 0.0) | np.isinf(cf)
    zero_c = (cf == 0.0) & ~bottom
    q1 = (qf == 1.0) & ~bottom & ~zero_c
    # q below _TINY: the infimum lies in [0, q], within 1e-300 of 0 (see _TINY).
    tiny_q = (qf < _TINY) & ~(bottom | zero_c | q1)
    rest = ~(bottom | zero_c | q1 | tiny_q)
    out[bottom | tiny_q] = 0.0
    out[zero_c] = qf[zero_c]
    out[q1] = np.nextafter(np.exp(-cf[q1]), 0.0)
    disp = _newton_from_above(1.0 - qf[rest], qf[rest], cf[rest])
    out[rest] = np.maximum(qf[rest] - disp - SAFETY_MARGIN, 0.0)
    _final_check("kl_inv_lower", qf, cf, out, rest)
    return out


def kl_inv_upper(q: Any, c: Any) -> Any:
    r"""Upper inverse of the binary kl: the largest p with :math:`\mathrm{kl}(q\|p) \le c`.

    .. math:: \mathrm{kl}^{-1}_{+}(q, c) = \sup\{p \in [q, 1] : \mathrm{kl}(q \,\|\, p) \le c\}

    Conservative: the returned value is never below the true supremum, and exceeds it by at most
    :data:`SAFETY_MARGIN` plus rounding (about 4e-15, well inside the promised 1e-12). Exact at
    the edges: ``c = 0`` gives ``q``, ``q = 1`` or ``c = inf`` give 1, and ``q = 0`` gives
    :math:`1 - e^{-c}` (rounded up by one ulp).

    Parameters
    ----------
    q : float or array_like
        Empirical risk in :math:`[0, 1]`.
    c : float or array_like
        Budget :math:`c \ge 0`, ``inf`` allowed; broadcasts against ``q``.

    Returns
    -------
    float or ndarray
        Values in :math:`[q, 1]`.

    References
    ----------
    Claim D2 and the kl-inverse bound of ``CLAIMS.md`` section 5 (Seeger 2002, Maurer 2004).

    Examples
    --------
    >>> p = kl_inv_upper(0.1, 0.2)
    >>> bool(kl_bernoulli(0.1, p) >= 0.2) and round(p, 6)
    0.378392
    """
    qf, cf, shape = _prepare(q, c)
    out = _chunked(_upper_block, qf, cf)
    return scalar_or_array(out.reshape(shape), q, c)


def kl_inv_lower(q: Any, c: Any) -> Any:
    r"""Lower inverse of the binary kl: the smallest p with :math:`\mathrm{kl}(q\|p) \le c`.

    .. math:: \mathrm{kl}^{-1}_{-}(q, c) = \inf\{p \in [0, q] : \mathrm{kl}(q \,\|\, p) \le c\}

    Conservative from below: never above the true infimum, and below it by at most
    :data:`SAFETY_MARGIN` plus rounding. Exact at the edges: ``c = 0`` gives ``q``, ``q = 0`` or
    ``c = inf`` give 0, and ``q = 1`` gives :math:`e^{-c}` (rounded down by one ulp).

    Parameters
    ----------
    q : float or array_like
        Empirical risk in :math:`[0, 1]`.
    c : float or array_like
        Budget :math:`c \ge 0`, ``inf`` allowed.

    Returns
    -------
    float or ndarray
        Values in :math:`[0, q]`.

    References
    ----------
    ``CLAIMS.md`` section 5 (two-sided kl bounds).

    Examples
    --------
    >>> round(kl_inv_lower(0.5, 0.1), 6)
    0.287121
    """
    qf, cf, shape = _prepare(q, c)
    out = _chunked(_lower_block, qf, cf)
    return scalar_or_array(out.reshape(shape), q, c)
