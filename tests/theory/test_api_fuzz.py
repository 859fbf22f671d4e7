"""A hostile user's fuzz of the public API of ``theory`` (``API.md``), and the catalogue machinery
that ``tests/lrbnn_core/test_api_fuzz.py`` reuses.

A catalogue :class:`Entry` is a callable, a factory of valid keyword arguments and, per argument,
the kinds of bad value (:class:`Bad`) to put in its place, one argument at a time. Every such call
must raise ``ValueError`` or ``TypeError`` whose message names the argument in backticks and, where
practical, shows the value (:func:`outcome`). A substitution that is in fact valid (an empty array
that broadcasts, ``None`` for an optional argument) is listed in the entry's ``allowed`` and must
then *succeed*: allowing never weakens the assertion on the others.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from theory import (
    catoni_bound,
    complexity_ratio,
    gaussian_kl,
    jacobian_rank,
    kl_bernoulli,
    kl_bound,
    kl_inv_lower,
    kl_inv_upper,
    manifold_dimension,
    mcallester_bound,
    param_counts,
    rank_bias_bound,
    sample_convergence_bound,
    tail_energy,
    truncated_svd,
    weight_moments,
)
from theory.gaussian_complexity import linear_class_complexity, pinto_bound_as_restated


@dataclass(frozen=True)
class Bad:
    """One kind of bad value: ``example`` makes a fixed one (the deterministic count), ``strategy``
    draws variants (default: the example). ``names``: the name the message must give when it is
    not the argument's (a bad file names the key inside it); ``show``: whether the message must
    show the value."""

    label: str
    example: Callable[[], Any]
    strategy: st.SearchStrategy[Any] | None = None
    names: str | None = None
    show: bool = True

    def values(self) -> st.SearchStrategy[Any]:
        return self.strategy if self.strategy is not None else st.builds(self.example)


@dataclass(frozen=True)
class Entry:
    """A public callable, a factory of valid keyword arguments, the bad values per argument, and
    the labels that are valid substitutions per argument."""

    name: str
    call: Callable[..., Any]
    valid: Callable[[], dict[str, Any]]
    args: Mapping[str, Sequence[Bad]]
    allowed: Mapping[str, frozenset[str]] = field(default_factory=dict)


def shows(value: Any, message: str) -> bool:
    """Whether ``message`` shows ``value`` (its repr, or for arrays and tensors its shape, dtype,
    type or the non-finite entry)."""
    low = message.lower()
    if f"got {type(value).__name__}" in message:
        return True
    if value is None:
        return "none" in low
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)) in message
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return ("nan" if math.isnan(v) else "inf") in low
        return any(s in message for s in (repr(v), str(v), f"{v:g}", f"{v!r}".rstrip("0")))
    if isinstance(value, (int, np.integer)):
        return str(int(value)) in message
    if isinstance(value, (str, bytes)):
        return repr(value) in message or type(value).__name__ in message
    hints = [type(value).__name__, repr(value), str(value)]
    shape = None if isinstance(value, type) else getattr(value, "shape", None)
    if shape is not None:
        hints += [str(tuple(shape)), str(getattr(value, "dtype", "")), "nan", "inf", "empty"]
        if math.prod(shape) <= 16 and hasattr(value, "tolist"):
            flat = np.asarray(value.tolist(), dtype=object).reshape(-1)
            hints += [f"got {v}" for v in flat] + [f"got {v:g}" for v in flat if _real(v)]
    return any(h and h.lower() in low for h in hints)


def _real(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def names(message: str, name: str) -> bool:
    """Whether ``message`` names the argument: `name`, `name[...]` or `name.attr`."""
    return re.search(rf"`{re.escape(name)}(`|\[|\.|\()", message) is not None


def outcome(entry: Entry, arg: str, bad: Bad, value: Any) -> tuple[str, str]:
    """Call ``entry`` with ``value`` in place of ``arg``: ``("clear", msg)`` (ValueError or
    TypeError naming the argument and, if ``bad.show``, showing the value), ``("no_value",
    msg)`` (names it, does not show the value), ``("unclear", why)``, ``("silent", result)``,
    ``("allowed", ...)`` (a listed valid substitution that succeeded)."""
    kwargs = entry.valid()
    kwargs[arg] = value
    allowed = bad.label in entry.allowed.get(arg, frozenset())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = entry.call(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        if allowed:
            return "unclear", f"allowed substitution raised {msg}"
        if not names(msg, bad.names or arg):
            return "unclear", f"does not name `{bad.names or arg}`: {msg}"
        if bad.show and not shows(value, msg):
            return "no_value", msg
        return "clear", msg
    except Exception as exc:
        return "unclear", f"{type(exc).__name__}: {exc}"
    if allowed:
        return "allowed", ""
    return "silent", repr(result)[:200]


def assert_refused(entry: Entry, arg: str, bad: Bad, value: Any) -> None:
    status, detail = outcome(entry, arg, bad, value)
    expected = "allowed" if bad.label in entry.allowed.get(arg, frozenset()) else "clear"
    assert status == expected, f"{entry.name}({arg}={value!r}) [{bad.label}]: {status}: {detail}"


def every_case(entries: Sequence[Entry]) -> list[tuple[Entry, str, Bad]]:
    return [(e, a, b) for e in entries for a, bads in e.args.items() for b in bads]


def check_entry_examples(entry: Entry) -> None:
    """Every (argument, bad kind) of ``entry`` with its fixed example; all failures at once."""
    failures = []
    for arg, bads in entry.args.items():
        for bad in bads:
            value = bad.example()
            status, detail = outcome(entry, arg, bad, value)
            expected = "allowed" if bad.label in entry.allowed.get(arg, frozenset()) else "clear"
            if status != expected:
                failures.append(f"{arg}={value!r} [{bad.label}]: {status}: {detail}")
    assert not failures, f"{entry.name}:\n" + "\n".join(failures)


def draw_case(data: st.DataObject, entry: Entry) -> tuple[str, Bad, Any]:
    arg = data.draw(st.sampled_from(sorted(entry.args)), label="argument")
    bad = data.draw(st.sampled_from(list(entry.args[arg])), label="kind")
    return arg, bad, data.draw(bad.values(), label="value")


# --- bad values shared by every catalogue -----------------------------------------------------

NAN = Bad("nan", lambda: math.nan, st.sampled_from([math.nan, np.float64("nan")]))
INF = Bad("inf", lambda: math.inf)
NEG_INF = Bad("-inf", lambda: -math.inf)
BOOL = Bad("bool", lambda: True, st.booleans())
STR = Bad("str", lambda: "0.5", st.text(max_size=4))
NONE = Bad("none", lambda: None)
FRACTION = Bad("fraction", lambda: 2.5, st.floats(0.01, 1e6).filter(lambda v: v != int(v)))
SCALARS = (NAN, INF, NEG_INF, BOOL, STR, NONE)


def below(low: float, *, strict: bool) -> Bad:
    """Reals below ``low`` (``strict``: ``low`` itself is bad too)."""
    hi = low if strict else float(np.nextafter(low, -np.inf))
    return Bad("out_of_range", lambda: hi - 1.0, st.floats(max_value=hi, allow_nan=False))


def above(high: float, *, strict: bool) -> Bad:
    lo = high if strict else float(np.nextafter(high, np.inf))
    return Bad("above_range", lambda: lo + 1.0, st.floats(min_value=lo, allow_nan=False))


def ints_below(low: int) -> Bad:
    return Bad("out_of_range", lambda: low - 1, st.integers(max_value=low - 1))


def reals(
    low: float | None, high: float | None = None, *, low_open: bool = True, high_open: bool = True
) -> tuple[Bad, ...]:
    """Bad values for a real scalar in the interval (``None``: no end on that side)."""
    out = list(SCALARS)
    if low is not None:
        out.append(below(low, strict=low_open))
    if high is not None:
        out.append(above(high, strict=high_open))
    return tuple(out)


def ints(low: int, high: int | None = None) -> tuple[Bad, ...]:
    out = [*SCALARS, FRACTION, ints_below(low)]
    if high is not None:
        out.append(Bad("above_range", lambda: high + 1, st.integers(min_value=high + 1)))
    return tuple(out)


def arrays_like(valid_shape: tuple[int, ...]) -> tuple[Bad, ...]:
    """Bad arrays against a valid argument of shape ``valid_shape``: a NaN or infinite entry, a
    shape that does not fit, an empty array, strings, complex numbers."""

    def with_entry(v: float) -> Callable[[], np.ndarray]:
        return lambda: np.where(np.arange(math.prod(valid_shape)) == 0, v, 0.5).reshape(valid_shape)

    wrong = (*valid_shape[:-1], valid_shape[-1] + 1) if valid_shape else (3,)
    return (
        Bad("nan_entry", with_entry(math.nan)),
        Bad("inf_entry", with_entry(math.inf)),
        Bad("wrong_shape", lambda: np.full(wrong, 0.5)),
        Bad("empty", lambda: np.zeros((0,) * max(1, len(valid_shape)))),
        Bad("str_array", lambda: np.full(valid_shape, "a")),
        Bad("complex", lambda: np.full(valid_shape, 0.5 + 1j)),
        BOOL,
        NONE,
    )


def probs(shape: tuple[int, ...] = (2,)) -> tuple[Bad, ...]:
    """Bad values for an array of probabilities in [0, 1]."""
    return (
        *arrays_like(shape),
        NAN,
        INF,
        STR,
        below(0.0, strict=False),
        above(1.0, strict=False),
    )


def positives(shape: tuple[int, ...] = (2,), *, zero: bool = False) -> tuple[Bad, ...]:
    """Bad values for an array of finite reals > 0 (``zero``: >= 0)."""
    return (*arrays_like(shape), NAN, INF, STR, below(0.0, strict=not zero))


def counts(shape: tuple[int, ...] = (2,), low: int = 1) -> tuple[Bad, ...]:
    """Integer arrays (sizes, ranks, numbers of examples), broadcasting."""
    return (*arrays_like(shape), NAN, INF, STR, FRACTION, ints_below(low))


def matrices(shape: tuple[int, int], *, paired: bool = False) -> tuple[Bad, ...]:
    """Bad matrices; ``paired``: the shape must fit another argument's (else another 2-D shape
    is valid and not tried)."""
    bads = [b for b in arrays_like(shape) if paired or b.label != "wrong_shape"]
    return (*bads, Bad("vector", lambda: np.ones(shape[0])), STR)


def scales(shape: tuple[int, int]) -> tuple[Bad, ...]:
    """Bad matrices of standard deviations (> 0), paired with the means' shape."""
    bad = np.full(shape, 0.5)
    bad[0, 0] = -1.0
    return (*matrices(shape, paired=True), Bad("negative_entry", bad.copy))


RNGS = (NONE, STR, Bad("seed", lambda: 0, st.integers(0, 2**32)), BOOL)
OPTIONS = (
    Bad("unknown", lambda: "bogus", st.text(max_size=6).map(lambda s: f"bogus{s}")),
    NONE,
    Bad("int", lambda: 1, st.integers()),
)


# --- the theory catalogue ---------------------------------------------------------------------


def _v(**kwargs: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {k: np.array(v) if isinstance(v, list) else v for k, v in kwargs.items()}


_BOUND = _v(emp_risk=[0.1, 0.2], kl=[5.0, 10.0], n=[100, 1000], delta=[0.05, 0.05])
_BOUND_ARGS = {"emp_risk": probs(), "kl": positives(zero=True), "n": counts(), "delta": probs()}
#: an infinite KL is a valid input: the bound is then vacuous (API.md, "inf gives inf")
_INF_KL = {"kl": frozenset({"inf", "inf_entry"})}
_MATRIX = np.arange(12.0).reshape(4, 3) / 7.0
#: the budget c = inf is valid (kl_inv_upper gives 1, kl_inv_lower 0)
_INF_C = {"c": frozenset({"inf", "inf_entry"})}

THEORY: tuple[Entry, ...] = (
    Entry("kl_bernoulli", kl_bernoulli, _v(q=[0.1, 0.2], p=[0.3, 0.4]),
          {"q": probs(), "p": probs()}),
    Entry("kl_inv_upper", kl_inv_upper, _v(q=[0.1, 0.2], c=[0.3, 0.4]),
          {"q": probs(), "c": positives(zero=True)}, _INF_C),
    Entry("kl_inv_lower", kl_inv_lower, _v(q=[0.1, 0.2], c=[0.3, 0.4]),
          {"q": probs(), "c": positives(zero=True)}, _INF_C),
    Entry("gaussian_kl", gaussian_kl,
          _v(mu_q=[0.0, 1.0], sigma_q=[1.0, 2.0], mu_p=[0.5, 0.5], sigma_p=[1.0, 1.0]),
          {"mu_q": (*arrays_like((2,)), NAN, INF, STR), "sigma_q": positives(),
           "mu_p": (*arrays_like((2,)), NAN, INF, STR), "sigma_p": positives()}),
    Entry("mcallester_bound", mcallester_bound, _BOUND, _BOUND_ARGS, _INF_KL),
    Entry("kl_bound", kl_bound, _BOUND, _BOUND_ARGS, _INF_KL),
    Entry("catoni_bound", catoni_bound,
          lambda: {**_BOUND(), "lambdas": np.array([0.5, 1.0, 2.0])},
          {**_BOUND_ARGS, "lambdas": positives((3,))},
          {**_INF_KL, "lambdas": frozenset({"wrong_shape"})}),
    Entry("sample_convergence_bound", sample_convergence_bound,
          _v(mc_risk=[0.1, 0.2], n_samples=[100, 200], delta=[0.01, 0.01]),
          {"mc_risk": probs(), "n_samples": counts(), "delta": probs()}),
    Entry("param_counts", param_counts, _v(m=[4, 8], n=[3, 6], r=[2, 2]),
          {"m": counts(), "n": counts(), "r": counts()}),
    Entry("complexity_ratio", complexity_ratio, _v(m=[4, 8], n=[3, 6], r=[2, 2]),
          {"m": counts(), "n": counts(), "r": counts()}),
    Entry("manifold_dimension", manifold_dimension, _v(m=4, n=3, r=2),
          {"m": ints(1), "n": ints(1), "r": ints(1, 3)}),
    Entry("truncated_svd", truncated_svd, lambda: {"W": _MATRIX.copy(), "r": 2},
          {"W": matrices((4, 3)), "r": ints(0, 3)}),
    Entry("tail_energy", tail_energy, lambda: {"W": _MATRIX.copy(), "r": 2},
          {"W": matrices((4, 3)), "r": ints(0, 3)}),
    Entry("rank_bias_bound", rank_bias_bound,
          lambda: {"W": _MATRIX.copy(), "r": 1, "lipschitz": 2.0, "radius": 3.0, "norm": "fro"},
          {"W": matrices((4, 3)), "r": ints(0, 3), "lipschitz": reals(0.0, low_open=False),
           "radius": reals(0.0, low_open=False), "norm": OPTIONS}),
    Entry("weight_moments", weight_moments,
          lambda: {"mu_a": np.ones((3, 2)), "sigma_a": np.full((3, 2), 0.5),
                   "mu_b": np.ones((4, 2)), "sigma_b": np.full((4, 2), 0.5)},
          {"mu_a": matrices((3, 2), paired=True), "sigma_a": scales((3, 2)),
           "mu_b": matrices((4, 2), paired=True), "sigma_b": scales((4, 2))}),
    Entry("jacobian_rank", jacobian_rank, lambda: {"a": np.ones((3, 2)), "b": np.ones((4, 2))},
          {"a": matrices((3, 2), paired=True), "b": matrices((4, 2), paired=True)}),
    Entry("linear_class_complexity", linear_class_complexity,
          lambda: {"X": _MATRIX.copy(), "spectral_bound": 2.0, "rank": 1, "out_dim": 2,
                   "n_draws": 4, "rng": np.random.default_rng(0)},
          {"X": matrices((4, 3)), "spectral_bound": reals(0.0, low_open=True),
           "rank": ints(1, 2), "out_dim": ints(1), "n_draws": ints(2), "rng": RNGS}),
    Entry("pinto_bound_as_restated", pinto_bound_as_restated,
          lambda: {"X": _MATRIX.copy(), "spectral_bounds": [2.0, 1.0], "ranks": [2, 1],
                   "widths": [3, 2], "c0": 1.0},
          {"X": matrices((4, 3)), "spectral_bounds": positives((2,)), "ranks": counts((2,)),
           "widths": counts((2,)), "c0": reals(0.0, low_open=True)}),
)  # fmt: skip


@pytest.mark.parametrize("entry", THEORY, ids=lambda e: e.name)
def test_api_fuzz_examples_are_refused_clearly(entry: Entry) -> None:
    """Every argument, every kind of bad value, once with its fixed example."""
    check_entry_examples(entry)


@pytest.mark.parametrize("entry", THEORY, ids=lambda e: e.name)
@given(data=st.data())
def test_api_fuzz_variants_are_refused_clearly(entry: Entry, data: st.DataObject) -> None:
    """Drawn variants of the bad values (out-of-range floats, text, integers)."""
    assert_refused(entry, *draw_case(data, entry))
