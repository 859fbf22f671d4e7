"""A sequence classifier: an encoder's pooled features through a linear head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lrbnn_core.base import check_size
from lrbnn_core.models import LayerKind, make_linear
from lrbnn_core.recurrent.sequence import Pool

__all__ = ["SequenceClassifier"]


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
    >>> from lrbnn_core.recurrent import LowRankBayesLSTM
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
