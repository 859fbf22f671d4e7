"""Benchmark (not a test): one training step of the Bayesian linear layers against nn.Linear.

One step = forward on a batch, loss = mean squared output + KL / N (N = 60,000, a dataset size),
backward (no optimiser update), float32, in = out = 1024, batch 256 by default (``--sizes`` runs
several sizes, one table each). Layers: LowRankBayesLinear at r in {4, 16, 64} in "shared" and
"local" modes, MeanFieldBayesLinear in both modes, nn.Linear, and the peer: bayesian-torch's
``LinearReparameterization`` (mean-field, one weight draw per pass, its own KL), when installed
(``make bench`` installs it with ``--no-deps``: it would pull another torch). Printed per layer,
all measured in this one run:

* time per step (median over interleaved repeats, so that load from other processes hits every
  layer alike; each repeat times 3 consecutive steps of a layer after one untimed step) and the
  speed-ups over the mean-field shared step and over nn.Linear;
* FLOPs of the step (matrix products, counted by ``torch.utils.flop_counter.FlopCounterMode``)
  and the FLOP ratio nn.Linear / layer: the limit a time ratio could reach;
* peak memory: on CPU the growth of the peak resident set size of a fresh subprocess during its
  first step (allocator effects included: what the operating system sees); on CUDA the growth
  of ``max_memory_allocated`` during a step;
* trainable parameters and the ratio to the mean-field layer;
* operators per step: the innermost ``aten::`` calls the profiler records for one step (those
  that call no other operator: about one kernel each), a measure of dispatch overhead on small
  layers.

The row ``low-rank r=16 compiled`` is the same step through the opt-in compiled step
(:func:`lrbnn_core.layers.compiled.compiled_step`: forward, KL, loss and gradients as one
``torch.compile`` graph), where inductor finds a C++ compiler; its compilation time (the first
call, in this process) and the steps after which it pays (compilation / time saved per step
against the eager shared step) are printed below the table.

Targets (issue 16, the lean training step; CPU, 1 thread, batch 256, ``--sizes 1024 256 64``):
the low-rank r = 16 shared step no slower than nn.Linear at 256 and within 2x of it at 64,
>= 15x faster than the peer at 1024, and at most about 20 operators per step (the loss around
the layer, square, mean, ``+ KL / N`` and their backward, counts 24 on its own, and each
parameter's ``AccumulateGrad`` one more). Issue 6 before it: >= 10x faster than the mean-field
shared step at 1024 and >= 10x fewer parameters than the mean-field layer.

Run: ``python benchmarks/bench_layers.py [--threads N] [--device cuda]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# the profiler's start/stop log lines would bury the tables (some are written by the C++ side
# straight to file descriptor 2 whatever this says: see _quiet_stderr)
os.environ.setdefault("KINETO_LOG_LEVEL", "5")

import torch
from _results import write_result  # type: ignore[import-not-found]
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lrbnn_core import LowRankBayesLinear, MeanFieldBayesLinear, set_generator
from lrbnn_core.layers.compiled import compiled_step, compiler_available

N_DATA = 60_000
#: the peer's name in the tables
PEER = "bayesian-torch reparam"
#: the compiled step's row
COMPILED = "low-rank r=16 compiled"


def _peer_class() -> type[nn.Module]:
    from bayesian_torch.layers import LinearReparameterization  # type: ignore[import-not-found]

    return LinearReparameterization  # type: ignore[no-any-return]


def peer_installed() -> bool:
    try:
        _peer_class()
    except ImportError:
        return False
    return True


def make_layer(name: str, size: int, device: str) -> nn.Module:
    gen = torch.Generator().manual_seed(0)
    if name == "nn.Linear":
        layer: nn.Module = nn.Linear(size, size)
    elif name == PEER:
        torch.manual_seed(0)  # bayesian-torch initialises from the global generator
        layer = _peer_class()(size, size)
    elif name.startswith("mean-field"):
        layer = MeanFieldBayesLinear(size, size, sampling=name.split()[-1], generator=gen)
    else:  # "low-rank r=16 shared" ("compiled": the shared step, compiled)
        _, r, mode = name.split()
        mode = "shared" if mode == "compiled" else mode
        layer = LowRankBayesLinear(size, size, int(r[2:]), sampling=mode, generator=gen)
    layer = layer.to(device)
    set_generator(layer, torch.Generator(device=device).manual_seed(1))
    return layer


def square_mean(y: torch.Tensor) -> torch.Tensor:
    """The loss around the layer (one function object: one compilation per shape)."""
    return y.square().mean()


def make_step(layer: nn.Module, x: torch.Tensor, compiled: bool = False) -> Callable[[], None]:
    if compiled:
        fast = compiled_step(layer, square_mean, 1 / N_DATA)  # type: ignore[arg-type]

        def compiled_step_() -> None:
            layer.zero_grad(set_to_none=True)
            fast(x)

        return compiled_step_
    kl = getattr(layer, "kl", None)
    peer = type(layer).__name__ == "LinearReparameterization"

    def step() -> None:
        layer.zero_grad(set_to_none=True)
        if peer:  # returns (output, KL of this layer)
            out, peer_kl = layer(x)
            loss = out.square().mean() + peer_kl / N_DATA
        else:
            loss = square_mean(layer(x))
            if kl is not None:
                loss = loss + kl() / N_DATA
        loss.backward()

    return step


def layer_names(ranks: list[int], size: int, peer: bool) -> list[str]:
    names = [f"low-rank r={r} {mode}" for r in ranks if r <= size for mode in ("shared", "local")]
    if 16 in ranks and 16 <= size and compiler_available():
        names.insert(names.index("low-rank r=16 shared") + 1, COMPILED)
    return [*names, "mean-field shared", "mean-field local", "nn.Linear", *([PEER] if peer else [])]


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null: the profiler's C++ side prints ``USDT: ...
    profiler_start`` / ``profiler_stop`` there, which no environment variable silences."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def op_count(step: Callable[[], None]) -> int:
    """Innermost ``aten::`` operator calls of one step (calling no other ``aten::`` operator)."""
    with (
        _quiet_stderr(),
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof,
    ):
        step()
    return sum(
        1
        for e in prof.events()
        if e.name.startswith("aten::")
        and not any(c.name.startswith("aten::") for c in e.cpu_children)
    )


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
step = make_step(layer, x, {name!r} == {COMPILED!r})
torch.ones(1, requires_grad=True).sum().backward()
if {name!r} == {COMPILED!r}:
    step()  # compiled before the measured step: the step's memory, not the compiler's
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
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--ranks", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peer = peer_installed()
    if not peer:
        print("bayesian-torch is not installed (pip install --no-deps bayesian-torch): no peer")
    measured = {str(size): bench_size(size, args, peer) for size in args.sizes}
    if args.json is not None:
        values = {
            "device": args.device,
            "threads": args.threads,
            "batch": args.batch,
            "sizes": {size: rows for size, (rows, _) in measured.items()},
            # the compiled row's first call (seconds) and the steps after which it pays
            "compiled": {size: c for size, (_, c) in measured.items() if c is not None},
        }
        print(f"wrote {write_result(args.json, 'bench_layers', values)}")


def bench_size(
    size: int, args: argparse.Namespace, peer: bool
) -> tuple[dict[str, dict[str, float]], dict[str, float | None] | None]:
    """The rows of one size, and the compiled row's compilation (``None`` without it)."""
    dev = args.device
    cuda = dev.startswith("cuda")
    names = layer_names(args.ranks, size, peer)
    x = torch.randn(args.batch, size, generator=torch.Generator().manual_seed(2)).to(dev)
    layers = {name: make_layer(name, size, dev) for name in names}
    steps = {name: make_step(layer, x, name == COMPILED) for name, layer in layers.items()}
    compile_s = None
    if COMPILED in steps:  # the first call compiles (or finds the graph compiled already)
        t0 = time.perf_counter()
        steps[COMPILED]()
        compile_s = time.perf_counter() - t0

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    flops, memory, ops = {}, {}, {}
    for name, step in steps.items():
        if name == COMPILED:  # the shared step's products (torch.compile refuses the counter)
            flops[name] = flops["low-rank r=16 shared"]
        else:
            with FlopCounterMode(display=False) as counter:
                step()
            flops[name] = counter.get_total_flops()
        ops[name] = op_count(step)
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
            memory[name] = peak_memory_subprocess(name, size, args.batch, args.threads)
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
        f"\nOne training step (forward, backward, KL), in = out = {size}, batch {args.batch}, "
        f"float32, {device}; median of {args.repeats} interleaved repeats"
    )
    print(
        f"{'layer':<24}{'ms/step':>9}{'vs MF':>8}{'vs Linear':>10}{'GFLOP':>8}"
        f"{'FLOP ratio':>11}{'peak MiB':>10}{'params':>11}{'MF/params':>10}{'ops':>6}"
    )
    lin, mf = "nn.Linear", "mean-field shared"
    for name in names:
        print(
            f"{name:<24}{med[name] * 1e3:9.3f}{med[mf] / med[name]:7.1f}x"
            f"{med[lin] / med[name]:9.2f}x{flops[name] / 1e9:8.3f}"
            f"{flops[lin] / max(flops[name], 1):10.1f}x{memory[name]:10.1f}{params[name]:11,d}"
            f"{params[mf] / params[name]:9.1f}x{ops[name]:6d}"
        )
    r16 = "low-rank r=16 shared"
    if r16 in med:
        versus_peer = (
            f"; {med[PEER] / med[r16]:.1f}x faster than bayesian-torch's LinearReparameterization"
            if PEER in med
            else ""
        )
        print(
            f"at r = 16 (shared): {med[mf] / med[r16]:.1f}x faster than mean-field, "
            f"{med[lin] / med[r16]:.2f}x vs nn.Linear (> 1: faster), "
            f"{params[mf] / params[r16]:.1f}x fewer parameters, {ops[r16]} operators per step"
            f"{versus_peer}; FLOP ratio to nn.Linear {flops[lin] / flops[r16]:.1f}x (the limit)"
        )
    compilation = None
    if compile_s is not None:
        saved = med[r16] - med[COMPILED]
        pays = compile_s / saved if saved > 0 else None
        print(
            f"compiled (r = 16): {med[lin] / med[COMPILED]:.2f}x vs nn.Linear, "
            f"{med[r16] / med[COMPILED]:.2f}x the eager shared step, {ops[COMPILED]} operators; "
            f"first call (compilation) {compile_s:.1f} s, paid back after "
            + (f"{pays:,.0f} steps" if saved > 0 else "never (no faster)")
        )
        compilation = {"compile_s": compile_s, "pays_after_steps": pays}
    rows = {
        name: {
            "ms": med[name] * 1e3,
            "gflop": flops[name] / 1e9,
            "params": params[name],
            "ops": ops[name],
            "peak_mib": memory[name],
        }
        for name in names
    }
    return rows, compilation


if __name__ == "__main__":
    main()
