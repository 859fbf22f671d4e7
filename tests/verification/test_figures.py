"""``lrbnn figures``: sidecars, byte-for-byte determinism, declared seeds, and the D2 figure.

Every figure is drawn twice: once here, one figure at a time while recording the seeds given to
``numpy.random.default_rng``, and once by ``python -m verification figures`` in a fresh process
with another hash seed. The PNGs must be identical bytes. Both runs together take about 10 s.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import pytest

from theory.pac_bayes.kl_inverse import SAFETY_MARGIN
from verification.claims.pac_bayes.figures import (
    D2_FIG_DELTA,
    D2_FIG_KLS,
    D2_FIG_N,
    D2_FIG_QS,
    d2_curves,
)
from verification.figures import (
    COMPARE_FIGURES,
    DATA_FILES,
    FIGURES,
    SWEEP_FIGURES,
    figure_sidecar,
    figures_for_claim,
    make_figures,
)

_REPO = Path(__file__).resolve().parents[2]
_PNG = b"\x89PNG\r\n\x1a\n"
#: PNG chunks that carry text or a time stamp: none may be written.
_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"tIME"}
#: Top-level packages of the project whose calls to default_rng are recorded.
_OURS = {"theory", "lrbnn_core", "verification"}
_SIDECAR_KEYS = {"figure", "claim", "summary", "command", "seeds", "png_sha256", "versions"}
#: kl_inv_upper is above the true supremum by at most SAFETY_MARGIN plus a few roundings, and it
#: promises 1e-12; Pinsker's bound is exact mathematics, so this is the only slack allowed.
_KL_INV_SLACK = 1e-12
#: mpmath bisection twin: 60 digits, far below any float64 rounding.
_MP_DPS = 60
#: Twins computed in float64 by another route: a handful of roundings apart.
_FLOAT_RTOL = 8 * float(np.finfo(np.float64).eps)
#: Closed forms against kl_inv_upper, whose absolute error is below 1e-14 (SAFETY_MARGIN and the
#: subtraction of q), relative to excesses of at least 8e-4.
_CLOSED_FORM_RTOL = 1e-10


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every figure drawn here (seeds recorded) and by the command line in a new process."""
    here = tmp_path_factory.mktemp("here")
    seeds: dict[str, list[Any]] = {}
    real = np.random.default_rng
    # Reading the legacy global state is the point: no figure may draw from or reseed it.
    legacy = np.random.get_state()  # noqa: NPY002
    with pytest.MonkeyPatch.context() as mp:
        for name, spec in FIGURES.items():
            calls: list[Any] = []

            def recording(seed: Any = None, _calls: list[Any] = calls) -> np.random.Generator:
                # Only the project's own calls: scipy seeds its docstring examples on import,
                # and default_rng(generator) hands back that generator (no new stream).
                caller = Path(sys._getframe(1).f_code.co_filename).resolve()
                ours = caller.is_relative_to(_REPO) and caller.relative_to(_REPO).parts[0] in _OURS
                if ours and not isinstance(seed, np.random.Generator):
                    # A SeedSequence (spawned streams) is recorded by its entropy.
                    _calls.append(
                        seed.entropy if isinstance(seed, np.random.SeedSequence) else seed
                    )
                return real(seed)

            mp.setattr(np.random, "default_rng", recording)
            assert spec(here / name) == here / name
            seeds[name] = calls
    after = np.random.get_state()  # noqa: NPY002
    cli = tmp_path_factory.mktemp("cli")
    env = dict(os.environ, PYTHONHASHSEED="12345", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "verification", "figures", "--out", str(cli), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=_REPO,
    )
    assert proc.returncode == 0, proc.stderr
    return {"here": here, "cli": cli, "seeds": seeds, "legacy": (legacy, after), "out": proc}


def _chunks(data: bytes) -> Iterator[bytes]:
    """The chunk types of a PNG file, in order (PNG spec section 5.3: length, type, data, CRC)."""
    assert data.startswith(_PNG)
    pos = len(_PNG)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        yield data[pos + 4 : pos + 8]
        pos += 12 + length


def test_figures_are_identical_bytes_across_processes(drawn: dict[str, Any]) -> None:
    """The same code draws the same PNG, in another process with another hash seed, through
    ``FIGURES[name](path)`` or through ``make_figures``."""
    for name in FIGURES:
        assert (drawn["here"] / name).read_bytes() == (drawn["cli"] / name).read_bytes(), name


def test_figures_use_exactly_their_declared_seeds(drawn: dict[str, Any]) -> None:
    """Every random number comes from ``default_rng`` with a seed the registry declares (never
    ``None``), and numpy's global generator is neither used nor reseeded."""
    for name, spec in FIGURES.items():
        calls = drawn["seeds"][name]
        assert all(type(s) is int for s in calls), (name, calls)
        assert set(calls) == set(spec.seeds), name
    before, after = drawn["legacy"]
    assert before[0] == after[0] and (before[1] == after[1]).all() and before[2:] == after[2:]


def test_pngs_carry_no_text_or_time_chunks(drawn: dict[str, Any]) -> None:
    for name in FIGURES:
        chunks = list(_chunks((drawn["cli"] / name).read_bytes()))
        assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND", name
        assert not _TEXT_CHUNKS & set(chunks), name


def test_make_figures_writes_each_png_with_its_sidecar_and_nothing_else(
    drawn: dict[str, Any],
) -> None:
    """The folder holds the registered PNGs and one JSON per PNG (no temporary files left)."""
    names = sorted(p.name for p in drawn["cli"].iterdir())
    expected = sorted([*FIGURES, *(Path(n).with_suffix(".json").name for n in FIGURES)])
    assert names == expected
    printed = re.findall(r"^wrote (.+)$", drawn["out"].stdout, re.M)
    assert [Path(p).name for p in printed] == [
        x for n in FIGURES for x in (n, Path(n).with_suffix(".json").name)
    ]


def test_sidecars_record_command_seeds_digest_and_versions(drawn: dict[str, Any]) -> None:
    import matplotlib
    import scipy
    from matplotlib import ft2font

    for name, spec in FIGURES.items():
        text = (drawn["cli"] / name).with_suffix(".json").read_text(encoding="utf-8")
        side = json.loads(text)
        assert set(side) == _SIDECAR_KEYS, name
        # sorted keys, no time stamps: the text is a function of the parsed content
        assert text == json.dumps(side, indent=2, sort_keys=True) + "\n"
        assert side["figure"] == name and side["claim"] == name.split("_", 1)[0]
        assert side["command"] == f"lrbnn figures --out {drawn['cli']}"
        assert side["seeds"] == list(spec.seeds)
        digest = hashlib.sha256((drawn["cli"] / name).read_bytes()).hexdigest()
        assert side["png_sha256"] == digest
        assert side["summary"] == spec.summary
        assert side["versions"] == {
            "freetype": ft2font.__freetype_version__,
            "matplotlib": matplotlib.__version__,
            "numpy": np.__version__,
            "pillow": metadata.version("pillow"),
            "python": sys.version.split()[0],
            "scipy": scipy.__version__,
            **{pkg: metadata.version(pkg) for pkg in spec.extra_packages},
        }


def test_figure_sidecar_quotes_the_folder_and_rejects_unknown_names() -> None:
    side = figure_sidecar("F4_pac_bayes_lstm.png", Path("my figures"), b"abc")
    assert side["command"] == "lrbnn figures --out 'my figures'"
    assert side["png_sha256"] == hashlib.sha256(b"abc").hexdigest() and side["seeds"] == []
    with pytest.raises(ValueError, match=r"`name` must be a registered figure.*got 'nope.png'"):
        figure_sidecar("nope.png", Path("figures"), b"")
    with pytest.raises(TypeError, match=r"`png_bytes` must be bytes; got str"):
        figure_sidecar("F4_pac_bayes_lstm.png", Path("figures"), "abc")  # type: ignore[arg-type]


def test_sidecars_do_not_depend_on_the_git_commit(tmp_path: Path) -> None:
    """Provenance that does not churn (issue 19): no commit field, and the same figure drawn
    again gives the same sidecar bytes (a new commit must not dirty ``figures/``)."""
    one = {"D2_kl_inverse_vs_pinsker.png": FIGURES["D2_kl_inverse_vs_pinsker.png"]}
    with pytest.MonkeyPatch.context() as mp:
        import verification.figures as figures_module

        mp.setattr(figures_module, "FIGURES", one)
        first = [p.read_bytes() for p in make_figures(tmp_path, progress=False)]
        second = [p.read_bytes() for p in make_figures(tmp_path, progress=False)]
    assert first == second
    assert "commit" not in json.loads(first[1])


def test_committed_figures_folder_matches_the_registry() -> None:
    """``figures/`` holds exactly the registered figures and their sidecars, regenerated by the
    documented command with the declared seeds, and the registered data files (written by the
    command the README names, with the columns that command writes)."""
    folder = _REPO / "figures"
    names = [*FIGURES, *SWEEP_FIGURES, *COMPARE_FIGURES]
    expected = sorted([*names, *(Path(n).with_suffix(".json").name for n in names), *DATA_FILES])
    assert sorted(p.name for p in folder.iterdir()) == expected
    readme = (_REPO / "README.md").read_text(encoding="utf-8")
    for name, command in DATA_FILES.items():
        assert command in readme, f"the README does not name the command that writes {name}"
    from dataclasses import fields

    from lrbnn_core.examples import ExampleRow

    header = (folder / "examples.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == [f.name for f in fields(ExampleRow)]
    for name, command in SWEEP_FIGURES.items():
        side = json.loads((folder / name).with_suffix(".json").read_text(encoding="utf-8"))
        assert side["command"] == command and side["figure"] == name
    for name, spec in FIGURES.items():
        side = json.loads((folder / name).with_suffix(".json").read_text(encoding="utf-8"))
        assert side["command"] == "lrbnn figures --out figures"
        assert side["seeds"] == list(spec.seeds) and side["figure"] == name
        assert side["png_sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_d2_figure_is_registered_for_claim_d2() -> None:
    assert figures_for_claim("D2") == ["D2_kl_inverse_vs_pinsker.png"]


@pytest.mark.claim("D2")
def test_d2_kl_inverse_is_never_above_mcallester() -> None:
    """Pinsker, kl(q||p) >= 2 (p - q)^2, as drawn: kl-inverse <= q + sqrt(c/2) at every point of
    both panels, and the kl-inverse bound is at least the empirical risk."""
    cv = d2_curves()
    assert np.all(cv["kl_inverse"] <= cv["mcallester"] + _KL_INV_SLACK)
    assert np.all(cv["kl_excess"] <= cv["mcallester_excess"] + _KL_INV_SLACK)
    assert np.all(cv["kl_inverse"] >= cv["q"]) and np.all(cv["kl_excess"] >= 0.0)


@pytest.mark.claim("D2")
def test_d2_mcallester_curves_match_the_plain_formula() -> None:
    """Twin: q + sqrt((KL + ln(2 sqrt(n)/delta)) / (2n)) written out in plain Python."""
    cv = d2_curves()
    lt = math.log(2.0 * math.sqrt(D2_FIG_N) / D2_FIG_DELTA)
    for i, kl in enumerate(D2_FIG_KLS):
        c = (kl + lt) / D2_FIG_N
        assert cv["cs"][i] == pytest.approx(c, rel=_FLOAT_RTOL)
        twin = [q + math.sqrt(c / 2.0) for q in cv["q"].tolist()]
        np.testing.assert_allclose(cv["mcallester"][i], twin, rtol=_FLOAT_RTOL, atol=0.0)
    np.testing.assert_allclose(
        cv["mcallester_excess"], np.sqrt(cv["c_grid"] / 2.0), rtol=_FLOAT_RTOL
    )


def _mp_kl_inv_upper(q: float, c: float) -> float:
    """Twin: the largest p in [q, 1] with kl(q||p) <= c, by bisection in 60-digit arithmetic."""
    with mpmath.workdps(_MP_DPS):
        qm, cm = mpmath.mpf(q), mpmath.mpf(c)

        def kl(p: Any) -> Any:
            first = qm * mpmath.log(qm / p) if qm > 0 else 0
            return first + (1 - qm) * mpmath.log((1 - qm) / (1 - p))

        lo, hi = qm, mpmath.mpf(1)
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if kl(mid) <= cm else (lo, mid)
        return float(lo)


@pytest.mark.claim("D2")
def test_d2_kl_inverse_curves_match_mpmath_bisection() -> None:
    """Twin on every 25th point of the left panel and every 10th of the right: within
    SAFETY_MARGIN + 1e-15 above the 60-digit supremum, never below it."""
    cv = d2_curves()
    for i in range(len(D2_FIG_KLS)):
        for j in range(0, cv["q"].size, 25):
            twin = _mp_kl_inv_upper(float(cv["q"][j]), float(cv["cs"][i]))
            got = float(cv["kl_inverse"][i, j])
            assert twin - 1e-15 <= got <= twin + SAFETY_MARGIN + 1e-15
    for k, q in enumerate(D2_FIG_QS):
        for j in range(0, cv["c_grid"].size, 10):
            twin = _mp_kl_inv_upper(q, float(cv["c_grid"][j])) - q
            got = float(cv["kl_excess"][k, j])
            assert twin - 1e-15 <= got <= twin + SAFETY_MARGIN + 1e-15


@pytest.mark.claim("D2")
def test_d2_kl_inverse_has_closed_forms_at_zero_and_half_risk() -> None:
    """Twins from closed forms, what the right panel shows: at L = 0, kl(0||p) = -ln(1 - p), so
    the excess is 1 - exp(-c) (the fast rate, about c); at L = 1/2,
    kl(1/2||1/2 + d) = -ln(1 - 4 d^2) / 2, so the excess is sqrt(1 - exp(-2c)) / 2, which is
    sqrt(c/2) (1 - c/2 + O(c^2)): Pinsker's relaxation is tight there as c -> 0."""
    cv = d2_curves()
    c = cv["c_grid"]
    zero, half = list(D2_FIG_QS).index(0.0), list(D2_FIG_QS).index(0.5)
    np.testing.assert_allclose(cv["kl_excess"][zero], -np.expm1(-c), rtol=_CLOSED_FORM_RTOL)
    np.testing.assert_allclose(
        cv["kl_excess"][half], 0.5 * np.sqrt(-np.expm1(-2.0 * c)), rtol=_CLOSED_FORM_RTOL
    )
