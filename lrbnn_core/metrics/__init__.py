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

Modules: :mod:`~lrbnn_core.metrics.validation` (the checks above),
:mod:`~lrbnn_core.metrics.classification` (accuracy, NLL, Brier),
:mod:`~lrbnn_core.metrics.calibration` (ECE), :mod:`~lrbnn_core.metrics.uncertainty` (entropies,
mutual information, OOD AUROC and AUPR), :mod:`~lrbnn_core.metrics.evaluation`
(:func:`evaluate`), :mod:`~lrbnn_core.metrics.regression` (MAE, NLL, PICP, ECE and predictive
std of Monte Carlo regression outputs, with their own conventions) and
:mod:`~lrbnn_core.metrics.selective` (selective prediction at a retention, the MI ratio).
"""

from __future__ import annotations

from lrbnn_core.metrics.calibration import ece
from lrbnn_core.metrics.classification import accuracy, brier, nll
from lrbnn_core.metrics.evaluation import Metrics, evaluate
from lrbnn_core.metrics.regression import (
    DEFAULT_LEVELS,
    NLLForm,
    picp,
    predictive_moments,
    predictive_std,
    regression_ece,
    regression_mae,
    regression_nll,
)
from lrbnn_core.metrics.selective import (
    mi_ratio,
    selective_accuracy,
    selective_mae,
    selective_weights,
)
from lrbnn_core.metrics.uncertainty import (
    OODScore,
    mutual_information,
    ood_aupr,
    ood_auroc,
    predictive_entropy,
)
from lrbnn_core.metrics.validation import PROB_SUM_ULPS, ArrayLike

__all__ = [
    "DEFAULT_LEVELS",
    "PROB_SUM_ULPS",
    "ArrayLike",
    "Metrics",
    "NLLForm",
    "OODScore",
    "accuracy",
    "brier",
    "ece",
    "evaluate",
    "mi_ratio",
    "mutual_information",
    "nll",
    "ood_aupr",
    "ood_auroc",
    "picp",
    "predictive_entropy",
    "predictive_moments",
    "predictive_std",
    "regression_ece",
    "regression_mae",
    "regression_nll",
    "selective_accuracy",
    "selective_mae",
    "selective_weights",
]
