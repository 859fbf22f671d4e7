r"""Existence of the low-rank factorisation (claim B1, paper Thm B.1).

If :math:`\mathrm{rank}\, W = k \le r` then :math:`W = A B^\top` with :math:`A \in \mathbb
R^{m \times r}`, :math:`B \in \mathbb R^{n \times r}`. The proof is constructive, and so is the
check: with :math:`J` the pivot columns of the reduced row echelon form :math:`R` of
:math:`W`, :math:`W = W_{:, J}\, R_{1:k, :}` (a column-space basis times the coordinates of every
column in it), and for :math:`k < r` both factors are padded with :math:`r - k` zero columns
(:func:`exact_factors`). Over the rationals sympy verifies :math:`A B^\top = W` exactly. In
floating point the toolkit's :func:`theory.initialisation.balanced_factors`
(:math:`U_r S_r^{1/2}, V_r S_r^{1/2}`) and an explicitly zero-padded SVD
(:func:`padded_svd_factors`) must reproduce :math:`W` to the rounding of a backward-stable SVD.

Sharpness (the converse): a :math:`W` of rank :math:`r + 1` has a nonzero
:math:`(r+1)`-minor (on a row basis times a column basis), while every :math:`(r+1)`-minor of
:math:`A B^\top` with r columns vanishes (Cauchy-Binet, claim L3.3), so no factorisation exists;
the constructor must refuse such a :math:`W`. In floating point,
:math:`\min_{A, B} \|W - A B^\top\|_2 = \sigma_{r+1}(W)` (Eckart-Young-Mirsky) stays far above
rounding.

References: claim B1 of ``CLAIMS.md`` (paper Thm B.1).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from theory._validation import FloatArray, check_int
from theory.initialisation import balanced_factors
from verification.claims.geometry.init import SVD_RTOL_FACTOR
from verification.claims.geometry.numeric import shapes
from verification.claims.shared.tolerances import RANK_RTOL_FACTOR
from verification.registry import Outcome, Verdict

__all__ = [
    "check_b1",
    "claimed_rank_bound",
    "exact_factors",
    "exact_rank_matrix",
    "nonzero_minor",
    "padded_svd_factors",
    "rank_factors",
    "zero_pad",
]

_EPS = float(np.finfo(np.float64).eps)


def claimed_rank_bound(r: int) -> int:
    """The largest rank Thm B.1 says factors with r columns: r itself."""
    return r


def rank_factors(w: sp.Matrix) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Exact rank factors :math:`C = W_{:, J}` (m x k) and :math:`F^\top = R_{1:k, :}^\top`
    (n x k) with :math:`C F = W`, :math:`k = \mathrm{rank}\, W`, from the reduced row echelon
    form :math:`R` and its pivot columns :math:`J`.

    Examples
    --------
    >>> c, ft = rank_factors(sp.Matrix([[1, 2], [2, 4]]))
    >>> c.T.tolist(), ft.T.tolist()
    ([[1, 2]], [[1, 2]])
    """
    rref, pivots = w.rref()
    return w[:, list(pivots)], rref[: len(pivots), :].T


def zero_pad(x: sp.Matrix, r: int) -> sp.Matrix:
    """``x`` (rows x k) with ``r - k`` zero columns appended; ``k > r`` raises ValueError.

    Examples
    --------
    >>> zero_pad(sp.Matrix([[1], [2]]), 3).tolist()
    [[1, 0, 0], [2, 0, 0]]
    """
    if x.cols > r:
        raise ValueError(f"the rank factor has {x.cols} columns, more than r = {r}")
    return x.row_join(sp.zeros(x.rows, r - x.cols))


def exact_factors(w: sp.Matrix, r: int) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Thm B.1's construction: :math:`A` (m x r), :math:`B` (n x r) with :math:`A B^\top = W`
    exactly, for a rational :math:`W` of rank :math:`\le r` (zero padding when the rank is
    below r). A :math:`W` of rank above r raises ``ValueError``: no such factors exist.

    Examples
    --------
    >>> a, b = exact_factors(sp.Matrix([[1, 2], [2, 4]]), 2)
    >>> a * b.T == sp.Matrix([[1, 2], [2, 4]]), a.shape, b.shape
    (True, (2, 2), (2, 2))
    """
    c, ft = rank_factors(w)
    if c.cols > r:
        raise ValueError(f"`w` has rank {c.cols} > r = {r}: no factors with r columns exist")
    return zero_pad(c, r), zero_pad(ft, r)


def nonzero_minor(w: sp.Matrix, size: int) -> tuple[tuple[int, ...], tuple[int, ...], Any] | None:
    """Rows, columns and value of a nonzero ``size x size`` minor of ``w`` on a row basis times
    a column basis (``None`` if ``size`` exceeds the rank)."""
    cols = list(w.rref()[1])
    rows = list(w.T.rref()[1])
    for i in itertools.combinations(rows, size):
        for j in itertools.combinations(cols, size):
            det = w.extract(list(i), list(j)).det()
            if det != 0:
                return i, j, det
    return None


def exact_rank_matrix(
    m: int, n: int, k: int, rng: np.random.Generator, *, rational: bool
) -> sp.Matrix:
    """An m x n matrix of rank exactly k: X Y^T with integer X in [-4, 4] and Y integer or
    rational (denominators 1..7), redrawn until its exact rank is k."""
    while True:
        x = sp.Matrix(rng.integers(-4, 5, (m, k)).tolist()) if k else sp.zeros(m, 0)
        y = sp.Matrix(n, k, lambda *_: sp.Integer(int(rng.integers(-4, 5))))
        if rational:
            y = y.applyfunc(lambda v: v / int(rng.integers(1, 8)))
        w = x * y.T if k else sp.zeros(m, n)
        if w.rank() == k:
            return w


def padded_svd_factors(w: FloatArray, r: int) -> tuple[FloatArray, FloatArray, int]:
    r"""Floating-point twin of :func:`exact_factors`: numerical rank k (singular values above
    ``RANK_RTOL_FACTOR`` eps max(m, n) sigma_1), :math:`U_k S_k^{1/2}`, :math:`V_k S_k^{1/2}`,
    zero-padded to r columns. Returns ``(A, B, k)``."""
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    k = int(np.sum(s > RANK_RTOL_FACTOR * _EPS * max(w.shape) * s[0])) if s[0] > 0 else 0
    root = np.sqrt(s[:k])
    a = np.zeros((w.shape[0], r))
    b = np.zeros((w.shape[1], r))
    a[:, :k], b[:, :k] = u[:, :k] * root, vt[:k].T * root
    return a, b, k


def _exact_part(n_shapes: int, max_dim: int, rng: np.random.Generator) -> dict[str, Any]:
    per_rank: dict[int, int] = {}
    out: dict[str, Any] = {"cases": 0, "padded": 0, "rational": 0, "sharp": 0, "failures": []}
    for m, n in shapes(n_shapes, max_dim, rng):
        for r in range(1, min(m, n) + 1):
            for k in range(min(claimed_rank_bound(r), min(m, n)) + 1):
                rational = bool(rng.integers(2))
                w = exact_rank_matrix(m, n, k, rng, rational=rational)
                out["cases"] += 1
                out["rational"] += rational
                out["padded"] += k < r
                per_rank[k] = per_rank.get(k, 0) + 1
                _exact_case(w, r, k, out, statement=True)
            if r < min(m, n):
                w = exact_rank_matrix(m, n, r + 1, rng, rational=bool(rng.integers(2)))
                out["sharp"] += 1
                _exact_case(w, r, r + 1, out, statement=False)
    out["per_rank"] = dict(sorted(per_rank.items()))
    return out


def _exact_case(w: sp.Matrix, r: int, k: int, out: dict[str, Any], *, statement: bool) -> None:
    """Record a failure of (W, r): a statement counterexample, or the construction failing."""
    m, n = w.shape
    fail = out["failures"].append
    where = {"shape": (m, n, r), "rank": k}
    try:
        a, b = exact_factors(w, r)
    except ValueError:
        if k <= r:
            fail({"kind": "construction", **where, "why": "refused a matrix of rank <= r"})
            return
        minor = nonzero_minor(w, r + 1)
        if minor is None:
            fail({"kind": "construction", **where, "why": "no nonzero (r+1)-minor, rank > r"})
        elif statement:
            rows, cols, det = minor
            fail({"kind": "statement", **where, "W": w.tolist(), "rows": rows, "cols": cols,
                  "minor": str(det)})  # fmt: skip
        return
    if k > r or a.shape != (m, r) or b.shape != (n, r) or a * b.T != w:
        why = "A B^T != W or wrong factor shapes"
        fail({"kind": "construction", **where, "why": why, "W": w.tolist()})


def _float_part(n_shapes: int, max_dim: int, rng: np.random.Generator) -> dict[str, Any]:
    worst = {"balanced": 0.0, "padded": 0.0}
    out: dict[str, Any] = {"cases": 0, "rank_mismatch": 0, "counterexample": None,
                           "sharp_min": np.inf, "sharp": 0}  # fmt: skip
    for m, n in shapes(n_shapes, max_dim, rng):
        for r in range(1, min(m, n) + 1):
            top = min(claimed_rank_bound(r), min(m, n))
            for k in (*range(top + 1), *((r + 1,) if r < min(m, n) else ())):
                scale = 10.0 ** rng.uniform(-3.0, 3.0)
                w = scale * rng.standard_normal((m, k)) @ rng.standard_normal((k, n))
                sv = np.linalg.svd(w, compute_uv=False)
                unit = _EPS * max(m, n) * sv[0]
                if k > r:
                    ratio = float(sv[r] / sv[0]) / (_EPS * max(m, n))
                    out["sharp"] += 1
                    out["sharp_min"] = min(out["sharp_min"], ratio)
                    if k <= top and out["counterexample"] is None:
                        out["counterexample"] = {"shape": (m, n, r), "rank": k,
                                                 "sigma_ratio_units": ratio}  # fmt: skip
                    continue
                out["cases"] += 1
                a, b = balanced_factors(w, r)
                pa, pb, k_hat = padded_svd_factors(w, r)
                out["rank_mismatch"] += k_hat != k
                for name, (x, y) in (("balanced", (a, b)), ("padded", (pa, pb))):
                    err = float(np.linalg.norm(x @ y.T - w, 2))
                    units = err / unit if unit > 0 else (0.0 if err == 0 else np.inf)
                    worst[name] = max(worst[name], units)
    out["worst_units"] = worst
    return out


def check_b1(budget: Mapping[str, Any], rng: np.random.Generator) -> Outcome:
    r"""Claim B1: every W of rank <= r is A B^T with r-column factors.

    Exact part: ``budget["n_shapes"]`` shapes m, n in [1, ``budget["max_dim"]``], every r in
    [1, min(m, n)], every rank k in [0, r]: an integer or rational W of exact rank k
    (:func:`exact_rank_matrix`), factored by :func:`exact_factors` and checked with sympy
    (``A B^T == W``); and, for r < min(m, n), a W of rank r + 1 that the construction must
    refuse, with a nonzero (r+1)-minor as the certificate that no factors exist. Float part:
    ``budget["n_float_shapes"]`` shapes with m, n in [1, ``budget["max_float_dim"]``], the same
    ranks, Gaussian rank-k products scaled by 10^U(-3, 3): ``balanced_factors`` and
    :func:`padded_svd_factors` reproduce W to ``SVD_RTOL_FACTOR`` eps max(m, n) sigma_1, and
    sigma_(r+1)/sigma_1 of the rank-(r+1) matrices stays above that.

    References
    ----------
    Claim B1.
    """
    n_shapes = check_int(budget.get("n_shapes", 12), "budget['n_shapes']")
    max_dim = check_int(budget.get("max_dim", 5), "budget['max_dim']", high=8)
    n_float = check_int(budget.get("n_float_shapes", 40), "budget['n_float_shapes']")
    max_float = check_int(budget.get("max_float_dim", 12), "budget['max_float_dim']")
    exact = _exact_part(n_shapes, max_dim, rng)
    flt = _float_part(n_float, max_float, rng)
    failures = exact.pop("failures")
    tol = SVD_RTOL_FACTOR
    data: dict[str, Any] = {"exact": exact, "float": flt, "tol_units": tol}
    evidence = (
        f"Exact: {exact['cases']} integer or rational W ({exact['rational']} rational) on "
        f"{n_shapes} shapes with m, n in [1, {max_dim}], every r in [1, min(m, n)] and every "
        f"rank k in [0, r] (cases per k: {exact['per_rank']}; {exact['padded']} with k < r, "
        f"zero-padded): the column-basis construction W = W[:, pivots] R[:k, :] gives m x r "
        f"and n x r factors with A B^T == W in exact rational arithmetic (sympy). Sharpness: "
        f"{exact['sharp']} W of rank r + 1 (r < min(m, n)) are refused, each with a nonzero "
        f"(r+1)-minor on a row basis times a column basis, while every (r+1)-minor of a product "
        f"of r-column factors is 0 (Cauchy-Binet, L3.3). Float: {flt['cases']} Gaussian rank-k "
        f"products (k <= r, scale 10^U(-3, 3)) on {n_float} shapes with m, n in [1, "
        f"{max_float}]: balanced_factors (U_r S_r^(1/2), V_r S_r^(1/2)) and the zero-padded "
        f"SVD reproduce W to {flt['worst_units']['balanced']:.2f} and "
        f"{flt['worst_units']['padded']:.2f} eps max(m, n) sigma_1 (tolerance {tol}), the "
        f"numerical rank equals k on {flt['cases'] - flt['rank_mismatch']}/{flt['cases']}; "
        f"{flt['sharp']} rank-(r+1) products have sigma_(r+1)/sigma_1 >= "
        f"{flt['sharp_min']:.3g} eps max(m, n), the smallest distance to any A B^T (EYM)."
    )
    construction = [f for f in failures if f["kind"] == "construction"]
    statement = [f for f in failures if f["kind"] == "statement"]
    if construction:
        f = construction[0]
        data["counterexample"] = f
        return Outcome(
            Verdict.REFUTED,
            f"The constructive proof fails at (m, n, r) = {f['shape']}, rank {f['rank']}: "
            f"{f['why']}. " + evidence,
            data,
        )
    if statement or flt["counterexample"] is not None:
        f = min(statement, key=lambda f: sum(f["shape"])) if statement else flt["counterexample"]
        data["counterexample"] = f
        certificate = (
            f"W = {f['W']} has the nonzero minor {f['minor']} on rows {f['rows']}, columns "
            f"{f['cols']}"
            if statement
            else f"sigma_(r+1)/sigma_1 = {f['sigma_ratio_units']:.3g} eps max(m, n)"
        )
        return Outcome(
            Verdict.REFUTED,
            f"A matrix of rank {f['rank']} > r at (m, n, r) = {f['shape']} has no factors with "
            f"r columns: {certificate}. " + evidence,
            data,
        )
    if flt["worst_units"]["balanced"] > tol or flt["worst_units"]["padded"] > tol:
        return Outcome(
            Verdict.REFUTED,
            "A floating-point factorisation misses W by more than SVD rounding. " + evidence,
            data,
        )
    if flt["rank_mismatch"] or not flt["sharp_min"] > RANK_RTOL_FACTOR:
        return Outcome(
            Verdict.UNTESTABLE,
            "Numerical ranks do not separate k from k + 1 here. " + evidence,
            data,
        )
    return Outcome(Verdict.VERIFIED, evidence, data)
