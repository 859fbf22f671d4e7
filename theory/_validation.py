r"""One place that declares how arguments are checked, with one message shape.

Every public function of :mod:`theory` validates its arguments through these helpers, so that a
bad value always raises ``ValueError`` (wrong domain, NaN, infinity, wrong shape) or ``TypeError``
(wrong type) with a message of the form

    `delta` must be a float in (0, 1); got 1.5

naming the argument and the offending value (the first one, for arrays).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = [
    "FloatArray",
    "as_float_array",
    "broadcast_arrays",
    "check_int",
    "check_int_array",
    "check_interval",
    "check_matrix",
    "check_nonnegative",
    "check_open_unit",
    "check_positive",
    "check_probability",
    "check_rank",
    "check_rng",
    "scalar",
    "scalar_or_array",
]


def _first_bad(values: NDArray[Any], bad: NDArray[np.bool_]) -> object:
    flat = np.asarray(values).reshape(-1)[np.asarray(bad).reshape(-1)]
    first = flat[0]
    return first.item() if hasattr(first, "item") else first


def as_float_array(x: object, name: str, *, allow_inf: bool = False) -> FloatArray:
    """Convert ``x`` to a float64 array, refusing non-numbers, NaN and (unless allowed) infinity."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a real number or array of real numbers; got {x!r}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises for ragged input
        raise TypeError(f"`{name}` must be a real number or array; got {x!r}") from exc
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"`{name}` must be a real number or array of real numbers; got {x!r} "
            f"(dtype {arr.dtype})"
        )
    arr = arr.astype(np.float64)
    nan = np.isnan(arr)
    if nan.any():
        raise ValueError(f"`{name}` must not be NaN; got {_describe(x)}")
    if not allow_inf:
        inf = np.isinf(arr)
        if inf.any():
            raise ValueError(f"`{name}` must be finite; got {_first_bad(arr, inf)}")
    return arr


def broadcast_arrays(**named: NDArray[Any]) -> list[NDArray[Any]]:
    """``np.broadcast_arrays`` of the named (validated) arrays, or a ValueError naming every
    argument and its shape when they do not broadcast together.

    >>> broadcast_arrays(q=np.zeros(3), c=np.zeros(2))
    Traceback (most recent call last):
    ...
    ValueError: `q` and `c` must broadcast to one shape; got shapes (3,) and (2,)
    """
    try:
        return list(np.broadcast_arrays(*named.values()))
    except ValueError:
        keys = [f"`{k}`" for k in named]
        shapes = [str(np.shape(v)) for v in named.values()]
        raise ValueError(
            f"{_and(keys)} must broadcast to one shape; got shapes {_and(shapes)}"
        ) from None


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _describe(x: Any) -> str:
    if np.ndim(x) == 0:
        return repr(x)
    return f"an array containing NaN (shape {np.shape(x)})"


def check_interval(
    arr: FloatArray,
    name: str,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> FloatArray:
    """Check that every element of ``arr`` lies in the interval; return ``arr`` unchanged."""
    too_low = arr <= low if low_open else arr < low
    too_high = arr >= high if high_open else arr > high
    bad = too_low | too_high
    if bad.any():
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(
            f"`{name}` must be a float in {left}{_fmt(low)}, {_fmt(high)}{right}; "
            f"got {_first_bad(arr, bad)}"
        )
    return arr


def _fmt(v: float) -> str:
    if v == np.inf:
        return "inf"
    if v == -np.inf:
        return "-inf"
    return f"{v:g}"


def check_int(x: object, name: str, *, low: int = 1, high: int | None = None) -> int:
    """Check that ``x`` is an integer (not a bool, not a float) in ``[low, high]``."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Integral):
        raise TypeError(f"`{name}` must be an int; got {x!r} ({type(x).__name__})")
    value = int(x)
    if value < low or (high is not None and value > high):
        upper = "inf" if high is None else str(high)
        raise ValueError(f"`{name}` must be an int in [{low}, {upper}]; got {value}")
    return value


def check_rank(r: object, m: int, n: int, name: str = "r") -> int:
    """Check that ``r`` is the rank of a factorisation of an m x n matrix: an int in
    ``[1, min(m, n)]``."""
    return check_int(r, name, low=1, high=min(m, n))


def check_int_array(x: object, name: str, *, low: int = 1) -> NDArray[np.int64]:
    """Integer scalars or integer arrays (for broadcasting over sizes and ranks)."""
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be an int or an integer array; got {x!r}")
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_:
        raise TypeError(
            f"`{name}` must be an int or an integer array; got {x!r} (dtype {arr.dtype})"
        )
    arr = arr.astype(np.int64)
    bad = arr < low
    if bad.any():
        raise ValueError(f"`{name}` must be an int >= {low}; got {_first_bad(arr, bad)}")
    return arr


def scalar_or_array(result: NDArray[Any], *inputs: Any) -> Any:
    """Return a Python float when every input was a scalar, else the array (numpy convention)."""
    if all(np.ndim(v) == 0 for v in inputs):
        return float(np.asarray(result).reshape(()))
    return result


def check_positive(x: object, name: str) -> FloatArray:
    """Finite values > 0 (scales, standard deviations)."""
    return check_interval(as_float_array(x, name), name, 0.0, np.inf, low_open=True, high_open=True)


def check_matrix(x: object, name: str) -> FloatArray:
    """A finite, non-empty 2-D float64 array."""
    arr = as_float_array(x, name)
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"`{name}` must be a non-empty 2-D array; got shape {arr.shape}")
    return arr


def check_rng(rng: object, name: str = "rng") -> np.random.Generator:
    """An explicit numpy Generator (library code never seeds or uses global state)."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`{name}` must be a numpy.random.Generator; got {type(rng).__name__}")
    return rng


def check_nonnegative(x: object, name: str) -> FloatArray:
    """Finite values >= 0 (constants, radii, norms)."""
    return check_interval(as_float_array(x, name), name, 0.0, np.inf, high_open=True)


def scalar(arr: FloatArray, name: str) -> float:
    """The value of a validated 0-d array; a ValueError naming ``name`` for anything else."""
    if arr.ndim != 0:
        raise ValueError(f"`{name}` must be a scalar; got an array of shape {arr.shape}")
    return float(arr)


def check_probability(x: object, name: str) -> FloatArray:
    """Finite values in [0, 1] (risks, probabilities)."""
    return check_interval(as_float_array(x, name), name, 0.0, 1.0)


def check_open_unit(x: object, name: str) -> FloatArray:
    """Finite values in (0, 1) (confidence levels, mixture weights)."""
    return check_interval(as_float_array(x, name), name, 0.0, 1.0, low_open=True, high_open=True)
