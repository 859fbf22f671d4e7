r"""A small Transformer encoder whose attention and feed-forward projections are low-rank
Bayesian, mean-field or deterministic (one definition, :func:`~lrbnn_core.models.make_linear`).

Each of the ``n_layers`` blocks is pre-norm (stable without learning-rate warm-up):

.. math::

    u = x + W_O\, \mathrm{MHA}(W_Q \bar x, W_K \bar x, W_V \bar x), \qquad
    y = u + W_2\, \mathrm{relu}(W_1 \bar u + b_1) + b_2, \qquad
    \bar x = \mathrm{LN}_1(x),\ \bar u = \mathrm{LN}_2(u),

with :math:`\mathrm{MHA}` the multi-head scaled dot-product attention of :func:`attention`
(:math:`\mathrm{softmax}(Q_h K_h^\top / \sqrt{d_h}) V_h` per head, :math:`d_h = d/H`), and a final
LayerNorm after the last block. :math:`W_Q, W_K, W_V, W_O` (:math:`d \times d`) and :math:`W_1`
(:math:`d_{ff} \times d`), :math:`W_2` (:math:`d \times d_{ff}`) are the stochastic layers (with
biases, Bayesian by default). Point estimates, outside the KL: the LayerNorms, the optional input
projection (``input_size`` features per step to :math:`d`, e.g. MNIST-1D's scalar sequences) and
the optional learned positional table. No dropout, no attention mask (fixed-length sequences).

Every projection is called once per forward pass on the whole ``(batch, time, d)`` tensor, so in
``"shared"`` mode each stochastic block is drawn once per pass and shared by every token and
sequence; draw order: block by block, ``query, key, value, out, ff1, ff2``. ``"local"`` sampling is
refused (``ValueError``): it would give every *token* its own weights, which is not a draw of the
network, so the loss would not estimate the ELBO's expected log-likelihood.

References: ``CLAIMS.md`` section 0 (the factor posterior); the paper's Transformer experiments.

Without gradients (evaluation) the attention runs in torch's fused kernel (:func:`fused_attention`,
the same maths; 1.2 to 1.4 times faster at batch 1024); with gradients, in the plain tensor
operations of :func:`attention` (the fused kernel's backward is no faster at batch 100). At the
sweep's sizes (``d_model`` 32 to 64, 40 tokens) the encoder is bound by arithmetic, not by
dispatch: the attention scores' softmax and batched products and the projections' matrix
products take most of the time.

Modules: :mod:`~lrbnn_core.transformer.functional` (:func:`attention`, :func:`fused_attention`,
:func:`sinusoidal_encoding`), :mod:`~lrbnn_core.transformer.encoder` (:class:`EncoderBlock` and
the encoder every kind shares) and :mod:`~lrbnn_core.transformer.kinds` (one encoder per layer
kind, :func:`make_transformer_encoder`).
"""

from __future__ import annotations

from lrbnn_core.transformer.encoder import EncoderBlock, PositionalEncoding
from lrbnn_core.transformer.functional import attention, fused_attention, sinusoidal_encoding
from lrbnn_core.transformer.kinds import (
    DeterministicTransformerEncoder,
    LowRankBayesTransformerEncoder,
    MeanFieldBayesTransformerEncoder,
    make_transformer_encoder,
)

__all__ = [
    "DeterministicTransformerEncoder",
    "EncoderBlock",
    "LowRankBayesTransformerEncoder",
    "MeanFieldBayesTransformerEncoder",
    "PositionalEncoding",
    "attention",
    "fused_attention",
    "make_transformer_encoder",
    "sinusoidal_encoding",
]
