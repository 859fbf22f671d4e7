"""The import directions of STYLE.md (theory never loads torch; lrbnn_core never sympy) and the
size rules of the house: no module over 500 lines, no folder with more than 15 modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


_ROOT = Path(__file__).resolve().parents[1]
#: The house rules of issue 13: one concept per module, folders a reader can take in at a glance.
MAX_LINES, MAX_MODULES_PER_FOLDER = 500, 15


@pytest.mark.parametrize("package", ["theory", "lrbnn_core", "verification"])
def test_no_module_is_long_and_no_folder_is_crowded(package: str) -> None:
    lines = {
        str(p.relative_to(_ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in (_ROOT / package).rglob("*.py")
    }
    long = {name: n for name, n in lines.items() if n > MAX_LINES}
    crowded = {
        str(d.relative_to(_ROOT)): len(list(d.glob("*.py")))
        for d in [_ROOT / package, *(_ROOT / package).rglob("*")]
        if d.is_dir() and len(list(d.glob("*.py"))) > MAX_MODULES_PER_FOLDER
    }
    assert long == {} and crowded == {}
