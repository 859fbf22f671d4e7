"""Scores of the predictive mean against the labels: accuracy, NLL and Brier score
(conventions: :mod:`lrbnn_core.metrics`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lrbnn_core.metrics.validation import (
    ArrayLike,
    _check_labels,
    _check_log_probs,
    _check_probs,
)

__all__ = ["accuracy", "brier", "nll"]


def _accuracy(p: Tensor, y: Tensor) -> float:
    return float((p.mean(0).argmax(-1) == y).to(torch.float64).mean())


def _nll(p: Tensor, y: Tensor, lp: Tensor | None) -> float:
    s = p.shape[0]
    if lp is not None:
        # ln mean_s exp(l_s) = logsumexp_s(l_s) - ln S: exact even where every exp(l_s) underflows.
        ll = torch.logsumexp(lp.gather(2, y.expand(s, -1).unsqueeze(-1)).squeeze(-1), 0)
        return float(-(ll - math.log(s)).mean())
    # No floor: a predictive probability of exactly 0 for a label gives the true value, +inf.
    return float(-torch.log(p.mean(0).gather(1, y.unsqueeze(-1))).mean())


def _brier(p: Tensor, y: Tensor) -> float:
    pbar = p.mean(0)
    onehot = torch.nn.functional.one_hot(y, pbar.shape[-1]).to(torch.float64)
    return float(((pbar - onehot) ** 2).sum(-1).mean())


def accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    r"""Fraction of examples whose predictive mean puts its largest probability on the label.

    .. math::

        \mathrm{acc} = \frac1N \sum_{n=1}^N \mathbb 1\big[\arg\max_c \bar p_{n,c} = y_n\big]

    Ties go to the lowest class index.

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples, or their mean.
    labels : torch.Tensor or ndarray of int, shape (N,)
        Labels in :math:`[0, C)`.

    Returns
    -------
    float
        Accuracy in :math:`[0, 1]`.

    Examples
    --------
    >>> accuracy(torch.tensor([[0.9, 0.1], [0.4, 0.6]]), torch.tensor([0, 0]))
    0.5
    """
    p = _check_probs(probs, "probs")
    return _accuracy(p, _check_labels(labels, p))


def nll(probs: ArrayLike, labels: ArrayLike, *, log_probs: ArrayLike | None = None) -> float:
    r"""Negative log-likelihood of the labels under the predictive mean, in nats per example.

    .. math::

        \mathrm{NLL} = -\frac1N \sum_{n=1}^N \ln \bar p_{n, y_n}
          = -\frac1N \sum_{n=1}^N \Big(\operatorname{logsumexp}_s \ln p_{s,n,y_n} - \ln S\Big)

    From ``probs`` alone the first form is used, with no floor: a label whose predictive
    probability is exactly 0 (for instance after float underflow) gives :math:`+\infty`, the true
    value for those numbers. Pass the per-sample ``log_probs`` (``log_softmax`` of the logits) to
    evaluate the second form, exact even where the probabilities underflow.

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples, or their mean.
    labels : torch.Tensor or ndarray of int, shape (N,)
        Labels in :math:`[0, C)`.
    log_probs : torch.Tensor or ndarray, shape of ``probs``, optional
        The logarithms of ``probs`` (entries may be :math:`-\infty`); ``exp(log_probs)`` must
        agree with ``probs`` within the probability-sum tolerance of :mod:`lrbnn_core.metrics`.

    Returns
    -------
    float
        NLL in :math:`[0, +\infty]`.

    Examples
    --------
    >>> lp = torch.log_softmax(torch.tensor([[[0.0, -800.0]], [[0.0, -802.0]]]), -1)
    >>> nll(lp.exp(), torch.tensor([1]))
    inf
    >>> round(nll(lp.exp(), torch.tensor([1]), log_probs=lp), 6)
    800.566219
    """
    p = _check_probs(probs, "probs")
    y = _check_labels(labels, p)
    lp = None
    if log_probs is not None:
        lp = _check_log_probs(log_probs, p)
    return _nll(p, y, lp)


def brier(probs: ArrayLike, labels: ArrayLike) -> float:
    r"""Brier score of the predictive mean: squared error to the one-hot label, summed over classes.

    .. math::

        \mathrm{Brier} = \frac1N \sum_{n=1}^N \sum_{c=1}^C
          \big(\bar p_{n,c} - \mathbb 1[c = y_n]\big)^2 \in [0, 2]

    (Brier's original convention; some libraries divide by :math:`C` or keep only the label's
    term.)

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples, or their mean.
    labels : torch.Tensor or ndarray of int, shape (N,)
        Labels in :math:`[0, C)`.

    Returns
    -------
    float
        The Brier score.

    Examples
    --------
    >>> round(brier(torch.tensor([[0.7, 0.2, 0.1]], dtype=torch.float64), torch.tensor([0])), 12)
    0.14
    """
    p = _check_probs(probs, "probs")
    return _brier(p, _check_labels(labels, p))
