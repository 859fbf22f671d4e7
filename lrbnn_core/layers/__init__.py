r"""Bayesian linear layers: the low-rank factor posterior of the paper and the mean-field baseline.

:class:`LowRankBayesLinear` parameterises :math:`W = A B^\top` (``out x in``), with independent
Gaussians :math:`A_{ik} \sim N(\mu^A_{ik}, \sigma^{A\,2}_{ik})`, :math:`B_{jk} \sim N(\mu^B_{jk},
\sigma^{B\,2}_{jk})`, :math:`\sigma = \mathrm{softplus}(\rho)`. The forward pass never forms
:math:`W`:

* ``"shared"``: one draw of :math:`A, B` per forward pass, :math:`y = (x B) A^\top + b`
  (the paper's choice); :math:`O(r(m+n))` per example instead of :math:`O(mn)`;
* ``"local"``: independent :math:`(A, B)` per example, exactly in law, without sampling them.
  Given :math:`x`, :math:`z = B^\top x` has independent coordinates
  :math:`z_k \sim N(\mu^{B\top}_k x, \sum_j \sigma^{B\,2}_{jk} x_j^2)`, and given :math:`z`,
  :math:`y = A z` has independent coordinates :math:`y_i \sim N(\mu^A_i z, \sum_k
  \sigma^{A\,2}_{ik} z_k^2)`; sampling :math:`z` then :math:`y` reproduces the joint law of
  :math:`(B^\top x, A B^\top x)` under a fresh draw of :math:`(A, B)`, at about twice the cost of
  ``"shared"``;
* ``"mean"``: the posterior means, :math:`y = (x \mu^B) \mu^{A\top} + \mu^b`.

:class:`MeanFieldBayesLinear` is Bayes-by-Backprop on the :math:`mn` entries of :math:`W`
(``"local"`` is the local reparameterisation of Kingma et al., 2015).

References: ``CLAIMS.md`` section 0 (the posterior, App. F initialisation), P1 (counts).

Modules: :mod:`~lrbnn_core.layers.blocks` (the Gaussian blocks both layers share,
:func:`inverse_softplus`), :mod:`~lrbnn_core.layers.low_rank` and
:mod:`~lrbnn_core.layers.mean_field`.
"""

from __future__ import annotations

from lrbnn_core.layers.blocks import inverse_softplus
from lrbnn_core.layers.low_rank import LowRankBayesLinear
from lrbnn_core.layers.mean_field import MeanFieldBayesLinear

__all__ = ["LowRankBayesLinear", "MeanFieldBayesLinear", "inverse_softplus"]
