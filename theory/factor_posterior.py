r"""The mean-field Gaussian posterior on the factors of :math:`W = A B^\top` and the moments of W.

Factor posterior: :math:`A \in \mathbb R^{m \times r}` with independent entries
:math:`N(\mu^A_{ik}, \sigma^{A\,2}_{ik})` and :math:`B \in \mathbb R^{n \times r}` with independent
entries :math:`N(\mu^B_{jk}, \sigma^{B\,2}_{jk})`, :math:`1 \le r \le \min(m, n)`. This module
validates it (:class:`FactorPosterior`) and gives the mean, covariance and entrywise variances of
:math:`W` (claim L3.5a). It is the bottom of the geometry: :mod:`theory.initialisation` builds
factor posteriors, and :mod:`theory.geometry` (which re-exports this module's names) samples them.

References: ``CLAIMS.md`` sections 2 and 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theory._validation import FloatArray, check_matrix, check_positive

__all__ = ["FactorPosterior", "weight_moments", "weight_variance"]


def _factors(
    mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validated factor means and stds: (m, r), (m, r), (n, r), (n, r), 1 <= r <= min(m, n)."""
    ma, mb = check_matrix(mu_a, "mu_a"), check_matrix(mu_b, "mu_b")
    sa, sb = check_matrix(sigma_a, "sigma_a"), check_matrix(sigma_b, "sigma_b")
    if sa.shape != ma.shape:
        raise ValueError(f"`sigma_a` must have the shape of `mu_a` {ma.shape}; got {sa.shape}")
    if sb.shape != mb.shape:
        raise ValueError(f"`sigma_b` must have the shape of `mu_b` {mb.shape}; got {sb.shape}")
    if ma.shape[1] != mb.shape[1]:
        raise ValueError(
            f"`mu_a` (m x r) and `mu_b` (n x r) must have the same number of columns r; "
            f"got shapes {ma.shape} and {mb.shape}"
        )
    m, r = ma.shape
    n = mb.shape[0]
    if r > min(m, n):
        raise ValueError(
            f"the rank r (columns of `mu_a`) must be in [1, min(m, n)] = [1, {min(m, n)}]; got {r}"
        )
    check_positive(sa, "sigma_a")
    check_positive(sb, "sigma_b")
    return ma, sa, mb, sb


@dataclass(frozen=True)
class FactorPosterior:
    """Mean-field Gaussian posterior on the factors of ``W = A B^T`` (validated, float64)."""

    mu_a: FloatArray
    sigma_a: FloatArray
    mu_b: FloatArray
    sigma_b: FloatArray

    def __post_init__(self) -> None:
        checked = _factors(self.mu_a, self.sigma_a, self.mu_b, self.sigma_b)
        for name, value in zip(("mu_a", "sigma_a", "mu_b", "sigma_b"), checked, strict=True):
            object.__setattr__(self, name, value)

    @property
    def m(self) -> int:
        return int(self.mu_a.shape[0])

    @property
    def n(self) -> int:
        return int(self.mu_b.shape[0])

    @property
    def r(self) -> int:
        return int(self.mu_a.shape[1])

    def moments(self) -> tuple[FloatArray, FloatArray]:
        """``weight_moments`` of this posterior."""
        return weight_moments(self.mu_a, self.sigma_a, self.mu_b, self.sigma_b)


def weight_moments(
    mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any
) -> tuple[FloatArray, FloatArray]:
    r"""Mean and full covariance of :math:`W = A B^\top` under independent Gaussian factors.

    .. math::

        E[W] = \mu^A \mu^{B\top}, \qquad
        \mathrm{Cov}(W_{ij}, W_{i'j'}) = \sum_k \big[\delta_{ii'} \sigma^{A\,2}_{ik}
            \mu^B_{jk} \mu^B_{j'k} + \delta_{jj'} \sigma^{B\,2}_{jk} \mu^A_{ik} \mu^A_{i'k}
            + \delta_{ii'} \delta_{jj'} \sigma^{A\,2}_{ik} \sigma^{B\,2}_{jk}\big]

    Parameters
    ----------
    mu_a, sigma_a : array_like, shape (m, r)
    mu_b, sigma_b : array_like, shape (n, r)
        Factor means and standard deviations (> 0), :math:`1 \le r \le \min(m, n)`.

    Returns
    -------
    mean : ndarray, shape (m, n)
    cov : ndarray, shape (m n, m n)
        Covariance of ``W.reshape(-1)`` (row-major: index ``i * n + j``). This object has
        :math:`(mn)^2` entries; use :func:`weight_variance` or :func:`output_moments` for large
        layers.

    References
    ----------
    Claims L3.5 and L3.5a.

    Examples
    --------
    >>> mean, cov = weight_moments([[1.0]], [[0.5]], [[2.0]], [[1.0]])
    >>> float(mean[0, 0]), float(cov[0, 0])  # 0.25*4 + 1*1 + 0.25*1
    (2.0, 2.25)
    """
    ma, sa, mb, sb = _factors(mu_a, sigma_a, mu_b, sigma_b)
    m, n = ma.shape[0], mb.shape[0]
    sa2, sb2 = sa * sa, sb * sb
    cov = np.zeros((m, n, m, n))
    rows, cols = np.arange(m), np.arange(n)
    # i = i': sum_k sA_ik^2 muB_jk muB_j'k, an (n x n) block for each row i.
    cov[rows, :, rows, :] += np.einsum("ik,jk,lk->ijl", sa2, mb, mb)
    # j = j': sum_k sB_jk^2 muA_ik muA_i'k, an (m x m) block for each column j.
    cov[:, cols, :, cols] += np.einsum("jk,ik,lk->jil", sb2, ma, ma)
    # i = i' and j = j': the product of the two factor variances.
    cov[rows[:, None], cols[None, :], rows[:, None], cols[None, :]] += sa2 @ sb2.T
    flat = cov.reshape(m * n, m * n)
    # The two einsum paths round (i, i') and (i', i) differently; a covariance is symmetric.
    return ma @ mb.T, 0.5 * (flat + flat.T)


def weight_variance(mu_a: Any, sigma_a: Any, mu_b: Any, sigma_b: Any) -> FloatArray:
    r"""Entrywise variances :math:`\mathrm{Var}(W_{ij})`, in :math:`O(mnr)` time, no covariance.

    .. math:: \mathrm{Var}(W_{ij}) = \sum_k \sigma^{A\,2}_{ik} \mu^{B\,2}_{jk}
        + \sigma^{B\,2}_{jk} \mu^{A\,2}_{ik} + \sigma^{A\,2}_{ik} \sigma^{B\,2}_{jk}

    References
    ----------
    Claim L3.5a.

    Examples
    --------
    >>> weight_variance([[1.0]], [[0.5]], [[2.0]], [[1.0]]).tolist()
    [[2.25]]
    """
    ma, sa, mb, sb = _factors(mu_a, sigma_a, mu_b, sigma_b)
    sa2, sb2 = sa * sa, sb * sb
    out: FloatArray = sa2 @ (mb * mb).T + (ma * ma) @ sb2.T + sa2 @ sb2.T
    return out
