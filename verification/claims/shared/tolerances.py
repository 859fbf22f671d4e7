"""Numerical tolerances shared by the claim areas, each with the reason for its value.

References: claims L3.2, T3.4, G1, G2, B1, E5 and E13 of ``CLAIMS.md``.
"""

from __future__ import annotations

__all__ = ["RANK_RTOL_FACTOR"]

#: sigma_(r+1)(W) <= RANK_RTOL_FACTOR * eps * max(m, n) * sigma_1(W) counts as zero: rounding
#: of the product A B^T and of a backward-stable SVD (observed: below 1 in these units).
RANK_RTOL_FACTOR = 10
