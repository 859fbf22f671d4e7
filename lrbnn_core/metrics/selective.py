r"""Selective prediction (score only the most confident fraction of the test set) and the MI
ratio of the paper's tables.

**Selective prediction** at retention :math:`\rho \in (0, 1]`: keep the :math:`k =
\lceil \rho N \rceil` most confident examples and score them (accuracy for classification,
MAE for regression). Confidence is the top-label probability :math:`\max_c \bar p_{n,c}` for
classification and minus the predictive std of the draws for regression
(:func:`~lrbnn_core.metrics.regression.predictive_std`: a constant observation noise does not
change the order). Ties at the cut are shared equally: the examples strictly more confident
than the :math:`k`-th count fully, each of the :math:`t` tied with it counts with weight
:math:`(k - a)/t` (:math:`a` = the number strictly above), which is the expected score over a
uniformly random order of the ties. A model whose confidence is the same everywhere (a
deterministic regressor) so scores exactly its full-data value at every retention, instead of
whatever the data order happens to be.

**MI ratio**: the mean mutual information on OOD inputs over the mean on in-distribution inputs
(:func:`~lrbnn_core.metrics.mutual_information`); undefined, and refused, where the
in-distribution mean is not positive (one sample, or samples that all agree; the paper writes
.000 for its deterministic row).

References: the paper's Tables 2 and 3 (PM2.5 selective MAE at 90 / 80 %; the SST-2 MI ratio).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lrbnn_core._validation import check_real
from lrbnn_core.metrics.regression import _check_outputs, _check_targets, _moments
from lrbnn_core.metrics.uncertainty import _mutual_information
from lrbnn_core.metrics.validation import ArrayLike, _check_labels, _check_probs

__all__ = ["mi_ratio", "selective_accuracy", "selective_mae", "selective_weights"]


def _check_retention(value: Any) -> float:
    v = check_real(value, "retention")
    if not 0.0 < v <= 1.0:
        raise ValueError(f"`retention` must be in (0, 1]; got {value!r}")
    return v


def selective_weights(confidence: Tensor, retention: float) -> Tensor:
    r"""Weight of each example in the retained set: 1 above the cut, :math:`(k - a)/t` for the
    :math:`t` examples tied at it, 0 below; the weights sum to :math:`k = \lceil \rho N \rceil`.

    Examples
    --------
    >>> selective_weights(torch.tensor([0.9, 0.5, 0.5, 0.1], dtype=torch.float64), 0.5).tolist()
    [1.0, 0.5, 0.5, 0.0]
    """
    if not isinstance(confidence, Tensor) or confidence.dim() != 1 or confidence.numel() == 0:
        got = tuple(confidence.shape) if isinstance(confidence, Tensor) else type(confidence)
        raise ValueError(f"`confidence` must be a non-empty 1-D tensor; got {got}")
    c = confidence.to(torch.float64)
    if not bool(torch.isfinite(c).all()):
        raise ValueError("`confidence` must be finite")
    rho = _check_retention(retention)
    n = c.shape[0]
    # ceil of rho N, computed so that rho = k/N (0.9 of 10) gives k, not k + 1 from rounding
    k = min(n, max(1, math.ceil(round(rho * n, 9))))
    cut = torch.sort(c, descending=True).values[k - 1]
    above = c > cut
    tied = c == cut
    a, t = int(above.sum()), int(tied.sum())
    w = above.to(torch.float64)
    return w + tied.to(torch.float64) * ((k - a) / t)


def selective_accuracy(probs: ArrayLike, labels: ArrayLike, *, retention: float) -> float:
    r"""Accuracy of the predictive mean on the :math:`\lceil \rho N \rceil` examples with the
    largest top-label probability (ties shared, module notes).

    Examples
    --------
    >>> p = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.7, 0.3]])
    >>> selective_accuracy(p, torch.tensor([0, 1, 0]), retention=2 / 3)
    1.0
    """
    p = _check_probs(probs, "probs")
    y = _check_labels(labels, p)
    conf, pred = p.mean(0).max(-1)
    w = selective_weights(conf, retention)
    return float((w * (pred == y).to(torch.float64)).sum() / w.sum())


def selective_mae(samples: ArrayLike, targets: ArrayLike, *, retention: float) -> float:
    r"""MAE of the predictive mean on the :math:`\lceil \rho N \rceil` examples with the
    smallest predictive std (ties shared, module notes); each example's error is averaged over
    its :math:`D` outputs.

    Examples
    --------
    >>> f = torch.tensor([[[0.0], [0.0]], [[0.0], [2.0]]])  # example 1 uncertain
    >>> selective_mae(f, torch.tensor([[1.0], [5.0]]), retention=0.5)
    1.0
    """
    f = _check_outputs(samples, "samples")
    y = _check_targets(targets, f)
    mean, var = _moments(f, 0.0)
    err = (y - mean).abs().mean(-1)
    w = selective_weights(-var.mean(-1).sqrt(), retention)
    return float((w * err).sum() / w.sum())


def mi_ratio(probs_in: ArrayLike, probs_ood: ArrayLike) -> float:
    r"""Mean mutual information on OOD inputs divided by the mean on in-distribution inputs.

    Both ``(S, N, C)`` with the same :math:`C` (:math:`S` may differ).

    Examples
    --------
    >>> agree = torch.tensor([[[0.9, 0.1]], [[0.8, 0.2]]])
    >>> split = torch.tensor([[[0.9, 0.1]], [[0.1, 0.9]]])
    >>> round(mi_ratio(agree, split), 3)
    36.931
    """
    p_in = _check_probs(probs_in, "probs_in", need_samples=True)
    p_ood = _check_probs(probs_ood, "probs_ood", need_samples=True)
    if p_in.shape[-1] != p_ood.shape[-1]:
        raise ValueError(
            f"`probs_ood` must have the classes of `probs_in` ({p_in.shape[-1]}); "
            f"got {p_ood.shape[-1]}"
        )
    mi_in = float(_mutual_information(p_in).mean())
    if not mi_in > 0.0:
        raise ValueError(
            f"`probs_in` has mean mutual information {mi_in!r}: the ratio is undefined (one "
            f"sample, S = {p_in.shape[0]}, or samples that all agree)"
        )
    return float(_mutual_information(p_ood).mean()) / mi_in
