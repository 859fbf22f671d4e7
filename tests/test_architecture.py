"""The import directions of STYLE.md: theory never loads torch; lrbnn_core never sympy."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("theory", ("torch",)), ("lrbnn_core", ("sympy", "hypothesis")), ("verification", ())],
)
def test_package_import_does_not_load_forbidden_modules(package: str, forbidden: tuple) -> None:
    code = (
        f"import sys, {package}; "
        f"bad = [m for m in {forbidden!r} if m in sys.modules]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{package} loaded {proc.stdout.strip()} {proc.stderr[-500:]}"


def test_theory_all_names_resolve() -> None:
    import theory

    for name in theory.__all__:
        assert hasattr(theory, name), name
