"""Whether a compiled training loop pays in the default sweep: the dropout ERM of every low-rank
shape of the default grid, the toolkit's eager loop against a compiled twin
(``_compiled_erm.py``: forward, gradients and SGD's update as one ``torch.compile`` graph with
dynamic shapes), measured side by side in one process, once with inductor's on-disk cache empty
(a user's first sweep) and once with it filled by that run (every later sweep).

For each shape (the default grid's seed-0 points, in the sweep's order) it prints the step's cost
in both loops and what compiling cost there: the first compiled pass's time minus a compiled
pass's (compilation, or a recompilation where a new shape breaks the graph's guards). Then it
adds them up over the default grid's 24 low-rank points (each shape twice, one per seed; 3,200
ERM steps a point): the seconds the compiled steps would save and the seconds compiling costs,
cold and warm. The four mean-field points are left out (their ERM is another graph, dense
matrices). A float64 check prints the largest difference between the compiled twin's trained
means and the toolkit's after one epoch (rounding: the same arithmetic).

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_compiled_erm.py [--epochs E]
[--repeats R] [--json PATH]`` (``make bench`` writes
``benchmarks/results/bench_compiled_erm.json``; about two minutes, most of it compiling).
Without a C++ compiler for inductor it says so and writes nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import verification.sweep.point as vp
from lrbnn_core.certified_training import split_for_prior
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.layers.compiled import compiler_available
from verification.sweep.spec import grid, make_spec

#: the default grid's ERM: steps per point (100 epochs of 2,000 examples in batches of 64)
ERM_STEPS = DropoutERM().epochs * math.ceil(2000 / DropoutERM().batch_size)
#: points per shape in the default grid (its seeds)
SEEDS_PER_SHAPE = 2


def shapes() -> list[Any]:
    """The default grid's seed-0 low-rank points, in the sweep's order."""
    return [p for p in grid(make_spec()) if p.seed == 0 and p.family == "low_rank"]


def _erm_part(point: Any) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    data = vp._load(point)
    prior_idx, _ = split_for_prior(len(data.x_train), 0.5, point.seed)
    model = vp._builder(point, data)(torch.Generator().manual_seed(point.seed))
    return model, data.x_train[prior_idx], data.y_train[prior_idx]


def _timed(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def child(epochs: int, repeats: int) -> dict[str, Any]:
    """One process's measurements (the cache state is the caller's)."""
    import _compiled_erm as twin  # type: ignore[import-not-found]

    torch.set_num_threads(1)
    settings = DropoutERM(epochs=epochs)
    update = twin.compiled_update()
    rows = {}
    for point in shapes():
        model, x, y = _erm_part(point)
        steps = epochs * math.ceil(len(x) / settings.batch_size)

        def toolkit(m: Any = model, x: Any = x, y: Any = y, s: int = point.seed) -> None:
            train_dropout_erm(copy.deepcopy(m), x, y, settings=settings, seed=s, progress=False)

        def compiled(m: Any = model, x: Any = x, y: Any = y, s: int = point.seed) -> None:
            twin.erm_twin(m, x, y, settings, s, update)

        first = _timed(compiled)
        tool, comp = [], []
        for _ in range(repeats):  # interleaved
            tool.append(_timed(toolkit))
            comp.append(_timed(compiled))
        rows[point.point_id] = {
            "compile_s": max(0.0, first - min(comp)),
            "toolkit_ms": 1e3 * min(tool) / steps,
            "compiled_ms": 1e3 * min(comp) / steps,
        }
        print(json.dumps({"progress": point.point_id}), file=sys.stderr, flush=True)
    # the same arithmetic: float64, one epoch, against the toolkit's trained means
    model, x, y = _erm_part(shapes()[1])
    model, x = model.double(), x.double()
    one = DropoutERM(epochs=1)
    theirs = twin.erm_twin(model, x, y, one, 0, update)
    train_dropout_erm(model, x, y, settings=one, seed=0, progress=False)
    ours = twin.mean_params(model)
    diff = max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True))
    return {"shapes": rows, "float64_largest_difference": diff}


def _run_child(cache: str, epochs: int, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    cmd = [sys.executable, __file__, "--child", "--epochs", str(epochs), "--repeats", str(repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_compiled_erm: the measuring process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def summary(run: dict[str, Any]) -> dict[str, float]:
    """Over the default grid's low-rank points: seconds saved by the compiled steps, seconds of
    compiling, and the net saving."""
    rows = run["shapes"].values()
    saved = sum(
        SEEDS_PER_SHAPE * ERM_STEPS * (r["toolkit_ms"] - r["compiled_ms"]) / 1e3 for r in rows
    )
    cost = sum(r["compile_s"] for r in rows)
    return {"saved_s": saved, "compile_s": cost, "net_s": saved - cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timing (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timings, the min kept")
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.epochs, args.repeats)))
        return
    if not compiler_available():
        print("bench_compiled_erm: no C++ compiler for inductor here; nothing measured")
        return
    values: dict[str, Any] = {"epochs": args.epochs, "repeats": args.repeats,
                              "erm_steps_per_point": ERM_STEPS}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
        for state in ("cold", "warm"):
            run = _run_child(cache, args.epochs, args.repeats)
            values[state] = {**run, "summary": summary(run)}
    print("dropout-ERM step, ms (toolkit eager -> compiled twin), and compiling, s (cold, warm):")
    for pid, cold in values["cold"]["shapes"].items():
        warm = values["warm"]["shapes"][pid]
        print(f"  {pid:>10}: {cold['toolkit_ms']:.3f} -> {cold['compiled_ms']:.3f} "
              f"({cold['toolkit_ms'] / cold['compiled_ms']:.2f}x); compiling "
              f"{cold['compile_s']:.1f} s cold, {warm['compile_s']:.1f} s warm")  # fmt: skip
    for state in ("cold", "warm"):
        s = values[state]["summary"]
        print(f"default grid's 24 low-rank points, {state} cache: the compiled steps save "
              f"{s['saved_s']:.1f} s, compiling costs {s['compile_s']:.1f} s: "
              f"net {s['net_s']:+.1f} s")  # fmt: skip
    print(f"float64, one epoch: compiled twin vs toolkit, largest difference "
          f"{values['cold']['float64_largest_difference']:.1e}")  # fmt: skip
    if args.json is not None:
        from _results import write_result  # type: ignore[import-not-found]

        print(f"wrote {write_result(Path(args.json), 'bench_compiled_erm', values)}")


if __name__ == "__main__":
    main()
