"""The readers of the README's benchmark numbers (issue 19): each returns the numbers of one
README sentence, formatted as the README writes them, read from a benchmark's JSON file under
``benchmarks/results/`` (written by ``make bench``; ``benchmarks/_results.py``). The sentences
and sections are :mod:`verification.readme_numbers`'; the readers of the other artefacts (CSV
files under ``figures/``) are :mod:`verification.readme_artefacts`'."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verification.readme_artefacts import _f

__all__ = [
    "COMMANDS",
    "COMPILED_STEPS_BENCH",
    "KL_BENCH",
    "LAYER_BENCH",
    "POINT_BENCH",
    "SEQUENCE_BENCH",
    "STACKED_BENCH",
    "SWEEP_COMPILE_BENCH",
    "WALL_BENCH",
    "WORKERS_BENCH",
    "command_seconds",
    "compiled_bench",
    "compiled_steps_bench",
    "floor_bench",
    "kl_inverse_bench",
    "layer_bench",
    "point_bench",
    "sequence_bench",
    "stacked_bench",
    "sweep_compile_bench",
    "wall_bench",
    "workers_bench",
]


KL_BENCH = "benchmarks/results/bench_kl_inverse.json"


def kl_inverse_bench(root: Path) -> list[str]:
    """The vectorised kl-inverse's microseconds per element and its speed-up
    (``bench_kl_inverse --json``)."""
    values = json.loads((root / KL_BENCH).read_text(encoding="utf-8"))["values"]
    return [_f(values["vectorised_ns_per_element"] / 1e3, 2), f"{values['speedup']:.0f}"]


LAYER_BENCH = "benchmarks/results/bench_layers.json"


def layer_bench(root: Path) -> list[str]:
    """The layer step at 1024, 256 and 64 against mean-field, ``nn.Linear`` and the peer
    (``bench_layers --json``)."""
    sizes = json.loads((root / LAYER_BENCH).read_text(encoding="utf-8"))["values"]["sizes"]
    big = sizes["1024"]
    r16, mf, lin = (big[k] for k in ("low-rank r=16 shared", "mean-field shared", "nn.Linear"))
    peer = big["bayesian-torch reparam"]

    def vs_linear(size: str) -> str:
        return _f(sizes[size]["nn.Linear"]["ms"] / sizes[size]["low-rank r=16 shared"]["ms"], 2)

    return [
        _f(r16["ms"], 2),
        _f(mf["ms"], 1),
        _f(mf["ms"] / r16["ms"], 1),
        _f(lin["ms"], 1),
        _f(lin["ms"] / r16["ms"], 1),
        _f(mf["params"] / r16["params"], 0),
        _f(peer["ms"] / r16["ms"], 1),
        vs_linear("256"),
        vs_linear("64"),
        str(int(r16["ops"])),
        str(int(lin["ops"])),
    ]


WORKERS_BENCH = "benchmarks/results/bench_sweep_workers.json"


def workers_bench(root: Path) -> list[str]:
    """The ratio of two workers' to one worker's wall time (``bench_sweep_workers --json``)."""
    values = json.loads((root / WORKERS_BENCH).read_text(encoding="utf-8"))["values"]
    return [_f(values["ratio"], 2)]


POINT_BENCH = "benchmarks/results/bench_sweep_point.json"
SEQUENCE_BENCH = "benchmarks/results/bench_sequence.json"


def _bench(root: Path, artefact: str) -> dict[str, Any]:
    """A benchmark's ``values`` (``benchmarks/_results.py``)."""
    values: dict[str, Any] = json.loads((root / artefact).read_text(encoding="utf-8"))["values"]
    return values


def compiled_bench(root: Path) -> list[str]:
    """The compiled step against ``nn.Linear`` at 64 and 256, its operators, its compilation
    and the steps after which it pays at 1024 and 64 (``bench_layers --json``)."""
    values = _bench(root, LAYER_BENCH)
    sizes, fast = values["sizes"], "low-rank r=16 compiled"

    def vs_linear(size: str) -> str:
        return f"{sizes[size]['nn.Linear']['ms'] / sizes[size][fast]['ms']:.2f}"

    first, at64 = values["compiled"]["1024"], values["compiled"]["64"]
    return [
        vs_linear("64"),
        vs_linear("256"),
        str(int(sizes["64"][fast]["ops"])),
        f"{first['compile_s']:.1f}",
        f"{first['pays_after_steps']:,.0f}",
        f"{at64['compile_s']:.1f}",
        f"{at64['pays_after_steps']:,.0f}",
    ]


def point_bench(root: Path) -> list[str]:
    """A default sweep point's seconds and the lean steps' ratios (``bench_sweep_point``)."""
    values = _bench(root, POINT_BENCH)
    bound, erm = values["steps"]["train_bound"], values["steps"]["erm"]
    return [
        f"{values['point_s']:.1f}",
        f"{bound['ratio']:.2f}",
        f"{erm['ratio']:.2f}",
        f"{erm['new_ms']:.2f}",
    ]


def sequence_bench(root: Path) -> list[str]:
    """The ranges of the sequence models' old / new ratios (``bench_sequence --json``)."""
    models = _bench(root, SEQUENCE_BENCH)["models"]

    def span(arch: str, step: str) -> list[str]:
        ratios = [m[step]["ratio"] for name, m in models.items() if name.startswith(arch)]
        return [f"{min(ratios):.1f}", f"{max(ratios):.1f}"]

    return [*span("lstm", "train"), *span("lstm", "eval"), *span("transformer", "eval")]


COMMANDS = "benchmarks/results/readme_commands.json"


def command_seconds(*names: str) -> Callable[[Path], list[str]]:
    """A reader of the wall seconds of the README's commands ``names``
    (``benchmarks/time_readme_commands.py --json``)."""

    def read(root: Path) -> list[str]:
        values = json.loads((root / COMMANDS).read_text(encoding="utf-8"))["values"]
        return [_f(values[name]["seconds"], 1) for name in names]

    return read


def floor_bench(root: Path) -> list[str]:
    """How far the default point's training steps are from eager PyTorch's floor, and the point
    if both ran at it (``bench_sweep_point --json``: ``_floor_steps.py``'s twins)."""
    values = _bench(root, POINT_BENCH)
    erm, bound, ceiling = (
        values["steps"]["erm"],
        values["steps"]["train_bound"],
        values["floor_ceiling"],
    )
    return [
        f"{erm['floor']['new_over_floor']:.2f}",
        f"{erm['floor_manual']['new_over_floor']:.2f}",
        f"{bound['floor']['new_over_floor']:.2f}",
        f"{ceiling['ratio']:.2f}",
        f"{ceiling['ratio_manual']:.2f}",
    ]


WALL_BENCH = "benchmarks/results/bench_sweep_wall.json"


def wall_bench(root: Path) -> list[str]:
    """The sweeps' wall times before issue 16 and now, side by side (``bench_sweep_wall
    --json``): the default sweep's seconds and ratio, the LSTM's and the Transformer's ratios."""
    runs = _bench(root, WALL_BENCH)["runs"]
    mlp = runs["mlp"]
    return [
        f"{mlp['before_s']:.1f}",
        f"{mlp['after_s']:.1f}",
        f"{mlp['ratio']:.2f}",
        f"{runs['lstm']['ratio']:.2f}",
        f"{runs['transformer']['ratio']:.2f}",
    ]


STACKED_BENCH = "benchmarks/results/bench_stacked_points.json"


def stacked_bench(root: Path) -> list[str]:
    """How much shorter per point the dropout-ERM and the bound-training steps are with two and
    four default points stacked in one step (``bench_stacked_points --json``)."""
    values = _bench(root, STACKED_BENCH)
    return [f"{values[stage]['ratio'][p]:.2f}" for stage in ("erm", "bound") for p in ("2", "4")]


COMPILED_STEPS_BENCH = "benchmarks/results/bench_compiled_steps.json"


def compiled_steps_bench(root: Path) -> list[str]:
    """The toolkit's compiled training loops against its eager ones
    (``bench_compiled_steps --json``): per stage, the smallest and largest per-step speed-up
    over the default grid's low-rank shapes; over its 24 low-rank points, both stages, the
    seconds the compiled steps save, then the seconds compiling costs with the cache cold and
    warm."""
    values = _bench(root, COMPILED_STEPS_BENCH)
    out = []
    for stage in ("erm", "bound"):
        rows = values["cold"]["stages"][stage].values()
        ratios = [r["toolkit_ms"] / r["compiled_ms"] for r in rows]
        out += [f"{min(ratios):.2f}", f"{max(ratios):.2f}"]
    cold, warm = values["cold"]["summary"]["both"], values["warm"]["summary"]["both"]
    return [*out, f"{cold['saved_s']:.1f}", f"{cold['compile_s']:.1f}", f"{warm['compile_s']:.1f}"]


SWEEP_COMPILE_BENCH = "benchmarks/results/bench_sweep_compile.json"


def sweep_compile_bench(root: Path) -> list[str]:
    """Default sweeps with ``--compile`` side by side (``bench_sweep_compile --json``): per
    round (cache cold beside the baseline, warm beside the baseline, warm beside the eager
    sweep) the compiled sweep's seconds, the other's and their ratio; then the largest
    test-error and kl-inverse differences between the eager and the compiled sweep's points."""
    rounds = _bench(root, SWEEP_COMPILE_BENCH)["rounds"]
    out = []
    for name in ("base_cold", "base_warm", "eager_warm"):
        r = rounds[name]
        out += [f"{r['compiled_s']:.1f}", f"{r['left_s']:.1f}", f"{r['ratio']:.2f}"]
    diff = rounds["eager_warm"]["largest_difference"]
    return [*out, f"{diff['test_error']:.3f}", f"{diff['kl_inverse']:.3f}"]
