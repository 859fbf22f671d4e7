"""Benchmark (not a test): closed-form output variance vs Monte Carlo on a 1024 x 1024 layer.

``theory.geometry.output_moments`` gives E||W x - E W x||^2 exactly (to rounding) in O(r(m+n))
memory. The Monte Carlo estimate samples z = A (B^T x) (never forming W) until its relative
standard error reaches a target; its cost for a tighter target follows from the CLT (1/eps^2).
Prints both times and their ratio at each target accuracy. Run: ``python
benchmarks/bench_output_variance.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from theory.geometry import output_moments, variance_matching_init


def mc_total_variance(post, x, n_samples, rng, batch=256):  # type: ignore[no-untyped-def]
    """Sampled E||z - E z||^2 with its standard error, z = A (B^T x) drawn in batches."""
    draws = []
    done = 0
    while done < n_samples:
        k = min(batch, n_samples - done)
        a = post.mu_a + post.sigma_a * rng.standard_normal((k, post.m, post.r))
        b = post.mu_b + post.sigma_b * rng.standard_normal((k, post.n, post.r))
        u = np.einsum("snk,n->sk", b, x)
        z = np.einsum("smk,sk->sm", a, u)
        draws.append(z)
        done += k
    z = np.concatenate(draws)
    # Per-draw squared deviation from the sample mean; its mean estimates the total variance.
    dev = np.sum((z - z.mean(axis=0)) ** 2, axis=1) * n_samples / (n_samples - 1)
    return float(dev.mean()), float(dev.std(ddof=1) / np.sqrt(n_samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--m", type=int, default=1024)
    parser.add_argument("--n", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--mc-samples", type=int, default=2000)
    args = parser.parse_args()

    rng = np.random.default_rng(20261126)
    post = variance_matching_init(args.m, args.n, args.rank, target="glorot", eta=0.5, rng=rng)
    x = rng.normal(size=args.n)

    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        _, var = output_moments(post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, x)
        times.append(time.perf_counter() - t0)
    t_closed = min(times)

    t0 = time.perf_counter()
    est, se = mc_total_variance(post, x, args.mc_samples, rng)
    t_mc = time.perf_counter() - t0
    rel_se = se / est

    print(f"layer {args.m} x {args.n}, rank {args.rank}: total output variance {var:.6g}")
    print(f"closed form: {t_closed * 1e3:.3f} ms (exact to rounding; no m n x m n object)")
    print(
        f"Monte Carlo, {args.mc_samples} draws: {t_mc:.3f} s, estimate {est:.6g} +- {se:.2g} "
        f"(relative SE {rel_se:.1e}; z = {(est - var) / se:+.2f} against the closed form)"
    )
    for target in (1e-2, 1e-3, 1e-4):
        t_needed = t_mc * (rel_se / target) ** 2
        print(
            f"  relative SE {target:.0e}: Monte Carlo ~{t_needed:.3g} s, "
            f"closed form {t_closed * 1e3:.3f} ms, ratio {t_needed / t_closed:.3g}x"
        )


if __name__ == "__main__":
    main()
