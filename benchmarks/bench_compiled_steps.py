"""Whether compiled training loops pay in the default sweep: the two training stages of every
low-rank shape of the default grid, the toolkit's eager loops against its compiled ones
(``compile=True``: :mod:`lrbnn_core.training.compiled_erm`, :mod:`lrbnn_core.objectives.compiled`,
``torch.compile`` with dynamic shapes, the eager loops' draws and checks), measured side by side
in one process, once with inductor's on-disk cache empty (a user's first sweep) and once with it
filled by that run (every later sweep).

The stages: the dropout ERM of the prior model's means (``erm``: forward, gradients and SGD's
update as one graph; 3,200 steps a point) and the posterior's bound training (``bound``: the
draws' transforms, forward, bounded cross-entropy and KL as one graph with its compiled
backward, the kl objective and Adam outside it; 20 epochs of the training set a point; the
shapes and the work of the sweep's, the posterior centred at the untrained model). For each
shape (the default grid's seed-0 points, in the sweep's order) and stage it prints the step's
cost in both loops and what compiling cost there: the first compiled pass's time minus a
compiled pass's (a compilation, or a recompilation where a new shape breaks the graph's guards).
Then it adds them up over the default grid's 24 low-rank points (each shape twice, one per
seed): the seconds the compiled steps would save and the seconds compiling costs, cold and
warm. The four mean-field points are left out (their graphs are others, of dense matrices). A
float64 check prints the largest difference between each compiled loop's trained parameters and
the eager loop's after one epoch (rounding: the same arithmetic). ``bench_sweep_compile.py``
times whole sweeps with ``--compile``.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_compiled_steps.py [--repeats R]
[--json PATH]`` (``make bench`` writes ``benchmarks/results/bench_compiled_steps.json``; about
three minutes, most of it compiling). Without a C++ compiler for inductor it says so and writes
nothing.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import verification.sweep.point as vp
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.certified_training import GridSettings, split_for_prior
from lrbnn_core.erm_prior import DropoutERM, train_dropout_erm
from lrbnn_core.layers.compiled import compiler_available
from lrbnn_core.objectives import train_bound
from verification.sweep.spec import grid, make_spec

#: points per shape in the default grid (its seeds)
SEEDS_PER_SHAPE = 2
STAGES = ("erm", "bound")
#: epochs per timing: the ERM's (of the prior half) and the bound training's (of all the data)
EPOCHS = {"erm": 2, "bound": 1}
#: epochs per sweep point
POINT_EPOCHS = {"erm": DropoutERM().epochs, "bound": GridSettings().posterior_epochs}


def shapes() -> list[Any]:
    """The default grid's seed-0 low-rank points, in the sweep's order."""
    return [p for p in grid(make_spec()) if p.seed == 0 and p.family == "low_rank"]


def _parts(point: Any) -> dict[str, tuple[torch.nn.Module, torch.Tensor, torch.Tensor]]:
    """The untrained model and the prior half (ERM); a posterior centred at the model and the
    whole training set (bound training)."""
    data = vp._load(point)
    prior_idx, _ = split_for_prior(len(data.x_train), 0.5, point.seed)
    model = vp._builder(point, data)(torch.Generator().manual_seed(point.seed))
    posterior = copy.deepcopy(model)
    set_prior(posterior, GaussianPrior(1.0), centre=model, centre_std_scale=0.5)
    return {"erm": (model, data.x_train[prior_idx], data.y_train[prior_idx]),
            "bound": (posterior, data.x_train, data.y_train)}  # fmt: skip


def _bound_kw(point: Any, n: int, epochs: int) -> dict[str, Any]:
    cfg = GridSettings()
    return {"objective": cfg.objective, "delta": cfg.delta, "n_bound": n - n // 2,
            "penalty": point.penalty, "epochs": epochs, "batch_size": cfg.batch_size,
            "lr": float(cfg.posterior_lr), "seed": point.seed}  # fmt: skip


def _runner(stage: str, point: Any, part: Any, epochs: int, compile: bool) -> Any:
    """The toolkit's loop, eager or compiled, on a fresh copy of the stage's model."""
    model, x, y = part
    if stage == "erm":
        settings = DropoutERM(epochs=epochs)

        def erm() -> None:
            m = copy.deepcopy(model)
            train_dropout_erm(
                m, x, y, settings=settings, seed=point.seed, progress=False, compile=compile
            )

        return erm
    kw = _bound_kw(point, len(x), epochs)

    def bound() -> None:
        train_bound(copy.deepcopy(model), x, y, progress=False, compile=compile, **kw)

    return bound


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _steps(stage: str, n: int, epochs: int) -> int:
    batch = DropoutERM().batch_size if stage == "erm" else GridSettings().batch_size
    return epochs * math.ceil(n / batch)


def child(repeats: int) -> dict[str, Any]:
    """One process's measurements (the cache state is the caller's)."""
    torch.set_num_threads(1)
    rows: dict[str, dict[str, Any]] = {stage: {} for stage in STAGES}
    for point in shapes():
        parts = _parts(point)
        for stage in STAGES:
            n = len(parts[stage][1])
            toolkit = _runner(stage, point, parts[stage], EPOCHS[stage], False)
            comp = _runner(stage, point, parts[stage], EPOCHS[stage], True)
            first = _timed(comp)
            tool, ours = [], []
            for _ in range(repeats):  # interleaved
                tool.append(_timed(toolkit))
                ours.append(_timed(comp))
            steps = _steps(stage, n, EPOCHS[stage])
            rows[stage][point.point_id] = {
                "compile_s": max(0.0, first - min(ours)),
                "toolkit_ms": 1e3 * min(tool) / steps,
                "compiled_ms": 1e3 * min(ours) / steps,
                "point_steps": _steps(stage, n, POINT_EPOCHS[stage]),
            }
        print(json.dumps({"progress": point.point_id}), file=sys.stderr, flush=True)
    return {"stages": rows, "float64_largest_difference": _float64_check()}


def _float64_check() -> dict[str, float]:
    """Each compiled loop against the eager one in float64, one epoch of a small point."""
    import _floor_steps as floor  # type: ignore[import-not-found]

    point = shapes()[1]
    out = {}
    for stage, (model, x, y) in _parts(point).items():
        model, x = model.double(), x.double()
        x, y = x[:512], y[:512]
        eager, compiled = copy.deepcopy(model), copy.deepcopy(model)
        for m, comp in ((eager, False), (compiled, True)):
            if stage == "erm":
                train_dropout_erm(
                    m, x, y, settings=DropoutERM(epochs=1), seed=0, progress=False, compile=comp
                )
            else:
                train_bound(m, x, y, progress=False, compile=comp, **_bound_kw(point, len(x), 1))
        out[stage] = floor.largest_difference(eager, compiled)
    return out


def _run_child(cache: str, repeats: int) -> dict[str, Any]:
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    cmd = [sys.executable, __file__, "--child", "--repeats", str(repeats)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench_compiled_steps: the measuring process failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def summary(rows: dict[str, Any]) -> dict[str, float]:
    """Over the default grid's low-rank points, one stage's rows: seconds saved by the compiled
    steps, seconds of compiling, and the net saving."""
    saved = sum(
        SEEDS_PER_SHAPE * r["point_steps"] * (r["toolkit_ms"] - r["compiled_ms"]) / 1e3
        for r in rows.values()
    )
    cost = sum(r["compile_s"] for r in rows.values())
    return {"saved_s": saved, "compile_s": cost, "net_s": saved - cost}


def _print(values: dict[str, Any]) -> None:
    for stage in STAGES:
        print(f"{stage} step, ms (eager -> compiled), and compiling, s (cold, warm):")
        for pid, cold in values["cold"]["stages"][stage].items():
            warm = values["warm"]["stages"][stage][pid]
            print(f"  {pid:>11}: {cold['toolkit_ms']:.3f} -> {cold['compiled_ms']:.3f} "
                  f"({cold['toolkit_ms'] / cold['compiled_ms']:.2f}x); compiling "
                  f"{cold['compile_s']:.1f} s cold, {warm['compile_s']:.1f} s warm")  # fmt: skip
    for state in ("cold", "warm"):
        for stage in (*STAGES, "both"):
            s = values[state]["summary"][stage]
            print(f"default grid's 24 low-rank points, {stage}, {state} cache: the compiled steps "
                  f"save {s['saved_s']:.1f} s, compiling costs {s['compile_s']:.1f} s: "
                  f"net {s['net_s']:+.1f} s")  # fmt: skip
    check = values["cold"]["float64_largest_difference"]
    print(f"float64, one epoch, compiled vs eager loops: largest difference ERM "
          f"{check['erm']:.1e}, bound {check['bound']:.1e}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timings, the min kept")
    parser.add_argument("--json", default=None, help="also write the numbers here (a JSON file)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.repeats)))
        return
    if not compiler_available():
        print("bench_compiled_steps: no C++ compiler for inductor here; nothing measured")
        return
    values: dict[str, Any] = {"epochs": EPOCHS, "repeats": args.repeats}
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache:
        for state in ("cold", "warm"):
            run = _run_child(cache, args.repeats)
            sums = {stage: summary(run["stages"][stage]) for stage in STAGES}
            sums["both"] = {key: sum(sums[st][key] for st in STAGES) for key in sums["erm"]}
            values[state] = {**run, "summary": sums}
    _print(values)
    if args.json is not None:
        from _results import write_result  # type: ignore[import-not-found]

        print(f"wrote {write_result(Path(args.json), 'bench_compiled_steps', values)}")


if __name__ == "__main__":
    main()
