"""All summary metrics of a model's Monte Carlo predictions at once (:func:`evaluate`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from lrbnn_core.metrics.calibration import _ece
from lrbnn_core.metrics.classification import _accuracy, _brier, _nll
from lrbnn_core.metrics.uncertainty import (
    OODScore,
    _entropy,
    _mutual_information,
    _ood_score,
    ood_aupr,
    ood_auroc,
)
from lrbnn_core.metrics.validation import (
    ArrayLike,
    _as_tensor,
    _check_labels,
    _check_log_probs,
    _check_probs,
)
from theory._validation import check_int

__all__ = ["Metrics", "evaluate"]


@dataclass(frozen=True)
class Metrics:
    """The summary metrics of one model on one test set (see the
    conventions of :mod:`lrbnn_core.metrics`)."""

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
        Every field equals the corresponding function of :mod:`lrbnn_core.metrics` on the same
        input.

    Examples
    --------
    >>> import torch
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
