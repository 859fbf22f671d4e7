"""Section 4 of CLAIMS.md: loss approximation via Eckart-Young-Mirsky, loss constants."""

from __future__ import annotations

from verification.claim_types import CHECKS as _CHK
from verification.claim_types import Claim, FigureSpec, Kind, make_claim

__all__ = ["CLAIMS", "SECOND_PASS"]

_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_c = make_claim

#: In the order of ``CLAIMS.md``.
CLAIMS: tuple[Claim, ...] = (
    _c(
        "C3",
        "W_r minimises ||W - M|| over rank(M) <= r (Frobenius and spectral); tail identities.",
        _F,
        f"{_CHK}.eym.basics:check_c3",
        {"n_cases": 18, "max_dim": 12, "n_random": 20, "n_starts": 2},
        {"n_cases": 300, "max_dim": 16, "n_random": 50, "n_starts": 4},
        "tests/verification/test_eym_claims.py",
    ),
    _c(
        "C4",
        "||A x||_2 <= ||A||_F ||x||_2.",
        _F,
        f"{_CHK}.eym.basics:check_c4",
        {"n_cases": 150, "max_dim": 12},
        {"n_cases": 5000, "max_dim": 30},
        "tests/verification/test_eym_claims.py",
    ),
    _c(
        "T3.6",
        "|E l(W* x, y) - E l(W*_r x, y)| <= L R sigma_{>r}.",
        _F,
        f"{_CHK}.eym.loss_gap:check_t36",
        {"n_cases": 15, "max_dim": 10, "n_data": 200},
        {"n_cases": 200, "max_dim": 16, "n_data": 1000},
        "tests/verification/test_eym_losses.py",
        figures=(
            FigureSpec(
                "T3.6_tail_energy.png",
                f"{_CHK}.eym.figures:plot_t36",
                (0,),
                "rank-induced loss gaps against the EYM tail-energy bounds, three spectra",
            ),
        ),
    ),
    _c(
        "T3.6s",
        "The same with sigma_{r+1} in place of sigma_{>r} (not in the paper).",
        _F,
        f"{_CHK}.eym.loss_gap:check_t36s",
        {"n_cases": 15, "max_dim": 10, "n_data": 200},
        {"n_cases": 200, "max_dim": 16, "n_data": 1000},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "C5p",
        "Pointwise l(W*_r x, y) - l(W* x, y) >= 0 for every (x, y).",
        _F,
        f"{_CHK}.eym.pointwise:check_c5p",
        {"n_trials": 200, "max_dim": 4},
        {"n_trials": 2000, "max_dim": 6},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "T3.7",
        "|l(W x, y) - l(W* x, y)| <= L R (||W - W*_r||_F + sigma_{>r}).",
        _F,
        f"{_CHK}.eym.decomposition:check_t37",
        {"n_cases": 8, "max_dim": 10, "n_data": 100},
        {"n_cases": 100, "max_dim": 16, "n_data": 500},
        "tests/verification/test_eym_losses.py",
        figures=(
            FigureSpec(
                "T3.7_decomposition.png",
                f"{_CHK}.eym.figures:plot_t37",
                (0,),
                "optimisation + rank-bias split of the T3.7 bound along gradient descent",
            ),
        ),
    ),
    _c(
        "C7",
        "|E l(Z, y) - l(E Z, y)| <= (beta/2) E||Z - E Z||^2 for beta-smooth l.",
        _ST,
        f"{_CHK}.eym.smooth:check_c7",
        {"n_cases": 30, "n_mc": 4000},
        {"n_cases": 400, "n_mc": 40000},
        "tests/verification/test_eym_smooth.py",
    ),
    _c(
        "C8",
        "Random-weight loss gap <= L||x|| ||mu_f - mu_r||_F + (beta/2)(Var + Var).",
        _ST,
        f"{_CHK}.eym.random_weights:check_c8",
        {"n_cases": 24, "n_mc": 4000},
        {"n_cases": 400, "n_mc": 40000},
        "tests/verification/test_eym_smooth.py",
    ),
    _c(
        "C9",
        "Softmax cross-entropy is sqrt(2)-Lipschitz in the logits.",
        _N,
        f"{_CHK}.eym.constants:check_c9",
        {"max_k": 5, "n_random": 500, "n_starts": 3, "n_pairs": 50},
        {"max_k": 12, "n_random": 5000, "n_starts": 8, "n_pairs": 500},
        "tests/verification/test_losses_checks.py",
    ),
    _c(
        "CT",
        "The paper's table of Lipschitz and smoothness constants of common losses.",
        _N,
        f"{_CHK}.eym.constants:check_ct",
        {"max_k": 3, "n_random": 300, "n_starts": 2, "n_pairs": 100},
        {"max_k": 8, "n_random": 3000, "n_starts": 6, "n_pairs": 1000},
        "tests/verification/test_losses_checks.py",
    ),
)

#: This area's claims of section 8 of ``CLAIMS.md`` (the registry puts them in the spec's order).
SECOND_PASS: tuple[Claim, ...] = ()
