"""Benchmark (not a test): the vectorised kl_inv_upper against a scalar brentq loop.

Both solve kl(q || p) = c for p >= q on the same points. Prints time per element, the ratio, and
both accuracies against an mpmath reference on a subsample. Target: >= 100x faster per element
at equal or better accuracy. Run: ``make bench`` or ``python benchmarks/bench_kl_inverse.py``.
"""

from __future__ import annotations

import argparse
import math
import time

import mpmath as mp
import numpy as np
from _results import write_result  # type: ignore[import-not-found]
from scipy.optimize import brentq

from theory.pac_bayes.kl_inverse import kl_inv_upper
from verification.testing import oracles as ref


def _kl(q: float, p: float) -> float:
    t1 = 0.0 if q == 0.0 else q * math.log(q / p)
    t2 = 0.0 if q == 1.0 else (1.0 - q) * math.log((1.0 - q) / (1.0 - p))
    return t1 + t2


def brentq_inverse(q: float, c: float) -> float:
    """The straightforward scalar solver a user would write (xtol at the API's 1e-12 level)."""
    if c == 0.0 or q == 1.0:
        return q
    hi = math.nextafter(1.0, 0.0)
    if _kl(q, hi) <= c:
        return 1.0
    return float(brentq(lambda p: _kl(q, p) - c, q, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=10**6, help="points for the vectorised call")
    parser.add_argument("--n-scalar", type=int, default=2000, help="points for the brentq loop")
    parser.add_argument("--n-check", type=int, default=200, help="points checked against mpmath")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()

    rng = np.random.default_rng(20261126)
    q = rng.uniform(size=args.n)
    c = rng.exponential(size=args.n) * 10.0 ** rng.integers(-8, 2, size=args.n)

    sub = rng.choice(args.n, size=args.n_scalar, replace=False)
    # Interleave the two timings and keep the best of each, so that load from other processes on
    # this shared machine hits both sides alike.
    vec_times, brent_times = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        p_vec = kl_inv_upper(q, c)
        vec_times.append((time.perf_counter() - t0) / args.n)
        t0 = time.perf_counter()
        p_brent = np.array([brentq_inverse(float(q[i]), float(c[i])) for i in sub])
        brent_times.append((time.perf_counter() - t0) / args.n_scalar)
    per_vec, per_brent = min(vec_times), min(brent_times)

    check = sub[: args.n_check]
    err_vec, err_brent, below_vec, below_brent = 0.0, 0.0, 0, 0
    for k, i in enumerate(check):
        truth = ref.kl_inv_upper(float(q[i]), float(c[i]))
        ev = float(mp.mpf(p_vec[i]) - truth)
        eb = float(mp.mpf(p_brent[k]) - truth)
        err_vec, err_brent = max(err_vec, abs(ev)), max(err_brent, abs(eb))
        below_vec += ev < 0
        below_brent += eb < 0

    print(f"kl_inv_upper, {args.n:,} points in one call: {per_vec * 1e9:8.1f} ns/element")
    print(f"scalar brentq loop, {args.n_scalar:,} points:       {per_brent * 1e9:8.1f} ns/element")
    print(
        f"speed-up per element: {per_brent / per_vec:.0f}x (target >= 100x; best of "
        f"{args.repeats} interleaved runs each)"
    )
    print(
        f"max |error| vs mpmath on {len(check)} points: vectorised {err_vec:.2e} "
        f"(below truth: {below_vec}), brentq {err_brent:.2e} (below truth: {below_brent})"
    )
    if args.json is not None:
        values = {
            "points": args.n,
            "vectorised_ns_per_element": per_vec * 1e9,
            "brentq_ns_per_element": per_brent * 1e9,
            "speedup": per_brent / per_vec,
            "max_error_vectorised": err_vec,
            "below_truth_vectorised": int(below_vec),
        }
        print(f"wrote {write_result(args.json, 'bench_kl_inverse', values)}")


if __name__ == "__main__":
    main()
