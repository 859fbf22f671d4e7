r"""Binary kl divergence and its two inverses, vectorised and conservative.

The inverses solve :math:`\mathrm{kl}(q \,\|\, p) = c` for :math:`p` on one side of :math:`q`. Both
are written as a root of one convex, increasing function of a displacement variable
:math:`t \ge 0` (see :func:`_newton_from_above`), so that Newton's method started above the root
stays above it in exact arithmetic; a final safety margin covers floating-point rounding and a
final check verifies :math:`\mathrm{kl}(q \,\|\, p) \ge c` for every returned point.

References: claim D2 and the kl-inverse (Seeger/Maurer) bound of ``CLAIMS.md`` section 5.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._numerics import x_minus_log1p
from theory._validation import FloatArray, as_float_array, check_interval, scalar_or_array

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
    d = p - q
    qc = 1.0 - q
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Where p < q/2 (resp. 1 - p < (1 - q)/2), 1 + d/q = p/q would be formed from a rounded d
        # and lose p's digits, so use q psi(d/q) = d + q ln(q/p) there; that also covers subnormal q,
        # where d/q overflows. The logs no longer cancel in that range.
        x = d / q
        far1 = ~(x >= -0.5)
        t1 = np.where(far1, d + q * (np.log(q) - np.log(p)), q * x_minus_log1p(x))
        t1 = np.where(q == 0.0, d, t1)
        y = -d / qc
        far2 = ~(y >= -0.5)
        t2 = np.where(far2, qc * (np.log(qc) - np.log1p(-p)) - d, qc * x_minus_log1p(y))
        t2 = np.where(qc == 0.0, -d, t2)
        out = t1 + t2
    # p at an end of [0, 1] that q does not sit on: +inf (and 0 ln 0 = 0 where p = q).
    out = np.where(((p == 0.0) & (q > 0.0)) | ((p == 1.0) & (q < 1.0)), np.inf, out)
    return np.where(p == q, 0.0, out)


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
    qa, pa = np.broadcast_arrays(qa, pa)
    return scalar_or_array(_kl_core(qa, pa), q, p)


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
    # Three upper bounds on the root: kl(q||p) >= 2 (p-q)^2 (Pinsker), kl >= (p-q)^2 / (2 max)
    # on each side (refined Pinsker: gives D <= c + sqrt(c^2 + 2 alpha c) and D <= sqrt(2 beta c)),
    # and kl >= beta t - alpha ln(1 + ratio) - c from ln(1 + ratio s) <= ln(1 + ratio).
    d_up = np.minimum(np.sqrt(cc / 2.0), cc + np.sqrt(cc * cc + 2.0 * a * cc))
    d_up = np.minimum(d_up, np.sqrt(2.0 * b * cc))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_from_d = np.where(d_up < b, -np.log1p(-d_up / b), np.inf)
        t = np.minimum(t_from_d, (cc + a * np.log1p(ratio)) / b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # D ~ sqrt(2 alpha beta c) + (2/3)(beta - alpha) c, whose relative error is O(c / (alpha
        # beta)), inflated by that much and accepted only where g > 0 there (g is convex and
        # increasing, so any point with g > 0 lies above the root).
        inflate = 1.0 + 2.0 * cc / (a * b) + 1e-12
        d_ser = inflate * (np.sqrt(2.0 * a * b * cc) + (2.0 / 3.0) * np.abs(b - a) * cc)
        t_ser = -np.log1p(-d_ser / b)
        ok = (d_ser < b) & (t_ser < t)
        s_ser = d_ser / b
        g_ser = b * t_ser - a * np.log1p(ratio * s_ser) - cc
    t = np.where(ok & (g_ser > 0.0), t_ser, t)

    active = np.arange(idx.size)
    for _ in range(_MAX_ITER):
        if active.size == 0:
            break
        ta, aa, ba, ra, ca = t[active], a[active], b[active], ratio[active], cc[active]
        s = -np.expm1(-ta)
        disp = ba * s
        g = ba * ta - aa * np.log1p(ra * s) - ca
        with np.errstate(divide="ignore", invalid="ignore"):
            step = g * (aa + disp) / disp
        # Converged once g is within its own rounding noise (the two O(D) terms cancel, so g
        # carries an absolute error of a few eps (beta t + c)) or the step is below rounding of t.
        noise = _EPS8 * (ba * ta + ca)
        moving = (g > noise) & (step > 4.0 * _EPS * ta)
        t_new = np.where(moving, ta - step, ta)
        t[active] = t_new
        # Newton's error after this step is about step^2 g''/(2 g'), with g'' / g' =
        # alpha (beta - D) / (D (alpha + D)); stop once that is below rounding of t (the iterate
        # stays above the root either way, so stopping early only costs accuracy, not safety).
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            predicted = step * step * aa * (ba - disp) / (2.0 * disp * (aa + disp))
        active = active[moving & ~(predicted <= _EPS * t_new)]
    else:
        raise RuntimeError(  # pragma: no cover - quadratic convergence makes this unreachable
            f"kl inverse: Newton did not converge for {active.size} points"
        )
    d_out[idx] = b * -np.expm1(-t)
    return d_out


def _prepare(q: Any, c: Any) -> tuple[FloatArray, FloatArray]:
    qa = check_interval(as_float_array(q, "q"), "q", 0.0, 1.0)
    ca = check_interval(as_float_array(c, "c", allow_inf=True), "c", 0.0, np.inf)
    qb, cb = np.broadcast_arrays(qa, ca)
    return qb.reshape(-1).copy(), cb.reshape(-1).copy()


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
    shape = np.broadcast_shapes(np.shape(q), np.shape(c))
    qf, cf = _prepare(q, c)
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
    # Final check: every returned point must satisfy kl(q || p) >= c (it lies at or above the
    # root). A failure would be a bug in the solver, never something to hide.
    bad = _kl_core(qf[rest], out[rest]) < cf[rest]
    if bad.any():  # pragma: no cover - guarded by the property tests
        i = np.flatnonzero(rest)[np.flatnonzero(bad)[0]]
        raise RuntimeError(f"kl_inv_upper is not conservative at q={qf[i]!r}, c={cf[i]!r}")
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
    shape = np.broadcast_shapes(np.shape(q), np.shape(c))
    qf, cf = _prepare(q, c)
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
    bad = _kl_core(qf[rest], out[rest]) < cf[rest]
    if bad.any():  # pragma: no cover - guarded by the property tests
        i = np.flatnonzero(rest)[np.flatnonzero(bad)[0]]
        raise RuntimeError(f"kl_inv_lower is not conservative at q={qf[i]!r}, c={cf[i]!r}")
    return scalar_or_array(out.reshape(shape), q, c)
