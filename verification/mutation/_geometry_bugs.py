"""Buggy twins of the toolkit functions that the geometry checks exercise, for the mutants of
:mod:`verification.mutation.geometry`.

Each maker takes the original object (the ``make`` of :func:`verification.mutation.core.wrap`) and
returns a plausible wrong version: a sampler with a wrong variance or a broadcasting bug, a moment
formula missing a term, a Jacobian with a dropped block, a determinant without its signs, an
initialiser with the wrong exponent, a factorisation padded or truncated wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp

from theory.geometry import FactorPosterior
from theory.symbolic import expectation

# --- samplers of q_W ---------------------------------------------------------------------------


def b_std_scaled(factor: float) -> Callable[[Any], Any]:
    """sample_factors drawing B with its std times ``factor``."""

    def make(f: Any) -> Any:
        def sample(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, **kw: Any) -> Any:
            return f(mu_a, sigma_a, mu_b, factor * np.asarray(sigma_b, dtype=float), **kw)

        return sample

    return make


def fresh_b_per_row(_f: Any) -> Any:
    """sample_weights with a broadcasting bug: every row of W gets its own draw of B."""

    def sample(
        mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: Any
    ) -> Any:
        ma, sa, mb, sb = (np.asarray(x, dtype=float) for x in (mu_a, sigma_a, mu_b, sigma_b))
        a = ma + sa * rng.standard_normal((n_samples, *ma.shape))
        b = mb + sb * rng.standard_normal((n_samples, ma.shape[0], *mb.shape))
        return np.einsum("sik,sijk->sij", a, b)

    return sample


def jittered(relative: float) -> Callable[[Any], Any]:
    """sample_weights adding an i.i.d. N(0, (relative max|W|)^2) term to every entry."""

    def make(f: Any) -> Any:
        def sample(*args: Any, n_samples: int, rng: Any) -> Any:
            w = f(*args, n_samples=n_samples, rng=rng)
            scale = relative * np.abs(w).max(axis=(1, 2), keepdims=True)
            return w + scale * rng.standard_normal(w.shape)

        return sample

    return make


def mean_field_sampler(_f: Any) -> Any:
    """sample_weights drawing independent Gaussian entries with the mean and variance of q_W."""

    def sample(
        mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: Any
    ) -> Any:
        post = FactorPosterior(mu_a, sigma_a, mu_b, sigma_b)
        mean, cov = post.moments()
        sd = np.sqrt(np.diag(cov)).reshape(mean.shape)
        return mean + sd * rng.standard_normal((n_samples, *mean.shape))

    return sample


def b_column_copied(_f: Any) -> Any:
    """sample_weights with an indexing bug: B's last column is a copy of its first (r >= 2)."""

    def sample(
        mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: Any
    ) -> Any:
        ma, sa, mb, sb = (np.asarray(x, dtype=float) for x in (mu_a, sigma_a, mu_b, sigma_b))
        a = ma + sa * rng.standard_normal((n_samples, *ma.shape))
        b = mb + sb * rng.standard_normal((n_samples, *mb.shape))
        b[..., -1] = b[..., 0]
        return a @ np.swapaxes(b, 1, 2)

    return sample


def noise_shared_by_a_and_b(_f: Any) -> Any:
    """sample_weights using one noise array for both factors (B's noise = A's first n rows)."""

    def sample(
        mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any, *, n_samples: int, rng: Any
    ) -> Any:
        ma, sa, mb, sb = (np.asarray(x, dtype=float) for x in (mu_a, sigma_a, mu_b, sigma_b))
        rows = max(ma.shape[0], mb.shape[0])
        eps = rng.standard_normal((n_samples, rows, ma.shape[1]))
        a = ma + sa * eps[:, : ma.shape[0]]
        b = mb + sb * eps[:, : mb.shape[0]]
        return a @ np.swapaxes(b, 1, 2)

    return sample


def mean_field_row_noise(rho: float) -> Callable[[Any], Any]:
    """sample_mean_field whose entries share a per-row noise term: correlation ``rho`` in rows."""

    def make(_f: Any) -> Any:
        def sample(mu_w: Any, sigma_w: Any, *, n_samples: int, rng: Any) -> Any:
            mw, sw = np.asarray(mu_w, dtype=float), np.asarray(sigma_w, dtype=float)
            own = rng.standard_normal((n_samples, *mw.shape))
            row = rng.standard_normal((n_samples, mw.shape[0], 1))
            return mw + sw * (np.sqrt(1.0 - rho) * own + np.sqrt(rho) * row)

        return sample

    return make


# --- moments, Jacobian, minors -----------------------------------------------------------------


def sa2sb2_scaled(factor: float) -> Callable[[Any], Any]:
    """weight_moments with the sA^2 sB^2 term of the variances times ``factor``."""

    def make(f: Any) -> Any:
        def moments(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> Any:
            mean, cov = f(mu_a, sigma_a, mu_b, sigma_b)
            sa, sb = np.asarray(sigma_a, dtype=float), np.asarray(sigma_b, dtype=float)
            extra = ((sa * sa) @ (sb * sb).T).reshape(-1)
            return mean, cov + np.diag((factor - 1.0) * extra)

        return moments

    return make


def cross_covariances_dropped(f: Any) -> Any:
    """weight_moments keeping only the variances (a mean-field-shaped covariance)."""

    def moments(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> Any:
        mean, cov = f(mu_a, sigma_a, mu_b, sigma_b)
        return mean, np.diag(np.diag(cov))

    return moments


def stated_without_sa2sb2(f: Any) -> Any:
    """l35a_weight_moments typed without the sA^2 sB^2 term (the delta-method covariance)."""
    from theory.symbolic import factor_symbols

    def typed(m: int, n: int, r: int) -> Any:
        mean, cov = f(m, n, r)
        fs = factor_symbols(m, n, r)
        extra = [
            sum(fs.sigma_a[i, k] ** 2 * fs.sigma_b[j, k] ** 2 for k in range(r))
            for i in range(m)
            for j in range(n)
        ]
        return mean, sp.ImmutableMatrix(cov - sp.diag(*extra))

    return typed


def jacobian_b_block_dropped(f: Any) -> Any:
    """factor_jacobian with the dW/dB block left at zero."""

    def jac(a: Any, b: Any) -> Any:
        out = np.array(f(a, b))
        out[:, np.asarray(a).size :] = 0.0
        return out

    return jac


def jacobian_a_column_major(f: Any) -> Any:
    """factor_jacobian whose A columns follow A flattened column-major (a layout bug; the rank
    is unchanged)."""

    def jac(a: Any, b: Any) -> Any:
        out = np.array(f(a, b))
        m, r = np.asarray(a).shape
        order = np.arange(m * r).reshape(m, r).T.reshape(-1)
        out[:, : m * r] = out[:, order]
        return out

    return jac


def permanent(rows: list[list[Any]], zero: Any, one: Any) -> Any:
    """Laplace expansion with every cofactor sign +: the permanent, not the determinant."""
    if not rows:
        return one
    total = zero
    for col, entry in enumerate(rows[0]):
        if entry != zero:
            total = total + entry * permanent([r[:col] + r[col + 1 :] for r in rows[1:]], zero, one)
    return total


def l35_mean_product_kept(f: Any) -> Any:
    """L3.5's right side without "- E[A_ik] E[A_i'k] E[B_jk] E[B_j'k]" (a second moment)."""
    from theory.symbolic import FactorDependence, factor_symbols, generic_moment

    def stated(m: int, n: int, r: int, dependence: Any) -> Any:
        fs = factor_symbols(m, n, r)
        blocks = fs.blocks(FactorDependence(dependence))

        def ex(e: sp.Expr) -> sp.Expr:
            return expectation(e, blocks, generic_moment)

        a, b = fs.a, fs.b
        flat = [(i, j) for i in range(m) for j in range(n)]
        extra = sp.Matrix(
            m * n,
            m * n,
            lambda p, q: sp.expand(
                sum(
                    ex(a[flat[p][0], k]) * ex(a[flat[q][0], k]) * ex(b[flat[p][1], k])
                    * ex(b[flat[q][1], k])
                    for k in range(r)
                )
            ),
        )  # fmt: skip
        return sp.ImmutableMatrix(f(m, n, r, dependence) + extra)

    return stated


def blocks_merged(f: Any) -> Any:
    """The expectation operator ignoring independence: every random symbol in one block."""

    def ex(expr: Any, blocks: Any, moment: Any) -> Any:
        return f(expr, [[s for block in blocks for s in block]], moment)

    return ex


def b3_product_of_covariances(f: Any) -> Any:
    """Lemma B.3 mis-stated as Cov(XY, UV) = Cov(X, U) Cov(Y, V)."""

    def sides(x: Any, u: Any, y: Any, v: Any, blocks: Any, moment: Any) -> Any:
        lhs, _ = f(x, u, y, v, blocks, moment)

        def ex(e: sp.Expr) -> sp.Expr:
            return expectation(e, blocks, moment)

        rhs = (ex(x * u) - ex(x) * ex(u)) * (ex(y * v) - ex(y) * ex(v))
        return lhs, sp.expand(rhs)

    return sides


def b3_lhs_wrong_pairing(f: Any) -> Any:
    """b3_sides computing the left side as E[XYUV] - E[XU] E[YV] (the products paired wrongly)."""

    def sides(x: Any, u: Any, y: Any, v: Any, blocks: Any, moment: Any) -> Any:
        _, rhs = f(x, u, y, v, blocks, moment)

        def ex(e: sp.Expr) -> sp.Expr:
            return expectation(e, blocks, moment)

        return sp.expand(ex(x * y * u * v) - ex(x * u) * ex(y * v)), rhs

    return sides


# --- initialisation and factorisation ----------------------------------------------------------


def gaussian_init(mean_std: Callable[[float, int], float]) -> Callable[[Any], Any]:
    """variance_matching_init whose factor means have std ``mean_std(s_W^2, r)``."""

    def make(_f: Any) -> Any:
        from theory.initialisation import target_variance

        def init(m: int, n: int, r: int, *, target: Any, eta: float, rng: Any) -> Any:
            s2 = target_variance(m, n, target)
            std, scale = mean_std(s2, r), eta * (s2 / r) ** 0.25
            return FactorPosterior(
                std * rng.standard_normal((m, r)), np.full((m, r), scale),
                std * rng.standard_normal((n, r)), np.full((n, r), scale),
            )  # fmt: skip

        return init

    return make


def balanced_with_exponent(p: float) -> Callable[[Any], Any]:
    """balanced_factors as U_r S_r^p, V_r S_r^(1-p): the same product, unbalanced norms."""

    def make(_f: Any) -> Any:
        def factors(w: Any, r: int) -> Any:
            u, s, vt = np.linalg.svd(np.asarray(w, dtype=float), full_matrices=False)
            return u[:, :r] * s[:r] ** p, vt[:r].T * s[:r] ** (1.0 - p)

        return factors

    return make


def balanced_smallest_triplets(_f: Any) -> Any:
    """balanced_factors from the r smallest singular triplets (SVD order read as ascending)."""

    def factors(w: Any, r: int) -> Any:
        u, s, vt = np.linalg.svd(np.asarray(w, dtype=float), full_matrices=False)
        keep = slice(s.size - r, s.size)
        root = np.sqrt(s[keep])
        return u[:, keep] * root, vt[keep].T * root

    return factors


def balanced_truncated_early(f: Any) -> Any:
    """balanced_factors keeping r - 1 triplets (an off-by-one), padded with a zero column."""

    def factors(w: Any, r: int) -> Any:
        a, b = f(w, r)
        a, b = a.copy(), b.copy()
        a[:, -1] = 0.0
        b[:, -1] = 0.0
        return a, b

    return factors


def padded_with_ones(_f: Any) -> Any:
    def pad(x: sp.Matrix, r: int) -> sp.Matrix:
        return x.row_join(sp.ones(x.rows, r - x.cols))

    return pad


def basis_drops_last_pivot(_f: Any) -> Any:
    def factors(w: sp.Matrix) -> Any:
        rref, pivots = w.rref()
        keep = list(pivots)[:-1]
        return w[:, keep], rref[: len(keep), :].T

    return factors


def silent_truncation(_f: Any) -> Any:
    """exact_factors keeping the first r basis columns of a rank > r matrix instead of refusing."""
    from verification.claims.geometry.factorisation import rank_factors, zero_pad

    def factors(w: sp.Matrix, r: int) -> Any:
        c, ft = rank_factors(w)
        return zero_pad(c[:, : min(r, c.cols)], r), zero_pad(ft[:, : min(r, ft.cols)], r)

    return factors


def uniform_init(bound_factor: float = 1.0, *, low_zero: bool = False) -> Callable[[Any], Any]:
    """uniform_variance_matching_init drawing U(-c a, c a) (or U(0, a)) for the means."""

    def make(_f: Any) -> Any:
        from theory.initialisation import target_variance, uniform_init_bound

        def init(m: int, n: int, r: int, *, target: Any, eta: float, rng: Any) -> Any:
            s2 = target_variance(m, n, target)
            a = bound_factor * uniform_init_bound(s2, r)
            lo = 0.0 if low_zero else -a
            scale = eta * (s2 / r) ** 0.25
            return FactorPosterior(
                rng.uniform(lo, a, (m, r)), np.full((m, r), scale),
                rng.uniform(lo, a, (n, r)), np.full((n, r), scale),
            )  # fmt: skip

        return init

    return make
