"""The figures' numbers against plain twins: the reliability bins against a loop over
examples, the ROC's AUROC against the Mann-Whitney count of ordered pairs."""

from __future__ import annotations

import numpy as np

from verification.compare.figures import reliability_bins, roc_points


def _bins_by_loop(conf: np.ndarray, hit: np.ndarray, n_bins: int) -> list[tuple[float, float, int]]:
    out = []
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = [
            i
            for i in range(len(conf))
            if lo <= conf[i] < hi or (b == n_bins - 1 and conf[i] == 1.0)
        ]
        if inside:
            out.append((float(np.mean(conf[inside])), float(np.mean(hit[inside])), len(inside)))
    return out


def test_reliability_bins_match_loop(rng: np.random.Generator) -> None:
    conf = np.r_[rng.uniform(0.1, 1.0, 500), [1.0, 0.1, 0.5]]
    hit = (rng.uniform(size=conf.size) < conf).astype(np.float64)
    mean_conf, acc, count = reliability_bins(conf, hit, 10)
    twin = _bins_by_loop(conf, hit, 10)
    assert count.tolist() == [c for _, _, c in twin] and count.sum() == conf.size
    np.testing.assert_allclose(mean_conf, [m for m, _, _ in twin], rtol=1e-12)
    np.testing.assert_allclose(acc, [a for _, a, _ in twin], rtol=1e-12)


def test_roc_auroc_matches_pair_count(rng: np.random.Generator) -> None:
    score_in = np.round(rng.normal(0.0, 1.0, 60), 1)
    score_out = np.round(rng.normal(0.7, 1.0, 40), 1)
    fpr, tpr, auroc = roc_points(score_in, score_out)
    pairs = [(o > i) + 0.5 * (o == i) for o in score_out for i in score_in]
    assert auroc == np.float64(np.mean(pairs)) or abs(auroc - np.mean(pairs)) < 1e-12
    assert fpr[0] == tpr[0] == 0.0 and fpr[-1] == tpr[-1] == 1.0
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
