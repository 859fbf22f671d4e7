"""Uncertainty: per-example predictive entropy and mutual information, and how well such a
score tells out-of-distribution inputs apart (OOD AUROC, AUPR; conventions:
:mod:`lrbnn_core.metrics`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrbnn_core.metrics.validation import ArrayLike, _check_probs, _check_scores

__all__ = ["OODScore", "mutual_information", "ood_aupr", "ood_auroc", "predictive_entropy"]


class OODScore(str, Enum):
    """Which per-example uncertainty ``evaluate`` uses as its OOD-detection score."""

    #: the predictive entropy :math:`H[\bar p_n]`: total uncertainty, defined for every model,
    #: deterministic ones included (the default, so that a table compares like with like)
    ENTROPY = "entropy"
    #: the mutual information :math:`H[\bar p_n] - \frac1S \sum_s H[p_{s,n}]`: the epistemic
    #: part only; needs ``(S, N, C)`` samples and is identically 0 when ``S = 1``
    MUTUAL_INFORMATION = "mutual_information"


def _ood_score(value: Any) -> OODScore:
    try:
        return OODScore(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in OODScore)
        raise ValueError(f"`score` must be one of {known}; got {value!r}") from None


def _entropy(p: Tensor) -> Tensor:
    return -torch.special.xlogy(p, p).sum(-1)  # xlogy(0, 0) = 0: the 0 ln 0 = 0 convention


def _mutual_information(p: Tensor) -> Tensor:
    pbar = p.mean(0, keepdim=True)
    # H[pbar] - mean_s H[p_s] = mean_s KL(p_s || pbar): the KL form is exactly 0 where every
    # sample equals the mean, and where p_s > 0 the mean is >= p_s / S > 0 (finite logs).
    safe = p > 0
    terms = torch.where(safe, p * (torch.log(p) - torch.log(pbar)), torch.zeros_like(p))
    return terms.sum(-1).mean(0)


def predictive_entropy(probs: ArrayLike) -> Tensor:
    r"""Entropy of the predictive mean of each example, in nats (total uncertainty).

    .. math::

        H[\bar p_n] = -\sum_{c=1}^C \bar p_{n,c} \ln \bar p_{n,c}, \qquad 0 \ln 0 = 0

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples, or their mean.

    Returns
    -------
    torch.Tensor, shape (N,), float64
        Entropies in :math:`[0, \ln C]` (a per-example score, hence a tensor).

    Examples
    --------
    >>> import math
    >>> predictive_entropy(torch.tensor([[1.0, 0.0], [0.5, 0.5]])).tolist() == [0.0, math.log(2)]
    True
    """
    return _entropy(_check_probs(probs, "probs").mean(0))


def mutual_information(probs: ArrayLike) -> Tensor:
    r"""Mutual information between the label and the posterior sample, per example, in nats.

    The epistemic part of the predictive entropy (BALD):

    .. math::

        I_n = H[\bar p_n] - \frac1S \sum_{s=1}^S H[p_{s,n}]
            = \frac1S \sum_{s=1}^S \mathrm{KL}(p_{s,n} \,\|\, \bar p_n)
            \in [0, \min(\ln S, \ln C)]

    computed in the KL form, which is exactly 0 where all samples agree bit for bit. It is
    :math:`\ge 0` up to float64 rounding (a few ulps of :math:`\ln C`); tiny negative values are
    returned as they are, not clamped.

    Parameters
    ----------
    probs : torch.Tensor or ndarray, shape (S, N, C)
        Class probabilities of S posterior samples (averaged probabilities carry no epistemic
        information, so a 2-D input is refused).

    Returns
    -------
    torch.Tensor, shape (N,), float64
        The mutual information of each example.

    Examples
    --------
    >>> import math
    >>> p = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])  # two samples, certain and disagreeing
    >>> mutual_information(p).tolist() == [math.log(2)]
    True
    """
    return _mutual_information(_check_probs(probs, "probs", need_samples=True))


def ood_auroc(scores_in: ArrayLike, scores_ood: ArrayLike) -> float:
    r"""Area under the ROC curve for telling OOD inputs (positive class) from in-distribution ones.

    Computed by ``sklearn.metrics.roc_auc_score``; it equals the probability that a random OOD
    input scores higher than a random in-distribution one, ties counting 1/2. 0.5 is chance.

    Parameters
    ----------
    scores_in : torch.Tensor or ndarray, shape (N_in,)
        Uncertainty scores of in-distribution inputs (higher means more likely OOD).
    scores_ood : torch.Tensor or ndarray, shape (N_ood,)
        Uncertainty scores of OOD inputs.

    Returns
    -------
    float
        AUROC in :math:`[0, 1]`.

    Examples
    --------
    >>> ood_auroc(torch.tensor([0.1, 0.2, 0.9]), torch.tensor([0.5, 1.0]))
    0.8333333333333334
    """
    s_in = _check_scores(scores_in, "scores_in")
    s_ood = _check_scores(scores_ood, "scores_ood")
    y = np.concatenate([np.zeros(s_in.size), np.ones(s_ood.size)])
    from sklearn.metrics import roc_auc_score  # lazily: 0.7 s of import for every lrbnn_core

    return float(roc_auc_score(y, np.concatenate([s_in, s_ood])))


def ood_aupr(scores_in: ArrayLike, scores_ood: ArrayLike) -> float:
    r"""Area under the precision-recall curve with OOD inputs as the positive class.

    Computed by ``sklearn.metrics.average_precision_score`` (step-wise, no interpolation):
    :math:`\mathrm{AP} = \sum_k (R_k - R_{k-1}) P_k` over decreasing score thresholds. Chance is
    the OOD fraction :math:`N_\mathrm{ood} / (N_\mathrm{in} + N_\mathrm{ood})`, not 0.5.

    Parameters
    ----------
    scores_in : torch.Tensor or ndarray, shape (N_in,)
        Uncertainty scores of in-distribution inputs (higher means more likely OOD).
    scores_ood : torch.Tensor or ndarray, shape (N_ood,)
        Uncertainty scores of OOD inputs.

    Returns
    -------
    float
        AUPR in :math:`[0, 1]`.

    Examples
    --------
    >>> ood_aupr(torch.tensor([0.1, 0.2, 0.9]), torch.tensor([0.5, 1.0]))
    0.8333333333333333
    """
    s_in = _check_scores(scores_in, "scores_in")
    s_ood = _check_scores(scores_ood, "scores_ood")
    y = np.concatenate([np.zeros(s_in.size), np.ones(s_ood.size)])
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, np.concatenate([s_in, s_ood])))
