r"""PAC-Bayes certificates for the Gibbs risk of a trained Bayesian network.

A model's Bayesian layers define a posterior :math:`Q` over every stochastic parameter (factors
:math:`A, B`, mean-field weights, Bayesian biases, LSTM gates, attention projections). For a loss
:math:`\ell \in [0, 1]` and a prior :math:`P` chosen before the :math:`n` examples
:math:`(x_i, y_i)` were seen, the *Gibbs risk* :math:`L(Q) = E_{\theta \sim Q} E_{(x, y)}
\ell(f_\theta(x), y)` is certified in two steps, each with its own share of the confidence
budget:

1. **Monte Carlo** (``mc_delta``). :math:`M` networks :math:`\theta_1, \dots, \theta_M` are drawn
   independently from :math:`Q`; each is evaluated on *all* :math:`n` examples, giving
   :math:`r_j = \frac1n \sum_i \ell(f_{\theta_j}(x_i), y_i) \in [0, 1]` with
   :math:`E[r_j] = \hat L(Q)`. With probability :math:`\ge 1 - \delta_{MC}` over the draws
   (Langford and Caruana, 2001; the kl-Chernoff bound holds for any :math:`[0, 1]` variable, not
   only a Bernoulli one),

   .. math:: \hat L(Q) \le \bar L_{MC} := \mathrm{kl}^{-1}_{+}\Big(\frac1M \sum_j r_j,\,
             \frac{\ln(2/\delta_{MC})}{M}\Big).

2. **PAC-Bayes** (``delta``). With :math:`K = \mathrm{KL}(Q\|P) + \text{penalty}`, where the
   penalty (nats) is the union-bound cost the caller paid for choosing :math:`P` (or a rank)
   among several fixed in advance, each of

   .. math::

       \text{McAllester: } \bar L_{MC} + \sqrt{\frac{K + \ln(2\sqrt n/\delta)}{2n}}, \qquad
       \text{kl-inverse: } \mathrm{kl}^{-1}_{+}\Big(\bar L_{MC},
           \frac{K + \ln(2\sqrt n/\delta)}{n}\Big), \qquad
       \text{Catoni: } \min_{C \in \Lambda}
           \frac{1 - e^{-C \bar L_{MC} - (K + \ln(|\Lambda|/\delta))/n}}{1 - e^{-C}}

   bounds :math:`L(Q)` with probability :math:`\ge 1 - \delta` over the sample (the bounds
   increase with the empirical risk, so :math:`\bar L_{MC}` may stand in for it).

By a union bound, **each** of the three certificates holds with probability
:math:`\ge 1 - \delta - \delta_{MC}` over the sample and the draws. McAllester's follows from the
kl-inverse one (Pinsker's inequality: kl-inverse :math:`\le` McAllester), but Catoni's rests on
another event, so their minimum (``Certificate.best``) holds with probability
:math:`\ge 1 - 2\delta - \delta_{MC}` (``Certificate.best_confidence``). The bounds are recorded
raw, never clipped to 1.

The Monte Carlo step needs one network per draw *for the whole data set*: every Bayesian layer is
put in ``"shared"`` mode while certifying, and :func:`~lrbnn_core.training.predict` rewinds the
generator before each data batch so that a draw covers every batch (``batch_size`` changes
nothing but memory).

References: ``CLAIMS.md`` section 5 (claim D2 and the bounds beyond the paper).

Modules: :mod:`~lrbnn_core.certificates.losses` (:class:`Loss`, :func:`example_losses`),
:mod:`~lrbnn_core.certificates.risk` (the Monte Carlo step, :func:`gibbs_risks`),
:mod:`~lrbnn_core.certificates.certificate` (:class:`Certificate`) and
:mod:`~lrbnn_core.certificates.certification` (:func:`certify`).
"""

from __future__ import annotations

from lrbnn_core.certificates.certificate import Certificate
from lrbnn_core.certificates.certification import (
    DEFAULT_CATONI_LAMBDAS,
    MC_BOUNDS,
    certify,
    certify_priors,
)
from lrbnn_core.certificates.losses import Loss, example_losses
from lrbnn_core.certificates.risk import gibbs_risks

__all__ = [
    "DEFAULT_CATONI_LAMBDAS",
    "MC_BOUNDS",
    "Certificate",
    "Loss",
    "certify",
    "certify_priors",
    "example_losses",
    "gibbs_risks",
]
