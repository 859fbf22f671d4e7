"""Calibration: the top-label expected calibration error with equal-width bins
(conventions: :mod:`lrbnn_core.metrics`)."""

from __future__ import annotations

import torch
from torch import Tensor

from lrbnn_core.metrics.validation import ArrayLike, _check_labels, _check_probs
from theory._validation import check_int

__all__ = ["ece"]


def _ece(p: Tensor, y: Tensor, n_bins: int) -> float:
    conf, pred = p.mean(0).max(-1)
    correct = (pred == y).to(torch.float64)
    # Edges i / B, each correctly rounded (linspace may differ from i / B by an ulp).
    edges = torch.arange(n_bins + 1, dtype=torch.float64, device=p.device) / n_bins
    # searchsorted(right=False) gives edges[i-1] < conf <= edges[i]: right-closed bins. The clamp
    # sends conf = 0 (impossible for a top label, conf >= 1/C) to the first bin and conf in
    # (1, 1 + tol] (validated rounding of a sum to 1) to the last.
    b = (torch.searchsorted(edges, conf.contiguous(), right=False) - 1).clamp(0, n_bins - 1)
    gap = torch.zeros(n_bins, dtype=torch.float64, device=p.device).index_add_(0, b, correct - conf)
    # sum_b (n_b / N) |acc_b - conf_b| = sum_b |sum_{i in b} (correct_i - conf_i)| / N
    return float(gap.abs().sum() / conf.shape[0])


def ece(probs: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> float:
    r"""Top-label expected calibration error with equal-width confidence bins.

    The confidence of example :math:`n` is :math:`\hat c_n = \max_c \bar p_{n,c}`, its prediction
    the argmax (ties to the lowest index). Bin :math:`b \in \{1, \dots, B\}` is the right-closed
    interval :math:`I_b = ((b-1)/B,\, b/B]`, the first one also holding 0, so that a confidence of
    exactly 1 falls in the last bin and one of exactly :math:`b/B` in bin :math:`b`:

    .. math::

        \mathrm{ECE} = \sum_{b=1}^B \frac{|I_b|}{N}\,
          \big|\mathrm{acc}(I_b) - \mathrm{conf}(I_b)\big|
          = \frac1N \sum_{b=1}^B \Big|\sum_{n : \hat c_n \in I_b}
            \big(\mathbb 1[\hat y_n = y_n] - \hat c_n\big)\Big|

    Empty bins contribute 0.

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples, or their mean.
    labels : torch.Tensor or ndarray of int, shape (N,)
        Labels in :math:`[0, C)`.
    n_bins : int, default 15
        Number of bins :math:`B \ge 1`.

    Returns
    -------
    float
        ECE in :math:`[0, 1]`.

    Examples
    --------
    >>> p = torch.tensor([[0.5, 0.5], [0.75, 0.25]], dtype=torch.float64)
    >>> ece(p, torch.tensor([0, 1]), n_bins=2)  # bins [0, 0.5] and (0.5, 1]
    0.625
    """
    n_bins = check_int(n_bins, "n_bins", low=1)
    p = _check_probs(probs, "probs")
    return _ece(p, _check_labels(labels, p), n_bins)
