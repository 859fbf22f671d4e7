"""Validation of the metrics' inputs (lrbnn_core.metrics.validation): the documented probability
tolerance, and every bad input each metric refuses."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import (
    PROB_SUM_ULPS,
    accuracy,
    brier,
    ece,
    evaluate,
    mutual_information,
    nll,
    ood_aupr,
    ood_auroc,
)


def test_probability_sum_tolerance_is_the_documented_one() -> None:
    tol = PROB_SUM_ULPS * 2 * float(np.finfo(np.float32).eps)  # float32 floor, C = 2
    y = torch.tensor([0])
    assert accuracy(torch.tensor([[0.5 + 0.5 * tol, 0.5]], dtype=torch.float64), y) == 1.0
    with pytest.raises(ValueError, match=r"`probs` must sum to 1 .* within 9\.54e-07; got 1\.0000"):
        accuracy(torch.tensor([[0.5 + 2 * tol, 0.5]], dtype=torch.float64), y)


def test_float32_softmax_of_many_classes_passes_validation(rng: np.random.Generator) -> None:
    logits = torch.from_numpy(rng.normal(scale=5.0, size=(3, 20, 1000)).astype(np.float32))
    p = torch.softmax(logits, -1)
    y = torch.from_numpy(rng.integers(0, 1000, size=20))
    assert 0.0 <= ece(p, y) <= 1.0
    assert ece(p.double(), y) == ece(p, y)  # upcast float32 probabilities pass too


P = torch.tensor([[0.3, 0.7], [0.6, 0.4]], dtype=torch.float64)
Y = torch.tensor([1, 0])
LP = torch.log(P)

BAD_INPUT: list[tuple[Callable[[], object], type[Exception], str]] = [
    (
        lambda: accuracy([[0.5, 0.5]], Y),  # type: ignore[arg-type]
        TypeError,
        "`probs` must be a torch.Tensor or a numpy",
    ),
    (lambda: accuracy(torch.ones(2, 2, dtype=torch.int64), Y), TypeError, "floating-point"),
    (lambda: accuracy(np.array([["a", "b"]]), Y), TypeError, "`probs` must be a real-valued"),
    (lambda: accuracy(P[0], Y), ValueError, r"`probs` must have shape .*; got \(2,\)"),
    (lambda: accuracy(P[None, None], Y), ValueError, r"got \(1, 1, 2, 2\)"),
    (lambda: accuracy(torch.ones(2, 1), Y), ValueError, r"C >= 2; got \(2, 1\)"),
    (lambda: accuracy(torch.ones(0, 2), Y[:0]), ValueError, r"S, N >= 1 .*; got \(0, 2\)"),
    (lambda: brier(P.clone().fill_(math.nan), Y), ValueError, r"`probs` must be finite; got nan"),
    (lambda: brier(P + math.inf, Y), ValueError, r"`probs` must be finite; got inf at index"),
    (
        lambda: brier(torch.tensor([[1.2, -0.2], [0.5, 0.5]]), Y),
        ValueError,
        r"`probs` must be >= 0; got -0.2\d* at index \(0, 1\)",  # the caller's index
    ),
    (lambda: nll(torch.tensor([[2.0, 1.0]]), Y[:1]), ValueError, r"sum to 1 .*; got 3\.0"),
    (lambda: accuracy(P, Y.double()), TypeError, "`labels` must be an integer array"),
    (lambda: accuracy(P, Y.bool()), TypeError, "`labels` must be an integer array"),
    (lambda: accuracy(P, Y[:1]), ValueError, r"`labels` must have shape \(N,\) = \(2,\)"),
    (lambda: accuracy(P, Y[None]), ValueError, r"got \(1, 2\)"),
    (
        lambda: accuracy(P, torch.tensor([0, 2])),
        ValueError,
        r"`labels` must be ints in \[0, 1\]; got 2 at index \(1,\)",
    ),
    (lambda: brier(P, np.array([-1, 0])), ValueError, r"in \[0, 1\]; got -1 at index \(0,\)"),
    (lambda: ece(P, Y, 0), ValueError, r"`n_bins` must be an int in \[1, inf\]; got 0"),
    (lambda: ece(P, Y, 2.0), TypeError, "`n_bins` must be an int; got 2.0"),  # type: ignore[arg-type]
    (lambda: ece(P, Y, True), TypeError, "`n_bins` must be an int; got True"),
    (lambda: mutual_information(P), ValueError, r"`probs` must have shape \(S, N, C\) "),
    (lambda: nll(P, Y, log_probs=LP.int()), TypeError, "`log_probs` must be a floating-point"),
    (lambda: nll(P, Y, log_probs=LP[:1]), ValueError, r"`log_probs` must have the shape of"),
    (lambda: nll(P, Y, log_probs=LP * math.nan), ValueError, r"<= 0 \(and not NaN\); got nan"),
    (lambda: nll(P, Y, log_probs=-LP), ValueError, r"`log_probs` must be <= 0 .*; got 1\.20"),
    (lambda: nll(P, Y, log_probs=LP - 1.0), ValueError, r"logsumexp 0 .*; got -1\.0"),
    (
        lambda: nll(P, Y, log_probs=LP.flip(-1)),
        ValueError,
        r"`log_probs` must be the log of `probs` .*; got exp\(log_probs\) = 0\.7",
    ),
    (lambda: ood_auroc(torch.ones(2, 2), torch.ones(2)), ValueError, "`scores_in` must be a non"),
    (lambda: ood_aupr(torch.ones(2), torch.ones(0)), ValueError, r"`scores_ood` .*shape \(0,\)"),
    (lambda: ood_auroc(torch.ones(2), torch.tensor([math.nan])), ValueError, "must be finite"),
    (
        lambda: ood_aupr([0.1], torch.ones(2)),  # type: ignore[arg-type]
        TypeError,
        "`scores_in` must be a torch.Tensor",
    ),
    (lambda: ood_aupr(torch.ones(2).bool(), torch.ones(2)), TypeError, "real-valued"),
    (lambda: evaluate(P, Y, score="bald"), ValueError, r"`score` must be one of 'entropy', .*"),
    (lambda: evaluate(P, Y, n_bins=-3), ValueError, r"`n_bins` must be an int .*; got -3"),
    (
        lambda: evaluate(P, Y, ood_probs_samples=P, score="mutual_information"),
        ValueError,
        r"needs posterior samples: .*; got \(2, 2\) and \(2, 2\)",
    ),
    (
        lambda: evaluate(P, Y, ood_probs_samples=torch.full((2, 4), 0.25)),
        ValueError,
        r"`ood_probs_samples` must have C = 2 classes .*; got shape \(2, 4\)",
    ),
    (lambda: evaluate(P, Y, ood_probs_samples=P * 2), ValueError, "`ood_probs_samples` must sum"),
    (lambda: evaluate(P * 2, Y), ValueError, "`probs_samples` must sum"),
    (
        lambda: evaluate(P, Y, log_probs_samples=LP.flip(-1)),
        ValueError,
        r"`log_probs_samples` must be the log of `probs_samples`",
    ),
]


@pytest.mark.parametrize(("call", "error", "match"), BAD_INPUT)
def test_metrics_reject_bad_input(
    call: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        call()
