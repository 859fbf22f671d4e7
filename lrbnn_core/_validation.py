"""Argument checks shared by the ``lrbnn_core`` modules, one message shape for each:
"`rank` must be an int in [1, 4]; got 7"."""

from __future__ import annotations

import math
from enum import Enum
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "MAX_LEARNING_RATE",
    "MAX_TENSOR_ELEMENTS",
    "check_int",
    "check_learning_rate",
    "check_real",
    "check_tensor_size",
    "parse_enum",
]

E = TypeVar("E", bound=Enum)

#: Most elements of one parameter tensor a layer will allocate: 2**31 (8 GiB in float32, 16 GiB
#: in float64, and a layer holds two such tensors, means and scales, plus a float64 copy while
#: it initialises). A larger request is almost surely a typo (``10**12`` for ``10**2``); it is
#: refused before anything is allocated, instead of a MemoryError or a machine that swaps.
MAX_TENSOR_ELEMENTS = 2**31

#: Largest Adam learning rate accepted. Adam moves every parameter by about ``lr`` per step
#: whatever the gradient's scale, and the weights and scale parameters here are O(1): a step of
#: 10 already scrambles the network in one update, so a larger value is a typo (``1e3`` for
#: ``1e-3``). Far above it (``lr > 3.4e38``) Adam's update does not even fit a float32.
MAX_LEARNING_RATE = 10.0


def check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (``high=None``: no upper end); bools refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an int; got {value!r} ({type(value).__name__})")
    v = int(value)
    if v < low or (high is not None and v > high):
        upper = "inf" if high is None else str(high)
        raise ValueError(f"`{name}` must be an int in [{low}, {upper}]; got {v}")
    return v


def check_real(value: Any, name: str) -> float:
    """``value`` as a float (any real number type; bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__})")
    return float(value)


def check_learning_rate(value: Any, name: str = "lr") -> float:
    """``value`` as a float in ``(0, MAX_LEARNING_RATE]``."""
    v = check_real(value, name)
    if not (math.isfinite(v) and 0.0 < v <= MAX_LEARNING_RATE):
        raise ValueError(
            f"`{name}` must be a finite number in (0, {MAX_LEARNING_RATE:g}] (an Adam step moves "
            f"every parameter by about `{name}`); got {v}"
        )
    return v


def check_tensor_size(shape: dict[str, int], what: str, itemsize: int) -> None:
    """Refuse, before allocating it, a tensor whose sides (named arguments ``shape``, already
    checked as ints >= 1) hold more than :data:`MAX_TENSOR_ELEMENTS` elements.

    >>> check_tensor_size({"out_features": 10**6, "in_features": 10**4}, "W", 4)
    Traceback (most recent call last):
    ...
    ValueError: `out_features` x `in_features` = 1000000 x 10000 = 10000000000 elements ...
    """
    count = math.prod(shape.values())
    if count > MAX_TENSOR_ELEMENTS:
        names = " x ".join(f"`{k}`" for k in shape)
        sides = " x ".join(str(v) for v in shape.values())
        raise ValueError(
            f"{names} = {sides} = {count} elements ({count * itemsize / 2**30:.3g} GiB at "
            f"{itemsize} bytes) in {what}; the limit is 2**31 = {MAX_TENSOR_ELEMENTS} elements "
            "per tensor"
        )


def parse_enum(cls: type[E], value: Any, name: str) -> E:
    """``cls(value)``, or a ValueError listing the allowed values.

    >>> from lrbnn_core.base import SamplingMode
    >>> parse_enum(SamplingMode, "local", "sampling").value
    'local'
    """
    try:
        return cls(value)
    except ValueError:
        known = ", ".join(repr(m.value) for m in cls)
        raise ValueError(f"`{name}` must be one of {known}; got {value!r}") from None
