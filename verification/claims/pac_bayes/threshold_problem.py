r"""The learning problem of the D2 coverage check: exact risks, data-dependent posteriors.

:class:`ThresholdProblem`: noisy thresholds on K points, whose true 0-1 risks are known in closed
form; :func:`posterior_family`: every point mass and the exponential tilts
:math:`Q \propto P e^{\gamma(\alpha L - \hat L)}`, a family that contains the worst posterior of
the McAllester bound for each KL budget (see :mod:`verification.claims.pac_bayes.coverage`).

References: claim D2 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from theory._validation import FloatArray, as_float_array, check_int, check_interval

__all__ = ["TILT_DIRECTIONS", "ThresholdProblem", "posterior_family"]

#: Directions alpha of the tilts exp(gamma (alpha L - L^)); 0 = Gibbs posteriors, 1 = the
#: McAllester-worst direction, the others approach the worst directions of the kl and Catoni forms.
TILT_DIRECTIONS = (0.0, 0.5, 1.0, 1.5, 2.0)

#: Rounding slack of a computed KL: a value in [-_KL_ROUNDING, 0) is an exact zero (Q = P) seen
#: through float64 cancellation in E_Q[s] - logsumexp(s) + ln H, with |s| <= 1e4 and H <= 1e3.
_KL_ROUNDING = 1e-9


@dataclass(frozen=True)
class ThresholdProblem:
    r"""Noisy thresholds on :math:`K` points, with the class of all thresholds and complements.

    .. math::

        x \sim \mathcal U\{0, \dots, K-1\}, \quad
        y = 1[x \ge t^\ast] \oplus \xi, \ \xi \sim \mathrm{Bernoulli}(\eta), \qquad
        L(h_j) = \eta + (1 - 2\eta)\frac{|j - t^\ast|}{K}, \quad L(1 - h_j) = 1 - L(h_j)

    Hypothesis ``j`` in ``[0, K]`` is :math:`h_j(x) = 1[x \ge j]`; hypothesis ``K + 1 + j`` is its
    complement.

    Parameters
    ----------
    n_points : int
        :math:`K \ge 1`.
    threshold : int
        :math:`t^\ast \in [0, K]`.
    noise : float
        Label-flip probability :math:`\eta \in [0, 1/2]`.

    References
    ----------
    Claim D2 (a problem whose true risks are known exactly).

    Examples
    --------
    >>> ThresholdProblem(4, 2, 0.25).true_risks()[:5].tolist()
    [0.5, 0.375, 0.25, 0.375, 0.5]
    """

    n_points: int
    threshold: int
    noise: float

    def __post_init__(self) -> None:
        check_int(self.n_points, "n_points", low=1)
        check_int(self.threshold, "threshold", low=0, high=self.n_points)
        check_interval(as_float_array(self.noise, "noise"), "noise", 0.0, 0.5)

    @property
    def n_hypotheses(self) -> int:
        return 2 * (self.n_points + 1)

    def labels(self) -> NDArray[np.int64]:
        """The ``(H, K)`` table of every hypothesis' label on every point."""
        x = np.arange(self.n_points)
        h = (x[None, :] >= np.arange(self.n_points + 1)[:, None]).astype(np.int64)
        return np.concatenate([h, 1 - h])

    def cell_probs(self) -> FloatArray:
        """The ``(K, 2)`` joint law of ``(x, y)``."""
        k, eta = self.n_points, float(self.noise)
        clean = (np.arange(k) >= self.threshold).astype(np.int64)
        probs = np.empty((k, 2))
        probs[np.arange(k), clean] = (1.0 - eta) / k
        probs[np.arange(k), 1 - clean] = eta / k
        return probs

    def true_risks(self) -> FloatArray:
        """The exact 0-1 risk of every hypothesis, shape ``(H,)``."""
        eta = float(self.noise)
        dist = np.abs(np.arange(self.n_points + 1) - self.threshold) / self.n_points
        risk = eta + (1.0 - 2.0 * eta) * dist
        return np.concatenate([risk, 1.0 - risk])

    def sample_counts(self, n: int, n_trials: int, rng: np.random.Generator) -> NDArray[np.int64]:
        """Cell counts ``(n_trials, K, 2)`` of ``n_trials`` independent samples of size ``n``."""
        check_int(n, "n", low=1)
        check_int(n_trials, "n_trials", low=1)
        counts = rng.multinomial(n, self.cell_probs().reshape(-1), size=n_trials)
        return counts.reshape(n_trials, self.n_points, 2).astype(np.int64)

    def empirical_risks(self, counts: NDArray[np.int64]) -> FloatArray:
        r"""Empirical risks ``(T, H)`` from cell counts: :math:`h_j` errs on
        :math:`\sum_{x<j} n_{x,1} + \sum_{x \ge j} n_{x,0}` points, its complement on the rest."""
        t = counts.shape[0]
        zero = np.zeros((t, 1), dtype=np.int64)
        ones_below = np.concatenate([zero, np.cumsum(counts[:, :, 1], axis=1)], axis=1)
        zeros_below = np.concatenate([zero, np.cumsum(counts[:, :, 0], axis=1)], axis=1)
        errors = ones_below + (zeros_below[:, -1:] - zeros_below)
        n = counts[0].sum()
        return np.concatenate([errors, n - errors], axis=1) / float(n)


def posterior_family(
    true_risks: FloatArray,
    emp_risks: FloatArray,
    gammas: Sequence[float] | FloatArray,
    directions: Sequence[float] = TILT_DIRECTIONS,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Gibbs risk, empirical risk and KL to the uniform prior of every posterior of the family.

    .. math::

        Q_{\gamma,\alpha}(h) = \frac{e^{s(h)}}{\sum_{h'} e^{s(h')}}, \quad
        s = \gamma(\alpha L - \hat L), \qquad
        \mathrm{KL}(Q\|P) = \mathbb E_Q[s] - \ln\sum_h e^{s(h)} + \ln H

    plus the :math:`H` point masses (KL :math:`\ln H`).

    Parameters
    ----------
    true_risks : ndarray, shape (H,)
    emp_risks : ndarray, shape (T, H)
    gammas, directions : sequences of floats
        The tilt grid (gammas > 0).

    Returns
    -------
    gibbs, emp, kl : ndarray, shape (T, H + len(gammas) * len(directions))

    References
    ----------
    Claim D2 (the bound is uniform over Q).

    Examples
    --------
    >>> prob = ThresholdProblem(4, 2, 0.25)
    >>> emp = prob.empirical_risks(prob.sample_counts(20, 3, np.random.default_rng(0)))
    >>> gibbs, emp_q, kl = posterior_family(prob.true_risks(), emp, [1.0, 10.0])
    >>> kl.shape
    (3, 20)
    """
    n_h = true_risks.shape[0]
    t = emp_risks.shape[0]
    g = np.asarray(gammas, dtype=np.float64)[None, None, :, None]
    a = np.asarray(directions, dtype=np.float64)[None, :, None, None]
    s = g * (a * true_risks[None, None, None, :] - emp_risks[:, None, None, :])
    # Softmax and log-partition with the max subtracted (no overflow for gamma up to 20 N).
    top = s.max(axis=-1, keepdims=True)
    w = np.exp(s - top)
    z = w.sum(axis=-1, keepdims=True)
    q = w / z
    lse = (top + np.log(z))[..., 0]
    kl = np.sum(q * s, axis=-1) - lse + np.log(n_h)
    if (kl < -_KL_ROUNDING).any():  # pragma: no cover - a KL below rounding would be a bug
        raise RuntimeError(f"negative KL {kl.min()} in the tilted family")
    # KL >= 0 exactly; values in [-_KL_ROUNDING, 0) are cancellation around Q = P.
    kl = np.maximum(kl, 0.0)
    tilt_gibbs = (q @ true_risks).reshape(t, -1)
    tilt_emp = np.einsum("tagh,th->tag", q, emp_risks).reshape(t, -1)
    gibbs_all = np.concatenate([np.broadcast_to(true_risks, (t, n_h)), tilt_gibbs], axis=1)
    emp_all = np.concatenate([emp_risks, tilt_emp], axis=1)
    kl_all = np.concatenate([np.full((t, n_h), np.log(n_h)), kl.reshape(t, -1)], axis=1)
    return gibbs_all, emp_all, kl_all
