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
  then the bias) and the *factors* are reused at every time step: the hidden map costs
  :math:`r(h + 4h)` multiply-adds per step and sequence instead of :math:`4h^2`, and :math:`W` is
  never formed. The input map is applied to all time steps at once with the same draw.
* ``"local"`` sampling is refused (``ValueError``): local reparameterisation draws pre-activations
  independently at every call, so the weights would not be shared across the time steps of a
  sequence. Use ``"shared"`` (or ``"mean"``, the posterior means).
* **One bias**, on the input layer (the hidden layer has none): PyTorch's two biases
  :math:`b_{ih} + b_{hh}` are redundant and would double the bias KL. The forget-gate slice of the
  bias (mean) starts at 1 (Jozefowicz et al., 2015), the other gates at 0.

References: ``CLAIMS.md`` section 0 (the factor posterior); the paper's LSTM experiments.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import BayesianModule, SamplingMode, check_input, check_size, sampling_mode
from lrbnn_core.layers import LowRankBayesLinear, MeanFieldBayesLinear
from lrbnn_core.models import LayerKind, layer_kind, make_linear
from lrbnn_core.priors import Prior
from theory.initialisation import InitTarget

__all__ = [
    "DeterministicLSTM",
    "LowRankBayesLSTM",
    "MeanFieldBayesLSTM",
    "Pool",
    "SequenceClassifier",
    "make_lstm",
]


class Pool(str, Enum):
    """How :class:`SequenceClassifier` turns a sequence of features into one vector."""

    #: the features of the last time step (an LSTM's final hidden state :math:`h_T`)
    LAST = "last"
    #: the mean over time steps (the usual Transformer pooling)
    MEAN = "mean"


def check_sequence(x: Any, features: int, dtype: torch.dtype, name: str = "x") -> Tensor:
    """``x`` as a finite ``(batch, time, features)`` tensor of ``dtype`` with time >= 1."""
    x = check_input(x, features, name, min_dim=3)
    if x.dim() != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"`{name}` must have shape (batch, time, {features}) with batch, time >= 1; "
            f"got {tuple(x.shape)}"
        )
    if x.dtype != dtype:
        raise TypeError(f"`{name}` must have the model's dtype {dtype}; got {x.dtype}")
    return x


def reject_local(model: nn.Module) -> None:
    """Raise if a Bayesian layer of ``model`` is in ``"local"`` mode (see the module notes)."""
    for name, module in model.named_modules():
        if isinstance(module, BayesianModule) and module.sampling is SamplingMode.LOCAL:
            raise ValueError(
                f"`sampling` of layer {name!r} is 'local', which {type(model).__name__} does "
                "not support: per-call pre-activation draws would not share one weight draw "
                "across the sequence; use 'shared' or 'mean'"
            )


def _bias_mean(layer: nn.Module) -> Tensor | None:
    """The (mean) bias tensor of any kind of layer, live (in-place edits reach the parameter)."""
    if isinstance(layer, (LowRankBayesLinear, MeanFieldBayesLinear)):
        posteriors = layer.factor_posteriors()
        if "bias" in posteriors:
            return posteriors["bias"][0]
    bias: Tensor | None = getattr(layer, "bias", None)
    return bias


def one_draw(layer: nn.Module) -> Callable[[Tensor], Tensor]:
    """The map ``x -> W x + b`` for ONE draw of ``layer``'s weights (its ``sampling`` mode and
    ``generator``), to be applied any number of times (every step of a sequence)."""
    if isinstance(layer, LowRankBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            post = layer.factor_posteriors()
            a, b, bias = post["A"][0], post["B"][0], _bias_mean(layer)
        else:
            a, b, bias = layer.sample_factors()

        def low_rank(x: Tensor) -> Tensor:
            y = (x @ b) @ a.T
            return y if bias is None else y + bias

        return low_rank
    if isinstance(layer, MeanFieldBayesLinear):
        if layer.sampling is SamplingMode.MEAN:
            w, bias = layer.mean_weight(), _bias_mean(layer)
        else:
            w = layer.sample_weight()
            posteriors = layer.factor_posteriors()
            bias = _bias_mean(layer)
            if "bias" in posteriors:
                mean, std = posteriors["bias"]
                eps = torch.randn(
                    mean.shape, generator=layer.generator, dtype=mean.dtype, device=mean.device
                )
                bias = mean + std * eps

        def mean_field(x: Tensor) -> Tensor:
            y = x @ w.T
            return y if bias is None else y + bias

        return mean_field
    if isinstance(layer, nn.Linear):
        return layer
    raise TypeError(f"`layer` must be a layer built by make_linear; got {type(layer).__name__}")


class _LSTM(nn.Module):
    """One LSTM layer whose two gate matrices come from :func:`make_linear` (module notes)."""

    #: what :class:`SequenceClassifier` pools by default
    default_pool = Pool.LAST

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
        batch, steps, h = x.shape[0], x.shape[1], self.hidden_size
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
        input_map = one_draw(self.input_linear)
        hidden_map = one_draw(self.hidden_linear)
        gates_x = input_map(x)
        outputs = []
        for t in range(steps):
            i, f, g, o = (gates_x[:, t] + hidden_map(hx)).chunk(4, dim=-1)
            cx = torch.sigmoid(f) * cx + torch.sigmoid(i) * torch.tanh(g)
            hx = torch.sigmoid(o) * torch.tanh(cx)
            outputs.append(hx)
        out = torch.stack(outputs, dim=1 if self.batch_first else 0)
        return out, (hx, cx)

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind.value}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, rank={self.rank}, input_rank={self.input_rank}, "
            f"batch_first={self.batch_first}"
        )


class LowRankBayesLSTM(_LSTM):
    r"""LSTM whose input and hidden gate matrices are :class:`LowRankBayesLinear` (module notes).

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


class SequenceClassifier(nn.Module):
    r"""Logits of a sequence from an encoder's pooled features and a linear head.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps ``(batch, time, input)`` to ``(batch, time, features)`` (or to a tuple whose first
        entry is that, as the LSTMs here) and has an int attribute ``output_size`` = features
        (the LSTMs and Transformer encoders of ``lrbnn_core``). Batch-first outputs only.
    n_classes : int
        Number of classes, >= 2.
    head : torch.nn.Module, optional
        Maps ``(batch, features)`` to ``(batch, n_classes)``: a Bayesian or deterministic layer
        from :func:`make_linear` (a Bayesian head is found by ``model_kl`` like every other
        Bayesian layer). ``None``: a deterministic linear layer initialised from ``generator``,
        of ``dtype`` (by default the encoder's).
    pool : {"last", "mean"}, optional
        The encoder's ``default_pool`` when ``None`` (``"last"`` = :math:`h_T` for the LSTMs,
        ``"mean"`` for the Transformers).

    Examples
    --------
    >>> gen = torch.Generator().manual_seed(0)
    >>> model = SequenceClassifier(LowRankBayesLSTM(1, 8, 2, input_rank=1, generator=gen), 3,
    ...                            head=make_linear("low_rank", 8, 3, rank=2, generator=gen))
    >>> tuple(model(torch.zeros(5, 10, 1)).shape)
    (5, 3)
    """

    def __init__(
        self,
        encoder: nn.Module,
        n_classes: int,
        *,
        head: nn.Module | None = None,
        pool: Pool | str | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"`encoder` must be a torch.nn.Module; got {type(encoder).__name__}")
        features = getattr(encoder, "output_size", None)
        if isinstance(features, bool) or not isinstance(features, int):
            raise TypeError(f"`encoder` must have an int attribute `output_size`; got {features!r}")
        if not getattr(encoder, "batch_first", True):
            raise ValueError("`encoder` must be batch-first (batch_first=True); got False")
        self.n_classes = check_size(n_classes, "n_classes", 2)
        chosen = getattr(encoder, "default_pool", Pool.LAST) if pool is None else pool
        try:
            self.pool = Pool(chosen)
        except ValueError:
            known = ", ".join(repr(p.value) for p in Pool)
            raise ValueError(f"`pool` must be one of {known}; got {pool!r}") from None
        if head is None:
            if dtype is None:
                dtype = next(iter(encoder.parameters()), torch.empty(0)).dtype
            head = make_linear(
                LayerKind.DETERMINISTIC, features, self.n_classes, generator=generator, dtype=dtype
            )
        if not isinstance(head, nn.Module):
            raise TypeError(f"`head` must be a torch.nn.Module or None; got {type(head).__name__}")
        shape = (getattr(head, "in_features", features), getattr(head, "out_features", n_classes))
        if shape != (features, self.n_classes):
            raise ValueError(
                f"`head` must map encoder.output_size = {features} features to n_classes = "
                f"{self.n_classes}; got in_features, out_features = {shape}"
            )
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(batch, n_classes)`` of the sequences ``x``."""
        out = self.encoder(x)
        if isinstance(out, tuple):
            out = out[0]
        pooled = out[:, -1] if self.pool is Pool.LAST else out.mean(dim=1)
        logits: Tensor = self.head(pooled)
        return logits
