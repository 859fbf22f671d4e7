r"""The upper kl-inverse of one number, in plain Python floats: the solver of
:func:`theory.pac_bayes.kl_inv_upper` for a single point, without array overhead.

A training step evaluates the kl-inverse objective on one risk and one budget; through numpy
arrays that costs about a millisecond, a hundred times the arithmetic. This is the same method
step for step (the small-``c`` series start accepted only where it lies above the root, else
the best of three rigorous upper bounds, then Newton's method from above, the safety margin
and the final check :math:`\mathrm{kl}(q \| p) \ge c`), so it is conservative in the same way:
never below the true value, within :data:`~theory.pac_bayes.kl_inverse.SAFETY_MARGIN` plus
rounding of it; a point where a step leaves the domain of a math function (extreme budgets,
subnormal risks), or that fails the final check, is handed to the vectorised solver. The
vectorised solver stays the reference (the tests compare the two over a
grid with the edges).

References: claim D2 and the kl-inverse bound of ``CLAIMS.md`` section 5.
"""

from __future__ import annotations

import math

from theory._numerics import _SERIES_CUTOFF
from theory.pac_bayes.kl_inverse import (
    _EPS,
    _EPS8,
    _MAX_ITER,
    _TINY,
    SAFETY_MARGIN,
    kl_inv_upper,
)

__all__ = ["kl_bernoulli_scalar", "kl_inv_upper_scalar"]

_SQRT2 = math.sqrt(2.0)


def _psi(x: float) -> float:
    r""":math:`x - \ln(1 + x)` as :func:`theory._numerics.x_minus_log1p` computes it."""
    if abs(x) < _SERIES_CUTOFF:
        return x * x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - x / 5.0)))
    if x == -1.0:
        return math.inf
    return x - math.log1p(x)


def kl_bernoulli_scalar(q: float, p: float) -> float:
    r""":math:`\mathrm{kl}(q \| p)` for ``q``, ``p`` in :math:`[0, 1]` (unchecked), by the
    two non-negative terms of :func:`theory.pac_bayes.kl_inverse._kl_core`.

    >>> round(kl_bernoulli_scalar(0.1, 0.5), 6)
    0.368064
    """
    if p == q:
        return 0.0
    if (p == 0.0 and q > 0.0) or (p == 1.0 and q < 1.0):
        return math.inf
    d, qc = p - q, 1.0 - q
    if q == 0.0:
        t1 = d
    else:
        x = d / q
        if x >= -0.5 and math.isfinite(x):
            t1 = q * _psi(x)
        else:
            t1 = d + q * (math.log(q) - math.log(p))
    if qc == 0.0:
        t2 = -d
    else:
        y = -d / qc
        if y >= -0.5:
            t2 = qc * _psi(y)
        else:
            t2 = qc * (math.log(qc) - math.log1p(-p)) - d
    return t1 + t2


def _start(a: float, b: float, c: float) -> float:
    """An upper bound of the root ``t`` (as ``_newton_from_above``): the inflated series where
    it lies above the root, else the best of the three rigorous bounds."""
    ratio = b / a
    ab = a * b
    sc = math.sqrt(c)
    root = math.sqrt(ab)
    a1, a2, a3 = _SQRT2 * root, (2.0 / 3.0) * (b - a), _SQRT2 * (1.0 - 13.0 * ab) / (18.0 * root)
    series = sc * (a1 + sc * (a2 + sc * a3))
    rel = c / ab
    s_ser = (1.0 + 2.0 * rel * math.sqrt(rel) + 1e-13) * series / b
    if 0.0 < s_ser < 1.0:
        t = -math.log1p(-s_ser)
        if b * t - a * math.log1p(ratio * s_ser) - c > 0.0:
            return t
    d_up = min(math.sqrt(c / 2.0), c + math.sqrt(c * c + 2.0 * a * c), math.sqrt(2.0 * b * c))
    t_from_d = -math.log1p(-d_up / b) if d_up < b else math.inf
    return min(t_from_d, (c + a * math.log1p(ratio)) / b)


def _displacement(a: float, b: float, c: float) -> float:
    """The root ``D`` of ``_newton_from_above`` for one point (``a`` = q, ``b`` = 1 - q)."""
    if a < _TINY:
        return -b * math.expm1(-c / b)
    ratio = b / a
    t = _start(a, b, c)
    for _ in range(_MAX_ITER):
        s = -math.expm1(-t)
        disp = b * s
        g = b * t - a * math.log1p(ratio * s) - c
        apd = a + disp
        if disp == 0.0:  # t = 0: g = -c < 0 cannot happen above the root; nothing moves
            break
        step = g * apd / disp
        num, den = step * step * a, 2.0 * disp * apd
        # as numpy divides: x / 0 is inf for x > 0 and NaN (never "> eps t") for x = 0
        predicted = num / den if den != 0.0 else (math.inf if num > 0.0 else math.nan)
        noise = (b * t + c) * _EPS8
        if not (g > noise and step > 4.0 * _EPS * t):
            break
        t -= step
        if not predicted > _EPS * t:
            break
    else:  # pragma: no cover - quadratic convergence makes this unreachable
        raise RuntimeError(f"kl inverse: Newton did not converge at q={a!r}, c={c!r}")
    return b * -math.expm1(-t)


def kl_inv_upper_scalar(q: float, c: float) -> float:
    r"""The conservative :math:`\sup\{p \in [q, 1] : \mathrm{kl}(q \| p) \le c\}` of one point
    (the method and the guarantees of :func:`theory.pac_bayes.kl_inv_upper`).

    Parameters
    ----------
    q : float
        Empirical risk in :math:`[0, 1]`.
    c : float
        Budget :math:`c \ge 0`, ``inf`` allowed.

    Returns
    -------
    float
        A value in :math:`[q, 1]`, never below the true supremum.

    Raises
    ------
    ValueError
        If ``q`` is not in [0, 1] or ``c`` is NaN or negative.

    Examples
    --------
    >>> round(kl_inv_upper_scalar(0.1, 0.2), 6)
    0.378392
    """
    q, c = float(q), float(c)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"`q` must be in [0, 1]; got {q!r}")
    if not c >= 0.0:
        raise ValueError(f"`c` must be >= 0 (inf allowed); got {c!r}")
    if q == 1.0 or c == math.inf:
        return 1.0
    if c == 0.0:
        return q
    if q == 0.0:
        return min(math.nextafter(-math.expm1(-c), math.inf), 1.0)
    try:
        out = min(q + _displacement(q, 1.0 - q, c) + SAFETY_MARGIN, 1.0)
        conservative = kl_bernoulli_scalar(q, out) >= c
    except (ArithmeticError, ValueError):
        # a math function out of its domain or overflowing at an extreme point (c near the
        # largest float, q subnormal), where numpy returns inf or NaN and the vectorised
        # solver has its own patches: hand the point to it
        conservative = False
    if not conservative:
        return float(kl_inv_upper(q, c))
    return out
