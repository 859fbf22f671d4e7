"""Section 1 of CLAIMS.md: parameter counts (and the counts of the second pass)."""

from __future__ import annotations

from verification.claim_types import CHECKS as _CHK
from verification.claim_types import Claim, Kind, make_claim

__all__ = ["CLAIMS", "SECOND_PASS"]

_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_c = make_claim

#: In the order of ``CLAIMS.md``.
CLAIMS: tuple[Claim, ...] = (
    _c(
        "P1",
        "Variational parameters per m x n layer: mean-field 2mn, low-rank 2r(m+n); "
        "stochastic scalars D_full = mn, D_LR = r(m+n).",
        _N,
        f"{_CHK}.counts.layer_counts:check_p1",
        {"max_dim": 24},
        {"max_dim": 60},
        "tests/verification/test_counts.py",
    ),
    _c(
        "P2",
        "Reduction factor mn / (r(m+n)); > 1 iff r < mn/(m+n).",
        _N,
        f"{_CHK}.counts.layer_counts:check_p2",
        {"max_dim": 60},
        {"max_dim": 200},
        "tests/verification/test_counts.py",
    ),
    _c(
        "P3",
        "Reported model sizes follow from P1 (MNIST MLP 245,810 vs 4,788,010, 19.5x; SST-2 "
        "Transformer 1.47M vs 19.84M vs 49.61M, 13x, 33x).",
        _N,
        f"{_CHK}.counts.layer_counts:check_p3",
        {},
        {},
        "tests/verification/test_counts.py",
    ),
)

#: This area's claims of section 8 of ``CLAIMS.md`` (the registry puts them in the spec's order).
SECOND_PASS: tuple[Claim, ...] = (
    _c(
        "P4",
        "Reported sizes beyond P3: MIMIC MLP 44-128-128-1 at r = 15 (13,610 low rank, 44,802 "
        "mean-field, 22,401 deterministic, 112,005 ensemble), toy 1-100-100-1 (7,202 at r = 16, "
        "20,802 full rank), MNIST rank-1 2,406,398, SWAG sizes, '70% / 88% fewer'; which bias "
        "and head conventions reproduce each.",
        _N,
        f"{_CHK}.counts.reported:check_p4",
        {},
        {},
        "tests/verification/test_counts_reported.py",
    ),
    _c(
        "P5",
        "PM2.5 LSTM sizes of Table 2 (47K low rank at ranks (14, 20), 132K mean-field, 33K "
        "deterministic, 330K ensemble) derived from App. G under every reasonable convention.",
        _N,
        f"{_CHK}.counts.lstm:check_p5",
        {},
        {},
        "tests/verification/test_lstm_counts.py",
    ),
)
