"""D2's coverage test of trained certificates covers every data-free prior mode of issue 17
(``init``, ``zero``, ``scale_mixture``): each is a design of its own, tested by default, and a
certificate that undercovers under one mode is refuted by name.

Statistics. The check's family-wise false-failure probability is ``ALPHA`` (1e-3, Bonferroni
over the bounds and the designs: :mod:`verification.claims.pac_bayes.trained_coverage`); the
positive case is ``test_trained_coverage.py``'s small run, which tests all three modes. Here
each mode's certificate is shrunk to half the measured true risk (the mutant), so every one of
the k = 8 repetitions violates it: P(Bin(8, 0.05) >= 8) = 3.9e-11 is below the per-test level
1e-3 / (3 bounds x 2 designs), so the mutant is refuted with probability 1 (the test's power
against it) and this test cannot fail by chance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from lrbnn_core.prior_modes import PriorMode
from verification.claims.pac_bayes import trained_coverage as tc
from verification.registry import Verdict

#: 8 repetitions of a tiny problem (as test_trained_coverage.SMALL)
SMALL = {"n_repeats": 8, "n_train": 200, "epochs": 8, "n_mc": 100, "n_fresh": 4000, "n_true_mc": 20}


def test_every_data_free_mode_is_tested_by_default() -> None:
    """A new prior mode of the library cannot escape the coverage test unnoticed."""
    free = {m.value for m in PriorMode} - {PriorMode.DATA_DEPENDENT.value}
    assert set(tc.DATA_FREE_MODES) == free
    assert tc._settings({})["priors"] == tuple(tc.DATA_FREE_MODES)


@pytest.mark.parametrize("mode", ["init", "zero", "scale_mixture"])
def test_an_undercovering_certificate_under_a_prior_mode_is_refuted(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real data-free path (training, the mode's prior grid paid for, certification, the
    true risk on fresh examples), its kl-inverse certificate shrunk to half the true risk: the
    check names the mode. The ELBO design is stubbed with a covered record (not under test)."""
    real = tc.data_free_repetition

    def shrunk(task: Any, settings: dict[str, Any], seed: int, m: str) -> dict[str, float]:
        out = real(task, settings, seed, m)
        assert out["true"] > 0.0  # so that half of it is a violation
        out["kl_inverse"] = 0.5 * out["true"]
        return out

    def covered(task: Any, settings: dict[str, Any], seed: int) -> dict[str, float]:
        return {"mcallester": 1.0, "kl_inverse": 1.0, "catoni": 1.0, "naive": 0.0, "true": 0.5,
                "true_se": 0.01, "kl": 1.0}  # fmt: skip

    monkeypatch.setattr(tc, "data_free_repetition", shrunk)
    monkeypatch.setattr(tc, "coverage_repetition", covered)
    outcome = tc.check_d2_trained({**SMALL, "priors": [mode]}, np.random.default_rng(7))
    assert outcome.verdict is Verdict.REFUTED
    assert outcome.evidence.startswith(f"Coverage fails for kl_inverse ({mode} prior)")
    rows = outcome.data["data_free"][mode]["rows"]
    assert rows["kl_inverse"]["violations"] == SMALL["n_repeats"]
    # the other bounds of the same repetitions are untouched and cover
    assert rows["mcallester"]["violations"] == 0 and rows["catoni"]["violations"] == 0
