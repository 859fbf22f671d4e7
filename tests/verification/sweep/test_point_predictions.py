"""The sweep point's test predictions: one set of draws, probabilities as exp of the
log-probabilities, against the softmax of a second, identical set of draws (the old path)."""

from __future__ import annotations

import torch

from lrbnn_core.metrics import evaluate
from lrbnn_core.models import MLP
from lrbnn_core.training import predict


def test_exp_of_log_probs_equals_softmax_of_the_same_draws() -> None:
    net = MLP((6, 8, 3), "low_rank", rank=2, generator=torch.Generator().manual_seed(0))
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 3, (50,), generator=torch.Generator().manual_seed(2))

    def draws(log: bool) -> torch.Tensor:
        gen = torch.Generator().manual_seed(7)
        return predict(net, x, n_samples=20, generator=gen, return_log_probs=log)

    probs, log_probs = draws(False), draws(True)
    new = log_probs.exp()
    torch.testing.assert_close(new, probs, rtol=0.0, atol=4 * torch.finfo(probs.dtype).eps)
    old_m, new_m = (
        evaluate(probs, y, log_probs_samples=log_probs),
        evaluate(new, y, log_probs_samples=log_probs),
    )
    assert old_m.accuracy == new_m.accuracy
    assert abs(old_m.nll - new_m.nll) <= 1e-6 and abs(old_m.ece - new_m.ece) <= 1e-6
    # the check can fail: probabilities of other draws are not within rounding
    other = predict(net, x, n_samples=20, generator=torch.Generator().manual_seed(8))
    assert not torch.allclose(other, probs, rtol=0.0, atol=4 * torch.finfo(probs.dtype).eps)
