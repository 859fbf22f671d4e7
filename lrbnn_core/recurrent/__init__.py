r"""Recurrent models: an LSTM whose gate matrices are low-rank Bayesian, mean-field or
deterministic (built by :func:`lrbnn_core.models.make_linear`), and a sequence classifier.

One LSTM step (PyTorch's gate order :math:`i, f, g, o`, stacked along the output axis) is

.. math::

    \begin{pmatrix} i \\ f \\ g \\ o \end{pmatrix}
    = W_{ih} x_t + W_{hh} h_{t-1} + b, \qquad
    c_t = \sigma(f) \odot c_{t-1} + \sigma(i) \odot \tanh(g), \qquad
    h_t = \sigma(o) \odot \tanh(c_t),

with :math:`W_{ih}` of shape :math:`4h \times n_{in}` and :math:`W_{hh}` of shape
:math:`4h \times h`. Each matrix is one linear layer built by :func:`make_linear`: for
``"low_rank"`` :math:`W_{ih} = A_{ih} B_{ih}^\top` and :math:`W_{hh} = A_{hh} B_{hh}^\top` with
factor posteriors (all four gates share one factorisation per matrix, as Keras and PyTorch store
the gates stacked; a rank :math:`r` factorisation of the stack costs :math:`r(n + 4h)` numbers).

Design choices (the paper's, where it states one):

* **One draw per sequence pass.** In ``"shared"`` mode every stochastic block is drawn once per
  forward pass (first the input layer, then the hidden layer; within a low-rank layer in the order
  of :meth:`~lrbnn_core.layers.LowRankBayesLinear.sample_factors`, within a mean-field layer W,
  then the bias) and the drawn matrices :math:`W_{ih} = A_{ih} B_{ih}^\top`,
  :math:`W_{hh} = A_{hh} B_{hh}^\top` are formed once and reused at every time step (as the
  paper's LSTM caches :math:`W = A B^\top` across the steps), in torch's LSTM kernel (the op of
  ``torch.nn.LSTM``: the steps loop in C++; differentiable in the factors). At the toolkit's
  sizes (hidden 32 to 64, one input feature, batch 100 to 1024) this is 2 to 4 times faster than
  a Python loop through the factors, which costs :math:`r(h + 4h)` multiply-adds per step and
  sequence instead of :math:`4h^2` but about ten dispatched ops per step; that loop stays as the
  reference (:func:`~lrbnn_core.recurrent.lstm._loop_lstm`, compared in the tests).
* ``"local"`` sampling is refused (``ValueError``): local reparameterisation draws pre-activations
  independently at every call, so the weights would not be shared across the time steps of a
  sequence. Use ``"shared"`` (or ``"mean"``, the posterior means).
* **One bias**, on the input layer (the hidden layer has none): PyTorch's two biases
  :math:`b_{ih} + b_{hh}` are redundant and would double the bias KL. The forget-gate slice of the
  bias (mean) starts at 1 (Jozefowicz et al., 2015), the other gates at 0.

References: ``CLAIMS.md`` section 0 (the factor posterior); the paper's LSTM experiments.

Modules: :mod:`~lrbnn_core.recurrent.sequence` (input checks, the refusal of ``"local"``
sampling, pooling), :mod:`~lrbnn_core.recurrent.draws` (:func:`one_draw`, :func:`dense_draw`),
:mod:`~lrbnn_core.recurrent.lstm` (the LSTMs, :func:`make_lstm`) and
:mod:`~lrbnn_core.recurrent.classifier` (:class:`SequenceClassifier`).
"""

from __future__ import annotations

from lrbnn_core.recurrent.classifier import SequenceClassifier
from lrbnn_core.recurrent.draws import dense_draw, one_draw
from lrbnn_core.recurrent.lstm import (
    DeterministicLSTM,
    LowRankBayesLSTM,
    MeanFieldBayesLSTM,
    make_lstm,
)
from lrbnn_core.recurrent.sequence import Pool, check_sequence, reject_local

__all__ = [
    "DeterministicLSTM",
    "LowRankBayesLSTM",
    "MeanFieldBayesLSTM",
    "Pool",
    "SequenceClassifier",
    "check_sequence",
    "dense_draw",
    "make_lstm",
    "one_draw",
    "reject_local",
]
