"""mpmath oracles for the binary kl and its inverses, to 50 significant digits.

Used by the tests and the benchmark as the reference. 1 - x is always taken through log1p (at 50
digits 1 - 1e-199 rounds to 1).
The inverses bisect in the log-displacement variable (u = -ln(1-p) above q, v = -ln p below q) so
that roots within 1e-300 of an end of [0, 1] are still resolved exactly.
"""

from __future__ import annotations

import mpmath as mp

DPS = 50


def kl(q: float, p: float) -> mp.mpf:
    with mp.workdps(DPS):
        q_, p_ = mp.mpf(q), mp.mpf(p)
        t1 = 0 if q_ == 0 else q_ * mp.log(q_ / p_)
        t2 = 0 if q_ == 1 else (1 - q_) * (mp.log1p(-q_) - mp.log1p(-p_))
        return t1 + t2


def _bisect(f, lo, hi, iters=400):
    """Bisection keeping f(hi) > 0 >= f(lo); geometric once lo > 0, so tiny roots keep digits."""
    if lo == 0:
        # Find a positive lower bracket first (roots can be as small as 1e-300).
        lo = hi
        while f(lo) > 0:
            lo /= 2**64
    for _ in range(iters):
        mid = mp.sqrt(lo * hi)
        if f(mid) > 0:
            hi = mid
        else:
            lo = mid
    return hi, lo


def kl_inv_upper(q: float, c: float) -> mp.mpf:
    """The exact sup {p >= q : kl(q||p) <= c} to 50 digits."""
    with mp.workdps(DPS):
        q_, c_ = mp.mpf(q), mp.mpf(c)
        if c_ == 0 or q_ == 1:
            return q_
        lq = 0 if q_ == 0 else q_ * mp.log(q_)

        def f(u):
            p = -mp.expm1(-u)
            t1 = lq - q_ * mp.log(p) if q_ > 0 else 0
            return t1 + (1 - q_) * (mp.log1p(-q_) + u) - c_

        lo = -mp.log1p(-q_)
        hi = lo + 1
        while f(hi) <= 0:
            hi *= 2
        u_hi, _ = _bisect(f, lo, hi)
        return -mp.expm1(-u_hi)


def kl_inv_lower(q: float, c: float) -> mp.mpf:
    """The exact inf {p <= q : kl(q||p) <= c} to 50 digits."""
    with mp.workdps(DPS):
        q_, c_ = mp.mpf(q), mp.mpf(c)
        if c_ == 0 or q_ == 0:
            return q_

        def f(v):
            p = mp.exp(-v)
            t2 = 0 if q_ == 1 else (1 - q_) * (mp.log1p(-q_) - mp.log1p(-p))
            return q_ * (v + mp.log(q_)) + t2 - c_

        lo = -mp.log(q_)
        hi = lo + 1
        while f(hi) <= 0:
            hi *= 2
        v_hi, _ = _bisect(f, lo, hi)
        return mp.exp(-v_hi)
