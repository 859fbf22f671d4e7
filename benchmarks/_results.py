"""A benchmark's measured numbers as a JSON file (``--json PATH``): the committed artefacts the
README's timings are read from (``benchmarks/results/``; verification/readme_numbers.py)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any


def write_result(path: Path | str, benchmark: str, values: dict[str, Any]) -> Path:
    """Write ``values`` (JSON numbers and strings) with the benchmark's name and the machine it
    ran on (CPU count, processor, Python), sorted keys, to ``path``; return the path."""
    record = {
        "benchmark": benchmark,
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "values": values,
    }
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return out
