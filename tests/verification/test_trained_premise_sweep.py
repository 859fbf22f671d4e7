"""T3.8p's citation of the committed paper-profile sweeps (verification.claims.trained.
premise_sweep): summaries computed by hand from a small CSV, and the cited sentence."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from verification.claims.trained.premise_sweep import (
    PAPER_SWEEP_FILES,
    paper_sweep_note,
    premise_by_prior,
)

FIELDS = (
    "point_id",
    "family",
    "prior",
    "layer_kl_per_coord_ratio",
    "layer_kl_per_coord_max_ratio",
    "predicted_ratio",
    "measured_ratio",
)
ROWS = [
    # inside, inside / rho_max outside / rho_mean outside: 1 of 3 layers inside
    ("w64-s0-r4", "low_rank", "data_dependent", "1;0.6;4", "1.9;2.5;1", "0.2", "0.5"),
    # inside, inside
    ("w64-s0-r16", "low_rank", "data_dependent", "0.5;2", "1;1", "0.4", "0.4"),
    # mean-field rows and blank ratios are skipped
    ("w64-s0-mf", "mean_field", "data_dependent", "", "", "", ""),
    ("w64-s0-r4-init", "low_rank", "init", "0.25", "1", "0.3", "0.15"),
]


def _rows() -> list[dict[str, str]]:
    return [dict(zip(FIELDS, r, strict=True)) for r in ROWS]


def test_summaries_match_a_hand_count() -> None:
    out = premise_by_prior(_rows(), 2.0)
    dd = out["data_dependent"]
    assert (dd["pairs"], dd["inside"]) == (5, 3)
    assert dd["rho_mean"] == (0.5, 4.0)
    assert dd["excess"] == pytest.approx((1.0, 2.5))
    init = out["init"]
    assert (init["pairs"], init["inside"], init["rho_mean"]) == (1, 0, (0.25, 0.25))
    assert init["excess"] == pytest.approx((0.5, 0.5))
    assert set(out) == {"data_dependent", "init"}


def test_a_narrower_band_counts_fewer_layers_inside() -> None:
    """Mutant of the rule's band: 1.5 instead of 2 moves layers outside."""
    assert premise_by_prior(_rows(), 1.5)["data_dependent"]["inside"] == 0


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match=r"`band` must be a number > 1; got 1\.0"):
        premise_by_prior(_rows(), 1.0)
    bad = _rows()
    bad[0]["layer_kl_per_coord_max_ratio"] = "1;1"
    with pytest.raises(ValueError, match=r"'w64-s0-r4': 3 rho_mean but 2 rho_max"):
        premise_by_prior(bad, 2.0)


def test_the_note_cites_each_committed_sweep(tmp_path: Path) -> None:
    assert paper_sweep_note(2.0, root=tmp_path).startswith("No paper-profile sweep is committed")
    path = tmp_path / PAPER_SWEEP_FILES["digits"]
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(ROWS)
    note = paper_sweep_note(2.0, root=tmp_path)
    assert "digits (figures/sweep_paper_digits.csv)" in note
    assert "mnist1d" not in note
    assert (
        "data-dependent: rho_mean 0.50 to 4.00, 3 of 5 layers inside the band, measured / "
        "predicted complexity ratio 1.00 to 2.50; init: rho_mean 0.25 to 0.25, 0 of 1" in note
    )
