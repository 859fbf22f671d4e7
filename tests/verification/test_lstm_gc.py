"""Claim F4g: which C_0 and which reading of the LSTM give the Fig. 4 Gaussian-complexity panel."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import verification.claims.pac_bayes.lstm_gc as gc


def _poly_roots(reading: gc.Reading, low: float) -> list[float]:
    """Independent twin of solve_x: ratio = t is the polynomial P_low(x) - t P_full(x) = 0,

    P(x) = sqrt(r_1 h_1) x^D + sum_{j>=2} sqrt(r_j h_j) x^(D-j)  (no x^(D-1) term),
    solved by numpy's companion-matrix roots.
    """
    t = low / 45.56

    def coeffs(ranks: tuple[int, ...]) -> np.ndarray:
        d = len(reading.widths)
        c = np.zeros(d + 1)
        c[0] = math.sqrt(ranks[0] * reading.widths[0])
        for j in range(1, d):
            c[j + 1] = math.sqrt(ranks[j] * reading.widths[j])
        return c

    roots = np.roots(coeffs(reading.ranks) - t * coeffs(reading.full))
    real = roots[np.abs(roots.imag) < 1e-9].real
    return sorted(float(x) for x in real if 1e-3 <= x <= 1e3)


@pytest.mark.claim("F4g")
@pytest.mark.parametrize("reading", gc.READINGS, ids=[r.name for r in gc.READINGS])
@pytest.mark.parametrize("low", [28.88, 18.97])
def test_solve_x_matches_polynomial_roots(reading: gc.Reading, low: float) -> None:
    """F4g: the bracketed roots of the ratio equal the roots of the equivalent polynomial."""
    ours = [x for x, _, _ in gc.solve_x(reading, low)]
    assert ours == pytest.approx(_poly_roots(reading, low), rel=1e-9)
    for x, lo, hi in gc.solve_x(reading, low):
        assert lo <= x <= hi


@pytest.mark.claim("F4g")
def test_bracket_by_hand_at_unit_constants() -> None:
    """F4g: at C_0 = C_i = 1, ||X||_F/m = 1 the braces of E17 are sum_j sqrt(r_j h_j)."""
    r = gc.READINGS[0]
    assert gc.bracket(r, r.full, 1.0) == pytest.approx(16 * (math.sqrt(15) + 24), rel=1e-14)
    low = 16 * (2 * math.sqrt(14) + 2 * math.sqrt(20))
    assert gc.bracket(r, r.ranks, 1.0) == pytest.approx(low, rel=1e-14)
    # x = 2: sqrt(r_1 h_1) 2^4 + sqrt(r_2 h_2) 2^2 + sqrt(r_3 h_3) 2 + sqrt(r_4 h_4)
    two = 16 * (math.sqrt(15) * 16 + 8 * 4 + 8 * 2 + 8)
    assert gc.bracket(r, r.full, 2.0) == pytest.approx(two, rel=1e-14)


@pytest.mark.claim("F4g")
def test_check_f4g_not_reproduced_and_its_numbers() -> None:
    """F4g: no named C_0 gives the plotted 28.88 under any reading (nearest 28.87, the output
    layer reading at sqrt(pi/2)); 18.97 needs the concatenated reading and C_0 C near 2.4; no
    C_0 serves both."""
    out = gc.check_f4g({}, np.random.default_rng(0))
    assert out.verdict.value == "not-reproduced"
    rows = {r["name"]: r for r in out.data["rows"]}
    chain = rows["4 gate matrices, (r_ih, r_hh)"]
    assert [round(x, 4) for x, _, _ in chain["plotted_x"]] == [1.2576]
    assert chain["caption_x"] == []
    assert round(chain["named_values"]["1"], 2) == 26.85
    concat = rows["[W_ih W_hh] per LSTM layer"]
    assert concat["plotted_x"] == [] and [round(x, 3) for x, _, _ in concat["caption_x"]] == [2.417]
    name, const, value = out.data["nearest_named"]
    assert (name, const, round(value, 2)) == ("4 gate matrices + output layer", "sqrt(pi/2)", 28.87)
    assert out.data["hits"] == [] and out.data["shared_c0"] == []


@pytest.mark.claim("F4g")
@pytest.mark.parametrize(
    ("plotted", "verdict"),
    [(28.87, "reproduced"), (26.85, "reproduced"), (28.89, "not-reproduced")],
)
def test_f4g_verdict_follows_the_plotted_target(
    monkeypatch: pytest.MonkeyPatch, plotted: float, verdict: str
) -> None:
    """F4g: one unit of the last printed digit down (28.87) or the C_0 = 1 value (26.85) would
    be reproduced; one unit up (28.89) would not."""
    monkeypatch.setattr(gc, "_PAPER_F4G", {**gc._PAPER_F4G, "plotted": plotted})
    assert gc.check_f4g({}, np.random.default_rng(0)).verdict.value == verdict


def test_twin_disagreement_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc, "pinto_bound_as_restated", lambda X, **kw: 1.0)
    with pytest.raises(RuntimeError, match=r"pinto_bound_as_restated gives 1\.0"):
        gc.check_f4g({}, np.random.default_rng(0))


def test_plot_f4g_writes_a_png(tmp_path: Path) -> None:
    out = gc.plot_f4g(tmp_path / "F4g.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
