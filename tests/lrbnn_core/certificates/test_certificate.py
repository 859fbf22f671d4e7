"""The certificate's record (lrbnn_core.certificates.certificate): its summary and dict."""

from __future__ import annotations

import json

import torch

from lrbnn_core.certificates import certify
from tests.lrbnn_core.certificates.twins import _data, _mlp


def test_certificate_summary_and_as_dict(seed: int) -> None:
    model = _mlp("low_rank", seed)
    x, y = _data(model, 20, seed)
    cert = certify(
        model,
        x,
        y,
        delta=0.05,
        mc_delta=0.01,
        n_mc=3,
        generator=torch.Generator().manual_seed(0),
        penalty=1.5,
        penalty_note="prior-scale grid of 4",
    )
    line = cert.summary()
    assert "\n" not in line
    for text in (f"{cert.best:.4f}", f"{cert.mcallester:.4f}", "prior-scale grid of 4"):
        assert text in line
    row = cert.as_dict()
    assert json.loads(json.dumps(row)) == row
    assert all(isinstance(v, (str, int, float)) for v in row.values())
    for name in ("n", "n_mc", "mc_risk", "mc_risk_bound", "kl", "penalty", "delta", "mc_delta"):
        assert row[name] == getattr(cert, name)
    assert row["loss"] == "zero_one" and row["best"] == cert.best
    assert row["confidence"] == cert.confidence
    lambdas = tuple(float(v) for v in row["catoni_lambdas"].split(","))
    assert lambdas == cert.catoni_lambdas
