r"""Evaluation metrics for the Monte Carlo predictions of Bayesian classifiers.

A pure functional core in torchmetrics' ``functional`` style: arrays in, Python floats out (for
the summary metrics) or per-example float64 tensors (for the uncertainty scores that feed OOD
detection). Every function takes the class probabilities of :math:`S` posterior samples, shape
``(S, N, C)``, or probabilities already averaged over samples, shape ``(N, C)``, as a
``torch.Tensor`` or a numpy array. The *predictive distribution* of example :math:`n` is the
sample mean

.. math::

    \bar p_n = \frac{1}{S} \sum_{s=1}^{S} p_{s,n} \in \Delta^{C-1}.

Labels are integers of shape ``(N,)`` in :math:`[0, C)`. Several conventions exist in the
literature for each metric; the ones used here are:

- **accuracy**: the argmax of :math:`\bar p_n` (ties go to the lowest class index);
- **NLL**: :math:`-\frac1N \sum_n \ln \bar p_{n, y_n}` in nats, the NLL of the predictive mean
  (not the mean of per-sample NLLs, which is larger by Jensen);
- **Brier**: summed over classes and averaged over examples, range :math:`[0, 2]`;
- **ECE**: top-label, :math:`B` equal-width right-closed bins over :math:`[0, 1]`;
- **entropies** in nats;
- **OOD detection**: out-of-distribution inputs are the *positive* class and a higher
  uncertainty score means "more likely OOD".

Validation: probabilities must be floating point, finite, non-negative, and sum to 1 over the
class (last) axis within :math:`4\,C\,\varepsilon` where :math:`\varepsilon` is the machine
epsilon of their dtype, but at least float32's. A softmax rounded to precision
:math:`\varepsilon` sums to 1 within about :math:`(C + 1)\varepsilon` (its denominator is a sum
of :math:`C` rounded terms, each entry adds a few roundings), and the float32 floor lets float32
probabilities that were cast to float64 pass. Logits, unnormalised scores or a transposed class
axis miss 1 by far more. Nothing is renormalised or clamped to hide a problem.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeAlias

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from theory._validation import check_int

__all__ = [
    "Metrics",
    "OODScore",
    "accuracy",
    "brier",
    "ece",
    "evaluate",
    "mutual_information",
    "nll",
    "ood_aupr",
    "ood_auroc",
    "predictive_entropy",
]

#: A ``torch.Tensor`` or a numpy array.
ArrayLike: TypeAlias = "Tensor | NDArray[Any]"

#: Probabilities must sum to 1 within ``PROB_SUM_ULPS * C * eps`` (see the module docstring).
PROB_SUM_ULPS = 4


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


# --- validation ---------------------------------------------------------------------------------


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f" and x.dtype.itemsize > 8:
            x = x.astype(np.float64)  # torch has no long double
        if x.dtype.kind not in "fiub":
            raise TypeError(f"`{name}` must be a real-valued array; got dtype {x.dtype}")
        # np.array copies: torch warns on (and may alias) read-only numpy buffers.
        return torch.from_numpy(np.array(x))
    raise TypeError(f"`{name}` must be a torch.Tensor or a numpy array; got {type(x).__name__}")


def _index(mask: Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in mask.nonzero()[0])


def _sum_tolerance(dtype: torch.dtype, n_classes: int) -> float:
    eps = max(torch.finfo(dtype).eps, torch.finfo(torch.float32).eps)
    return PROB_SUM_ULPS * n_classes * eps


def _check_probs(x: Any, name: str, *, need_samples: bool = False) -> Tensor:
    """``x`` as float64 ``(S, N, C)`` probabilities (a ``(N, C)`` input gets ``S = 1``)."""
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array of probabilities; got {t.dtype}")
    dims = (3,) if need_samples else (2, 3)
    if t.dim() not in dims or 0 in t.shape or t.shape[-1] < 2:
        expected = "(S, N, C)" if need_samples else "(S, N, C) or (N, C)"
        raise ValueError(
            f"`{name}` must have shape {expected} with S, N >= 1 and C >= 2; got {tuple(t.shape)}"
        )
    tol = _sum_tolerance(t.dtype, t.shape[-1])
    p = t.to(torch.float64)
    bad = ~torch.isfinite(p)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be finite; got {p[i].item()} at index {i}")
    bad = p < 0
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be >= 0; got {p[i].item()!r} at index {i}")
    sums = p.sum(-1)
    bad = (sums - 1.0).abs() > tol
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must sum to 1 over its last (class) axis within {tol:.3g}; "
            f"got {sums[i].item()!r} at index {i}"
        )
    return p if p.dim() == 3 else p.unsqueeze(0)


def _check_log_probs(
    x: Any, probs: Tensor, name: str = "log_probs", probs_name: str = "probs"
) -> Tensor:
    """``x`` as float64 log-probabilities of ``probs``' shape whose exp agrees with ``probs``."""
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array; got {t.dtype}")
    # log p has absolute error ~ eps where p = exp(log p) has relative error ~ eps: one tolerance.
    tol = _sum_tolerance(t.dtype, probs.shape[-1])
    lp = t.to(torch.float64)
    if lp.dim() == 2:
        lp = lp.unsqueeze(0)
    if lp.shape != probs.shape:
        raise ValueError(
            f"`{name}` must have the shape of `{probs_name}`, {tuple(probs.shape)}; "
            f"got {tuple(t.shape)}"
        )
    # -inf is a legitimate log-probability (probability exactly 0); NaN and +inf are not.
    bad = torch.isnan(lp) | (lp > tol)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be <= 0 (and not NaN); got {lp[i].item()} at index {i}")
    lse = torch.logsumexp(lp, dim=-1)
    bad = ~(lse.abs() <= tol)
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must have logsumexp 0 over its last (class) axis within {tol:.3g}; "
            f"got {lse[i].item()!r} at index {i}"
        )
    bad = (lp.exp() - probs).abs() > tol
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must be the log of `{probs_name}` (within {tol:.3g}); got exp({name}) = "
            f"{lp[i].exp().item()!r} but {probs_name} = {probs[i].item()!r} at index {i}"
        )
    return lp


def _check_labels(x: Any, probs: Tensor) -> Tensor:
    t = _as_tensor(x, "labels")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`labels` must be an integer array; got {t.dtype}")
    n, c = probs.shape[1], probs.shape[2]
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(
            f"`labels` must have shape (N,) = ({n},) to match `probs`; got {tuple(t.shape)}"
        )
    bad = (t < 0) | (t >= c)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`labels` must be ints in [0, {c - 1}]; got {t[i].item()} at index {i}")
    return t.to(device=probs.device, dtype=torch.int64)


def _check_scores(x: Any, name: str) -> NDArray[np.float64]:
    t = _as_tensor(x, name)
    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`{name}` must be a real-valued array; got {t.dtype}")
    if t.dim() != 1 or t.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array; got shape {tuple(t.shape)}")
    s = t.to(torch.float64)
    bad = ~torch.isfinite(s)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be finite; got {s[i].item()} at index {i}")
    out: NDArray[np.float64] = s.cpu().numpy()
    return out


# --- kernels on validated float64 (S, N, C) tensors ----------------------------------------------


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


def _entropy(p: Tensor) -> Tensor:
    return -torch.special.xlogy(p, p).sum(-1)  # xlogy(0, 0) = 0: the 0 ln 0 = 0 convention


def _mutual_information(p: Tensor) -> Tensor:
    pbar = p.mean(0, keepdim=True)
    # H[pbar] - mean_s H[p_s] = mean_s KL(p_s || pbar): the KL form is exactly 0 where every
    # sample equals the mean, and where p_s > 0 the mean is >= p_s / S > 0 (finite logs).
    safe = p > 0
    terms = torch.where(safe, p * (torch.log(p) - torch.log(pbar)), torch.zeros_like(p))
    return terms.sum(-1).mean(0)


# --- public functions ----------------------------------------------------------------------------


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
        agree with ``probs`` within the probability-sum tolerance of the module docstring.

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


@dataclass(frozen=True)
class Metrics:
    """The summary metrics of one model on one test set (see the module's conventions)."""

    #: accuracy of the predictive mean
    accuracy: float
    #: NLL of the predictive mean, nats per example
    nll: float
    #: Brier score, summed over classes
    brier: float
    #: top-label ECE with equal-width bins
    ece: float
    #: mean over in-distribution examples of the mutual information (None for (N, C) input)
    mutual_information: float | None
    #: OOD AUROC (OOD positive), None without OOD inputs
    ood_auroc: float | None
    #: OOD AUPR (OOD positive), None without OOD inputs
    ood_aupr: float | None

    def as_dict(self) -> dict[str, float | None]:
        """The fields as a plain dict (for tables and JSON)."""
        return dataclasses.asdict(self)


def evaluate(
    probs_samples: ArrayLike,
    labels: ArrayLike,
    *,
    ood_probs_samples: ArrayLike | None = None,
    n_bins: int = 15,
    score: OODScore | str = OODScore.ENTROPY,
    log_probs_samples: ArrayLike | None = None,
) -> Metrics:
    r"""All summary metrics of a model's Monte Carlo predictions, validated once.

    Parameters
    ----------
    probs_samples : torch.Tensor or ndarray, shape (S, N, C) or (N, C)
        Class probabilities of S posterior samples on the in-distribution test set.
    labels : torch.Tensor or ndarray of int, shape (N,)
        Labels in :math:`[0, C)`.
    ood_probs_samples : torch.Tensor or ndarray, shape (S', N', C), optional
        Class probabilities on OOD inputs (same C); gives ``ood_auroc`` and ``ood_aupr``.
    n_bins : int, default 15
        ECE bins.
    score : OODScore or str, default "entropy"
        The uncertainty score that ranks inputs for OOD detection.
    log_probs_samples : torch.Tensor or ndarray, shape of ``probs_samples``, optional
        Per-sample log-probabilities for an exact NLL (see :func:`nll`).

    Returns
    -------
    Metrics
        Every field equals the corresponding function of this module on the same input.

    Examples
    --------
    >>> p = torch.tensor([[[0.9, 0.1], [0.2, 0.8]], [[0.7, 0.3], [0.4, 0.6]]], dtype=torch.float64)
    >>> ood = torch.full((2, 3, 2), 0.5, dtype=torch.float64)
    >>> m = evaluate(p, torch.tensor([0, 1]), ood_probs_samples=ood)
    >>> m.accuracy, round(m.brier, 12), m.ood_auroc, m.ood_aupr
    (1.0, 0.13, 1.0, 1.0)
    """
    n_bins = check_int(n_bins, "n_bins", low=1)
    chosen = _ood_score(score)
    p = _check_probs(probs_samples, "probs_samples")
    y = _check_labels(labels, p)
    lp = None
    if log_probs_samples is not None:
        lp = _check_log_probs(log_probs_samples, p, "log_probs_samples", "probs_samples")
    has_samples = _as_tensor(probs_samples, "probs_samples").dim() == 3
    mi = _mutual_information(p) if has_samples else None
    auroc = aupr = None
    if ood_probs_samples is not None:
        q = _check_probs(ood_probs_samples, "ood_probs_samples")
        ood_shape = tuple(_as_tensor(ood_probs_samples, "ood_probs_samples").shape)
        if q.shape[-1] != p.shape[-1]:
            raise ValueError(
                f"`ood_probs_samples` must have C = {p.shape[-1]} classes like `probs_samples`; "
                f"got shape {ood_shape}"
            )
        if chosen is OODScore.MUTUAL_INFORMATION:
            if mi is None or len(ood_shape) != 3:
                in_shape = tuple(_as_tensor(probs_samples, "probs_samples").shape)
                raise ValueError(
                    "`score` 'mutual_information' needs posterior samples: `probs_samples` and "
                    f"`ood_probs_samples` must have shape (S, N, C); got {in_shape} and {ood_shape}"
                )
            s_in, s_ood = mi, _mutual_information(q)
        else:
            s_in, s_ood = _entropy(p.mean(0)), _entropy(q.mean(0))
        auroc = ood_auroc(s_in, s_ood)
        aupr = ood_aupr(s_in, s_ood)
    return Metrics(
        accuracy=_accuracy(p, y),
        nll=_nll(p, y, lp),
        brier=_brier(p, y),
        ece=_ece(p, y, n_bins),
        mutual_information=None if mi is None else float(mi.mean()),
        ood_auroc=auroc,
        ood_aupr=aupr,
    )
