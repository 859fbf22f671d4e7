"""Every certificate of a sweep splits its Monte Carlo budget between the grid's K choices (the
count its union bound pays ln K for): all of them, and the best, hold at once."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from theory.pac_bayes import sample_convergence_bound
from verification.sweep import read_results


def test_every_row_takes_its_monte_carlo_bound_at_mc_delta_over_k(reference: Path) -> None:
    rows = read_results(reference / "results.csv")
    assert rows
    for row in rows:
        k = round(math.exp(row["penalty"]))
        assert k == 3  # ranks 1, 2 and mean-field at one width and one prior scale
        # twin: n_mc of the smoke profile (20 networks) and mc_delta = 1 - confidence - delta
        mc_delta = 1.0 - row["confidence"] - 0.04
        want = float(sample_convergence_bound(row["mc_risk"], 20, mc_delta / k))
        assert row["mc_risk_bound"] == pytest.approx(want, rel=1e-9)
        unsplit = float(sample_convergence_bound(row["mc_risk"], 20, mc_delta))
        assert row["mc_risk_bound"] > unsplit
