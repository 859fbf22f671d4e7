"""The argument checks and seed streams the loaders share, and their type aliases (notes:
:mod:`lrbnn_core.data`)."""

from __future__ import annotations

import math
import numbers
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from theory._validation import check_int

__all__ = ["FloatArray", "SeedLike"]


FloatArray = NDArray[np.float64]
SeedLike = int | np.random.SeedSequence


#: numpy's legacy global seeding (what mnist1d and scikit-learn's ``random_state`` accept)
_MAX_LEGACY_SEED = 2**32 - 1


def _enum(cls: type[Enum], value: Any, name: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"`{name}` must be one of {known}; got {value!r}") from None


def _real(value: Any, name: str, *, low: float, low_open: bool) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number; got {value!r}")
    v = float(value)
    bad = not math.isfinite(v) or (v <= low if low_open else v < low)
    if bad:
        bracket = "(" if low_open else "["
        raise ValueError(
            f"`{name}` must be a finite float in {bracket}{low:g}, inf); got {value!r}"
        )
    return v


def _seed(seed: Any) -> SeedLike:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return check_int(seed, "seed", low=0)


def _legacy_seed(seed: Any) -> int:
    # mnist1d and scikit-learn pass the seed to numpy's legacy seeding, which takes 32 bits
    return check_int(seed, "seed", low=0, high=_MAX_LEGACY_SEED)


def _streams(seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(seed).spawn(n)
