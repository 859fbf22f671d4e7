"""The settings of a training run (lrbnn_core.training.config)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lrbnn_core.base import KLMethod
from lrbnn_core.training import Task, TrainConfig


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"`epochs` must be an int in \[1, inf\]; got 0"),
        ({"epochs": 2.0}, TypeError, r"`epochs` must be an int; got 2.0"),
        ({"batch_size": 0}, ValueError, r"`batch_size` must be an int in \[1, inf\]; got 0"),
        ({"lr": 0.0}, ValueError, r"`lr` must be a finite number in \(0, 10\] .*; got 0.0"),
        ({"lr": math.nan}, ValueError, r"`lr` must be a finite number in \(0, 10\] .*; got nan"),
        ({"beta": -1.0}, ValueError, r"`beta` must be a finite number >= 0; got -1.0"),
        ({"beta": True}, TypeError, r"`beta` must be a real number; got True"),
        ({"epochs": 2, "warmup_epochs": 3}, ValueError, r"`warmup_epochs` .* \[0, 2\]; got 3"),
        ({"kl_method": "exact"}, ValueError, r"`kl_method` must be one of .*; got 'exact'"),
        ({"kl_samples": 0}, ValueError, r"`kl_samples` must be an int in \[1, inf\]; got 0"),
        ({"seed": -1}, ValueError, r"`seed` must be an int in \[0, inf\]; got -1"),
        ({"progress": 1}, TypeError, r"`progress` must be a bool; got 1"),
        ({"task": "ranking"}, ValueError, r"`task` must be one of .*; got 'ranking'"),
        ({"n_train": 0}, ValueError, r"`n_train` must be an int in \[1, inf\]; got 0"),
        ({"noise_std": -0.1}, ValueError, r"`noise_std` must be a finite number > 0; got -0.1"),
    ],
)
def test_train_config_rejects_bad_fields(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_train_config_coerces_enums() -> None:
    config = TrainConfig(kl_method="monte_carlo", task="regression")
    assert config.kl_method is KLMethod.MONTE_CARLO and config.task is Task.REGRESSION
