"""Section 6 of CLAIMS.md: Gaussian complexity of predictive means (and the second pass's)."""

from __future__ import annotations

from verification.claim_types import CHECKS as _CHK
from verification.claim_types import Claim, FigureSpec, Kind, make_claim

__all__ = ["CLAIMS", "SECOND_PASS"]

_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_c = make_claim

#: In the order of ``CLAIMS.md``.
CLAIMS: tuple[Claim, ...] = (
    _c(
        "E4",
        "Assumption: ||A_i||_2 <= C_i^A, ||B_i||_2 <= C_i^B almost surely.",
        _N,
        f"{_CHK}.complexity.bounded:check_e4",
        {"n_cases": 4, "n_samples": 20000},
        {"n_cases": 20, "n_samples": 400000},
        "tests/verification/test_gc_bounded.py",
    ),
    _c(
        "E5",
        "Then rank(W_i) <= r_i and ||W_i||_2 <= C_i.",
        _F,
        f"{_CHK}.complexity.bounded:check_e5",
        {"n_cases": 30, "max_dim": 8, "n_samples": 200, "n_starts": 2},
        {"n_cases": 300, "max_dim": 16, "n_samples": 2000, "n_starts": 4},
        "tests/verification/test_gc_bounded.py",
    ),
    _c(
        "E8",
        "Monotonicity of the empirical Gaussian complexity under inclusion.",
        _N,
        f"{_CHK}.complexity.hull:check_e8",
        {"n_cases": 40, "n_draws": 2000},
        {"n_cases": 400, "n_draws": 20000},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E9",
        "G^(conv F) = G^(F).",
        _N,
        f"{_CHK}.complexity.hull:check_e9",
        {"n_cases": 20, "n_draws": 2000, "n_new": 20, "n_lp_draws": 5},
        {"n_cases": 200, "n_draws": 20000, "n_new": 100, "n_lp_draws": 20},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E10",
        "Closure on the sample does not change G^.",
        _N,
        f"{_CHK}.complexity.hull:check_e10",
        {"n_cases": 10, "n_draws": 2000, "lengths": [1, 8, 64, 512]},
        {"n_cases": 60, "n_draws": 20000, "lengths": [1, 4, 16, 64, 256, 1024]},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E11",
        "f_BNN lies in the closed convex hull of the posterior's support functions.",
        _ST,
        f"{_CHK}.complexity.predictive:check_e11",
        {
            "sample_sizes": [4, 16, 64, 256, 1024],
            "n_replicates": 200,
            "n_reference": 100000,
            "hull_sizes": [4, 8, 16, 32, 64, 128, 256],
            "hull_replicates": 5,
        },
        {
            "sample_sizes": [4, 16, 64, 256, 1024, 4096],
            "n_replicates": 1000,
            "n_reference": 2000000,
            "hull_sizes": [4, 8, 16, 32, 64, 128, 256],
            "hull_replicates": 50,
        },
        "tests/verification/test_gc_predictive.py",
    ),
    _c(
        "E13",
        "G^(F_BNN) = G^(F_supp) <= G^(F_Pinto(C, r)).",
        _N,
        f"{_CHK}.complexity.chain:check_e13",
        {"n_cases": 8, "n_networks": 64, "n_mean": 2000, "n_draws": 2000, "n_maximisers": 20},
        {"n_cases": 80, "n_networks": 512, "n_mean": 20000, "n_draws": 20000, "n_maximisers": 100},
        "tests/verification/test_gc_chain.py",
    ),
    _c(
        "E15",
        "Gaussian-complexity generalisation bound (Pinto et al., as quoted).",
        _ST,
        f"{_CHK}.generalisation.generalisation:check_e15",
        {"n_trials": 400},
        {"n_trials": 4000},
        "tests/verification/test_gc_generalisation.py",
    ),
    _c(
        "E17",
        "Pinto et al. Thm 7 as restated, with B_1 = sqrt(r_1) C_1.",
        _F,
        f"{_CHK}.complexity.pinto:check_e17",
        {"n_draws": 400, "n_c": 25, "deep_draws": 64, "n_starts": 3, "n_steps": 40, "n_random": 64},
        {
            "n_draws": 4000,
            "n_c": 49,
            "c0s": (0.1, 1.0, 10.0, 100.0, 1000.0),
            "cases": (
                (1, 1, 1, 1, "unit"),
                (40, 1, 12, 1, "gaussian"),
                (30, 8, 1, 1, "orthonormal"),
                (20, 6, 4, 2, "gaussian"),
                (50, 8, 6, 3, "gaussian"),
                (100, 16, 8, 8, "gaussian"),
                (200, 32, 16, 4, "gaussian"),
                (500, 10, 10, 10, "gaussian"),
            ),
            "deep": (
                (4, (4, 2), (2, 1), 20),
                (5, (6, 3), (3, 2), 30),
                (6, (8, 4), (4, 2), 40),
                (4, (4, 4, 2), (2, 2, 1), 20),
                (5, (6, 6, 3), (3, 3, 2), 30),
                (4, (4, 4, 4, 2), (2, 2, 2, 1), 20),
            ),
            "deep_draws": 256,
            "n_starts": 6,
            "n_steps": 80,
            "n_random": 256,
        },
        "tests/verification/test_gc_pinto.py",
        figures=(
            FigureSpec(
                "E17_pinto_vs_exact.png",
                f"{_CHK}.complexity.figures:plot_e17",
                (17,),
                "restated Pinto bound vs the exact Gaussian complexity (Monte Carlo) and our bound",
            ),
        ),
    ),
    _c(
        "T3.9",
        "Generalisation bound for the Bayesian predictive mean.",
        _F,
        f"{_CHK}.generalisation.generalisation:check_t39",
        {"n_trials": 200},
        {"n_trials": 2000, "c0s": (0.1, 1.0, 10.0, 100.0, 1000.0)},
        "tests/verification/test_gc_generalisation.py",
    ),
    _c(
        "E21",
        "One-layer comparison of the PAC-Bayes and Gaussian-complexity gaps.",
        _N,
        f"{_CHK}.generalisation.gaps:check_e21",
        {},
        {
            "d_in": 256,
            "d_out": 64,
            "widths": (0.01, 0.02, 0.05, 0.1, 0.3, 0.6),
            "sample_sizes": (100, 1000, 10_000, 100_000, 1_000_000),
            "c1s": (0.25, 0.5, 1.0, 2.0, 4.0),
        },
        "tests/verification/test_gc_gaps.py",
        figures=(
            FigureSpec(
                "E21_gap_comparison.png",
                f"{_CHK}.generalisation.figures:plot_e21",
                (),
                "PAC-Bayes gap vs Gaussian-complexity gap against the rank, three sample sizes",
            ),
        ),
    ),
    _c(
        "E29",
        "With Gaussian factors, the bound holds with an extra delta_total.",
        _ST,
        f"{_CHK}.generalisation.truncation:check_e29",
        {"n_samples": 4000},
        {"n_samples": 40000},
        "tests/verification/test_gc_truncation.py",
    ),
    _c(
        "E35",
        "Spectral-norm tail bound for Gaussian factor matrices.",
        _ST,
        f"{_CHK}.generalisation.tails:check_e35",
        {"n_samples": 4000},
        {
            "n_samples": 40000,
            "shapes": ((1, 1), (4, 1), (16, 4), (8, 8), (64, 8), (32, 32), (128, 16), (256, 4)),
            "stds": (0.01, 0.1, 1.0),
            "ts": (1.0, 1.5, 2.0, 2.5, 3.0),
        },
        "tests/verification/test_gc_tails.py",
    ),
)

#: This area's claims of section 8 of ``CLAIMS.md`` (the registry puts them in the spec's order).
SECOND_PASS: tuple[Claim, ...] = (
    _c(
        "E36",
        "Remark E.36: C_i^A = O(sigma_i sqrt(h_i + r_i)), so C_i = O(sigma_i^2 (h_i + r_i)) "
        "when the means are ignored; the constant hidden in O(.) on Gaussian factors.",
        _ST,
        f"{_CHK}.generalisation.factor_norms:check_e36",
        {"n_samples": 400},
        {"n_samples": 4000, "sizes": (1, 2, 4, 8, 16, 32, 64, 128)},
        "tests/verification/test_gc_e36.py",
    ),
    _c(
        "E22",
        "Remarks E.22-E.26: neither gap dominates; PAC-Bayes is structurally favourable when "
        "C_max (d_in + d_out) <~ pi L C_0^2 C_1^4 R^2 d_out; both gaps scale like sqrt(r).",
        _N,
        f"{_CHK}.generalisation.crossover:check_e22",
        {},
        {
            "shapes": ((64, 16), (16, 64), (784, 10), (1200, 1200), (256, 4096)),
            "ranks": (1, 2, 4, 10, 16, 64),
            "sample_sizes": (100, 1000, 10_000, 100_000, 1_000_000),
            "c1s": (0.1, 0.25, 0.5, 1.0, 2.0, 4.0),
            "radii": (0.5, 1.0, 4.0, 16.0),
        },
        "tests/verification/test_gc_crossover.py",
        figures=(
            FigureSpec(
                "E22_crossover.png",
                f"{_CHK}.generalisation.figures:plot_e22",
                (),
                "exact crossover of the printed one-layer gaps vs the remark's condition, against "
                "C_1 and K d_out r",
            ),
        ),
    ),
)
