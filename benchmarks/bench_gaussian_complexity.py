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
    batched: Callable[[int], tuple[float, float]],
    loop: Callable[[int], tuple[float, float]],
    n_draws: int,
    repeats: int,
    draw_size: int,
) -> float:
    """Interleave the two timings and keep the best of each, so that load from other processes
    on a shared machine hits both sides alike; print and return the ratio. The last column is
    the floor both share: generating the n_draws x draw_size normals (in the estimators' 16 MB
    batches)."""
    t_batch, t_loop, t_rng = [], [], []
    for _ in range(repeats):
        t, res_b = _time(lambda: batched(n_draws))
        t_batch.append(t)
        t, res_l = _time(lambda: loop(n_draws))
        t_loop.append(t)
        g = np.random.default_rng(0)
        chunk = max(1, 2_000_000 // draw_size)
        t0 = time.perf_counter()
        for start in range(0, n_draws, chunk):
            g.standard_normal((min(chunk, n_draws - start), draw_size))
        t_rng.append(time.perf_counter() - t0)
    diff = max(abs(res_b[0] - res_l[0]) / abs(res_l[0]), abs(res_b[1] - res_l[1]) / res_l[1])
    ratio = min(t_loop) / min(t_batch)
    per = [min(t) / n_draws * 1e6 for t in (t_batch, t_loop, t_rng)]
    print(
        f"{label:<44} {per[0]:8.2f} {per[1]:8.2f} {ratio:7.1f}x {per[2]:8.2f}   "
        f"{res_b[0]:.6f} +- {res_b[1]:.1e} (rel. diff {diff:.1e})"
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
        f"{n:,} draws per call, best of {reps} interleaved runs. Microseconds per draw: batched, "
        f"loop, their ratio, the normals alone; the estimate +- SE and the relative difference "
        f"of the two (estimate and SE)"
    )
    ratios = {}
    for n_f, m, k in [(8, 6, 2), (65, 12, 3), (200, 24, 4), (200, 100, 10)]:
        outputs = g.standard_normal((n_f, m, k))
        ratios[f"finite {n_f} x {m} x {k}"] = compare(
            f"finite class, {n_f} functions, m = {m}, k = {k}",
            lambda d, o=outputs: empirical_gaussian_complexity(o, n_draws=d, rng=gen()),
            lambda d, o=outputs: loop_finite(o, d, gen()),
            n,
            reps,
            m * k,
        )
    for m, d, k, r in [(6, 4, 2, 2), (12, 4, 3, 2), (24, 6, 4, 3), (100, 20, 10, 3)]:
        x = g.standard_normal((m, d))
        ratios[f"linear {m} x {d}, k = {k}"] = compare(
            f"linear class, m = {m}, d = {d}, k = {k}, r = {r}",
            lambda dd, x=x, k=k, r=r: linear_class_complexity(
                x, spectral_bound=1.0, rank=r, out_dim=k, n_draws=dd, rng=gen()
            ),
            lambda dd, x=x, k=k, r=r: loop_linear(x, 1.0, r, k, dd, gen()),
            n,
            reps,
            m * k,
        )
    met = [name for name, v in ratios.items() if v >= 10.0]
    print(
        f"speed-up >= 10x (the target) on {len(met)}/{len(ratios)} sizes; smallest "
        f"{min(ratios.values()):.1f}x, largest {max(ratios.values()):.1f}x"
    )


if __name__ == "__main__":
    main()
