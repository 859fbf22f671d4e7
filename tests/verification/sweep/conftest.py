"""The sweep tests' shared fixture: one uninterrupted run of the tiny grid, made once for the
whole folder (the process pool, the dask cluster and the kill -9 subprocess of the tests pay
mostly for starting Python and importing torch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.verification.sweep.tiny import run_tiny


@pytest.fixture(scope="package")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted sequential run of the tiny grid: the bytes every other run must equal."""
    out = tmp_path_factory.mktemp("reference")
    report = run_tiny(out)
    assert (report.computed, report.reused) == (6, 0)
    return out
