"""Saving the sweep's matplotlib figures as PNG files whose bytes depend only on what is drawn
(shared by :mod:`~verification.sweep.figures` and :mod:`~verification.sweep.answer`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["DPI", "save_png"]

#: no ``Software`` text chunk: the bytes do not depend on matplotlib's version string
PNG_METADATA: dict[str, str | None] = {"Software": None}
DPI = 130


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` (parents created) at :data:`DPI`, without metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png", metadata=PNG_METADATA)
    return path
