"""Benchmark (not a test): the batched Gaussian-complexity estimators against a Python loop over
draws, at equal accuracy.

The loop is the code a user would write: one draw at a time, everything inside a draw vectorised
with numpy, plain Monte Carlo. Three batched variants are timed beside it:

* ``direct``: the loop's very draws (same estimate and SE up to rounding; printed), batched;
* ``reduced``: only the Gaussian coordinates the supremum depends on (same law, same SE per draw);
* ``reduced`` with ``control_variate=True``: an unbiased estimator with 4-16x smaller variance per
  draw. It is run with just enough draws to reach the loop's standard error, so that the two
  times compare equal accuracy (both SEs printed; the z column checks the estimates agree).

The per-draw speed-up of batching alone shrinks as classes grow (the arithmetic per draw, which
batching cannot remove, takes over from the interpreter's overhead); the target, >= 10x at equal
accuracy, is read off the last speed-up column. Class sizes range from those of the claim checks
(``verification/claims/complexity`` and ``verification/claims/generalisation``) to large ones.
Run: ``python benchmarks/bench_gaussian_complexity.py`` (with ``OPENBLAS_NUM_THREADS=1``, as
``make bench`` sets it).
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from theory.gaussian_complexity import empirical_gaussian_complexity, linear_class_complexity


def loop_finite(outputs: np.ndarray, n_draws: int, rng: np.random.Generator) -> tuple[float, float]:
    """One draw at a time: Gamma (m, k), every function's inner product, the max."""
    n_f, m, k = outputs.shape
    flat = outputs.reshape(n_f, m * k)
    sups = np.empty(n_draws)
    for s in range(n_draws):
        gamma = rng.standard_normal((m, k))
        sups[s] = (flat @ gamma.reshape(-1)).max() / m
    return float(sups.mean()), float(sups.std(ddof=1) / np.sqrt(n_draws))


def loop_linear(
    x: np.ndarray, c: float, r: int, k: int, n_draws: int, rng: np.random.Generator
) -> tuple[float, float]:
    """One draw at a time: Gamma (m, k), the singular values of Gamma^T X, the top r summed."""
    m = x.shape[0]
    sups = np.empty(n_draws)
    for s in range(n_draws):
        gamma = rng.standard_normal((m, k))
        sups[s] = c * np.linalg.svd(gamma.T @ x, compute_uv=False)[:r].sum() / m
    return float(sups.mean()), float(sups.std(ddof=1) / np.sqrt(n_draws))


def _time(fn: Callable[[], tuple[float, float]]) -> tuple[float, tuple[float, float]]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def compare(
    label: str,
    batched: Callable[[int, str, bool], tuple[float, float]],
    loop: Callable[[int], tuple[float, float]],
    n_draws: int,
    repeats: int,
) -> tuple[float, float]:
    """Interleave the timings and keep the best of each, so that load from other processes on a
    shared machine hits every side alike. Returns (per-draw speed-up of the batched reduced
    estimator, speed-up at equal accuracy of the batched estimator with its control variate).

    "direct" sees the loop's very draws (the relative difference shows it); "reduced" draws only
    what the supremum depends on, so its estimate has the same law and the same standard error
    for the same number of draws. "cv" (reduced + control variate) has a smaller standard error
    per draw: it is run with just enough draws to reach the loop's standard error (from a first
    run), and the time of that run (pilot draws included) is compared with the loop's."""
    times: dict[str, list[float]] = {"direct": [], "reduced": [], "loop": [], "cv": []}
    res: dict[str, tuple[float, float]] = {}
    _, (_, se_cv) = _time(lambda: batched(n_draws, "reduced", True))
    _, (_, se_loop) = _time(lambda: loop(n_draws))
    n_cv = max(2, math.ceil(n_draws * (se_cv / se_loop) ** 2))
    for _ in range(repeats):
        for key in ("direct", "reduced"):
            t, res[key] = _time(lambda key=key: batched(n_draws, key, False))
            times[key].append(t)
        t, res["cv"] = _time(lambda: batched(n_cv, "reduced", True))
        times["cv"].append(t)
        t, res["loop"] = _time(lambda: loop(n_draws))
        times["loop"].append(t)
    (d_est, d_se), (r_est, r_se), (l_est, l_se) = res["direct"], res["reduced"], res["loop"]
    c_est, c_se = res["cv"]
    diff = max(abs(d_est - l_est) / abs(l_est), abs(d_se - l_se) / l_se)
    z_r = (r_est - l_est) / float(np.hypot(r_se, l_se))
    z_c = (c_est - l_est) / float(np.hypot(c_se, l_se))
    best = {k: min(v) for k, v in times.items()}
    per = {k: best[k] / n_draws * 1e6 for k in ("loop", "direct", "reduced")}
    ratio = per["loop"] / per["reduced"]
    equal = best["loop"] / best["cv"]
    print(
        f"{label:<38} {per['loop']:6.2f} {per['direct']:6.2f} {per['reduced']:6.2f} "
        f"{per['loop'] / per['direct']:5.1f}x {ratio:5.1f}x | {n_cv:6d} {best['cv'] * 1e3:7.1f} ms "
        f"{best['loop'] * 1e3:7.1f} ms {equal:6.1f}x | {l_est:.5f} +- {l_se:.1e}, cv +- "
        f"{c_se:.1e} (direct diff {diff:.0e}, z reduced {z_r:+.2f}, z cv {z_c:+.2f})"
    )
    return ratio, equal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-draws", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, reps = args.n_draws, args.repeats
    g = np.random.default_rng(20261126)

    def gen(cv: bool = False) -> np.random.Generator:
        # the control-variate runs draw independently of the loop (their z is then a real test)
        return np.random.default_rng(8 if cv else 7)

    print(
        f"{n:,} draws per call, best of {reps} interleaved runs. Microseconds per draw (loop, "
        f"batched direct, batched reduced) and the speed-ups of direct and reduced over the "
        f"loop | at equal accuracy: draws the batched estimator with control variate needs for "
        f"the loop's SE, its time, the loop's time, the speed-up | the loop's estimate +- SE, "
        f"the control-variate SE reached, and how the batched estimates agree with the loop"
    )
    ratios: dict[str, tuple[float, float]] = {}
    for n_f, m, k in [(8, 6, 2), (65, 12, 3), (200, 24, 4), (200, 100, 10)]:
        outputs = g.standard_normal((n_f, m, k))
        ratios[f"finite {n_f} x {m} x {k}"] = compare(
            f"finite, {n_f} functions, m = {m}, k = {k}",
            lambda d, how, cv, o=outputs: empirical_gaussian_complexity(
                o, n_draws=d, rng=gen(cv), sampling=how, control_variate=cv
            ),
            lambda d, o=outputs: loop_finite(o, d, gen()),
            n,
            reps,
        )
    for m, d, k, r in [(6, 4, 2, 2), (12, 4, 3, 2), (24, 6, 4, 3), (100, 20, 10, 3)]:
        x = g.standard_normal((m, d))
        ratios[f"linear {m} x {d}, k = {k}"] = compare(
            f"linear, m = {m}, d = {d}, k = {k}, r = {r}",
            lambda dd, how, cv, x=x, k=k, r=r: linear_class_complexity(
                x,
                spectral_bound=1.0,
                rank=r,
                out_dim=k,
                n_draws=dd,
                rng=gen(cv),
                sampling=how,
                control_variate=cv,
            ),
            lambda dd, x=x, k=k, r=r: loop_linear(x, 1.0, r, k, dd, gen()),
            n,
            reps,
        )
    per_draw = [v[0] for v in ratios.values()]
    equal = [v[1] for v in ratios.values()]
    print(
        f"per draw (same estimator, batching alone): {min(per_draw):.1f}x to "
        f"{max(per_draw):.1f}x. At equal accuracy (the target, >= 10x): "
        f"{sum(v >= 10.0 for v in equal)}/{len(equal)} sizes, {min(equal):.1f}x to "
        f"{max(equal):.1f}x"
    )


if __name__ == "__main__":
    main()
