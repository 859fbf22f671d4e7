"""All metrics at once (lrbnn_core.metrics.evaluation): every field equals its function."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import (
    Metrics,
    OODScore,
    accuracy,
    brier,
    ece,
    evaluate,
    mutual_information,
    nll,
    ood_aupr,
    ood_auroc,
    predictive_entropy,
)
from tests.lrbnn_core.metrics.twins import _probs


@pytest.mark.parametrize("score", list(OODScore))
def test_evaluate_fields_equal_the_functions(rng: np.random.Generator, score: OODScore) -> None:
    p = torch.from_numpy(_probs(rng, (4, 30, 3), alpha=2.0))
    q = torch.from_numpy(_probs(rng, (4, 12, 3), alpha=0.3))
    y = torch.from_numpy(rng.integers(0, 3, size=30))
    m = evaluate(p, y, ood_probs_samples=q, n_bins=7, score=score.value)
    uncertainty = predictive_entropy if score is OODScore.ENTROPY else mutual_information
    assert m == Metrics(
        accuracy=accuracy(p, y),
        nll=nll(p, y),
        brier=brier(p, y),
        ece=ece(p, y, 7),
        mutual_information=float(mutual_information(p).mean()),
        ood_auroc=ood_auroc(uncertainty(p), uncertainty(q)),
        ood_aupr=ood_aupr(uncertainty(p), uncertainty(q)),
    )
    assert list(m.as_dict()) == [f.name for f in dataclasses.fields(Metrics)]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
        m.accuracy = 0.0  # type: ignore[misc]


def test_evaluate_without_samples_or_ood_gives_none(rng: np.random.Generator) -> None:
    p = torch.from_numpy(_probs(rng, (10, 3)))
    y = torch.from_numpy(rng.integers(0, 3, size=10))
    m = evaluate(p, y)
    assert (m.mutual_information, m.ood_auroc, m.ood_aupr) == (None, None, None)
    assert m.nll == nll(p, y) and m.ece == ece(p, y)


def test_evaluate_log_probs_gives_exact_nll() -> None:
    lp = torch.log_softmax(torch.tensor([[[0.0, -800.0]], [[0.0, -802.0]]]), -1)
    y = torch.tensor([1])
    assert evaluate(lp.exp(), y, log_probs_samples=lp).nll == nll(lp.exp(), y, log_probs=lp)


def test_evaluate_mutual_information_score_flags_disagreement() -> None:
    """In-distribution samples agree on (0.5, 0.5); OOD samples disagree, certain, with the same
    mean: entropy cannot tell them apart (all tied, AUROC 1/2), mutual information can (1)."""
    agree = torch.full((2, 3, 2), 0.5, dtype=torch.float64)
    disagree = torch.tensor([[[0.9, 0.1]] * 2, [[0.1, 0.9]] * 2], dtype=torch.float64)
    y = torch.tensor([0, 1, 0])
    assert evaluate(agree, y, ood_probs_samples=disagree, score="entropy").ood_auroc == 0.5
    by_mi = evaluate(agree, y, ood_probs_samples=disagree, score=OODScore.MUTUAL_INFORMATION)
    assert (by_mi.ood_auroc, by_mi.ood_aupr, by_mi.mutual_information) == (1.0, 1.0, 0.0)
