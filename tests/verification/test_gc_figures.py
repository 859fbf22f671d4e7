"""Figures of E17 and E21: they draw, and the numbers behind E17's agree with the check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verification.claims.complexity.figures import e17_curves, plot_e17
from verification.claims.generalisation.figures import plot_e21
from verification.figures import FIGURES, figures_for_claim


@pytest.mark.parametrize(
    ("draw", "name"), [(plot_e17, "E17_pinto_vs_exact.png"), (plot_e21, "E21_gap_comparison.png")]
)
def test_gc_figure_writes_a_png(draw, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = draw(tmp_path / name)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_e17_curves_cross_at_kappa_over_c0() -> None:
    """The restated bound (C0 = 1) crosses the exact line C g1 where C = kappa, as drawn."""
    cv = e17_curves(n_draws=200)
    r = cv["r"]
    exact = cv["cs"] * cv["unit_est"][r - 1]
    below = cv["restated_c"][1.0] < exact
    assert below[0] and not below[-1]
    last = cv["cs"][below].max()
    assert last <= cv["kappa"] < cv["cs"][np.searchsorted(cv["cs"], last) + 1]


def test_gc_figures_are_registered() -> None:
    assert "E17_pinto_vs_exact.png" in FIGURES and "E21_gap_comparison.png" in FIGURES
    assert figures_for_claim("E17") == ["E17_pinto_vs_exact.png"]
