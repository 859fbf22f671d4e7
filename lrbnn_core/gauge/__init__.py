r"""Gauge balancing of low-rank factor posteriors: the same law of :math:`W`, a smaller KL.

For :math:`c \in (0, \infty)^r`, the map :math:`(A, B) \mapsto (A\,\mathrm{diag}(c),
B\,\mathrm{diag}(c)^{-1})` leaves :math:`W = A B^\top` unchanged (a diagonal part of the
:math:`GL(r)` gauge of claim G1, the part that keeps a mean-field posterior mean-field). On the
posterior it scales column :math:`k` of :math:`A` to :math:`N(c_k \mu^A, c_k^2 \sigma^{A\,2})` and
column :math:`k` of :math:`B` to :math:`N(\mu^B / c_k, \sigma^{B\,2} / c_k^2)`: the law of
:math:`W` is the same, and so is every draw made from the same noise :math:`\varepsilon`, but the
factor-space KL to a fixed prior changes. With :math:`t_k = \ln c_k` it separates over columns,

.. math::

    \mathrm{KL}(t) = \sum_k f_k(t_k), \qquad
    f_k(t) = \sum_{i=1}^{m} \mathrm{KL}\big(N(e^{t}\mu^A_{ik}, e^{2t}\sigma^{A\,2}_{ik})
        \,\|\, p_{ik}\big)
      + \sum_{j=1}^{n} \mathrm{KL}\big(N(e^{-t}\mu^B_{jk}, e^{-2t}\sigma^{B\,2}_{jk})
        \,\|\, p_{jk}\big),

and each :math:`f_k` tends to :math:`+\infty` at both ends (the posterior variances enter as
:math:`e^{\pm 2t}`), so it has a global minimiser, found here exactly (no iterative search that
could stop at the wrong local minimum):

* zero-mean isotropic prior :math:`N(0, s^2)`: :math:`f_k` is convex in :math:`t` and its
  stationary point has a closed form (:func:`isotropic_gauge`);
* any other Gaussian prior: centres :math:`\mu^0` and standard deviations :math:`s` per entry
  (a prior at the initialisation, a data-dependent prior with learnt centres and scales) or a
  nonzero scalar mean: every stationary point is a positive root of a quartic, all of them are
  enumerated and polished by Newton steps, and the best one is kept;
* scale mixture: the declared closed-form *upper bound* is minimised (the only KL value a
  certificate may use). Each entry switches between the two mixture components at most once as
  :math:`t` grows, and between switch points :math:`f_k` is convex with a closed-form minimiser.

In every case the minimiser replaces :math:`t = 0` only where it lowers :math:`f_k` by more than
the rounding error of the evaluation, so a gauge never increases the KL and balancing twice changes
nothing. The prior, its per-entry centres and scales included, is never rescaled: it is fixed
before the data (or on held-out data) and the certificate depends on that.

Balancing changes the parameters in place (an optimiser's moment estimates then refer to the old
coordinates: balance before certifying, or restart the optimiser).

References: ``CLAIMS.md`` G1 (the gauge), issue 7 (gauge balancing before certifying).

Modules: :mod:`~lrbnn_core.gauge.closed_form` (:func:`isotropic_gauge`),
:mod:`~lrbnn_core.gauge.search` (the search over one column: the Gaussian quartic, the mixture's
pieces, the rounding safeguard) and :mod:`~lrbnn_core.gauge.balance` (:func:`optimal_gauge`,
:func:`apply_gauge`, :func:`balance_gauge`).
"""

from __future__ import annotations

from lrbnn_core.gauge.balance import apply_gauge, balance_gauge, optimal_gauge
from lrbnn_core.gauge.closed_form import isotropic_gauge
from lrbnn_core.gauge.search import ROUNDING_FACTOR, T_MAX

__all__ = [
    "ROUNDING_FACTOR",
    "T_MAX",
    "apply_gauge",
    "balance_gauge",
    "isotropic_gauge",
    "optimal_gauge",
]
