"""The Transformer encoder of each layer kind (low-rank Bayesian, mean-field, deterministic)
and :func:`make_transformer_encoder` (notes: :mod:`lrbnn_core.transformer`)."""

from __future__ import annotations

from typing import Any

import torch

from lrbnn_core.base import SamplingMode
from lrbnn_core.models import LayerKind, layer_kind
from lrbnn_core.priors import Prior
from lrbnn_core.transformer.encoder import PositionalEncoding, _TransformerEncoder
from theory.initialisation import InitTarget

__all__ = [
    "DeterministicTransformerEncoder",
    "LowRankBayesTransformerEncoder",
    "MeanFieldBayesTransformerEncoder",
    "make_transformer_encoder",
]


class LowRankBayesTransformerEncoder(_TransformerEncoder):
    r"""Transformer encoder with :class:`~lrbnn_core.layers.LowRankBayesLinear` attention and
    feed-forward projections (package notes).

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
