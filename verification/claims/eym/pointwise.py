r"""The pointwise inequality used in the paper's proof of T3.6 (claim C5p).

C5p, the pointwise inequality :math:`l(W^*_r x, y) - l(W^* x, y) \ge 0` for every (x, y), is
searched for counterexamples: random matrices, inputs and targets on shapes in increasing size
(the smallest possible is 2 x 2 with r = 1: for :math:`\min(m, n) = 1` the truncation is W*
itself), then an enumeration of small integer instances ordered by size, verified in rational
arithmetic. It also fails at a support point of a distribution for which W* is the exact
least-squares minimiser, so "W* optimal" does not rescue it.

References: claim C5p of ``CLAIMS.md``.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import numpy as np

from theory._validation import check_int
from theory.eym import truncated_svd
from theory.losses import LOSS_NAMES
from verification.claims.eym.loss_tools import (
    loss_on_outputs,
    loss_values,
    rounding_slack,
    sample_ball,
    sample_targets,
)
from verification.registry import Budget, Outcome, Verdict

__all__ = [
    "SUPPORT_COUNTEREXAMPLE",
    "check_c5p",
    "integer_counterexample",
]


def _targets_small(name: str, k: int) -> list[Any]:
    """The small targets of the enumeration: entries in {-1, 0, 1}, every label, both signs."""
    if name == "softmax_ce":
        return list(range(k))
    if name == "bce":
        return [np.array([0.0]), np.array([1.0])]
    if name == "hinge":
        return [np.array([-1.0]), np.array([1.0])]
    return [np.array(t, dtype=np.float64) for t in itertools.product((-1, 0, 1), repeat=k)]


def integer_counterexample(name: str) -> dict[str, Any] | None:
    r"""The first 2 x 2, r = 1 counterexample to C5p over small integer instances.

    W* runs over integer matrices with entries in [-2, 2] and distinct singular values (so
    :math:`W^*_1` is unique), x over :math:`\{-1, 0, 1\}^2`, y over small targets; instances are
    ordered by (sum of abs(W*), number of non-zeros of W*, abs(x)_1, abs(y)_1, then
    lexicographically), and the first with :math:`l(W^*_1 x, y) < l(W^* x, y)` (by more than
    1e-9) is returned, ``None`` if there is none.

    Examples
    --------
    >>> c = integer_counterexample("mse")
    >>> c["w_star"], c["x"], c["y"], c["diff"]
    ([[2, 0], [0, 1]], [0, 1], [0.0, 0.0], -0.5)
    """
    # Every output and target here has norm <= 6 < 20: the MSE ball plays no role in C5p.
    loss = loss_on_outputs(name, 2, radius=20.0)
    mats = []
    for entries in itertools.product(range(-2, 3), repeat=4):
        w = np.array(entries, dtype=np.float64).reshape(2, 2)
        s = np.linalg.svd(w, compute_uv=False)
        if s[0] - s[1] > 1e-9:
            mats.append((int(np.abs(w).sum()), int(np.count_nonzero(w)), [-e for e in entries], w))
    mats.sort(key=lambda t: (t[0], t[1], t[2]))
    xs = [np.array(v, dtype=np.float64) for v in itertools.product((-1, 0, 1), repeat=2)]
    pairs = sorted(
        itertools.product(xs, _targets_small(name, loss.k)),
        key=lambda p: (
            float(np.abs(p[0]).sum()),
            float(np.abs(p[1]).sum()),
            tuple(-p[0]),
            tuple(-np.atleast_1d(p[1])),
        ),
    )
    x = np.array([p[0] for p in pairs])
    y = np.array([p[1] for p in pairs])
    for *_, w in mats:
        w_r = truncated_svd(w, 1)
        diff = loss_values(loss, x @ w_r.T, y) - loss_values(loss, x @ w.T, y)
        bad = np.flatnonzero(diff < -1e-9)
        if bad.size:
            i = int(bad[0])
            return {
                "loss": name,
                "w_star": w.astype(int).tolist(),
                "w_star_r": np.round(w_r, 12).tolist(),
                "x": x[i].astype(int).tolist(),
                "y": y[i].tolist(),
                "diff": round(float(diff[i]), 12),
            }
    return None


def _exact_mse_diff(w: list[list[int]], x: list[int], y: list[float]) -> Fraction:
    """l(W_1 x, y) - l(W x, y) for MSE in rational arithmetic, W diagonal with |w11| > |w22|."""
    if w[0][1] != 0 or w[1][0] != 0 or abs(w[0][0]) <= abs(w[1][1]):
        raise ValueError("the exact twin needs a diagonal W with |w11| > |w22|")
    full = [Fraction(w[0][0] * x[0]), Fraction(w[1][1] * x[1])]
    trunc = [Fraction(w[0][0] * x[0]), Fraction(0)]
    yy = [Fraction(v) for v in y]
    sq_trunc = sum(((t - v) ** 2 for t, v in zip(trunc, yy, strict=True)), Fraction(0))
    sq_full = sum(((f - v) ** 2 for f, v in zip(full, yy, strict=True)), Fraction(0))
    return (sq_trunc - sq_full) / 2


#: A distribution (uniform on three points) for which W* = diag(2, 1) is the exact least-squares
#: minimiser, and a support point where the truncation diag(2, 0) has the smaller loss.
SUPPORT_COUNTEREXAMPLE: dict[str, Any] = {
    "points": [((1, 0), (2, 0)), ((0, 1), (0, 0)), ((0, 1), (0, 2))],
    "w_star": [[2, 0], [0, 1]],
    "violating_point": 1,
}


def _support_counterexample() -> dict[str, Fraction]:
    """Exact normal equations of the three-point distribution, and the losses at its point 1."""
    pts = SUPPORT_COUNTEREXAMPLE["points"]
    sxx = [
        [sum((Fraction(x[i] * x[j]) for x, _ in pts), Fraction(0)) for j in range(2)]
        for i in range(2)
    ]
    syx = [
        [sum((Fraction(y[i] * x[j]) for x, y in pts), Fraction(0)) for j in range(2)]
        for i in range(2)
    ]
    # S_xx is diagonal here, so W* = S_yx S_xx^{-1} column by column.
    if sxx[0][1] != 0 or sxx[1][0] != 0:
        raise RuntimeError("the support example needs a diagonal second-moment matrix")
    w = [[syx[i][j] / sxx[j][j] for j in range(2)] for i in range(2)]
    ok = w == [[Fraction(v) for v in row] for row in SUPPORT_COUNTEREXAMPLE["w_star"]]
    diffs = [
        _exact_mse_diff(SUPPORT_COUNTEREXAMPLE["w_star"], list(x), [float(v) for v in y])
        for x, y in pts
    ]
    return {
        "least_squares_ok": Fraction(int(ok)),
        "diff": diffs[SUPPORT_COUNTEREXAMPLE["violating_point"]],
        "mean_diff": sum(diffs, Fraction(0)) / len(diffs),
    }


def _random_search(
    name: str, max_dim: int, n_trials: int, rng: np.random.Generator
) -> tuple[dict[str, Any] | None, int, int]:
    """Random W*, x, y on shapes in increasing size; the first violating shape's worst case."""
    shapes = sorted(
        ((m, n) for m in range(2, max_dim + 1) for n in range(2, max_dim + 1)),
        key=lambda s: (s[0] * s[1], s[0]),
    )
    tried = violated = 0
    for m, n in shapes:
        w = rng.standard_normal((m, n))
        r = int(rng.integers(1, min(m, n)))
        w_r = truncated_svd(w, r)
        x = sample_ball(n_trials, n, 1.0, rng)
        loss = loss_on_outputs(name, m, radius=float(np.linalg.norm(w, 2)))
        z_full, z_r = x @ w.T, x @ w_r.T
        # Half the targets from the model of W* x, half from the truncation's outputs.
        y_full = sample_targets(loss, z_full, rng)
        y_r = sample_targets(loss, z_r, rng)
        for y in (y_full, y_r):
            diff = loss_values(loss, z_r, y) - loss_values(loss, z_full, y)
            tried += diff.size
            bad = diff < -rounding_slack(m, n, 1.0 + float(np.abs(diff).max()))
            violated += int(bad.sum())
            if bad.any():
                i = int(np.argmin(diff))
                yi = np.asarray(y)[i]
                return (
                    {
                        "loss": name,
                        "m": m,
                        "n": n,
                        "r": r,
                        "diff": float(diff[i]),
                        "w_star": w.tolist(),
                        "x": x[i].tolist(),
                        "y": yi.tolist(),
                    },
                    tried,
                    violated,
                )
    return None, tried, violated


def check_c5p(budget: Budget, rng: np.random.Generator) -> Outcome:
    r"""Claim C5p: :math:`l(W^*_r x, y) \ge l(W^* x, y)` pointwise, by counterexample search.

    For each loss: random search on shapes from 2 x 2 up to ``budget["max_dim"]`` with
    ``budget["n_trials"]`` inputs per shape (stopping at the first shape with a violation), then
    :func:`integer_counterexample`; the MSE instance is re-verified in rational arithmetic, as is
    the optimal-W* example :data:`SUPPORT_COUNTEREXAMPLE`.

    References
    ----------
    Claim C5p.
    """
    max_dim = check_int(budget.get("max_dim", 4), "budget['max_dim']", low=2)
    n_trials = check_int(budget.get("n_trials"), "budget['n_trials']")
    per_loss: dict[str, Any] = {}
    for name in LOSS_NAMES:
        found, tried, violated = _random_search(name, max_dim, n_trials, rng)
        per_loss[name] = {
            "random": found,
            "tried": tried,
            "violated": violated,
            "integer": integer_counterexample(name),
        }
    data: dict[str, Any] = {"per_loss": per_loss}
    found_any = [n for n, v in per_loss.items() if v["random"] or v["integer"]]
    if not found_any:
        return Outcome(
            Verdict.VERIFIED,
            f"No counterexample over losses {', '.join(LOSS_NAMES)}: random search on shapes "
            f"2 x 2 to {max_dim} x {max_dim} ({n_trials} inputs per shape, two target models) "
            f"and integer 2 x 2 instances with entries in [-2, 2].",
            data,
        )
    mse = per_loss["mse"]["integer"]
    exact = None
    if mse is not None:
        exact = _exact_mse_diff(mse["w_star"], mse["x"], mse["y"])
        data["mse_exact_diff"] = str(exact)
    support = _support_counterexample()
    data["support_counterexample"] = {k: str(v) for k, v in support.items()}
    sizes = "; ".join(
        f"{n} at {v['random']['m']} x {v['random']['n']} ({v['violated']}/{v['tried']} pairs)"
        if v["random"]
        else f"{n} none at random"
        for n, v in per_loss.items()
    )
    ints = "; ".join(
        f"{n}: W* = {v['integer']['w_star']}, x = {v['integer']['x']}, y = {v['integer']['y']}, "
        f"difference {v['integer']['diff']:.4f}"
        for n, v in per_loss.items()
        if v["integer"]
    )
    head = (
        f"Smallest counterexample (2 x 2, r = 1, the smallest shape where truncation changes "
        f"anything): W* = {mse['w_star']}, W*_1 = {mse['w_star_r']}, x = {mse['x']} (norm 1), "
        f"y = {mse['y']}, MSE: l(W*_1 x, y) = 0 < l(W* x, y) = 1/2, difference {exact} in "
        f"rational arithmetic. "
        if mse is not None and exact is not None
        else ""
    )
    return Outcome(
        Verdict.REFUTED,
        f"{head}It fails for every loss: first violating shape and violating fraction of the "
        f"random (x, y) pairs tried up to it: {sizes}. Integer instances (first by size): "
        f"{ints}. W* optimal does not rescue it: on the uniform law over "
        f"{[list(map(list, p)) for p in SUPPORT_COUNTEREXAMPLE['points']]} (x, y), W* = diag(2, "
        f"1) is the exact least-squares minimiser (normal equations, rational arithmetic: "
        f"{bool(support['least_squares_ok'])}), yet at the support point x = (0, 1), y = (0, 0) "
        f"the truncation's loss is lower by {-support['diff']}. Only the expectation of the "
        f"difference is >= 0 for an optimal W* (here {support['mean_diff']}).",
        data,
    )
