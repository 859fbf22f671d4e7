"""A fake ``run_compare`` (seconds-free, deterministic in its arguments) and the helpers the
compare tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from verification.compare import COLUMNS
from verification.compare.spec import REGRESSION_TASKS

#: A small grid: one classification and the regression task, two families, two seeds.
SMALL: dict[str, Any] = {
    "profile": "smoke",
    "tasks": ["mlp_digits", "lstm_co2"],
    "families": ["deterministic", "low_rank"],
    "seeds": [0, 1],
}
SMALL_IDS = [
    f"{t}_{f}_{s}" for t in ("mlp_digits", "lstm_co2") for f in ("deterministic", "low_rank")
    for s in (0, 1)
]  # fmt: skip


def fake_row(task: str, family: str, seed: int) -> dict[str, Any]:
    """A valid row whose numbers depend on the arguments."""
    regression = task in REGRESSION_TASKS
    low = family != "deterministic"
    x = 0.05 * (seed + 1) + (0.1 if low else 0.0)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(
        task=task,
        family=family,
        seed=seed,
        rank=2 if low else None,
        params=600 if low else 1500,
        n_samples=8 if low else 1,
        accuracy=None if regression else 0.5 + x,
        mae=0.3 + x if regression else None,
        nll=1.0 - x if not regression else -0.2 - x,
        brier=None if regression else 0.4 + x,
        ece=0.1 * x,
        picp=0.9 + 0.1 * x if regression else None,
        mi_in=0.01 * x if low and not regression else None,
        mi_ood=0.02 * x if low and not regression else None,
        mi_ratio=2.0 if low and not regression else None,
        ood_auroc=0.5 + x / 2,
        ood_aupr=0.5 + x / 3,
        ood_score="std" if regression else "mi",
        selective_90=0.6 + x,
        selective_80=0.7 + x,
        epochs=3.0,
        seconds_per_epoch=0.01 * (seed + 1),
        train_seconds=0.03 * (seed + 1),
        peak_memory_mb=1.5 if low else 1.0,
        n_test=20,
        n_ood=10,
    )
    return row


def fake_arrays(task: str, family: str, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, len(task), len(family)])
    conf = rng.uniform(0.1, 1.0, 20).astype(np.float32)
    return {
        "test_confidence": conf,
        "test_correct": (rng.uniform(size=20) < conf).astype(np.float32),
        "ood_score_in": rng.normal(0.0, 1.0, 20).astype(np.float32),
        "ood_score_out": rng.normal(1.0, 1.0, 10).astype(np.float32),
    }


def fake_run_compare(
    task: str, family: str, seed: int, *, scale: str, progress: bool
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``run_compare``'s signature; module-level, so a worker process can run it."""
    assert scale in ("smoke", "quick", "full") and progress is False
    return fake_row(task, family, seed), fake_arrays(task, family, seed)


class Counting:
    """A fake that records each call (sequential runs only)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, task: str, family: str, seed: int, **kw: Any) -> Any:
        self.calls.append(f"{task}_{family}_{seed}")
        return fake_run_compare(task, family, seed, **kw)


def files(folder: Path) -> dict[str, bytes]:
    """The bytes of every file under ``folder`` except meta.json and the lock."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in ("meta.json", ".lock")
    }
