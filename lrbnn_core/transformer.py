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
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode, check_size, sampling_mode
from lrbnn_core.models import LayerKind, layer_kind, make_linear
from lrbnn_core.priors import Prior
from lrbnn_core.recurrent import Pool, check_sequence, reject_local
from theory.initialisation import InitTarget

__all__ = [
    "DeterministicTransformerEncoder",
    "EncoderBlock",
    "LowRankBayesTransformerEncoder",
    "MeanFieldBayesTransformerEncoder",
    "PositionalEncoding",
    "attention",
    "make_transformer_encoder",
    "sinusoidal_encoding",
]

#: standard deviation of the initial learned positional table (as BERT and GPT-2)
_LEARNED_POSITION_STD = 0.02


class PositionalEncoding(str, Enum):
    """How the encoder tells positions apart (all deterministic)."""

    #: the fixed sines and cosines of :func:`sinusoidal_encoding`, any sequence length
    SINUSOIDAL = "sinusoidal"
    #: a trained ``(max_len, d_model)`` table, initialised :math:`N(0, 0.02^2)`
    LEARNED = "learned"
    #: none (the encoder is then permutation-equivariant)
    NONE = "none"


def attention(q: Tensor, k: Tensor, v: Tensor, n_heads: int) -> Tensor:
    r"""Multi-head scaled dot-product attention with plain tensor operations.

    .. math::

        \mathrm{head}_h = \mathrm{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_h}}\right) V_h,
        \qquad d_h = d / H,

    where :math:`Q_h` is columns :math:`h d_h, \dots, (h+1) d_h - 1` of ``q``; the heads are
    concatenated back along the feature axis.

    Parameters
    ----------
    q : Tensor
        ``(batch, time, d)``, :math:`d` divisible by ``n_heads``.
    k, v : Tensor
        ``(batch, time_k, d)``.
    n_heads : int

    Returns
    -------
    Tensor
        ``(batch, time, d)``.

    Examples
    --------
    >>> x = torch.zeros(2, 3, 4)
    >>> tuple(attention(x, x, x + 1.0, 2).shape), attention(x, x, x + 1.0, 2).unique().item()
    ((2, 3, 4), 1.0)
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor) or t.dim() != 3:
            raise ValueError(f"`{name}` must be a (batch, time, d) tensor; got {t!r:.80}")
    batch, steps, d = q.shape
    n_heads = check_size(n_heads, "n_heads", 1, d, "d")
    if d % n_heads or k.shape[0] != batch or k.shape != v.shape or k.shape[2] != d:
        raise ValueError(
            f"`n_heads` must divide d and `k`, `v` must be (batch, time_k, d) with q's batch and "
            f"d; got n_heads = {n_heads}, q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)}"
        )
    head_dim = d // n_heads

    def split(x: Tensor) -> Tensor:
        return x.reshape(batch, x.shape[1], n_heads, head_dim).transpose(1, 2)

    scores = split(q) @ split(k).transpose(-2, -1) / math.sqrt(head_dim)
    out = torch.softmax(scores, dim=-1) @ split(v)
    return out.transpose(1, 2).reshape(batch, steps, d)


def sinusoidal_encoding(
    length: int, d_model: int, *, dtype: torch.dtype | None = None, device: Any = None
) -> Tensor:
    r"""The fixed positional encoding of Vaswani et al. (2017), ``(length, d_model)``:

    .. math::

        P_{p, 2i} = \sin(p / 10000^{2i/d}), \qquad P_{p, 2i+1} = \cos(p / 10000^{2i/d}).

    Examples
    --------
    >>> table = sinusoidal_encoding(2, 4, dtype=torch.float64)
    >>> table[1, :2].tolist() == [math.sin(1.0), math.cos(1.0)]
    True
    """
    length = check_size(length, "length")
    d_model = check_size(d_model, "d_model")
    position = torch.arange(length, dtype=torch.float64)[:, None]
    even = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = position / torch.pow(10000.0, even / d_model)
    table = torch.zeros(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return table.to(dtype=dtype or torch.get_default_dtype(), device=device)


class EncoderBlock(nn.Module):
    """One pre-norm block (module notes); its six projections come from ``make_linear``."""

    def __init__(
        self,
        kind: LayerKind | str,
        d_model: int,
        n_heads: int,
        d_ff: int,
        rank: int | None,
        *,
        dtype: torch.dtype | None = None,
        **linear_kw: Any,
    ) -> None:
        super().__init__()
        self.n_heads = n_heads

        def linear(n_in: int, n_out: int) -> nn.Module:
            return make_linear(kind, n_in, n_out, rank, dtype=dtype, **linear_kw)

        self.query = linear(d_model, d_model)
        self.key = linear(d_model, d_model)
        self.value = linear(d_model, d_model)
        self.out = linear(d_model, d_model)
        self.ff1 = linear(d_model, d_ff)
        self.ff2 = linear(d_ff, d_model)
        self.norm1 = nn.LayerNorm(d_model, dtype=dtype)
        self.norm2 = nn.LayerNorm(d_model, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm1(x)
        u = x + self.out(attention(self.query(h), self.key(h), self.value(h), self.n_heads))
        result: Tensor = u + self.ff2(torch.relu(self.ff1(self.norm2(u))))
        return result


class _TransformerEncoder(nn.Module):
    """``(batch, time, input)`` to ``(batch, time, d_model)`` (module notes)."""

    #: what :class:`~lrbnn_core.recurrent.SequenceClassifier` pools by default
    default_pool = Pool.MEAN
    #: inputs and outputs are ``(batch, time, features)``
    batch_first = True

    def __init__(
        self,
        kind: LayerKind | str,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        rank: int | None,
        *,
        input_size: int | None,
        positional: PositionalEncoding | str,
        max_len: int,
        bayesian_bias: bool,
        prior: Prior | None,
        init: InitTarget | str,
        eta: float,
        sampling: SamplingMode | str,
        generator: torch.Generator | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.kind = layer_kind(kind)
        self.d_model = d = check_size(d_model, "d_model")
        self.output_size = d
        self.n_heads = check_size(n_heads, "n_heads", 1, d, "d_model")
        if d % self.n_heads:
            raise ValueError(f"`n_heads` must divide `d_model` = {d}; got {n_heads!r}")
        self.d_ff = check_size(d_ff, "d_ff")
        self.n_layers = check_size(n_layers, "n_layers")
        self.rank: int | None = None
        if self.kind is LayerKind.LOW_RANK:
            self.rank = check_size(rank, "rank", 1, min(d, self.d_ff), "min(d_model, d_ff)")
        if (
            sampling_mode(sampling) is SamplingMode.LOCAL
            and self.kind is not LayerKind.DETERMINISTIC
        ):
            raise ValueError(
                f"`sampling` must be 'shared' or 'mean' for a Transformer; got {sampling!r} "
                "(one weight draw must serve every token)"
            )
        try:
            self.positional = PositionalEncoding(positional)
        except ValueError:
            known = ", ".join(repr(p.value) for p in PositionalEncoding)
            raise ValueError(f"`positional` must be one of {known}; got {positional!r}") from None
        self.max_len = check_size(max_len, "max_len")
        self.input_size = d if input_size is None else check_size(input_size, "input_size")
        self.input_linear: nn.Module | None = None
        if input_size is not None:
            self.input_linear = make_linear(
                LayerKind.DETERMINISTIC, self.input_size, d, generator=generator, dtype=dtype
            )
        self.position: nn.Parameter | None = None
        if self.positional is PositionalEncoding.LEARNED:
            table = torch.randn(self.max_len, d, generator=generator, dtype=dtype)
            self.position = nn.Parameter(_LEARNED_POSITION_STD * table)
        linear_kw: dict[str, Any] = {
            "bayesian_bias": bayesian_bias,
            "prior": prior,
            "init": init,
            "eta": eta,
            "sampling": sampling,
            "generator": generator,
        }
        self.blocks = nn.ModuleList(
            EncoderBlock(self.kind, d, self.n_heads, self.d_ff, self.rank, dtype=dtype, **linear_kw)
            for _ in range(self.n_layers)
        )
        self.norm = nn.LayerNorm(d, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        """Encode ``x``: ``(batch, time, input_size)`` (``input_size = d_model`` when the
        encoder has no input projection); returns ``(batch, time, d_model)``."""
        x = check_sequence(x, self.input_size, self.norm.weight.dtype)
        reject_local(self)
        steps = x.shape[1]
        if self.input_linear is not None:
            x = self.input_linear(x)
        if self.positional is PositionalEncoding.SINUSOIDAL:
            x = x + sinusoidal_encoding(steps, self.d_model, dtype=x.dtype, device=x.device)
        elif self.position is not None:
            if steps > self.max_len:
                raise ValueError(
                    f"`x` has {steps} time steps, more than `max_len` = {self.max_len} "
                    "(the learned positional table)"
                )
            x = x + self.position[:steps]
        for block in self.blocks:
            x = block(x)
        out: Tensor = self.norm(x)
        return out

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind.value}, d_model={self.d_model}, n_heads={self.n_heads}, "
            f"d_ff={self.d_ff}, n_layers={self.n_layers}, rank={self.rank}, "
            f"input_size={self.input_size}, positional={self.positional.value}"
        )


class LowRankBayesTransformerEncoder(_TransformerEncoder):
    r"""Transformer encoder with :class:`~lrbnn_core.layers.LowRankBayesLinear` attention and
    feed-forward projections (module notes).

    Parameters
    ----------
    d_model, n_heads, d_ff, n_layers : int
        Width :math:`d`, heads :math:`H` (dividing :math:`d`), feed-forward width, blocks.
    rank : int
        Rank of every projection, in :math:`[1, \min(d, d_{ff})]`.
    input_size : int, optional
        Features per step of ``x``; adds a deterministic input projection to :math:`d`.
        ``None``: ``x`` already has :math:`d` features.
    positional : {"sinusoidal", "learned", "none"}
    max_len : int
        Length of the learned positional table (unused otherwise).
    bayesian_bias, prior, init, eta, dtype
        As for :class:`~lrbnn_core.layers.LowRankBayesLinear`.
    sampling : {"shared", "mean"}
    generator : torch.Generator, optional
        Seeds the initialisation (the draws use each layer's ``generator`` attribute, see
        :func:`~lrbnn_core.base.set_generator`).

    Examples
    --------
    >>> enc = LowRankBayesTransformerEncoder(8, 2, 16, 1, 2, input_size=1,
    ...                                      generator=torch.Generator().manual_seed(0))
    >>> tuple(enc(torch.zeros(3, 40, 1)).shape)
    (3, 40, 8)
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        rank: int,
        *,
        input_size: int | None = None,
        positional: PositionalEncoding | str = PositionalEncoding.SINUSOIDAL,
        max_len: int = 512,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            LayerKind.LOW_RANK,
            d_model,
            n_heads,
            d_ff,
            n_layers,
            rank,
            input_size=input_size,
            positional=positional,
            max_len=max_len,
            bayesian_bias=bayesian_bias,
            prior=prior,
            init=init,
            eta=eta,
            sampling=sampling,
            generator=generator,
            dtype=dtype,
        )


class MeanFieldBayesTransformerEncoder(_TransformerEncoder):
    """The encoder with :class:`~lrbnn_core.layers.MeanFieldBayesLinear` projections; parameters
    as :class:`LowRankBayesTransformerEncoder` without ``rank``.

    Examples
    --------
    >>> enc = MeanFieldBayesTransformerEncoder(8, 2, 16, 1, generator=torch.Generator())
    >>> tuple(enc(torch.zeros(3, 5, 8)).shape)
    (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        *,
        input_size: int | None = None,
        positional: PositionalEncoding | str = PositionalEncoding.SINUSOIDAL,
        max_len: int = 512,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            LayerKind.MEAN_FIELD,
            d_model,
            n_heads,
            d_ff,
            n_layers,
            None,
            input_size=input_size,
            positional=positional,
            max_len=max_len,
            bayesian_bias=bayesian_bias,
            prior=prior,
            init=init,
            eta=eta,
            sampling=sampling,
            generator=generator,
            dtype=dtype,
        )


class DeterministicTransformerEncoder(_TransformerEncoder):
    """The encoder with ``torch.nn.Linear`` projections (the deterministic baseline).

    Examples
    --------
    >>> enc = DeterministicTransformerEncoder(8, 2, 16, 2, generator=torch.Generator())
    >>> tuple(enc(torch.zeros(3, 5, 8)).shape)
    (3, 5, 8)
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        n_layers: int,
        *,
        input_size: int | None = None,
        positional: PositionalEncoding | str = PositionalEncoding.SINUSOIDAL,
        max_len: int = 512,
        init: InitTarget | str = InitTarget.GLOROT,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            LayerKind.DETERMINISTIC,
            d_model,
            n_heads,
            d_ff,
            n_layers,
            None,
            input_size=input_size,
            positional=positional,
            max_len=max_len,
            bayesian_bias=False,
            prior=None,
            init=init,
            eta=0.1,
            sampling=SamplingMode.MEAN,
            generator=generator,
            dtype=dtype,
        )


_ENCODER_KEYWORDS = frozenset(
    (
        "input_size",
        "positional",
        "max_len",
        "bayesian_bias",
        "prior",
        "init",
        "eta",
        "sampling",
        "generator",
        "dtype",
    )
)
_DETERMINISTIC_KEYWORDS = ("input_size", "positional", "max_len", "init", "generator", "dtype")


def make_transformer_encoder(
    kind: LayerKind | str,
    d_model: int,
    n_heads: int,
    d_ff: int,
    n_layers: int,
    rank: int | None = None,
    **kwargs: Any,
) -> _TransformerEncoder:
    """The encoder of the given ``kind`` (``rank`` and the Bayesian keywords are ignored where
    the kind has no use for them, so that one loop over kinds builds all three).

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> [type(make_transformer_encoder(k, 4, 2, 8, 1, rank=2, generator=gen)).__name__[:8]
    ...  for k in LayerKind]
    ['LowRankB', 'MeanFiel', 'Determin']
    """
    chosen = layer_kind(kind)
    unknown = sorted(set(kwargs) - _ENCODER_KEYWORDS)
    if unknown:
        raise TypeError(f"make_transformer_encoder() got unexpected keyword arguments {unknown}")
    if chosen is LayerKind.LOW_RANK:
        if rank is None:
            raise ValueError("`rank` is required for kind 'low_rank'; got None")
        return LowRankBayesTransformerEncoder(d_model, n_heads, d_ff, n_layers, rank, **kwargs)
    if chosen is LayerKind.MEAN_FIELD:
        return MeanFieldBayesTransformerEncoder(d_model, n_heads, d_ff, n_layers, **kwargs)
    kept = {k: v for k, v in kwargs.items() if k in _DETERMINISTIC_KEYWORDS}
    return DeterministicTransformerEncoder(d_model, n_heads, d_ff, n_layers, **kept)
