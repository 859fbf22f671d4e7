r"""Checks of Eckart-Young-Mirsky (claim C3) and of :math:`\|Ax\| \le \|A\|_F \|x\|` (claim C4).

C3 is tested on matrices built with a prescribed spectrum (flat, power law, exactly low rank),
so that the tail :math:`\sigma_{>r}` is known without an SVD. For each case the tail identities
:math:`\|W - W_r\|_F = \sigma_{>r}`, :math:`\|W - W_r\|_2 = \sigma_{r+1}` are compared with it,
and rank-r candidates try to beat the truncation :math:`W_r` of :func:`theory.eym.truncated_svd`:
random factor products, best approximations from perturbed singular subspaces, and local
minimisation over factors :math:`(A, B)` of :math:`\|W - AB^\top\|_F^2` and of the Schatten-p
surrogate :math:`\|W - AB^\top\|_{S_p}^p` of the spectral norm, from random starts.

C4 is searched for counterexamples with random pairs, the adversarial input (the top right
singular vector), rank-one matrices (where the bound is tight) and local maximisation of the
ratio :math:`\|Ax\| / (\|A\|_F \|x\|)`.

References: claims C3 and C4 of ``CLAIMS.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize

from theory._validation import FloatArray, check_int
from theory.eym import tail_energy, truncated_svd
from verification.registry import Budget, Outcome, Verdict

__all__ = [
    "SPECTRUM_KINDS",
    "c4_rhs",
    "check_c3",
    "check_c4",
    "matrix_with_spectrum",
    "spectrum",
]

_EPS = float(np.finfo(np.float64).eps)
#: The three families of spectra of issue 4 (cases cycle through them).
SPECTRUM_KINDS = ("flat", "power_law", "low_rank")
#: Rounding slack of the tail identities, in units of eps sigma_1 (m + n): the computed SVD is the
#: exact SVD of W + E with ||E||_2 <= p(m, n) eps ||W||_2 (backward stability, p modest), so by
#: Weyl each computed quantity is off by a small multiple of that; building W from Q-factors adds
#: the same order. 32 leaves room for both; the evidence reports the worst error actually seen.
_SLACK_FACTOR = 32.0
#: Schatten exponent of the smooth surrogate of the spectral norm (||E||_2 <= ||E||_{S_p}).
_SCHATTEN_P = 8
#: Nonlinear CG (pure numpy: L-BFGS-B pays BLAS-thread overhead on tiny problems); objectives
#: are O(sigma_1^2) = O(1), so an absolute gradient tolerance means the same in every case.
_CG = {"maxiter": 400, "gtol": 1e-9}
#: A local Frobenius search "reached" the optimum when within this relative distance of it.
_REACHED = 1e-6


def spectrum(kind: str, size: int, rng: np.random.Generator) -> FloatArray:
    r"""A decreasing spectrum of ``size`` singular values with :math:`\sigma_1 = 1`.

    ``flat``: all ones (the truncation is not unique, its error is). ``power_law``:
    :math:`i^{-\alpha}`, :math:`\alpha \sim U(0.5, 2)`. ``low_rank``: the power law on the first
    :math:`k < size` values and exact zeros after (``k = size = 1`` for a 1-vector).

    Examples
    --------
    >>> spectrum("flat", 3, np.random.default_rng(0)).tolist()
    [1.0, 1.0, 1.0]
    """
    i = np.arange(1, size + 1, dtype=np.float64)
    if kind == "flat":
        return np.ones(size)
    alpha = rng.uniform(0.5, 2.0)
    s = i**-alpha
    if kind == "power_law":
        return s
    if kind == "low_rank":
        k = int(rng.integers(1, size)) if size > 1 else 1
        s[k:] = 0.0
        return s
    raise ValueError(f"`kind` must be one of {SPECTRUM_KINDS}; got {kind!r}")


def matrix_with_spectrum(m: int, n: int, s: FloatArray, rng: np.random.Generator) -> FloatArray:
    r""":math:`W = U \operatorname{diag}(s) V^\top`, Haar-random orthonormal U (m x k), V (n x k).

    Examples
    --------
    >>> w = matrix_with_spectrum(4, 3, np.array([3.0, 2.0, 1.0]), np.random.default_rng(0))
    >>> np.round(np.linalg.svd(w, compute_uv=False), 12).tolist()
    [3.0, 2.0, 1.0]
    """
    k = s.size
    u, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((n, k)))
    out: FloatArray = (u * s) @ v.T
    return out


def _slack(m: int, n: int, s1: float) -> float:
    return _SLACK_FACTOR * (m + n) * _EPS * s1


def _fro_objective(w: FloatArray, r: int) -> Any:
    m, n = w.shape

    def f(theta: FloatArray) -> tuple[float, FloatArray]:
        a, b = theta[: m * r].reshape(m, r), theta[m * r :].reshape(n, r)
        e = w - a @ b.T
        return float(np.sum(e * e)), np.concatenate(
            [(-2.0 * e @ b).ravel(), (-2.0 * e.T @ a).ravel()]
        )

    return f


def _schatten_objective(w: FloatArray, r: int) -> Any:
    m, n = w.shape
    p = _SCHATTEN_P

    def f(theta: FloatArray) -> tuple[float, FloatArray]:
        a, b = theta[: m * r].reshape(m, r), theta[m * r :].reshape(n, r)
        u, s, vt = np.linalg.svd(w - a @ b.T, full_matrices=False)
        # ||E||_{S_p}^2 is homogeneous of degree 2 like ||E||_F^2, so the optimiser's absolute
        # tolerances mean the same for both; d||E||_{S_p}^2/dE = 2 S^{2-p} U diag(s^{p-1}) V^T.
        sp = float(np.sum(s**p))
        if sp == 0.0:
            return 0.0, np.zeros_like(theta)
        g = 2.0 * sp ** (2.0 / p - 1.0) * (u * s ** (p - 1)) @ vt
        return sp ** (2.0 / p), np.concatenate([(-g @ b).ravel(), (-g.T @ a).ravel()])

    return f


def _local_minimum(f: Any, m: int, n: int, r: int, rng: np.random.Generator) -> FloatArray:
    theta0 = rng.standard_normal((m + n) * r) / np.sqrt(r)
    res = optimize.minimize(f, theta0, jac=True, method="CG", options=_CG)
    a, b = res.x[: m * r].reshape(m, r), res.x[m * r :].reshape(n, r)
    out: FloatArray = a @ b.T
    return out


def _candidates(
    w: FloatArray, r: int, n_random: int, n_starts: int, rng: np.random.Generator
) -> dict[str, list[FloatArray]]:
    """Rank-r candidates: random products, subspace perturbations, local minima (F and S_p)."""
    m, n = w.shape
    _, _, vt = np.linalg.svd(w)
    out: dict[str, list[FloatArray]] = {
        "random": [],
        "subspace": [],
        "local_fro": [],
        "local_sp": [],
    }
    for _ in range(n_random):
        a, b = rng.standard_normal((m, r)), rng.standard_normal((n, r))
        out["random"].append(a @ b.T * rng.uniform(0.0, 1.0) / np.sqrt(r))
        # The best approximation with a row space near the top-r one: W Q Q^T is the projection
        # of W onto that row space, the strongest candidate with that row space.
        noise = 10.0 ** rng.uniform(-6.0, 0.0)
        q, _ = np.linalg.qr(vt[:r].T + noise * rng.standard_normal((n, r)))
        out["subspace"].append(w @ q @ q.T)
    for _ in range(n_starts):
        out["local_fro"].append(_local_minimum(_fro_objective(w, r), m, n, r, rng))
        out["local_sp"].append(_local_minimum(_schatten_objective(w, r), m, n, r, rng))
    return out


def check_c3(budget: Budget, rng: np.random.Generator) -> Outcome:
    r"""Claim C3: :math:`W_r` is the best rank-r approximation (F and 2 norms); tail identities.

    ``budget["n_cases"]`` matrices with :math:`2 \le m, n \le` ``budget["max_dim"]`` and spectra
    cycling through :data:`SPECTRUM_KINDS`; every :math:`0 \le r \le \min(m, n)` for the
    identities, and one random :math:`1 \le r < \min(m, n)` per case for ``n_random`` random and
    ``n_random`` subspace candidates and ``n_starts`` local searches in each norm. A candidate
    beats the truncation when its error is below the truncation's by more than the rounding slack
    :math:`32 (m+n) \varepsilon \sigma_1`; an identity fails when off by more than that slack.

    References
    ----------
    Claim C3.
    """
    n_cases = check_int(budget.get("n_cases"), "budget['n_cases']")
    max_dim = check_int(budget.get("max_dim", 12), "budget['max_dim']", low=2)
    n_random = check_int(budget.get("n_random", 20), "budget['n_random']", low=0)
    n_starts = check_int(budget.get("n_starts", 2), "budget['n_starts']", low=0)
    failures: list[dict[str, Any]] = []
    worst_identity = 0.0
    n_identities = n_candidates = reached = n_fro_starts = 0
    margin = {"fro": np.inf, "spectral": np.inf}
    sp_excess = 0.0
    kinds = dict.fromkeys(SPECTRUM_KINDS, 0)
    for i in range(n_cases):
        kind = SPECTRUM_KINDS[i % len(SPECTRUM_KINDS)]
        kinds[kind] += 1
        m, n = (int(d) for d in rng.integers(2, max_dim + 1, size=2))
        k = min(m, n)
        s = spectrum(kind, k, rng)
        w = matrix_with_spectrum(m, n, s, rng)
        slack = _slack(m, n, float(s[0]))
        for r in range(k + 1):
            tail = float(np.sqrt(np.sum(s[r:] ** 2)))
            nxt = float(s[r]) if r < k else 0.0
            diff = w - truncated_svd(w, r)
            errors = {
                "fro": abs(float(np.linalg.norm(diff)) - tail),
                "spectral": abs(float(np.linalg.norm(diff, 2)) - nxt),
                "tail_energy": abs(tail_energy(w, r) - tail),
            }
            n_identities += 3
            worst_identity = max(worst_identity, max(errors.values()) / (_EPS * (m + n)))
            for name, err in errors.items():
                if err > slack:
                    failures.append(
                        {
                            "m": m,
                            "n": n,
                            "r": r,
                            "spectrum": kind,
                            "what": f"identity {name}",
                            "detail": f"off by {err:.3g} (slack {slack:.3g})",
                        }
                    )
        r = int(rng.integers(1, k))
        w_r = truncated_svd(w, r)
        best = {
            "fro": float(np.linalg.norm(w - w_r)),
            "spectral": float(np.linalg.norm(w - w_r, 2)),
        }
        opt_fro = float(np.sqrt(np.sum(s[r:] ** 2)))
        for source, mats in _candidates(w, r, n_random, n_starts, rng).items():
            for cand in mats:
                n_candidates += 1
                vals = {
                    "fro": float(np.linalg.norm(w - cand)),
                    "spectral": float(np.linalg.norm(w - cand, 2)),
                }
                if source == "local_fro":
                    n_fro_starts += 1
                    reached += int(vals["fro"] - opt_fro <= _REACHED * s[0])
                if source == "local_sp":
                    sp_excess = max(sp_excess, (vals["spectral"] - float(s[r])) / s[0])
                for norm, val in vals.items():
                    margin[norm] = min(margin[norm], (val - best[norm]) / s[0])
                    if val < best[norm] - slack:
                        failures.append(
                            {
                                "m": m,
                                "n": n,
                                "r": r,
                                "spectrum": kind,
                                "what": f"{source} beats W_r ({norm})",
                                "detail": f"{val:.6g} < {best[norm]:.6g}",
                            }
                        )
    data: dict[str, Any] = {
        "cases": n_cases,
        "spectra": kinds,
        "identities": n_identities,
        "candidates": n_candidates,
        "worst_identity_error_eps_units": worst_identity,
        "min_margin_fro": margin["fro"],
        "min_margin_spectral": margin["spectral"],
        "local_fro_reached": reached,
        "local_fro_starts": n_fro_starts,
        "local_spectral_max_excess": sp_excess,
        "failures": len(failures),
        "failure_kinds": sorted({f["what"] for f in failures}),
    }
    ranges = (
        f"{n_cases} matrices ({', '.join(f'{v} {k}' for k, v in kinds.items())} spectra, "
        f"sigma_1 = 1), m, n in [2, {max_dim}]"
    )
    if failures:
        worst = min(failures, key=lambda f: (f["m"] * f["n"], f["r"]))
        data["counterexample"] = worst
        return Outcome(
            Verdict.REFUTED,
            f"{len(failures)} failures over {ranges}; smallest: m = {worst['m']}, n = "
            f"{worst['n']}, r = {worst['r']}, {worst['spectrum']} spectrum, {worst['what']}: "
            f"{worst['detail']}.",
            data,
        )
    return Outcome(
        Verdict.VERIFIED,
        f"{ranges}: the identities ‖W - W_r‖_F = sigma_{{>r}}, ‖W - W_r‖_2 = sigma_{{r+1}} "
        f"and tail_energy = sigma_{{>r}} hold for every r in [0, min(m, n)] ({n_identities} "
        f"comparisons with the prescribed spectrum), worst error {worst_identity:.2f} eps (m+n) "
        f"sigma_1 against the slack {_SLACK_FACTOR:g}. {n_candidates} rank-r candidates (random "
        f"products, projections on perturbed top-r row spaces, nonlinear-CG local minima over "
        f"factors "
        f"of ‖W - AB^T‖_F^2 and of the Schatten-{_SCHATTEN_P} surrogate of the spectral norm) "
        f"never beat W_r: smallest margin (candidate error minus truncation error, over sigma_1) "
        f"{margin['fro']:.1e} in Frobenius and {margin['spectral']:.1e} in spectral norm. The "
        f"searches have power: {reached}/{n_fro_starts} Frobenius starts reached sigma_{{>r}} "
        f"(within {_REACHED:g} sigma_1), the spectral ones came within {sp_excess:.1e} sigma_1 "
        f"of sigma_{{r+1}}.",
        data,
    )


def c4_rhs(a: FloatArray, x: FloatArray) -> float:
    r"""The right-hand side :math:`\|A\|_F \|x\|_2` of claim C4.

    Examples
    --------
    >>> c4_rhs(np.eye(2), np.array([3.0, 4.0]))  # sqrt(2) * 5
    7.0710678118654755
    """
    return float(np.linalg.norm(a) * np.linalg.norm(x))


def _ratio_search(m: int, n: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
    """Local maximum of ||Ax||^2 / (||A||_F^2 ||x||^2) over (A, x) from a random start."""

    def neg(theta: FloatArray) -> tuple[float, FloatArray]:
        a, x = theta[: m * n].reshape(m, n), theta[m * n :]
        ax = a @ x
        fa, fx, num = float(np.sum(a * a)), float(x @ x), float(ax @ ax)
        q = num / (fa * fx)
        ga = 2.0 * np.outer(ax, x) / (fa * fx) - 2.0 * q * a / fa
        gx = 2.0 * a.T @ ax / (fa * fx) - 2.0 * q * x / fx
        return -q, -np.concatenate([ga.ravel(), gx])

    res = optimize.minimize(neg, rng.standard_normal(m * n + n), jac=True, method="CG")
    return res.x[: m * n].reshape(m, n), res.x[m * n :]


def check_c4(budget: Budget, rng: np.random.Generator) -> Outcome:
    r"""Claim C4: :math:`\|Ax\|_2 \le \|A\|_F \|x\|_2`, by falsification search.

    Per case (``budget["n_cases"]``, shapes up to ``budget["max_dim"]``, spectra cycling through
    :data:`SPECTRUM_KINDS` at random scales): a random x, the top right singular vector (the
    worst x for this A, ratio :math:`\sigma_1/\|A\|_F`), a rank-one A with x its right vector
    (ratio 1: the bound is tight), and a local maximisation of the ratio over (A, x). A violation
    is :math:`\|Ax\| > \|A\|_F\|x\| (1 + 4(m+n)\varepsilon)`, the rounding of three norms and a
    product.

    References
    ----------
    Claim C4.
    """
    n_cases = check_int(budget.get("n_cases"), "budget['n_cases']")
    max_dim = check_int(budget.get("max_dim", 12), "budget['max_dim']", low=1)
    n_pairs = 0
    best = {"random": 0.0, "top_singular": 0.0, "rank_one": 0.0, "local": 0.0}
    failures: list[dict[str, Any]] = []
    for i in range(n_cases):
        m, n = (int(d) for d in rng.integers(1, max_dim + 1, size=2))
        scale = 10.0 ** rng.uniform(-3.0, 3.0)
        s = scale * spectrum(SPECTRUM_KINDS[i % len(SPECTRUM_KINDS)], min(m, n), rng)
        a = matrix_with_spectrum(m, n, s, rng)
        _, _, vt = np.linalg.svd(a)
        u1, v1 = rng.standard_normal(m), rng.standard_normal(n)
        a_loc, x_loc = _ratio_search(m, n, rng)
        pairs = {
            "random": (a, rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3)),
            "top_singular": (a, vt[0] * 10.0 ** rng.uniform(-3, 3)),
            "rank_one": (np.outer(u1, v1), v1),
            "local": (a_loc, x_loc),
        }
        for source, (mat, x) in pairs.items():
            n_pairs += 1
            lhs, rhs = float(np.linalg.norm(mat @ x)), c4_rhs(mat, x)
            best[source] = max(best[source], lhs / rhs)
            if lhs > rhs * (1.0 + 4.0 * (m + n) * _EPS):
                failures.append(
                    {
                        "m": m,
                        "n": n,
                        "source": source,
                        "lhs": lhs,
                        "rhs": rhs,
                        "a": mat.tolist(),
                        "x": x.tolist(),
                    }
                )
    data: dict[str, Any] = {"pairs": n_pairs, "max_ratio": best, "failures": len(failures)}
    if failures:
        worst = min(failures, key=lambda f: (f["m"] * f["n"], f["rhs"] - f["lhs"]))
        data["counterexample"] = worst
        return Outcome(
            Verdict.REFUTED,
            f"{len(failures)} of {n_pairs} pairs violate ‖Ax‖ <= ‖A‖_F ‖x‖; smallest: "
            f"{worst['m']} x {worst['n']} ({worst['source']}), A = {worst['a']}, x = "
            f"{worst['x']}, ‖Ax‖ = {worst['lhs']:.6g} > {worst['rhs']:.6g}.",
            data,
        )
    return Outcome(
        Verdict.VERIFIED,
        f"{n_pairs} pairs (A, x) over {n_cases} shapes up to {max_dim} x {max_dim}, scales "
        f"1e-3 to 1e3, flat, power-law and low-rank spectra: no violation. Largest ratio "
        f"‖Ax‖ / (‖A‖_F ‖x‖): random x {best['random']:.3f}, top right singular vector "
        f"{best['top_singular']:.3f} (sigma_1 / ‖A‖_F), rank-one A {best['rank_one']:.16f}, "
        f"local maximisation over (A, x) {best['local']:.16f}: the bound is tight exactly at "
        f"rank one.",
        data,
    )
