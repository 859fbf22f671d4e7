r"""One row of the comparison (:class:`CompareRow`) and the small per-example arrays behind its
figures (:class:`CompareArrays`), from a trained family's Monte Carlo predictions.

Conventions (those of :mod:`lrbnn_core.metrics`, chosen to match the paper's tables):

* **classification**: accuracy, NLL (of the predictive mean, from the per-draw
  log-probabilities), Brier (summed over classes), top-label ECE (15 equal-width bins); MI
  :math:`H[\bar p] - \frac1S \sum_s H[p_s]` averaged over the test (``mi_in``) and OOD
  (``mi_ood``) inputs, ``mi_ratio`` = ``mi_ood / mi_in`` (``None`` where ``mi_in`` is 0: a
  deterministic model); OOD AUROC/AUPR with OOD positive and the MI as the score (a constant
  score gives AUROC 0.5, as the paper's deterministic rows); selective accuracy on the 90 / 80 %
  of test examples with the largest top-label probability.
* **regression** (standardised units): MAE of the predictive mean; NLL of the *mixture*
  :math:`\frac1S \sum_s N(f_s, \nu^2)` (nats per target); PICP of
  :math:`\hat y \pm z_{0.975} \hat\sigma` and ECE over the central-interval levels
  0.05, ..., 0.95, with :math:`\hat\sigma^2 = \nu^2 + \mathrm{Var}_s f_s` (``nu`` the
  likelihood's fixed noise std); OOD AUROC/AUPR with the predictive std of the draws as the
  score; selective MAE on the 90 / 80 % with the smallest predictive std.

References: ``CLAIMS.md`` X1-X6; the paper's Tables 1 to 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from lrbnn_core.metrics import (
    evaluate,
    mi_ratio,
    mutual_information,
    ood_aupr,
    ood_auroc,
    picp,
    predictive_moments,
    predictive_std,
    regression_ece,
    regression_mae,
    regression_nll,
    selective_accuracy,
    selective_mae,
)

__all__ = ["CompareArrays", "CompareRow", "Scores", "score_classification", "score_regression"]

#: the retentions of the selective-prediction columns
RETENTIONS = (0.9, 0.8)

F32 = NDArray[np.float32]


@dataclass(frozen=True)
class CompareRow:
    """One (task, family, seed) of ``lrbnn compare`` (module notes for each metric; ``None``
    where a metric does not apply to the task or family)."""

    task: str
    family: str
    seed: int
    #: the low-rank families' rank (the recipe's; each layer is capped at its full rank)
    rank: int | None
    #: trainable scalars (a Bayesian layer's means and scales; ensemble: all members)
    params: int
    #: posterior draws (or members) averaged per prediction; 1 for the deterministic model
    n_samples: int
    accuracy: float | None
    mae: float | None
    nll: float
    brier: float | None
    ece: float
    picp: float | None
    mi_in: float | None
    mi_ood: float | None
    mi_ratio: float | None
    ood_auroc: float
    ood_aupr: float
    #: the OOD score: "mi" (classification) or "std" (regression)
    ood_score: str
    selective_90: float
    selective_80: float
    #: epochs trained (early stopping; ensemble: mean over members)
    epochs: float
    #: wall seconds per epoch (ensemble: sum over members)
    seconds_per_epoch: float
    train_seconds: float
    #: :func:`~lrbnn_core.comparison.peak_training_memory_mb`
    peak_memory_mb: float
    n_test: int
    n_ood: int


@dataclass(frozen=True, eq=False)
class CompareArrays:
    """Per-example arrays for the figures (float32, one entry per test or OOD example)."""

    #: top-label probability (classification) or minus the predictive std (regression)
    test_confidence: F32
    #: 1.0 where the prediction is right (classification) or the absolute error (regression)
    test_correct: F32
    #: the OOD score (MI or predictive std) on the test inputs and on the OOD inputs
    ood_score_in: F32
    ood_score_out: F32


@dataclass(frozen=True)
class Scores:
    """The metric fields of a :class:`CompareRow`."""

    accuracy: float | None
    mae: float | None
    nll: float
    brier: float | None
    ece: float
    picp: float | None
    mi_in: float | None
    mi_ood: float | None
    mi_ratio: float | None
    ood_auroc: float
    ood_aupr: float
    ood_score: str
    selective_90: float
    selective_80: float


def _f32(t: Tensor) -> F32:
    return np.asarray(t.detach().to(torch.float64).numpy(), dtype=np.float32)


def score_classification(
    log_probs: Tensor, labels: Tensor, ood_log_probs: Tensor
) -> tuple[Scores, CompareArrays]:
    """Scores and arrays from ``(S, N, C)`` test and ``(S, N', C)`` OOD log-probabilities."""
    p = log_probs.to(torch.float64).exp()
    q = ood_log_probs.to(torch.float64).exp()
    m = evaluate(p, labels, log_probs_samples=log_probs)
    mi_in_each, mi_out_each = mutual_information(p), mutual_information(q)
    mi_in, mi_out = float(mi_in_each.mean()), float(mi_out_each.mean())
    conf, pred = p.mean(0).max(-1)
    scores = Scores(
        accuracy=m.accuracy,
        mae=None,
        nll=m.nll,
        brier=m.brier,
        ece=m.ece,
        picp=None,
        mi_in=mi_in,
        mi_ood=mi_out,
        mi_ratio=mi_ratio(p, q) if mi_in > 0.0 else None,
        ood_auroc=ood_auroc(mi_in_each, mi_out_each),
        ood_aupr=ood_aupr(mi_in_each, mi_out_each),
        ood_score="mi",
        selective_90=selective_accuracy(p, labels, retention=RETENTIONS[0]),
        selective_80=selective_accuracy(p, labels, retention=RETENTIONS[1]),
    )
    arrays = CompareArrays(
        test_confidence=_f32(conf),
        test_correct=_f32((pred == labels).to(torch.float64)),
        ood_score_in=_f32(mi_in_each),
        ood_score_out=_f32(mi_out_each),
    )
    return scores, arrays


def score_regression(
    outputs: Tensor, targets: Tensor, ood_outputs: Tensor, *, noise_std: float
) -> tuple[Scores, CompareArrays]:
    """Scores and arrays from ``(S, N, D)`` test and ``(S, N', D)`` OOD outputs, ``(N, D)``
    targets and the likelihood's ``noise_std``."""
    s_in = predictive_std(outputs)
    s_out = predictive_std(ood_outputs)
    mean, _ = predictive_moments(outputs, noise_std=noise_std)
    scores = Scores(
        accuracy=None,
        mae=regression_mae(outputs, targets),
        nll=regression_nll(outputs, targets, noise_std=noise_std),
        brier=None,
        ece=regression_ece(outputs, targets, noise_std=noise_std),
        picp=picp(outputs, targets, noise_std=noise_std, level=0.95),
        mi_in=None,
        mi_ood=None,
        mi_ratio=None,
        ood_auroc=ood_auroc(s_in, s_out),
        ood_aupr=ood_aupr(s_in, s_out),
        ood_score="std",
        selective_90=selective_mae(outputs, targets, retention=RETENTIONS[0]),
        selective_80=selective_mae(outputs, targets, retention=RETENTIONS[1]),
    )
    arrays = CompareArrays(
        test_confidence=_f32(-s_in),
        test_correct=_f32((targets.to(torch.float64) - mean).abs().mean(-1)),
        ood_score_in=_f32(s_in),
        ood_score_out=_f32(s_out),
    )
    return scores, arrays
