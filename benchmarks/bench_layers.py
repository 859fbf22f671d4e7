"""Benchmark (not a test): one training step of the Bayesian linear layers against nn.Linear.

One step = forward on a batch, loss = mean squared output + KL / N (N = 60,000, a dataset size),
backward (no optimiser update), float32, in = out = 1024, batch 256 by default. Layers:
LowRankBayesLinear at r in {4, 16, 64} in "shared" and "local" modes, MeanFieldBayesLinear in both
modes, and nn.Linear. Printed per layer, all measured in this one run:

* time per step (median over interleaved repeats, so that load from other processes hits every
  layer alike; each repeat times 3 consecutive steps of a layer after one untimed step) and the
  speed-ups over the mean-field shared step and over nn.Linear;
* FLOPs of the step (matrix products, counted by ``torch.utils.flop_counter.FlopCounterMode``)
  and the FLOP ratio nn.Linear / layer: the limit a time ratio could reach;
* peak memory: on CPU the growth of the peak resident set size of a fresh subprocess during its
  first step (allocator effects included: what the operating system sees); on CUDA the growth
  of ``max_memory_allocated`` during a step;
* trainable parameters and the ratio to the mean-field layer.

Targets (issue 6): at r = 16 the low-rank shared step is >= 10x faster than the mean-field shared
step and faster than nn.Linear, with >= 10x fewer parameters than the mean-field layer.

Run: ``python benchmarks/bench_layers.py [--threads N] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lrbnn_core import LowRankBayesLinear, MeanFieldBayesLinear, set_generator

N_DATA = 60_000


def make_layer(name: str, size: int, device: str) -> nn.Module:
    gen = torch.Generator().manual_seed(0)
    if name == "nn.Linear":
        layer: nn.Module = nn.Linear(size, size)
    elif name.startswith("mean-field"):
        layer = MeanFieldBayesLinear(size, size, sampling=name.split()[-1], generator=gen)
    else:  # "low-rank r=16 shared"
        _, r, mode = name.split()
        layer = LowRankBayesLinear(size, size, int(r[2:]), sampling=mode, generator=gen)
    layer = layer.to(device)
    set_generator(layer, torch.Generator(device=device).manual_seed(1))
    return layer


def make_step(layer: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    kl = getattr(layer, "kl", None)

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        loss = layer(x).square().mean()
        if kl is not None:
            loss = loss + kl() / N_DATA
        loss.backward()

    return step


def layer_names(ranks: list[int]) -> list[str]:
    names = [f"low-rank r={r} {mode}" for r in ranks for mode in ("shared", "local")]
    return [*names, "mean-field shared", "mean-field local", "nn.Linear"]


def peak_memory_subprocess(name: str, size: int, batch: int, threads: int) -> float:
    """MiB by which the first step raises the peak RSS of a fresh process, over its RSS just
    before the step (layer and input built, autograd's engine started by a scalar backward, the
    peak reset through ``/proc/self/clear_refs``): the step's own allocations, as the operating
    system sees them. Linux only."""
    code = f"""
import re, sys, torch
sys.path.insert(0, {sys.path[0]!r})
from bench_layers import make_layer, make_step
def kib(key):
    return int(re.search(key + r":\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
torch.set_num_threads({threads})
layer = make_layer({name!r}, {size}, "cpu")
x = torch.randn({batch}, {size}, generator=torch.Generator().manual_seed(2))
step = make_step(layer, x)
torch.ones(1, requires_grad=True).sum().backward()
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kib("VmRSS")
step()
print((kib("VmHWM") - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    cuda = dev.startswith("cuda")
    names = layer_names(args.ranks)
    x = torch.randn(args.batch, args.size, generator=torch.Generator().manual_seed(2)).to(dev)
    layers = {name: make_layer(name, args.size, dev) for name in names}
    steps = {name: make_step(layer, x) for name, layer in layers.items()}

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    flops, memory = {}, {}
    for name, step in steps.items():
        with FlopCounterMode(display=False) as counter:
            step()
        flops[name] = counter.get_total_flops()
        for _ in range(3):  # warm-up
            step()
        if cuda:
            sync()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            step()
            sync()
            memory[name] = (torch.cuda.max_memory_allocated() - base) / 2**20
        else:
            memory[name] = peak_memory_subprocess(name, args.size, args.batch, args.threads)
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name, step in steps.items():
            # a few consecutive steps per layer, the first untimed: training repeats one model's
            # step, so its data should be warm in the caches, not evicted by the previous layer
            step()
            sync()
            t0 = time.perf_counter()
            for _ in range(3):
                step()
            sync()
            times[name].append((time.perf_counter() - t0) / 3)
    med = {name: statistics.median(v) for name, v in times.items()}
    params = {n: sum(p.numel() for p in layer.parameters()) for n, layer in layers.items()}
    device = torch.cuda.get_device_name() if cuda else f"CPU, {args.threads} thread(s)"
    print(
        f"One training step (forward, backward, KL), in = out = {args.size}, batch {args.batch}, "
        f"float32, {device}; median of {args.repeats} interleaved repeats"
    )
    print(
        f"{'layer':<24}{'ms/step':>9}{'vs MF':>8}{'vs Linear':>10}{'GFLOP':>8}"
        f"{'FLOP ratio':>11}{'peak MiB':>10}{'params':>11}{'MF/params':>10}"
    )
    lin, mf = "nn.Linear", "mean-field shared"
    for name in names:
        print(
            f"{name:<24}{med[name] * 1e3:9.3f}{med[mf] / med[name]:7.1f}x"
            f"{med[lin] / med[name]:9.2f}x{flops[name] / 1e9:8.3f}"
            f"{flops[lin] / flops[name]:10.1f}x{memory[name]:10.1f}{params[name]:11,d}"
            f"{params[mf] / params[name]:9.1f}x"
        )
    r16 = "low-rank r=16 shared"
    if r16 in med:
        print(
            f"targets at r = 16 (shared): {med[mf] / med[r16]:.1f}x faster than mean-field "
            f"(>= 10x: {'met' if med[mf] / med[r16] >= 10 else 'NOT met'}), "
            f"{med[lin] / med[r16]:.2f}x vs nn.Linear (> 1: "
            f"{'met' if med[lin] > med[r16] else 'NOT met'}), {params[mf] / params[r16]:.1f}x "
            f"fewer parameters (>= 10x: {'met' if params[mf] >= 10 * params[r16] else 'NOT met'})"
            f"; FLOP ratio to nn.Linear {flops[lin] / flops[r16]:.1f}x (the limit)"
        )


if __name__ == "__main__":
    main()
