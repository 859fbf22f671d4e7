"""Sections 2 and 3 of CLAIMS.md: geometry of the induced posterior, covariance of weight entries,
App. F initialisation (and the App. B and F claims of the second pass)."""

from __future__ import annotations

from verification.claim_types import CHECKS as _CHK
from verification.claim_types import Claim, FigureSpec, Kind, make_claim

__all__ = ["CLAIMS", "SECOND_PASS"]

_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_c = make_claim

#: In the order of ``CLAIMS.md``.
CLAIMS: tuple[Claim, ...] = (
    _c(
        "D3.1",
        "q_W is the push-forward of q(A, B) under (A, B) -> A B^T.",
        _N,
        f"{_CHK}.geometry.numeric:check_d31",
        {"n_shapes": 4, "n_samples": 20000, "max_dim": 4},
        {"n_shapes": 12, "n_samples": 400000, "max_dim": 5},
        "tests/verification/test_geometry_numeric.py",
    ),
    _c(
        "L3.2",
        "Every sample W = A B^T has rank <= r, so q_W(R_r) = 1.",
        _N,
        f"{_CHK}.geometry.numeric:check_l32",
        {"n_shapes": 60, "n_samples": 16, "max_dim": 12},
        {"n_shapes": 600, "n_samples": 64, "max_dim": 12},
        "tests/verification/test_geometry_numeric.py",
    ),
    _c(
        "L3.3",
        "R_r is Lebesgue-null when r < min(m, n) (all (r+1)-minors vanish).",
        _S,
        f"{_CHK}.geometry.symbolic:check_l33",
        {"max_dim": 4},
        {"max_dim": 5},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "T3.4",
        "q_W is singular w.r.t. Lebesgue measure when r < min(m, n).",
        _N,
        f"{_CHK}.geometry.numeric:check_t34",
        {"n_samples": 2000},
        {"n_samples": 50000},
        "tests/verification/test_geometry_numeric.py",
        figures=(
            FigureSpec(
                "T3.4_singular_values.png",
                f"{_CHK}.geometry.figures:plot_t34_spectra",
                (2026, 2027),
                "singular-value spectra of low-rank and mean-field draws; the law of sigma_(r+1)",
            ),
        ),
    ),
    _c(
        "G1",
        "Rank-r matrices form a manifold of dimension r(m+n-r); Jacobian rank of "
        "(A, B) -> A B^T is r(m+n-r); gauge gap r^2.",
        _N,
        f"{_CHK}.geometry.jacobian:check_g1",
        {"n_shapes": 12, "max_dim": 12},
        {"n_shapes": 150, "max_dim": 16},
        "tests/verification/test_geometry_jacobian.py",
    ),
    _c(
        "G2",
        "For r >= min(m, n), q_W is absolutely continuous (Jacobian rank mn).",
        _N,
        f"{_CHK}.geometry.jacobian:check_g2",
        {"n_shapes": 12, "max_dim": 12, "n_samples": 200},
        {"n_shapes": 150, "max_dim": 16, "n_samples": 2000},
        "tests/verification/test_geometry_jacobian.py",
    ),
    # 3. Covariance of weight entries
    _c(
        "L3.5",
        "Cov(W_ij, W_i'j') = sum_k (E[A_ik A_i'k] E[B_jk B_j'k] - E A E A E B E B).",
        _S,
        f"{_CHK}.geometry.symbolic:check_l35",
        {"max_dim": 3},
        {"max_dim": 4},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "L3.5a",
        "Gaussian-factor covariance formula, E[W] = muA muB^T, Var(W_ij) formula.",
        _S,
        f"{_CHK}.geometry.joined:check_l35a",
        {"symbolic": {"max_dim": 3, "n_numeric": 300}, "monte_carlo": {"n_samples": 20000}},
        {"symbolic": {"max_dim": 4, "n_numeric": 3000}, "monte_carlo": {"n_samples": 400000}},
        "tests/verification/test_combined.py",
    ),
    _c(
        "L3.5b",
        "Entries sharing no row or column are independent; sharing a row or column, "
        "correlated in general; mean-field covariance diagonal.",
        _ST,
        f"{_CHK}.geometry.independence:check_l35b",
        {"n_samples": 20000},
        {"n_samples": 400000},
        "tests/verification/test_geometry_independence.py",
        figures=(
            FigureSpec(
                "L3.5b_weight_correlation.png",
                f"{_CHK}.geometry.figures:plot_l35b_correlation",
                (2026,),
                "exact correlations of the entries of W = A B^T beside mean field",
            ),
        ),
    ),
    _c(
        "B3",
        "Cov(XY, UV) = E[XU]E[YV] - E[X]E[U]E[Y]E[V] for independent (X,U) and (Y,V).",
        _S,
        f"{_CHK}.geometry.symbolic_moments:check_b3",
        {"n_cases": 12, "max_degree": 2},
        {"n_cases": 60, "max_degree": 3},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "F1",
        "Variance matching: Var(mean W_ij) = r vA vB.",
        _S,
        f"{_CHK}.geometry.joined:check_f1",
        {
            "symbolic": {"max_rank": 6, "max_dim": 3, "n_samples": 20000},
            "monte_carlo": {"n_inits": 2000},
        },
        {
            "symbolic": {"max_rank": 8, "max_dim": 4, "n_samples": 200000},
            "monte_carlo": {"n_inits": 40000},
        },
        "tests/verification/test_combined.py",
    ),
    _c(
        "F2",
        "SVD warm start gives W_r; balanced factors have ||muA||_2^2 = ||W||_2 and "
        "||muA||_F^2 = ||W||_*.",
        _N,
        f"{_CHK}.geometry.init:check_f2",
        {"n_matrices": 60, "max_dim": 12},
        {"n_matrices": 1000, "max_dim": 24},
        "tests/verification/test_geometry_init.py",
    ),
)

#: This area's claims of section 8 of ``CLAIMS.md`` (the registry puts them in the spec's order).
SECOND_PASS: tuple[Claim, ...] = (
    _c(
        "B1",
        "Thm B.1: rank(W) <= r implies W = A B^T with A (m x r), B (n x r), zero-padded when "
        "rank < r.",
        _N,
        f"{_CHK}.geometry.factorisation:check_b1",
        {"n_shapes": 30, "max_dim": 6, "n_float_shapes": 40, "max_float_dim": 12},
        {"n_shapes": 200, "max_dim": 7, "n_float_shapes": 400, "max_float_dim": 24},
        "tests/verification/test_geometry_factorisation.py",
    ),
    _c(
        "F3u",
        "App. F uniform initialisation: factor means U(-a, a), a = sqrt(3) (s_W^2/r)^(1/4), give "
        "Var(mean W_ij) = s_W^2 (Glorot: a = sqrt(3) (2/(r(n+m)))^(1/4)).",
        _ST,
        f"{_CHK}.geometry.init_uniform:check_f3u",
        {"max_rank": 8, "n_formula": 200, "n_samples": 20000},
        {"max_rank": 12, "n_formula": 5000, "n_samples": 400000},
        "tests/verification/test_geometry_init_uniform.py",
    ),
)
