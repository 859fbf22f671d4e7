"""Figures of claims L3.5b and T3.4: registered, drawn, and showing what their captions say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verification.claims.geometry.figures import (
    FIGURE_SHAPE,
    correlation_matrices,
    figure_posterior,
)
from verification.claims.geometry.independence import entry_pairs
from verification.figures import FIGURES, figures_for_claim

_PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.claim("L3.5b")
def test_correlation_matrices_have_the_structure_of_l35b() -> None:
    """L3.5b in the figure's data: exactly zero without a shared index, nonzero with one,
    unit diagonal, symmetric; the mean-field matrix is the identity."""
    m, n, _ = FIGURE_SHAPE
    low, mf = correlation_matrices(figure_posterior())
    assert (low == low.T).all() and (mf == np.eye(m * n)).all()
    np.testing.assert_allclose(np.diag(low), 1.0, rtol=1e-15)
    pairs = entry_pairs(m, n)
    for p, q in pairs["neither"]:
        assert low[p, q] == 0.0
    for p, q in pairs["row"] + pairs["column"]:
        assert low[p, q] != 0.0


@pytest.mark.parametrize("name", ["L3.5b_weight_correlation.png", "T3.4_singular_values.png"])
def test_geometry_figures_are_registered_and_drawn(tmp_path: Path, name: str) -> None:
    """Each figure is linked from its claim's row and its registered function writes a PNG."""
    assert name in figures_for_claim(name.split("_", 1)[0])
    out = FIGURES[name](tmp_path / name)
    assert out == tmp_path / name
    data = out.read_bytes()
    assert data.startswith(_PNG) and len(data) > 20_000
