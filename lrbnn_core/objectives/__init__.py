r"""Training objectives that minimise a PAC-Bayes certificate, and a trainer for them.

With :math:`\hat R \in [0, 1]` a surrogate empirical risk, :math:`\mathrm{KL} \ge 0` the KL of the
posterior to a data-free prior (nats, union-bound penalties included), :math:`n` the number of
examples the certificate will use, :math:`\delta \in (0, 1)` and

.. math::

    \varepsilon = \mathrm{KL} + \ln\frac{2\sqrt{n}}{\delta}, \qquad b = \frac{\varepsilon}{2n},

the objectives (:class:`Objective`) are

.. math::

    f_{\mathrm{elbo}} &= \hat R + \frac{\mathrm{KL}}{n}, \\
    f_{\mathrm{mcallester}} &= \hat R + \sqrt{b}, \\
    f_{\mathrm{quadratic}} &= \big(\sqrt{\hat R + b} + \sqrt{b}\big)^2, \\
    f_{\mathrm{kl}} &= \mathrm{kl}^{-1}_{+}\big(\hat R, \varepsilon / n\big).

The last three are PAC-Bayes bounds on the risk of the Gibbs classifier for any loss with values in
:math:`[0, 1]` (Maurer 2004; McAllester's form, claim D2), so minimising them minimises a
certificate. They are ordered: :math:`f_{\mathrm{kl}} \le f_{\mathrm{quadratic}}` (the refined
Pinsker inequality :math:`\mathrm{kl}(q\|p) \ge (p - q)^2 / (2p)` for :math:`p \ge q`, from which
:math:`f_{\mathrm{quadratic}}` is derived) and :math:`f_{\mathrm{kl}} \le f_{\mathrm{mcallester}}`
(Pinsker). Between the other two, with :math:`s = \sqrt b` and :math:`t = \sqrt{\hat R + b}`,

.. math::

    f_{\mathrm{quadratic}} - f_{\mathrm{mcallester}} = s\,(2s + 2t - 1), \qquad
    f_{\mathrm{mcallester}} - \tfrac14 = (t - s + \tfrac12)(t + s - \tfrac12),

so the quadratic objective is the tighter one exactly when :math:`f_{\mathrm{mcallester}} \le 1/4`
(the regime of useful certificates) and the looser one above.

:math:`f_{\mathrm{elbo}}` is not a bound: it is the ``"bbb"`` objective of Perez-Ortiz et al.
(2021), the negative ELBO per example of the generalised (Gibbs) posterior whose likelihood is
:math:`e^{-\ell}` for the rescaled loss :math:`\ell \in [0, 1]`. Multiplied by
:math:`\ln(1/p_{\min})` (a constant factor, to which Adam is nearly invariant) it is the loss of
:func:`lrbnn_core.training.train` with ``beta = ln(1/p_min)`` and the clamped cross-entropy as
likelihood. It is kept as the reference against which the bound objectives are compared. None of
the four is clipped to 1; :math:`f_{\mathrm{kl}} \le 1` by construction.

The surrogate :math:`\hat R` used for training is the bounded cross-entropy
(:func:`bounded_cross_entropy`); the 0-1 certificate of the trained posterior is computed
afterwards, on the whole data set with many weight draws, by ``certify``. During training the risk
term is estimated on a minibatch with one weight draw per forward pass (``"shared"`` sampling; per
example with ``"local"``), as Perez-Ortiz et al. (2021) do: the estimate is unbiased for
:math:`\hat R` but the objective, a nonlinear function of it, is not, which matters only for
optimisation, never for the certificate.

Modules: :mod:`~lrbnn_core.objectives.bounds` (:class:`Objective`, :func:`bound_objective`,
:func:`bounded_cross_entropy`) and :mod:`~lrbnn_core.objectives.trainer` (:func:`train_bound`).

References
----------
``CLAIMS.md`` section 5 (claim D2 and the kl-inverse bound). M. Perez-Ortiz, O. Rivasplata,
J. Shawe-Taylor, C. Szepesvari, "Tighter risk certificates for neural networks", JMLR 22(227),
2021 (``f_quad``, ``f_classic``, ``f_bbb``, bounded cross-entropy). O. Rivasplata, V. M.
Tankasali, C. Szepesvari, "PAC-Bayes with backprop", arXiv:1908.07380, 2019 (the quadratic
bound). A. Maurer, "A note on the PAC Bayesian theorem", arXiv:cs/0411099, 2004.
"""

from __future__ import annotations

from lrbnn_core.objectives.bounds import Objective, bound_objective, bounded_cross_entropy
from lrbnn_core.objectives.trainer import (
    BoundEpochStats,
    BoundStepStats,
    BoundTrainResult,
    train_bound,
)

__all__ = [
    "BoundEpochStats",
    "BoundStepStats",
    "BoundTrainResult",
    "Objective",
    "bound_objective",
    "bounded_cross_entropy",
    "train_bound",
]
