"""Metrics against independent twins: numpy loops over examples, a per-bin ECE loop, direct
entropies, a brute-force pairwise AUROC, a threshold-by-threshold average precision, hand values,
and Hoeffding-bounded ECE on synthetic data whose calibration is known."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from lrbnn_core.metrics import (
    PROB_SUM_ULPS,
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

#: float64 reductions over at most a few thousand terms: relative rounding < 1e3 * 2.2e-16.
RTOL = 1e-12
#: Absolute slack for entropy-type quantities (sums of C <= 10 terms of size <= ln 10, and the
#: twin's H[mean] - mean H cancels two such sums): a few hundred ulps.
ENTROPY_ATOL = 1e-13
#: False-failure probability of each statistical assertion.
DELTA = 1e-6

Array = np.ndarray[Any, Any]


def _probs(rng: np.random.Generator, shape: tuple[int, ...], alpha: float = 1.0) -> Array:
    """Dirichlet(alpha) probability vectors along the last axis (float64)."""
    return rng.dirichlet(np.full(shape[-1], alpha), size=shape[:-1])


def _samples_3d(p: Array) -> Array:
    return p if p.ndim == 3 else p[None]


# --- twins: clear, unoptimised loops ------------------------------------------------------------


def _twin_mean(p: Array, n: int) -> list[float]:
    p3 = _samples_3d(p)
    s_count, _, c_count = p3.shape
    return [sum(float(p3[s, n, c]) for s in range(s_count)) / s_count for c in range(c_count)]


def _twin_accuracy(p: Array, y: Array) -> float:
    n_examples = len(y)
    hits = 0
    for n in range(n_examples):
        mean = _twin_mean(p, n)
        hits += int(mean.index(max(mean)) == y[n])
    return hits / n_examples


def _twin_nll(p: Array, y: Array) -> float:
    return -sum(math.log(_twin_mean(p, n)[y[n]]) for n in range(len(y))) / len(y)


def _twin_brier(p: Array, y: Array) -> float:
    total = 0.0
    for n in range(len(y)):
        mean = _twin_mean(p, n)
        total += sum((mean[c] - (1.0 if c == y[n] else 0.0)) ** 2 for c in range(len(mean)))
    return total / len(y)


def _twin_bin(conf: float, n_bins: int) -> int:
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        if lo < conf <= hi or (b == 0 and conf == 0.0):
            return b
    raise AssertionError(f"confidence {conf} in no bin")


def _twin_ece(p: Array, y: Array, n_bins: int) -> float:
    confs, hits = [], []
    for n in range(len(y)):
        mean = _twin_mean(p, n)
        confs.append(max(mean))
        hits.append(float(mean.index(max(mean)) == y[n]))
    total = 0.0
    for b in range(n_bins):
        members = [i for i in range(len(y)) if _twin_bin(confs[i], n_bins) == b]
        if members:
            acc = sum(hits[i] for i in members) / len(members)
            conf = sum(confs[i] for i in members) / len(members)
            total += len(members) / len(y) * abs(acc - conf)
    return total


def _twin_entropy(q: list[float] | Array) -> float:
    return -sum(float(v) * math.log(float(v)) for v in q if v > 0)


def _twin_mutual_information(p: Array) -> list[float]:
    s_count, n_examples, _ = p.shape
    out = []
    for n in range(n_examples):
        expected = sum(_twin_entropy(p[s, n]) for s in range(s_count)) / s_count
        out.append(_twin_entropy(_twin_mean(p, n)) - expected)
    return out


def _twin_auroc(s_in: Array, s_ood: Array) -> float:
    """Fraction of (OOD, in) pairs in which the OOD input scores higher; ties count 1/2."""
    wins = 0.0
    for a in s_ood:
        for b in s_in:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(s_ood) * len(s_in))


def _twin_average_precision(s_in: Array, s_ood: Array) -> float:
    """sum_k (R_k - R_{k-1}) P_k over distinct thresholds, from the highest down."""
    scores = np.concatenate([s_in, s_ood])
    is_ood = np.concatenate([np.zeros(len(s_in)), np.ones(len(s_ood))])
    ap, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        flagged = scores >= t
        true_pos = float(is_ood[flagged].sum())
        precision, recall = true_pos / int(flagged.sum()), true_pos / len(s_ood)
        ap += (recall - previous_recall) * precision
        previous_recall = recall
    return ap


# --- accuracy, NLL, Brier ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 40, 4), (1, 30, 2), (40, 3)])
def test_accuracy_nll_brier_match_numpy_loops(rng: np.random.Generator, shape: tuple) -> None:
    p = _probs(rng, shape, alpha=0.7)
    y = rng.integers(0, shape[-1], size=shape[-2])
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    assert accuracy(pt, yt) == _twin_accuracy(p, y)
    assert nll(pt, yt) == pytest.approx(_twin_nll(p, y), rel=RTOL, abs=0)
    assert brier(pt, yt) == pytest.approx(_twin_brier(p, y), rel=RTOL, abs=0)


def test_metrics_accept_numpy_and_float32_inputs(rng: np.random.Generator) -> None:
    p = _probs(rng, (3, 25, 5)).astype(np.float32)
    y = rng.integers(0, 5, size=25)
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    p.flags.writeable = False  # read-only buffers are copied, not aliased (no torch warning)
    for f in (accuracy, nll, brier, ece):
        assert f(p, y) == f(pt, yt)
    # float32 values are converted exactly to float64, so the float64 twin sees the same numbers
    assert nll(pt, yt) == pytest.approx(_twin_nll(p.astype(np.float64), y), rel=RTOL, abs=0)


def test_accuracy_hand_values() -> None:
    p = torch.tensor([[0.5, 0.5], [0.2, 0.8], [0.6, 0.4]], dtype=torch.float64)
    assert accuracy(p, torch.tensor([0, 1, 1])) == 2 / 3  # the tie goes to class 0
    assert accuracy(p, torch.tensor([1, 0, 1])) == 0.0


def test_brier_hand_values() -> None:
    p = torch.tensor([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    assert brier(p[:1], torch.tensor([0])) == pytest.approx(0.14, rel=RTOL, abs=0)
    assert brier(p[1:], torch.tensor([1, 0])) == 0.0  # certain and right
    assert brier(p[1:], torch.tensor([0, 1])) == 2.0  # certain and wrong: the maximum


def test_nll_log_probs_equals_probs_where_not_tiny(rng: np.random.Generator) -> None:
    logits = torch.from_numpy(rng.normal(scale=2.0, size=(6, 50, 4)))
    lp = torch.log_softmax(logits, dim=-1)
    y = torch.from_numpy(rng.integers(0, 4, size=50))
    assert lp.exp().min() > 1e-6  # far from underflow: the two forms must agree
    assert nll(lp.exp(), y, log_probs=lp) == pytest.approx(nll(lp.exp(), y), rel=RTOL, abs=0)


def test_nll_log_probs_exact_where_probs_underflow() -> None:
    lp = torch.log_softmax(torch.tensor([[[0.0, -800.0]], [[0.0, -802.0]]]), -1)
    y = torch.tensor([1])
    assert nll(lp.exp(), y) == math.inf  # exp(-800) underflows: the honest value, no floor
    # -ln((e^-800 + e^-802) / 2) = 800 - ln(1 + e^-2) + ln 2
    expected = 800.0 - math.log1p(math.exp(-2.0)) + math.log(2.0)
    assert nll(lp.exp(), y, log_probs=lp) == pytest.approx(expected, rel=RTOL, abs=0)


# --- ECE -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_matches_bin_loop(rng: np.random.Generator, n_bins: int) -> None:
    p = _probs(rng, (3, 60, 3), alpha=0.5)
    y = rng.integers(0, 3, size=60)
    assert ece(torch.from_numpy(p), torch.from_numpy(y), n_bins) == pytest.approx(
        _twin_ece(p, y, n_bins), rel=RTOL, abs=1e-15
    )


@pytest.mark.parametrize("n_bins", [5, 10])
def test_ece_confidences_on_bin_edges_match_bin_loop(rng: np.random.Generator, n_bins: int) -> None:
    """Confidences k/10 lie exactly on edges: right-closed bins decide where they go."""
    conf = np.array([0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.6, 0.8, 1.0, 1.0])
    p = np.stack([conf, 1.0 - conf], axis=1)
    y = rng.integers(0, 2, size=len(conf))
    assert ece(torch.from_numpy(p), torch.from_numpy(y), n_bins) == pytest.approx(
        _twin_ece(p, y, n_bins), rel=RTOL, abs=1e-15
    )


def test_ece_hand_values() -> None:
    p = torch.tensor([[0.5, 0.5], [0.75, 0.25]], dtype=torch.float64)
    y = torch.tensor([0, 1])
    # right-closed: 0.5 in [0, 0.5] (right, gap 0.5), 0.75 in (0.5, 1] (wrong, gap 0.75);
    # left-closed bins would put both in one bin and give |0.5 - 0.625| = 0.125
    assert ece(p, y, 2) == 0.625
    assert ece(p, y, 1) == 0.125  # one bin: |accuracy - mean confidence|
    certain = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert ece(certain, torch.tensor([0, 1])) == 0.0  # confidence 1.0 lands in the last bin
    assert ece(certain, torch.tensor([0, 0])) == 0.5


def _hoeffding_ece_slack(conf: Array, n_bins: int, delta: float) -> float:
    """With probability >= 1 - delta, |ECE - sum_b w_b |mean_b(q - c)|| <= this, where q_n is the
    true probability that example n is right: given the confidences (hence the bins), the
    outcomes are independent, so Hoeffding bounds each bin's mean of (hit - q) by
    sqrt(ln(2 B / delta) / (2 n_b)) with probability 1 - delta / B (union bound over bins)."""
    bins = np.array([_twin_bin(float(c), n_bins) for c in conf])
    counts = np.bincount(bins, minlength=n_bins)
    counts = counts[counts > 0]
    return float(np.sum(np.sqrt(counts * math.log(2 * n_bins / delta) / 2.0)) / len(conf))


@pytest.mark.parametrize("shift", [0.0, 0.25])
def test_ece_on_data_of_known_calibration(rng: np.random.Generator, shift: float) -> None:
    """Confidence c, true accuracy q = c - shift: the population ECE is exactly ``shift``
    (0: perfectly calibrated), and the sample ECE is within the Hoeffding slack (false-failure
    probability DELTA)."""
    n = 20_000
    conf = rng.uniform(0.75, 1.0, size=n)
    pred = rng.integers(0, 2, size=n)
    right = rng.uniform(size=n) < conf - shift
    p = np.where(pred[:, None] == 0, np.stack([conf, 1 - conf], 1), np.stack([1 - conf, conf], 1))
    y = np.where(right, pred, 1 - pred)
    value = ece(torch.from_numpy(p), torch.from_numpy(y))
    slack = _hoeffding_ece_slack(conf, 15, DELTA)
    assert slack < 0.05  # the test has power: 0.25 and 0 are told apart
    assert abs(value - shift) <= slack + 1e-12


# --- entropy and mutual information ---------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.02, 1.0, 50.0])
def test_mutual_information_matches_entropy_twin_and_is_nonnegative(
    rng: np.random.Generator, alpha: float
) -> None:
    """alpha = 0.02 puts exact zeros in the probabilities (0 ln 0 = 0); 50 makes samples agree."""
    p = _probs(rng, (7, 30, 6), alpha=alpha)
    mi = mutual_information(torch.from_numpy(p))
    assert mi.dtype == torch.float64 and mi.shape == (30,)
    np.testing.assert_allclose(mi.numpy(), _twin_mutual_information(p), rtol=0, atol=ENTROPY_ATOL)
    assert bool((mi >= -ENTROPY_ATOL).all())
    assert bool((mi <= math.log(6) + ENTROPY_ATOL).all())  # <= min(ln S, ln C) = ln 6


def test_mutual_information_zero_when_samples_agree(rng: np.random.Generator) -> None:
    one = _probs(rng, (1, 20, 5), alpha=0.3)
    mi = mutual_information(torch.from_numpy(np.repeat(one, 6, axis=0)))
    assert float(mi.abs().max()) <= ENTROPY_ATOL
    assert mutual_information(torch.from_numpy(one)).tolist() == [0.0] * 20  # S = 1: exactly 0


def test_predictive_entropy_matches_twin(rng: np.random.Generator) -> None:
    p = _probs(rng, (4, 25, 3), alpha=0.05)
    h = predictive_entropy(torch.from_numpy(p))
    expected = [_twin_entropy(_twin_mean(p, n)) for n in range(25)]
    np.testing.assert_allclose(h.numpy(), expected, rtol=0, atol=ENTROPY_ATOL)
    uniform = torch.full((3, 4), 0.25, dtype=torch.float64)
    assert predictive_entropy(uniform).tolist() == [math.log(4)] * 3


# --- OOD detection -------------------------------------------------------------------------------


def test_ood_auroc_aupr_perfect_separation() -> None:
    s_in, s_ood = torch.tensor([0.1, 0.3, 0.2]), torch.tensor([0.5, 0.9])
    assert ood_auroc(s_in, s_ood) == 1.0 and ood_aupr(s_in, s_ood) == 1.0
    assert ood_auroc(s_ood, s_in) == 0.0  # OOD is the positive class: swapping inverts


def test_ood_auroc_matches_pairwise_twin_with_ties(rng: np.random.Generator) -> None:
    s_in = rng.integers(0, 6, size=40).astype(np.float64)
    s_ood = rng.integers(2, 8, size=25).astype(np.float64)
    assert ood_auroc(s_in, s_ood) == pytest.approx(_twin_auroc(s_in, s_ood), rel=RTOL, abs=0)


@pytest.mark.parametrize("ties", [True, False])
def test_ood_aupr_matches_threshold_twin(rng: np.random.Generator, ties: bool) -> None:
    s_in: Array
    s_ood: Array
    if ties:
        s_in, s_ood = rng.integers(0, 6, size=50), rng.integers(1, 7, size=20)
    else:
        s_in, s_ood = rng.normal(size=50), rng.normal(0.5, size=20)
    assert ood_aupr(s_in, s_ood) == pytest.approx(
        _twin_average_precision(s_in, s_ood), rel=RTOL, abs=0
    )


def test_ood_aupr_all_tied_is_the_ood_fraction() -> None:
    assert ood_aupr(np.zeros(6), np.zeros(2)) == 0.25
    assert ood_auroc(np.zeros(6), np.zeros(2)) == 0.5


# --- evaluate ------------------------------------------------------------------------------------


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


# --- bad input -----------------------------------------------------------------------------------


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
