r"""The one explicit registry of the paper's claims.

Every claim id of ``CLAIMS.md`` has exactly one :class:`Claim` in :data:`CLAIMS`: its statement,
its kind, the function that checks it (``None`` while it is not implemented, giving the verdict
``pending``), the budget of that check under each profile, and the command that reproduces it.
Generic tests run over this tuple, so a claim gets its tests by being registered.

A check is a function ``check(budget, rng) -> Outcome``: ``budget`` is the mapping of this claim's
budget for the chosen profile, ``rng`` a numpy Generator seeded from the claim id, so that every
run of ``lrbnn check`` gives the same evidence.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

__all__ = [
    "CLAIMS",
    "Budget",
    "CheckFn",
    "Claim",
    "Kind",
    "Outcome",
    "Profile",
    "Verdict",
    "claim_by_id",
    "claim_rng",
]


class Verdict(str, Enum):
    """The verdicts of ``CLAIMS.md``."""

    #: the statement held on every case tried (the evidence says how many, over which ranges)
    VERIFIED = "verified"
    #: a concrete counterexample exists (the evidence gives the smallest one found)
    REFUTED = "refuted"
    #: the statement fails as printed but a corrected form holds (the evidence gives both)
    REFUTED_AS_STATED = "refuted-as-stated"
    #: a number or table of the paper was recomputed (ours beside theirs)
    REPRODUCED = "reproduced"
    #: our recomputation disagrees with the paper (both numbers)
    NOT_REPRODUCED = "not-reproduced"
    #: no finite computation can decide it (the evidence says why)
    UNTESTABLE = "untestable"
    #: no check is implemented yet
    PENDING = "pending"


class Kind(str, Enum):
    """How a claim is checked."""

    #: an identity or derivation done with sympy
    SYMBOLIC = "symbolic"
    #: a deterministic numerical comparison against an independent twin
    NUMERIC = "numeric"
    #: a Monte Carlo test with a stated false-failure probability
    STATISTICAL = "statistical"
    #: a search for counterexamples
    FALSIFICATION = "falsification"


class Profile(str, Enum):
    """How much work a check may do."""

    #: minutes for the whole registry on two cores (``lrbnn check``, CI)
    QUICK = "quick"
    #: larger samples and grids, for a release or a doubtful verdict
    THOROUGH = "thorough"


Budget = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a check found: the verdict and the evidence that carries it."""

    verdict: Verdict
    evidence: str
    #: numbers worth keeping in machine-readable form (counts, rates, counterexamples)
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.verdict, Verdict):
            raise TypeError(f"`verdict` must be a Verdict; got {self.verdict!r}")
        if not self.evidence.strip():
            raise ValueError("`evidence` must not be empty; a verdict needs its evidence")


CheckFn = Callable[[Budget, np.random.Generator], Outcome]


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, as listed in ``CLAIMS.md``."""

    id: str
    statement: str
    kind: Kind
    #: ``"module:function"`` of the check, or ``None`` while the claim is pending
    check: str | None = None
    budgets: Mapping[Profile, Budget] = field(default_factory=dict)
    #: the test that checks this claim, besides ``lrbnn check --only ID``
    test: str | None = None

    def check_fn(self) -> CheckFn | None:
        """Import and return the check function (``None`` when pending)."""
        if self.check is None:
            return None
        module, _, name = self.check.partition(":")
        fn: CheckFn = getattr(importlib.import_module(module), name)
        return fn

    def budget(self, profile: Profile) -> Budget:
        return self.budgets.get(profile, self.budgets.get(Profile.QUICK, {}))

    @property
    def reproduce(self) -> str:
        """The exact command that reproduces this claim's row of ``paper_checks.md``."""
        cmd = f"lrbnn check --only {self.id}"
        if self.test is not None:
            cmd += f"; pytest {self.test}"
        return cmd


def claim_rng(claim_id: str) -> np.random.Generator:
    """A Generator seeded from the claim id alone (stable across runs and machines)."""
    seed = int.from_bytes(hashlib.sha256(claim_id.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def _c(
    id: str,
    statement: str,
    kind: Kind,
    check: str | None = None,
    quick: Budget | None = None,
    thorough: Budget | None = None,
    test: str | None = None,
) -> Claim:
    budgets: dict[Profile, Budget] = {}
    if quick is not None:
        budgets[Profile.QUICK] = quick
    if thorough is not None:
        budgets[Profile.THOROUGH] = thorough
    return Claim(id, statement, kind, check, budgets, test)


_S, _N, _ST, _F = Kind.SYMBOLIC, Kind.NUMERIC, Kind.STATISTICAL, Kind.FALSIFICATION
_CHK = "verification.checks"

CLAIMS: tuple[Claim, ...] = (
    # 1. Parameter counts
    _c(
        "P1",
        "Variational parameters per m x n layer: mean-field 2mn, low-rank 2r(m+n); "
        "stochastic scalars D_full = mn, D_LR = r(m+n).",
        _N,
        f"{_CHK}.counts:check_p1",
        {"max_dim": 24},
        {"max_dim": 60},
        "tests/verification/test_counts.py",
    ),
    _c(
        "P2",
        "Reduction factor mn / (r(m+n)); > 1 iff r < mn/(m+n).",
        _N,
        f"{_CHK}.counts:check_p2",
        {"max_dim": 60},
        {"max_dim": 200},
        "tests/verification/test_counts.py",
    ),
    _c(
        "P3",
        "Reported model sizes follow from P1 (MNIST MLP 245,810 vs 4,788,010, 19.5x; SST-2 "
        "Transformer 1.47M vs 19.84M vs 49.61M, 13x, 33x).",
        _N,
        f"{_CHK}.counts:check_p3",
        {},
        {},
        "tests/verification/test_counts.py",
    ),
    # 2. Geometry of the induced posterior
    _c(
        "D3.1",
        "q_W is the push-forward of q(A, B) under (A, B) -> A B^T.",
        _N,
        f"{_CHK}.geometry_numeric:check_d31",
        {"n_shapes": 4, "n_samples": 20000, "max_dim": 4},
        {"n_shapes": 12, "n_samples": 400000, "max_dim": 5},
        "tests/verification/test_geometry_numeric.py",
    ),
    _c(
        "L3.2",
        "Every sample W = A B^T has rank <= r, so q_W(R_r) = 1.",
        _N,
        f"{_CHK}.geometry_numeric:check_l32",
        {"n_shapes": 60, "n_samples": 16, "max_dim": 12},
        {"n_shapes": 600, "n_samples": 64, "max_dim": 12},
        "tests/verification/test_geometry_numeric.py",
    ),
    _c(
        "L3.3",
        "R_r is Lebesgue-null when r < min(m, n) (all (r+1)-minors vanish).",
        _S,
        f"{_CHK}.geometry_symbolic:check_l33",
        {"max_dim": 4},
        {"max_dim": 5},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "T3.4",
        "q_W is singular w.r.t. Lebesgue measure when r < min(m, n).",
        _N,
        f"{_CHK}.geometry_numeric:check_t34",
        {"n_samples": 2000},
        {"n_samples": 50000},
        "tests/verification/test_geometry_numeric.py",
    ),
    _c(
        "G1",
        "Rank-r matrices form a manifold of dimension r(m+n-r); Jacobian rank of "
        "(A, B) -> A B^T is r(m+n-r); gauge gap r^2.",
        _N,
        f"{_CHK}.geometry_jacobian:check_g1",
        {"n_shapes": 12, "max_dim": 12},
        {"n_shapes": 150, "max_dim": 16},
        "tests/verification/test_geometry_jacobian.py",
    ),
    _c(
        "G2",
        "For r >= min(m, n), q_W is absolutely continuous (Jacobian rank mn).",
        _N,
        f"{_CHK}.geometry_jacobian:check_g2",
        {"n_shapes": 12, "max_dim": 12, "n_samples": 200},
        {"n_shapes": 150, "max_dim": 16, "n_samples": 2000},
        "tests/verification/test_geometry_jacobian.py",
    ),
    # 3. Covariance of weight entries
    _c(
        "L3.5",
        "Cov(W_ij, W_i'j') = sum_k (E[A_ik A_i'k] E[B_jk B_j'k] - E A E A E B E B).",
        _S,
        f"{_CHK}.geometry_symbolic:check_l35",
        {"max_dim": 3},
        {"max_dim": 4},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "L3.5a",
        "Gaussian-factor covariance formula, E[W] = muA muB^T, Var(W_ij) formula.",
        _S,
        f"{_CHK}.combined:check_l35a",
        {"symbolic": {"max_dim": 3, "n_numeric": 300}, "monte_carlo": {"n_samples": 20000}},
        {"symbolic": {"max_dim": 4, "n_numeric": 3000}, "monte_carlo": {"n_samples": 400000}},
        "tests/verification/test_combined.py",
    ),
    _c(
        "L3.5b",
        "Entries sharing no row or column are independent; sharing a row or column, "
        "correlated in general; mean-field covariance diagonal.",
        _ST,
        f"{_CHK}.geometry_independence:check_l35b",
        {"n_samples": 20000},
        {"n_samples": 400000},
        "tests/verification/test_geometry_independence.py",
    ),
    _c(
        "B3",
        "Cov(XY, UV) = E[XU]E[YV] - E[X]E[U]E[Y]E[V] for independent (X,U) and (Y,V).",
        _S,
        f"{_CHK}.geometry_symbolic_moments:check_b3",
        {"n_cases": 12, "max_degree": 2},
        {"n_cases": 60, "max_degree": 3},
        "tests/verification/test_geometry_symbolic.py",
    ),
    _c(
        "F1",
        "Variance matching: Var(mean W_ij) = r vA vB.",
        _S,
        f"{_CHK}.combined:check_f1",
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
        f"{_CHK}.geometry_init:check_f2",
        {"n_matrices": 60, "max_dim": 12},
        {"n_matrices": 1000, "max_dim": 24},
        "tests/verification/test_geometry_init.py",
    ),
    # 4. Eckart-Young-Mirsky
    _c(
        "C3",
        "W_r minimises ||W - M|| over rank(M) <= r (Frobenius and spectral); tail identities.",
        _F,
        f"{_CHK}.eym_claims:check_c3",
        {"n_cases": 18, "max_dim": 12, "n_random": 20, "n_starts": 2},
        {"n_cases": 300, "max_dim": 16, "n_random": 50, "n_starts": 4},
        "tests/verification/test_eym_claims.py",
    ),
    _c(
        "C4",
        "||A x||_2 <= ||A||_F ||x||_2.",
        _F,
        f"{_CHK}.eym_claims:check_c4",
        {"n_cases": 150, "max_dim": 12},
        {"n_cases": 5000, "max_dim": 30},
        "tests/verification/test_eym_claims.py",
    ),
    _c(
        "T3.6",
        "|E l(W* x, y) - E l(W*_r x, y)| <= L R sigma_{>r}.",
        _F,
        f"{_CHK}.eym_losses:check_t36",
        {"n_cases": 15, "max_dim": 10, "n_data": 200},
        {"n_cases": 200, "max_dim": 16, "n_data": 1000},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "T3.6s",
        "The same with sigma_{r+1} in place of sigma_{>r} (not in the paper).",
        _F,
        f"{_CHK}.eym_losses:check_t36s",
        {"n_cases": 15, "max_dim": 10, "n_data": 200},
        {"n_cases": 200, "max_dim": 16, "n_data": 1000},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "C5p",
        "Pointwise l(W*_r x, y) - l(W* x, y) >= 0 for every (x, y).",
        _F,
        f"{_CHK}.eym_pointwise:check_c5p",
        {"n_trials": 200, "max_dim": 4},
        {"n_trials": 2000, "max_dim": 6},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "T3.7",
        "|l(W x, y) - l(W* x, y)| <= L R (||W - W*_r||_F + sigma_{>r}).",
        _F,
        f"{_CHK}.eym_decomposition:check_t37",
        {"n_cases": 8, "max_dim": 10, "n_data": 100},
        {"n_cases": 100, "max_dim": 16, "n_data": 500},
        "tests/verification/test_eym_losses.py",
    ),
    _c(
        "C7",
        "|E l(Z, y) - l(E Z, y)| <= (beta/2) E||Z - E Z||^2 for beta-smooth l.",
        _ST,
        f"{_CHK}.eym_smooth:check_c7",
        {"n_cases": 30, "n_mc": 4000},
        {"n_cases": 400, "n_mc": 40000},
        "tests/verification/test_eym_smooth.py",
    ),
    _c(
        "C8",
        "Random-weight loss gap <= L||x|| ||mu_f - mu_r||_F + (beta/2)(Var + Var).",
        _ST,
        f"{_CHK}.eym_random_weights:check_c8",
        {"n_cases": 24, "n_mc": 4000},
        {"n_cases": 400, "n_mc": 40000},
        "tests/verification/test_eym_smooth.py",
    ),
    _c(
        "C9",
        "Softmax cross-entropy is sqrt(2)-Lipschitz in the logits.",
        _N,
        f"{_CHK}.losses:check_c9",
        {"max_k": 5, "n_random": 500, "n_starts": 3, "n_pairs": 50},
        {"max_k": 12, "n_random": 5000, "n_starts": 8, "n_pairs": 500},
        "tests/verification/test_losses_checks.py",
    ),
    _c(
        "CT",
        "The paper's table of Lipschitz and smoothness constants of common losses.",
        _N,
        f"{_CHK}.losses:check_ct",
        {"max_k": 3, "n_random": 300, "n_starts": 2, "n_pairs": 100},
        {"max_k": 8, "n_random": 3000, "n_starts": 6, "n_pairs": 1000},
        "tests/verification/test_losses_checks.py",
    ),
    # 5. PAC-Bayes
    _c(
        "D2",
        "McAllester (Maurer form): w.p. >= 1 - delta, for all Q, L(Q) <= L^(Q) + "
        "sqrt((KL + ln(2 sqrt(N)/delta)) / 2N).",
        _ST,
        f"{_CHK}.combined:check_d2",
        {"exact": {"n_trials": 4000}, "trained": {"n_repeats": 12}},
        {"exact": {"n_trials": 40000}, "trained": {"n_repeats": 200}},
        "tests/verification/test_coverage.py tests/verification/test_trained_coverage.py",
    ),
    _c(
        "D3",
        "For product measures KL(Q||P) = sum_i KL(q_i||p_i) <= C_max D.",
        _N,
        f"{_CHK}.pac_bayes_claims:check_d3",
        {"n_cases": 200},
        {"n_cases": 2000},
        "tests/verification/test_pac_bayes_claims.py",
    ),
    _c(
        "T3.8",
        "Full-rank vs low-rank McAllester bounds; complexity ratio sqrt(r (1/d_in + 1/d_out)).",
        _S,
        f"{_CHK}.pac_bayes_symbolic:check_t38",
        {"max_dim": 64},
        {"max_dim": 256},
        "tests/verification/test_pac_bayes_symbolic.py",
    ),
    _c(
        "T3.8c",
        "Low rank is tighter iff C_LR r (d_in + d_out) < C_full d_in d_out; rests on "
        "comparable per-coordinate KLs.",
        _N,
        f"{_CHK}.combined:check_t38c",
        {"formula": {"n_cases": 2000}, "trained": {"ranks": (2, 8), "epochs": 20}},
        {"formula": {"n_cases": 20000}, "trained": {"ranks": (1, 2, 4, 8, 16, 32), "epochs": 40}},
        "tests/verification/test_trained_kl.py",
    ),
    _c(
        "KLF",
        "KL(q_W || p_W) is infinite for Lebesgue-continuous p_W when r < min(m, n); "
        "KL(q_W || T#P) <= KL(Q || P).",
        _N,
        f"{_CHK}.klf:check_klf",
        {"n_mc": 20000},
        {"n_mc": 400000},
        "tests/verification/test_klf.py",
    ),
    _c(
        "F4",
        "Fig. 4 (two-layer LSTM, H = 64, 15 features, N = 29,213, delta = 0.05): full "
        "rank 1.960, non-vacuous for r <= 11, curves meet near r = 44, 1.309 at the used ranks.",
        _N,
        f"{_CHK}.lstm_f4:check_f4",
        {},
        {},
        "tests/verification/test_lstm_f4.py",
    ),
    # 6. Gaussian complexity
    _c(
        "E4",
        "Assumption: ||A_i||_2 <= C_i^A, ||B_i||_2 <= C_i^B almost surely.",
        _N,
        f"{_CHK}.gc_bounded:check_e4",
        {"n_cases": 4, "n_samples": 20000},
        {"n_cases": 20, "n_samples": 400000},
        "tests/verification/test_gc_bounded.py",
    ),
    _c(
        "E5",
        "Then rank(W_i) <= r_i and ||W_i||_2 <= C_i.",
        _F,
        f"{_CHK}.gc_bounded:check_e5",
        {"n_cases": 30, "max_dim": 8, "n_samples": 200, "n_starts": 2},
        {"n_cases": 300, "max_dim": 16, "n_samples": 2000, "n_starts": 4},
        "tests/verification/test_gc_bounded.py",
    ),
    _c(
        "E8",
        "Monotonicity of the empirical Gaussian complexity under inclusion.",
        _N,
        f"{_CHK}.gc_hull:check_e8",
        {"n_cases": 40, "n_draws": 2000},
        {"n_cases": 400, "n_draws": 20000},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E9",
        "G^(conv F) = G^(F).",
        _N,
        f"{_CHK}.gc_hull:check_e9",
        {"n_cases": 20, "n_draws": 2000, "n_new": 20, "n_lp_draws": 5},
        {"n_cases": 200, "n_draws": 20000, "n_new": 100, "n_lp_draws": 20},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E10",
        "Closure on the sample does not change G^.",
        _N,
        f"{_CHK}.gc_hull:check_e10",
        {"n_cases": 10, "n_draws": 2000, "lengths": [1, 8, 64, 512]},
        {"n_cases": 60, "n_draws": 20000, "lengths": [1, 4, 16, 64, 256, 1024]},
        "tests/verification/test_gc_hull.py",
    ),
    _c(
        "E11",
        "f_BNN lies in the closed convex hull of the posterior's support functions.",
        _ST,
        f"{_CHK}.gc_predictive:check_e11",
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
        f"{_CHK}.gc_chain:check_e13",
        {"n_cases": 8, "n_networks": 64, "n_mean": 2000, "n_draws": 2000, "n_maximisers": 20},
        {"n_cases": 80, "n_networks": 512, "n_mean": 20000, "n_draws": 20000, "n_maximisers": 100},
        "tests/verification/test_gc_chain.py",
    ),
    _c(
        "E15",
        "Gaussian-complexity generalisation bound (Pinto et al., as quoted).",
        _ST,
        f"{_CHK}.gc_generalisation:check_e15",
        {"n_trials": 400},
        {"n_trials": 4000},
        "tests/verification/test_gc_generalisation.py",
    ),
    _c(
        "E17",
        "Pinto et al. Thm 7 as restated, with B_1 = sqrt(r_1) C_1.",
        _F,
        f"{_CHK}.gc_pinto:check_e17",
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
    ),
    _c(
        "T3.9",
        "Generalisation bound for the Bayesian predictive mean.",
        _F,
        f"{_CHK}.gc_generalisation:check_t39",
        {"n_trials": 200},
        {"n_trials": 2000, "c0s": (0.1, 1.0, 10.0, 100.0, 1000.0)},
        "tests/verification/test_gc_generalisation.py",
    ),
    _c(
        "E21",
        "One-layer comparison of the PAC-Bayes and Gaussian-complexity gaps.",
        _N,
        f"{_CHK}.gc_gaps:check_e21",
        {},
        {
            "d_in": 256,
            "d_out": 64,
            "widths": (0.01, 0.02, 0.05, 0.1, 0.3, 0.6),
            "sample_sizes": (100, 1000, 10_000, 100_000, 1_000_000),
            "c1s": (0.25, 0.5, 1.0, 2.0, 4.0),
        },
        "tests/verification/test_gc_gaps.py",
    ),
    _c(
        "E29",
        "With Gaussian factors, the bound holds with an extra delta_total.",
        _ST,
        f"{_CHK}.gc_truncation:check_e29",
        {"n_samples": 4000},
        {"n_samples": 40000},
        "tests/verification/test_gc_truncation.py",
    ),
    _c(
        "E35",
        "Spectral-norm tail bound for Gaussian factor matrices.",
        _ST,
        f"{_CHK}.gc_tails:check_e35",
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

_BY_ID = {c.id: c for c in CLAIMS}
if len(_BY_ID) != len(CLAIMS):  # pragma: no cover - guards against a copy-paste slip
    raise RuntimeError("duplicate claim id in the registry")


def claim_by_id(claim_id: str) -> Claim:
    """The registered claim with this id; ``KeyError`` naming the known ids otherwise."""
    try:
        return _BY_ID[claim_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise KeyError(f"unknown claim id {claim_id!r}; known ids: {known}") from None
