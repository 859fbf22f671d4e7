"""Argument checks shared by the ``lrbnn_core`` modules, one message shape for each:
"`rank` must be an int in [1, 4]; got 7"."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import numpy as np

__all__ = ["check_int", "check_real", "parse_enum"]

E = TypeVar("E", bound=Enum)


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
