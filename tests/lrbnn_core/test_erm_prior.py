"""ERM with dropout on a Bayesian network's means (lrbnn_core.erm_prior): the prior network of
PBB, shared by our default certificate recipe."""

from __future__ import annotations

import pytest
import torch

from lrbnn_core.erm_prior import DropoutERM, stage_generators, train_dropout_erm
from lrbnn_core.models import MLP


def _net(kind: str = "low_rank") -> MLP:
    rank = 2 if kind == "low_rank" else None
    return MLP((6, 8, 8, 3), kind, rank=rank, generator=torch.Generator().manual_seed(0))


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(48, 6, generator=g)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def _state(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("kind", ["low_rank", "mean_field"])
def test_only_the_means_move_and_the_loss_falls(kind: str) -> None:
    x, y = _data()
    net = _net(kind)
    before = _state(net)
    cfg = DropoutERM(epochs=30, batch_size=16)

    def loss() -> float:
        net.eval()
        from lrbnn_core.base import SamplingMode, set_sampling

        set_sampling(net, SamplingMode.MEAN)
        value = float(torch.nn.functional.cross_entropy(net(x), y).detach())
        set_sampling(net, SamplingMode.SHARED)
        return value

    start = loss()
    net.train()
    train_dropout_erm(net, x, y, settings=cfg, seed=0, progress=False)
    assert net.training  # flags restored
    after = _state(net)
    for name, value in before.items():
        moved = not torch.equal(value, after[name])
        assert moved == name.endswith("_mean"), name  # scales (rho) never move
    assert loss() < 0.7 * start


def test_seeded_and_the_dropout_is_real() -> None:
    x, y = _data()
    cfg = DropoutERM(epochs=3, batch_size=16)
    runs = [
        _state(train_dropout_erm(_net(), x, y, settings=c, seed=s, progress=False))
        for c, s in (
            (cfg, 0),
            (cfg, 0),
            (cfg, 1),
            (DropoutERM(dropout=0.0, epochs=3, batch_size=16), 0),
        )
    ]
    assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])  # same seed, same network
    assert any(not torch.equal(runs[0][k], runs[2][k]) for k in runs[0])
    # the masks matter: without dropout the same shuffling gives another network
    assert any(not torch.equal(runs[0][k], runs[3][k]) for k in runs[0])
    a, b = stage_generators(0, 0), stage_generators(0, 1)
    assert a[0].initial_seed() != b[0].initial_seed() != b[1].initial_seed()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("dropout", float("nan")),
        ("lr", 0.0),
        ("lr", 11.0),
        ("momentum", 1.0),
    ],
)
def test_bad_settings_are_named(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"`{field}` must be a number in"):
        DropoutERM(**{field: value})


def test_bad_counts_and_settings_type_are_named() -> None:
    with pytest.raises(ValueError, match="`epochs`"):
        DropoutERM(epochs=0)
    with pytest.raises(TypeError, match="`settings` must be a DropoutERM"):
        train_dropout_erm(_net(), *_data(), settings={"epochs": 1}, seed=0, progress=False)  # type: ignore[arg-type]


def test_non_finite_data_or_loss_is_named() -> None:
    x, y = _data()
    x[3, 0] = float("nan")
    with pytest.raises(ValueError, match="`x` contains NaN or infinite values"):
        train_dropout_erm(_net(), x, y, settings=DropoutERM(epochs=1), seed=0, progress=False)
    x, y = _data()
    net = _net()
    with torch.no_grad():  # a non-finite parameter reaches the layer's output: named there
        net.layers[-1].bias_mean[0] = float("inf")
    with pytest.raises(ValueError, match=r"parameter 'bias_mean' of the LowRankBayesLinear"):
        train_dropout_erm(net, x, y, settings=DropoutERM(epochs=1), seed=0, progress=False)
