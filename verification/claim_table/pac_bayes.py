"""Section 5 of CLAIMS.md: PAC-Bayes (and the PAC-Bayes claims of the second pass)."""

from __future__ import annotations

from verification.claim_types import CHECKS as _CHK
from verification.claim_types import Claim, FigureSpec, Kind, make_claim

__all__ = ["CLAIMS", "SECOND_PASS"]

_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_c = make_claim

#: In the order of ``CLAIMS.md``.
CLAIMS: tuple[Claim, ...] = (
    _c(
        "D2",
        "McAllester (Maurer form): w.p. >= 1 - delta, for all Q, L(Q) <= L^(Q) + "
        "sqrt((KL + ln(2 sqrt(N)/delta)) / 2N).",
        _ST,
        f"{_CHK}.pac_bayes.joined:check_d2",
        {
            "exact": {"n_trials": 4000},
            "worst_case": {"n_trials": 100},
            "trained": {"n_repeats": 12},
        },
        {
            "exact": {"n_trials": 40000},
            "worst_case": {"n_trials": 2000},
            "trained": {"n_repeats": 200},
        },
        "tests/verification/test_coverage.py tests/verification/test_coverage_worst_case.py "
        "tests/verification/test_trained_coverage.py",
        figures=(
            FigureSpec(
                "D2_kl_inverse_vs_pinsker.png",
                f"{_CHK}.pac_bayes.figures:plot_d2",
                (),
                "kl-inverse bound vs its Pinsker relaxation (McAllester) against empirical risk "
                "and c",
            ),
        ),
    ),
    _c(
        "D3",
        "For product measures KL(Q||P) = sum_i KL(q_i||p_i) <= C_max D.",
        _N,
        f"{_CHK}.pac_bayes.product_kl:check_d3",
        {"n_cases": 200},
        {"n_cases": 2000},
        "tests/verification/test_pac_bayes_claims.py",
    ),
    _c(
        "T3.8",
        "Full-rank vs low-rank McAllester bounds; complexity ratio sqrt(r (1/d_in + 1/d_out)).",
        _S,
        f"{_CHK}.pac_bayes.symbolic:check_t38",
        {"max_dim": 64},
        {"max_dim": 256},
        "tests/verification/test_pac_bayes_symbolic.py",
    ),
    _c(
        "T3.8c",
        "Low rank is tighter iff C_LR r (d_in + d_out) < C_full d_in d_out (the exact "
        "condition; its premise, comparable per-coordinate KLs, is T3.8p).",
        _N,
        f"{_CHK}.pac_bayes.symbolic:check_t38c",
        {"n_cases": 2000},
        {"n_cases": 20000},
        "tests/verification/test_pac_bayes_symbolic.py",
    ),
    _c(
        "KLF",
        "KL(q_W || p_W) is infinite for Lebesgue-continuous p_W when r < min(m, n); "
        "KL(q_W || T#P) <= KL(Q || P).",
        _N,
        f"{_CHK}.pac_bayes.klf:check_klf",
        {"n_mc": 20000},
        {"n_mc": 400000},
        "tests/verification/test_klf.py",
    ),
    _c(
        "F4",
        "Fig. 4 (two-layer LSTM, H = 64, 15 features, N = 29,213, delta = 0.05): full "
        "rank 1.960, non-vacuous for r <= 11, curves meet near r = 44, 1.309 at the used ranks "
        "(r_ih = 14, r_hh = 20).",
        _N,
        f"{_CHK}.pac_bayes.lstm_f4:check_f4",
        {},
        {},
        "tests/verification/test_lstm_f4.py",
        figures=(
            FigureSpec(
                "F4_pac_bayes_lstm.png",
                f"{_CHK}.pac_bayes.lstm_f4:plot_f4",
                (),
                "the paper's Fig. 4 (two-layer LSTM McAllester bound vs rank) rebuilt from T3.8",
            ),
        ),
    ),
)

#: This area's claims of section 8 of ``CLAIMS.md`` (the registry puts them in the spec's order).
SECOND_PASS: tuple[Claim, ...] = (
    _c(
        "T3.8p",
        "Premise of T3.8/T3.8c: per-coordinate KLs of trained low-rank and mean-field posteriors "
        "are comparable (C_LR close to C_full), so the bound ratio is sqrt(r(m+n)/(mn)); gauge "
        "balanced, under the paper's mixture (both readings of e^-6), zero-mean Gaussian and "
        "data-dependent priors.",
        _F,
        f"{_CHK}.trained.premise:check_t38p",
        {"ranks": (2, 8), "epochs": 20, "hidden": 64, "seeds": (0,)},
        {
            "ranks": (1, 2, 4, 8),
            "epochs": 60,
            "hidden": 64,
            "seeds": (0, 1, 2),
            "gaussian_stds": (0.1, 0.3, 1.0, 3.0),
            "data_std_scales": (0.5, 1.0, 2.0),
        },
        "tests/verification/test_trained_premise.py tests/verification/test_trained_kl.py "
        "tests/verification/test_mixture_kl.py",
        figures=(
            FigureSpec(
                "T3.8p_premise_ratios.png",
                f"{_CHK}.trained.premise:plot_t38p",
                (0, 900450186894289455, 3969543146641149120),
                "per-layer C_LR/C_full (max, mean) of trained digits MLPs by prior and rank, with "
                "the rule's band [1/2, 2]",
                ("torch", "scikit-learn"),
            ),
        ),
    ),
    _c(
        "F4g",
        "Fig. 4 Gaussian-complexity panel: 45.56 at full rank, 28.88 at ranks (14, 20) "
        "(plotted); the caption says 18.97. Which C_0 and which reading of the LSTM give these "
        "numbers.",
        _N,
        f"{_CHK}.pac_bayes.lstm_gc:check_f4g",
        {},
        {},
        "tests/verification/test_lstm_gc.py",
        figures=(
            FigureSpec(
                "F4g_gc_lstm.png",
                f"{_CHK}.pac_bayes.lstm_gc:plot_f4g",
                (),
                "Fig. 4 GC panel rebuilt: restated Pinto bound vs rank (LSTM as a chain of its 4 "
                "gate matrices), fitted C_0 C and C_0 = 1, with the paper's 45.56 / 28.88 / 18.97 "
                "marked",
            ),
        ),
    ),
)
