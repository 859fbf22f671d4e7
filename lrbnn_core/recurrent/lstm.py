"""The LSTM layer, one class per layer kind (low-rank Bayesian, mean-field, deterministic),
and :func:`make_lstm` (notes: :mod:`lrbnn_core.recurrent`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode, check_input, check_size, sampling_mode
from lrbnn_core.models import LayerKind, layer_kind, make_linear
from lrbnn_core.priors import Prior
from lrbnn_core.recurrent.draws import _bias_mean, dense_draw, one_draw
from lrbnn_core.recurrent.sequence import Pool, check_sequence, reject_local
from theory.initialisation import InitTarget

__all__ = ["DeterministicLSTM", "LowRankBayesLSTM", "MeanFieldBayesLSTM", "make_lstm"]


class _LSTM(nn.Module):
    """One LSTM layer whose two gate matrices come from :func:`make_linear` (package notes)."""

    #: what :class:`SequenceClassifier` pools by default
    default_pool = Pool.LAST
    #: run the steps in torch's LSTM kernel on the drawn dense matrices (else the reference
    #: Python loop through the draws' factors, :func:`_loop_lstm`; for tests and benchmarks)
    _fused = True

    def __init__(
        self,
        kind: LayerKind | str,
        input_size: int,
        hidden_size: int,
        rank: int | None,
        *,
        input_rank: int | None,
        bayesian_bias: bool,
        prior: Prior | None,
        init: InitTarget | str,
        eta: float,
        sampling: SamplingMode | str,
        generator: torch.Generator | None,
        dtype: torch.dtype | None,
        batch_first: bool,
    ) -> None:
        super().__init__()
        self.kind = layer_kind(kind)
        self.input_size = check_size(input_size, "input_size")
        self.hidden_size = h = check_size(hidden_size, "hidden_size")
        self.output_size = h
        if not isinstance(batch_first, bool):
            raise TypeError(f"`batch_first` must be a bool; got {batch_first!r}")
        self.batch_first = batch_first
        if (
            sampling_mode(sampling) is SamplingMode.LOCAL
            and self.kind is not LayerKind.DETERMINISTIC
        ):
            raise ValueError(
                f"`sampling` must be 'shared' or 'mean' for an LSTM; got {sampling!r} (one weight "
                "draw must serve every time step of a sequence)"
            )
        self.rank: int | None = None
        self.input_rank: int | None = None
        if self.kind is LayerKind.LOW_RANK:
            self.rank = check_size(rank, "rank", 1, h, "hidden_size")
            low_in = min(self.input_size, 4 * h)
            if input_rank is None and self.rank > low_in:
                raise ValueError(
                    f"`input_rank` defaults to `rank` = {self.rank}, above the largest rank of "
                    f"the input matrix, min(input_size, 4 * hidden_size) = {low_in}; pass "
                    f"`input_rank` in [1, {low_in}]"
                )
            self.input_rank = check_size(
                self.rank if input_rank is None else input_rank,
                "input_rank",
                1,
                low_in,
                "min(input_size, 4 * hidden_size)",
            )
        common: dict[str, Any] = {
            "bayesian_bias": bayesian_bias,
            "prior": prior,
            "init": init,
            "eta": eta,
            "sampling": sampling,
            "generator": generator,
            "dtype": dtype,
        }
        self.input_linear = make_linear(
            self.kind, self.input_size, 4 * h, self.input_rank, bias=True, **common
        )
        self.hidden_linear = make_linear(self.kind, h, 4 * h, self.rank, bias=False, **common)
        bias = _bias_mean(self.input_linear)
        assert bias is not None  # built with bias=True
        with torch.no_grad():
            bias[h : 2 * h] = 1.0

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Run the sequence ``x``: ``(batch, time, input_size)`` (``(time, batch, input_size)``
        if not ``batch_first``), from ``state = (h_0, c_0)`` (each ``(batch, hidden_size)``;
        zeros by default). Returns ``outputs`` (every :math:`h_t`, same layout as ``x``) and
        ``(h_T, c_T)``, each ``(batch, hidden_size)``."""
        if isinstance(x, Tensor) and not self.batch_first and x.dim() == 3:
            x = x.transpose(0, 1)
        x = check_sequence(x, self.input_size, self.dtype)
        reject_local(self)
        batch, h = x.shape[0], self.hidden_size
        if state is None:
            hx = x.new_zeros(batch, h)
            cx = x.new_zeros(batch, h)
        else:
            if not isinstance(state, tuple) or len(state) != 2:
                raise TypeError(f"`state` must be a pair (h_0, c_0) or None; got {state!r}")
            hx = check_input(state[0], h, "state[0]")
            cx = check_input(state[1], h, "state[1]")
            for name, s in (("state[0]", hx), ("state[1]", cx)):
                if tuple(s.shape) != (batch, h) or s.dtype != x.dtype:
                    raise ValueError(
                        f"`{name}` must have shape (batch, hidden_size) = ({batch}, {h}) and "
                        f"dtype {x.dtype}; got {tuple(s.shape)}, {s.dtype}"
                    )
        if self._fused:
            w_ih, bias = dense_draw(self.input_linear)
            w_hh, _ = dense_draw(self.hidden_linear)
            out, hx, cx = _fused_lstm(x, hx, cx, w_ih, w_hh, bias)
        else:
            out, hx, cx = _loop_lstm(
                x, hx, cx, one_draw(self.input_linear), one_draw(self.hidden_linear)
            )
        return (out if self.batch_first else out.transpose(0, 1)), (hx, cx)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind.value}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, rank={self.rank}, input_rank={self.input_rank}, "
            f"batch_first={self.batch_first}"
        )


def _loop_lstm(
    x: Tensor,
    hx: Tensor,
    cx: Tensor,
    input_map: Callable[[Tensor], Tensor],
    hidden_map: Callable[[Tensor], Tensor],
) -> tuple[Tensor, Tensor, Tensor]:
    """The reference pass: the input map on every step at once, then one Python iteration per
    step through ``hidden_map`` (a low-rank draw through its factors). ``x`` is batch-first;
    returns the outputs ``(batch, time, hidden)``, :math:`h_T` and :math:`c_T`."""
    gates_x = input_map(x)
    outputs = []
    for t in range(x.shape[1]):
        i, f, g, o = (gates_x[:, t] + hidden_map(hx)).chunk(4, dim=-1)
        cx = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
        hx = torch.sigmoid(o) * torch.tanh(cx)
        outputs.append(hx)
    return torch.stack(outputs, dim=1), hx, cx


def _fused_lstm(
    x: Tensor, hx: Tensor, cx: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """The same pass as :func:`_loop_lstm` on dense gate matrices, in torch's LSTM kernel (the
    op ``torch.nn.LSTM`` runs: the steps loop in C++, differentiable in the weights; gate order
    i, f, g, o; hidden bias 0). ``x`` is batch-first; returns as :func:`_loop_lstm`."""
    b_ih = w_ih.new_zeros(w_ih.shape[0]) if bias is None else bias
    params = [w_ih, w_hh, b_ih, torch.zeros_like(b_ih)]
    state = (hx[None], cx[None])
    train = torch.is_grad_enabled()
    if x.device.type != "cuda":
        out, h_n, c_n = torch._VF.lstm(x, state, params, True, 1, 0.0, train, False, True)
    else:
        with warnings.catch_warnings():
            # cuDNN copies weights that are not one flat buffer (ours are drawn anew each pass)
            warnings.filterwarnings("ignore", message="RNN module weights are not part")
            out, h_n, c_n = torch._VF.lstm(x, state, params, True, 1, 0.0, train, False, True)
    return out, h_n[0], c_n[0]


class LowRankBayesLSTM(_LSTM):
    r"""LSTM whose input and hidden gate matrices are :class:`LowRankBayesLinear` (package notes).

    Parameters
    ----------
    input_size, hidden_size : int
        :math:`n_{in}` and :math:`h`.
    rank : int
        Rank of the hidden matrix (:math:`4h \times h`), in :math:`[1, h]`.
    input_rank : int, optional
        Rank of the input matrix (:math:`4h \times n_{in}`), in :math:`[1, \min(n_{in}, 4h)]`;
        ``rank`` by default (scalar inputs need ``input_rank=1``).
    bayesian_bias : bool
        Gaussian posterior on the gate bias (else deterministic).
    prior, init, eta, generator, dtype
        As for :class:`~lrbnn_core.layers.LowRankBayesLinear` (``generator`` seeds the
        initialisation; the draws use each layer's ``generator`` attribute, see
        :func:`~lrbnn_core.base.set_generator`).
    sampling : {"shared", "mean"}
    batch_first : bool
        ``x`` is ``(batch, time, input)`` (else ``(time, batch, input)``).

    Examples
    --------
    >>> lstm = LowRankBayesLSTM(3, 4, 2, generator=torch.Generator().manual_seed(0))
    >>> out, (h, c) = lstm(torch.ones(5, 7, 3))
    >>> tuple(out.shape), tuple(h.shape), lstm.input_linear.out_features
    ((5, 7, 4), (5, 4), 16)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        rank: int,
        *,
        input_rank: int | None = None,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        batch_first: bool = True,
    ) -> None:
        super().__init__(
            LayerKind.LOW_RANK,
            input_size,
            hidden_size,
            rank,
            input_rank=input_rank,
            bayesian_bias=bayesian_bias,
            prior=prior,
            init=init,
            eta=eta,
            sampling=sampling,
            generator=generator,
            dtype=dtype,
            batch_first=batch_first,
        )


class MeanFieldBayesLSTM(_LSTM):
    """LSTM whose gate matrices are :class:`MeanFieldBayesLinear` (one weight draw per sequence
    pass in ``"shared"`` mode); parameters as :class:`LowRankBayesLSTM` without the ranks.

    Examples
    --------
    >>> lstm = MeanFieldBayesLSTM(3, 4, generator=torch.Generator().manual_seed(0))
    >>> tuple(lstm(torch.ones(5, 7, 3))[0].shape)
    (5, 7, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        batch_first: bool = True,
    ) -> None:
        super().__init__(
            LayerKind.MEAN_FIELD,
            input_size,
            hidden_size,
            None,
            input_rank=None,
            bayesian_bias=bayesian_bias,
            prior=prior,
            init=init,
            eta=eta,
            sampling=sampling,
            generator=generator,
            dtype=dtype,
            batch_first=batch_first,
        )


class DeterministicLSTM(_LSTM):
    """The same LSTM with ``torch.nn.Linear`` gate matrices (the deterministic baseline on the
    same code path; equal to ``torch.nn.LSTM`` with ``bias_hh = 0``).

    Examples
    --------
    >>> lstm = DeterministicLSTM(3, 4, generator=torch.Generator().manual_seed(0))
    >>> tuple(lstm(torch.ones(5, 7, 3))[1][1].shape)
    (5, 4)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        init: InitTarget | str = InitTarget.GLOROT,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        batch_first: bool = True,
    ) -> None:
        super().__init__(
            LayerKind.DETERMINISTIC,
            input_size,
            hidden_size,
            None,
            input_rank=None,
            bayesian_bias=False,
            prior=None,
            init=init,
            eta=0.1,
            sampling=SamplingMode.MEAN,
            generator=generator,
            dtype=dtype,
            batch_first=batch_first,
        )


def make_lstm(
    kind: LayerKind | str,
    input_size: int,
    hidden_size: int,
    rank: int | None = None,
    **kwargs: Any,
) -> _LSTM:
    """The LSTM of the given ``kind`` (``rank`` and the Bayesian keywords are ignored where the
    kind has no use for them, so that one loop over kinds builds all three).

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> [type(make_lstm(k, 3, 4, rank=2, generator=gen)).__name__ for k in LayerKind]
    ['LowRankBayesLSTM', 'MeanFieldBayesLSTM', 'DeterministicLSTM']
    """
    chosen = layer_kind(kind)
    if chosen is LayerKind.LOW_RANK:
        if rank is None:
            raise ValueError("`rank` is required for kind 'low_rank'; got None")
        return LowRankBayesLSTM(input_size, hidden_size, rank, **kwargs)
    unknown = sorted(set(kwargs) - _LSTM_KEYWORDS)
    if unknown:
        raise TypeError(f"make_lstm() got unexpected keyword arguments {unknown}")
    kwargs.pop("input_rank", None)
    if chosen is LayerKind.MEAN_FIELD:
        return MeanFieldBayesLSTM(input_size, hidden_size, **kwargs)
    kept = {k: v for k, v in kwargs.items() if k in ("init", "generator", "dtype", "batch_first")}
    return DeterministicLSTM(input_size, hidden_size, **kept)


_LSTM_KEYWORDS = frozenset(
    (
        "input_rank",
        "bayesian_bias",
        "prior",
        "init",
        "eta",
        "sampling",
        "generator",
        "dtype",
        "batch_first",
    )
)
