"""The encoder's layers: one pre-norm block and the stack of blocks shared by every layer
kind, with its input projection and positional encoding (notes: :mod:`lrbnn_core.transformer`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode, check_size, sampling_mode
from lrbnn_core.models import LayerKind, layer_kind, make_linear
from lrbnn_core.priors import Prior
from lrbnn_core.recurrent import Pool, check_sequence, reject_local
from lrbnn_core.transformer.functional import attention, fused_attention, sinusoidal_encoding
from theory.initialisation import InitTarget

__all__ = ["EncoderBlock", "PositionalEncoding"]


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


class EncoderBlock(nn.Module):
    """One pre-norm block (package notes); its six projections come from ``make_linear``."""

    #: without gradients (evaluation: certification, prediction), attention in torch's fused
    #: kernel (:func:`fused_attention`: 1.2 to 1.4 times faster at batch 1024); with gradients,
    #: and always when False (tests, benchmarks), the plain tensor operations of
    #: :func:`attention` (the fused kernel's backward is no faster at the training batch)
    _fast = True

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
        attend = fused_attention if self._fast and not torch.is_grad_enabled() else attention
        u = x + self.out(attend(self.query(h), self.key(h), self.value(h), self.n_heads))
        result: Tensor = u + self.ff2(torch.relu(self.ff1(self.norm2(u))))
        return result


class _TransformerEncoder(nn.Module):
    """``(batch, time, input)`` to ``(batch, time, d_model)`` (package notes)."""

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
