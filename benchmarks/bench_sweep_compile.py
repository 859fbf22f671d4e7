"""Benchmark (not a test): the default sweep with ``--compile`` against the baseline commit and
against the eager sweep, side by side, on a first run and once inductor's cache holds the graphs.

Issue 16 asks for the default sweep at least 2x shorter than at its baseline (``BASELINE`` of
``bench_sweep_wall.py``). ``lrbnn sweep --compile`` trains the low-rank points' dropout ERM and
bound training as compiled graphs (:mod:`lrbnn_core.training.compiled_erm`,
:mod:`lrbnn_core.objectives.compiled`), which pays only once the compilations are cached. Three
rounds, two sweeps each at the same time (one per core, one worker each, so that both see the
same load):

1. the baseline beside ``--compile`` with an empty inductor cache (``TORCHINDUCTOR_CACHE_DIR``
   a new folder: a user's first compiled sweep on a machine);
2. the baseline beside ``--compile`` with that cache as round 1 left it (a later sweep);
3. the eager sweep of this tree beside ``--compile`` with the cache warm.

Each round prints both wall times and their ratio, and the largest differences of the test
error and the kl-inverse bound between the two ``results.csv`` (compiled training rounds
differently from eager, and training amplifies it: the numbers move, the bytes change).

Run: ``python benchmarks/bench_sweep_compile.py [--base REV] [--json PATH]`` (``make bench``
writes ``benchmarks/results/bench_sweep_compile.json``; about 14 minutes on two cores).
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _results import write_result  # type: ignore[import-not-found]
from bench_sweep_wall import (  # type: ignore[import-not-found]
    ROOT,
    arguments,
    extract,
    largest_differences,
    run_sweep,
)

#: the rounds: (name, the left sweep's tree, "cold" or "warm" for the compiled sweep)
ROUNDS = (
    ("base_cold", "base", "cold"),
    ("base_warm", "base", "warm"),
    ("eager_warm", "now", "warm"),
)


def side_by_side(left: tuple[Path, list[str]], cache: Path, tmp: Path, name: str) -> dict[str, Any]:
    """The left sweep and ``--compile`` (inductor's cache in ``cache``) at the same time."""
    outs = (tmp / f"{name}-left", tmp / f"{name}-compiled")
    env = {"TORCHINDUCTOR_CACHE_DIR": str(cache)}
    with ThreadPoolExecutor(2) as pool:
        lhs = pool.submit(run_sweep, left[0], left[1], outs[0])
        rhs = pool.submit(run_sweep, ROOT, ["--compile"], outs[1], env)
        left_s, compiled_s = lhs.result(), rhs.result()
    return {
        "left_s": left_s,
        "compiled_s": compiled_s,
        "ratio": left_s / compiled_s,
        "largest_difference": largest_differences(outs[0] / "results.csv", outs[1] / "results.csv"),
    }


def main() -> None:
    args = arguments(__doc__).parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        trees = {"base": extract(args.base, tmp / "base"), "now": ROOT}
        cache = tmp / "inductor"
        cache.mkdir()
        for round_name, left, state in ROUNDS:
            r = results[round_name] = side_by_side((trees[left], []), cache, tmp, round_name)
            diffs = ", ".join(f"{k} {v:.3g}" for k, v in r["largest_difference"].items())
            who = "baseline" if left == "base" else "eager now"
            print(
                f"{who:9s} {r['left_s']:6.1f} s beside --compile ({state} cache) "
                f"{r['compiled_s']:6.1f} s: {r['ratio']:.2f}x shorter; largest differences: "
                f"{diffs}",
                flush=True,
            )
    if args.json is not None:
        values = {"base": args.base, "workers": 1, "grid": "default", "rounds": results}
        print(f"wrote {write_result(args.json, 'bench_sweep_compile', values)}")


if __name__ == "__main__":
    main()
