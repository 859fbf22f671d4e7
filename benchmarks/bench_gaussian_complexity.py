"""Benchmark (not a test): the batched Gaussian-complexity estimators against a Python loop over
draws, at equal accuracy.

Both sides take the same number of draws from generators of one seed, so they see the same
Gamma and return the same estimate and standard error up to rounding (printed). The loop is the
code a user would write: one draw at a time, everything inside a draw vectorised with numpy.
Prints the time per draw of each and their ratio for class sizes from those of the claim checks
(``verification/checks/gc_*.py``) to large ones. Target: >= 10x faster.
Run: ``python benchmarks/bench_gaussian_complexity.py`` (with ``OPENBLAS_NUM_THREADS=1``, as
``make bench`` sets it).
"""

from __future__ import annotations

import argparse
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
    batched: Callable[[int, str], tuple[float, float]],
    loop: Callable[[int], tuple[float, float]],
    n_draws: int,
    repeats: int,
) -> float:
    """Interleave the timings and keep the best of each, so that load from other processes on a
    shared machine hits every side alike; print and return the ratio loop / batched-reduced.

    "direct" sees the loop's very draws (the relative difference shows it); "reduced" draws only
    what the supremum depends on, so its estimate has the same law and the same standard error
    for the same number of draws (equal accuracy; the z column compares it with the loop)."""
    times: dict[str, list[float]] = {"direct": [], "reduced": [], "loop": []}
    res: dict[str, tuple[float, float]] = {}
    for _ in range(repeats):
        for key in ("direct", "reduced"):
            t, res[key] = _time(lambda key=key: batched(n_draws, key))
            times[key].append(t)
        t, res["loop"] = _time(lambda: loop(n_draws))
        times["loop"].append(t)
    (d_est, d_se), (r_est, r_se), (l_est, l_se) = res["direct"], res["reduced"], res["loop"]
    diff = max(abs(d_est - l_est) / abs(l_est), abs(d_se - l_se) / l_se)
    z = (r_est - l_est) / float(np.hypot(r_se, l_se))
    per = {k: min(v) / n_draws * 1e6 for k, v in times.items()}
    ratio = per["loop"] / per["reduced"]
    print(
        f"{label:<44} {per['loop']:8.2f} {per['direct']:8.2f} {per['reduced']:8.2f} "
        f"{per['loop'] / per['direct']:6.1f}x {ratio:7.1f}x   {l_est:.6f} +- {l_se:.1e} "
        f"(direct rel. diff {diff:.1e}, reduced z {z:+.2f}, SE ratio {r_se / l_se:.3f})"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-draws", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n, reps = args.n_draws, args.repeats
    g = np.random.default_rng(20261126)

    def gen() -> np.random.Generator:
        return np.random.default_rng(7)

    print(
        f"{n:,} draws per call, best of {reps} interleaved runs. Microseconds per draw: loop, "
        f"batched direct, batched reduced; speed-ups of direct and reduced over the loop; the "
        f"loop's estimate +- SE, and how the batched estimates agree with it"
    )
    ratios = {}
    for n_f, m, k in [(8, 6, 2), (65, 12, 3), (200, 24, 4), (200, 100, 10)]:
        outputs = g.standard_normal((n_f, m, k))
        ratios[f"finite {n_f} x {m} x {k}"] = compare(
            f"finite class, {n_f} functions, m = {m}, k = {k}",
            lambda d, how, o=outputs: empirical_gaussian_complexity(
                o, n_draws=d, rng=gen(), sampling=how
            ),
            lambda d, o=outputs: loop_finite(o, d, gen()),
            n,
            reps,
        )
    for m, d, k, r in [(6, 4, 2, 2), (12, 4, 3, 2), (24, 6, 4, 3), (100, 20, 10, 3)]:
        x = g.standard_normal((m, d))
        ratios[f"linear {m} x {d}, k = {k}"] = compare(
            f"linear class, m = {m}, d = {d}, k = {k}, r = {r}",
            lambda dd, how, x=x, k=k, r=r: linear_class_complexity(
                x, spectral_bound=1.0, rank=r, out_dim=k, n_draws=dd, rng=gen(), sampling=how
            ),
            lambda dd, x=x, k=k, r=r: loop_linear(x, 1.0, r, k, dd, gen()),
            n,
            reps,
        )
    met = [name for name, v in ratios.items() if v >= 10.0]
    print(
        f"reduced speed-up >= 10x (the target) on {len(met)}/{len(ratios)} sizes; smallest "
        f"{min(ratios.values()):.1f}x, largest {max(ratios.values()):.1f}x"
    )


if __name__ == "__main__":
    main()
