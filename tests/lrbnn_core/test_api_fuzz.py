"""A hostile user's fuzz of the public API of ``lrbnn_core`` (``API.md``: layers, models,
``model_kl``, ``set_sampling``, ``kl_inv_upper_torch``, ``TrainConfig``, training, prediction,
certificates, checkpoints), with the catalogue machinery of ``tests/theory/test_api_fuzz.py``:
every bad value, put in place of one argument of an otherwise valid call, raises ``ValueError`` or
``TypeError`` naming the argument and showing the value. Plus the failures that are not about one
argument: non-finite parameters named as such, overflow from a finite input."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import lrbnn_core as L
from lrbnn_core.base import model_kl
from tests.theory.test_api_fuzz import (
    NONE,
    OPTIONS,
    STR,
    Bad,
    Entry,
    assert_refused,
    check_entry_examples,
    draw_case,
    ints,
    reals,
)

#: The checkpoint entries write here (one directory per session, removed at exit).
_DIR = tempfile.TemporaryDirectory(prefix="lrbnn-fuzz-")


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def tensors(valid: Callable[[], torch.Tensor]) -> tuple[Bad, ...]:
    """Bad tensors against a valid floating one: a NaN or infinite entry, integer, bool and
    float64 dtypes, a last axis one too long, no rows, a numpy array, a str, None."""

    def entry(v: float) -> Callable[[], torch.Tensor]:
        def make() -> torch.Tensor:
            t = valid().clone()
            t.view(-1)[0] = v
            return t

        return make

    def wider() -> torch.Tensor:
        t = valid()
        return torch.full((*t.shape[:-1], t.shape[-1] + 1), 0.5, dtype=t.dtype)

    return (
        Bad("nan_entry", entry(math.nan)),
        Bad("inf_entry", entry(math.inf)),
        Bad("int_dtype", lambda: valid().long()),
        Bad("bool_dtype", lambda: valid().bool()),
        Bad("float64", lambda: valid().double()),
        Bad("wrong_shape", wider),
        Bad("empty", lambda: valid()[:0]),
        Bad("ndarray", lambda: valid().numpy()),
        STR,
        NONE,
    )


def labels(n: int, classes: int) -> tuple[Bad, ...]:
    return (
        Bad("float_dtype", lambda: torch.zeros(n)),
        Bad("bool_dtype", lambda: torch.zeros(n, dtype=torch.bool)),
        Bad("out_of_range", lambda: torch.full((n,), classes), st.integers(classes, 2**40).map(
            lambda c: torch.full((n,), c))),
        Bad("negative", lambda: torch.full((n,), -1)),
        Bad("wrong_shape", lambda: torch.zeros(n + 1, dtype=torch.long)),
        Bad("ndarray", lambda: np.zeros(n, dtype=np.int64)),
        NONE,
    )  # fmt: skip


HUGE = Bad("huge", lambda: 10**12, st.integers(2**31 + 1, 10**15))
FLAGS = (Bad("int", lambda: 1, st.integers()), STR, NONE)
GENERATORS = (NONE, Bad("seed", lambda: 0, st.integers(0, 2**32)), STR,
              Bad("numpy_rng", lambda: np.random.default_rng(0)))  # fmt: skip
DTYPES = (
    NONE,
    Bad("int", lambda: torch.int64, st.sampled_from([torch.int64, torch.int32, torch.uint8])),
    Bad("bool", lambda: torch.bool),
    Bad("complex", lambda: torch.complex64),
    Bad("str", lambda: "float64", st.sampled_from(["float64", "float32", "torch.float64"])),
    Bad("numpy", lambda: np.float64),
    Bad("python_type", lambda: float),
)
PRIORS = (STR, Bad("float", lambda: 1.0), Bad("dict", lambda: {"std": 1.0}))


def _nan_model() -> nn.Module:
    net = L.MLP((4, 3, 2), "low_rank", rank=1, generator=_gen())
    with torch.no_grad():
        net.layers[1].B_rho[0, 0] = math.nan
    return net


MODELS = (NONE, STR, Bad("no_bayesian_layer", lambda: nn.Linear(4, 2)))
NAN_MODEL = Bad("nan_parameters", _nan_model, show=False)


def _net() -> nn.Module:
    return L.MLP((4, 3, 2), "low_rank", rank=1, generator=_gen())


def _x() -> torch.Tensor:
    return torch.linspace(-1.0, 1.0, 32).reshape(8, 4)


def _y() -> torch.Tensor:
    return torch.arange(8) % 2


def _layer_args(rank: bool) -> dict[str, tuple[Bad, ...]]:
    args = {
        "in_features": (*ints(1), HUGE),
        "out_features": (*ints(1), HUGE),
        "bias": FLAGS,
        "bayesian_bias": FLAGS,
        "prior": PRIORS,
        "init": OPTIONS,
        "eta": reals(0.0, 1.0, low_open=True, high_open=True),
        "warm_start": tensors(lambda: torch.ones(3, 4)),
        "prior_at_init": FLAGS,
        "sampling": OPTIONS,
        "generator": GENERATORS,
        "dtype": DTYPES,
    }
    return {**args, "rank": ints(1, 3)} if rank else args


#: valid substitutions: None for an optional argument, a float64 warm start
_LAYER_OK = {"prior": frozenset(), "warm_start": frozenset({"none", "float64"}),
             "generator": frozenset({"none"}), "dtype": frozenset({"none"})}  # fmt: skip
_FORWARD_ARGS = {"x": (*tensors(lambda: torch.ones(2, 4)),
                       Bad("overflow", lambda: torch.full((2, 4), 3e38), show=False))}  # fmt: skip
#: an input with no rows gives an output with no rows
_FORWARD_OK = {"x": frozenset({"empty"})}


def _save(path_name: str, **payload_changes: Any) -> Path:
    """A checkpoint of ``_net()`` with an Adam state, with ``payload_changes`` written over the
    saved payload (what a corrupted or hand-edited file holds)."""
    net = _net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    path = Path(_DIR.name) / path_name
    L.save_checkpoint(path, net, optimizer=opt, extra={"epoch": 1})
    ckpt = torch.load(path, weights_only=True)
    for key, change in payload_changes.items():
        change(ckpt[key])
    torch.save(ckpt, path)
    return path


def _junk() -> Path:
    path = Path(_DIR.name) / "junk.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    return path


def _nan_lr(opt_state: dict[str, Any]) -> None:
    opt_state["param_groups"][0]["lr"] = math.nan


def _nan_extra(extra: dict[str, Any]) -> None:
    extra["loss"] = math.nan


CATALOGUE: tuple[Entry, ...] = (
    Entry("LowRankBayesLinear", L.LowRankBayesLinear,
          lambda: {"in_features": 4, "out_features": 3, "rank": 2}, _layer_args(True), _LAYER_OK),
    Entry("MeanFieldBayesLinear", L.MeanFieldBayesLinear,
          lambda: {"in_features": 4, "out_features": 3}, _layer_args(False), _LAYER_OK),
    Entry("LowRankBayesLinear.forward", lambda layer, x: layer(x),
          lambda: {"layer": L.LowRankBayesLinear(4, 3, 2, warm_start=torch.ones(3, 4)),
                   "x": torch.ones(2, 4)}, _FORWARD_ARGS, _FORWARD_OK),
    Entry("MeanFieldBayesLinear.forward", lambda layer, x: layer(x),
          lambda: {"layer": L.MeanFieldBayesLinear(4, 3, warm_start=torch.ones(3, 4)),
                   "x": torch.ones(2, 4)}, _FORWARD_ARGS, _FORWARD_OK),
    Entry("sample_weight", lambda layer, generator: layer.sample_weight(generator),
          lambda: {"layer": L.LowRankBayesLinear(4, 3, 2), "generator": _gen()},
          {"generator": GENERATORS}, {"generator": frozenset({"none"})}),
    Entry("make_linear", L.make_linear,
          lambda: {"kind": "deterministic", "in_features": 4, "out_features": 3},
          {"kind": OPTIONS, "in_features": (*ints(1), HUGE), "out_features": (*ints(1), HUGE),
           "bias": FLAGS, "init": OPTIONS, "generator": GENERATORS, "dtype": DTYPES},
          {"generator": frozenset({"none"}), "dtype": frozenset({"none"})}),
    Entry("MLP", L.MLP, lambda: {"widths": (4, 3, 2), "kind": "low_rank", "rank": 2},
          {"widths": (Bad("str", lambda: "432"), Bad("bytes", lambda: b"432"),
                      Bad("bools", lambda: (True, 3, 2)), Bad("floats", lambda: (4.0, 3.0, 2.0)),
                      Bad("float_array", lambda: np.array([4.0, 3.0, 2.0])),
                      Bad("short", lambda: (4,)), Bad("empty", lambda: ()),
                      Bad("zero", lambda: (4, 0, 2)), Bad("nested", lambda: ((4, 3), 2)),
                      Bad("int", lambda: 4), NONE),
           "kind": OPTIONS,
           "rank": (*ints(1), Bad("str", lambda: "22"), Bad("too_many", lambda: (1, 1, 1))),
           "dtype": DTYPES},
          {"dtype": frozenset({"none"})}),
    Entry("model_kl", model_kl, lambda: {"model": _net()},
          {"model": (*MODELS, NAN_MODEL), "method": OPTIONS, "n_samples": ints(1),
           "generator": GENERATORS, "dtype": DTYPES, "check_finite": FLAGS},
          {"generator": frozenset({"none"}), "dtype": frozenset({"none"})}),
    Entry("set_sampling", L.set_sampling, lambda: {"model": _net(), "mode": "mean"},
          {"model": MODELS[:2], "mode": OPTIONS}),
    Entry("set_generator", L.set_generator, lambda: {"model": _net(), "generator": _gen()},
          {"model": MODELS[:2], "generator": GENERATORS}, {"generator": frozenset({"none"})}),
    Entry("stochastic_parameter_count", L.stochastic_parameter_count, lambda: {"model": _net()},
          {"model": MODELS[:2]}),
    Entry("set_prior", L.set_prior,
          lambda: {"model": _net(), "prior": L.GaussianPrior(1.0), "centre": _net(),
                   "centre_std_scale": 0.5},
          {"model": MODELS, "prior": (*PRIORS, NONE),
           "centre": (STR, Bad("no_bayesian_layer", lambda: nn.Linear(4, 2))),
           "centre_std_scale": reals(0.0, low_open=True)},
          {"centre_std_scale": frozenset({"none"})}),
    Entry("kl_inv_upper_torch", L.kl_inv_upper_torch,
          lambda: {"q": torch.tensor([0.1, 0.2]), "c": torch.tensor([0.3, 0.4])},
          {"q": (*tensors(lambda: torch.tensor([0.1, 0.2])),
                 Bad("above_one", lambda: torch.tensor([0.1, 1.5]))),
           "c": (*tensors(lambda: torch.tensor([0.3, 0.4])),
                 Bad("negative", lambda: torch.tensor([0.3, -1.0])))},
          {"q": frozenset({"float64"}), "c": frozenset({"float64", "inf_entry"})}),
    Entry("GaussianPrior", L.GaussianPrior, lambda: {"std": 1.0, "mean": 0.0},
          {"std": reals(0.0, low_open=True), "mean": reals(None)}),
    Entry("ScaleMixturePrior", L.ScaleMixturePrior, lambda: {"pi": 0.5, "std1": 1.0, "std2": 0.1},
          {"pi": reals(0.0, 1.0, low_open=True, high_open=True),
           "std1": reals(0.0, low_open=True), "std2": reals(0.0, low_open=True)}),
    Entry("TrainConfig", L.TrainConfig, lambda: {"epochs": 2},
          {"epochs": ints(1), "batch_size": ints(1), "lr": reals(0.0, 10.0, low_open=True,
           high_open=False), "beta": reals(0.0, low_open=False), "warmup_epochs": ints(0, 2),
           "kl_method": OPTIONS, "kl_samples": ints(1), "seed": ints(0), "progress": FLAGS,
           "task": OPTIONS, "n_train": ints(1), "noise_std": reals(0.0, low_open=True)},
          {"n_train": frozenset({"none"})}),
    Entry("train", L.train,
          lambda: {"model": _net(), "x": _x(), "y": _y(),
                   "config": L.TrainConfig(epochs=1, progress=False)},
          {"model": MODELS[:2], "x": tensors(_x), "y": labels(8, 2),
           "config": (NONE, STR, Bad("dict", lambda: {"epochs": 1}))}),
    Entry("predict", L.predict, lambda: {"model": _net(), "x": _x(), "n_samples": 2},
          {"model": MODELS[:2], "x": tensors(_x), "n_samples": ints(1), "batch_size": ints(1),
           "generator": GENERATORS, "return_log_probs": FLAGS, "task": OPTIONS},
          {"generator": frozenset({"none"})}),
    Entry("certify", L.certify,
          lambda: {"model": _net(), "inputs": _x(), "targets": _y(), "delta": 0.05,
                   "mc_delta": 0.01, "n_mc": 4},
          {"model": MODELS, "inputs": tensors(_x), "targets": labels(8, 2),
           "delta": reals(0.0, 0.99), "mc_delta": reals(0.0, 0.95),  # delta + mc_delta < 1
           "n_mc": ints(1), "generator": GENERATORS[1:]}),
    Entry("save_checkpoint", L.save_checkpoint,
          lambda: {"path": Path(_DIR.name) / "save.pt", "model": _net()},
          {"path": (NONE, Bad("int", lambda: 3)), "model": MODELS[:2],
           "optimizer": (STR, Bad("dict", lambda: {"lr": 1e-3})),
           "extra": (STR, Bad("list", lambda: [1]), Bad("int_key", lambda: {1: 2}, show=False),
                     Bad("nan", lambda: {"loss": math.nan}, names="extra['loss']", show=False),
                     Bad("inf_tensor", lambda: {"w": torch.tensor([math.inf])},
                         names="extra['w']", show=False))}),
    Entry("load_checkpoint", L.load_checkpoint,
          lambda: {"path": _save("load.pt"), "model": _net()},
          {"path": (NONE, Bad("int", lambda: 3),
                    Bad("not_a_checkpoint", _junk),
                    Bad("nan_lr", lambda: _save("lr.pt", optimizer=_nan_lr),
                        names="optimizer['param_groups'][0]['lr']", show=False),
                    Bad("nan_extra", lambda: _save("extra.pt", extra=_nan_extra),
                        names="extra['loss']", show=False)),
           "model": (*MODELS[:2], Bad("other_architecture", lambda: L.MLP((4, 2), "mean_field"),
                                         show=False)),
           "optimizer": (STR, Bad("dict", lambda: {"lr": 1e-3}))}),
)  # fmt: skip


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.name)
def test_api_fuzz_examples_are_refused_clearly(entry: Entry) -> None:
    """Every argument, every kind of bad value, once with its fixed example."""
    check_entry_examples(entry)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e.name)
@given(data=st.data())
def test_api_fuzz_variants_are_refused_clearly(entry: Entry, data: st.DataObject) -> None:
    """Drawn variants of the bad values (out-of-range numbers, text, integers, dtypes)."""
    assert_refused(entry, *draw_case(data, entry))


def test_forward_names_a_non_finite_parameter_not_the_finite_input() -> None:
    """(A NaN scale ``rho`` is not used by ``"mean"`` sampling, so the means are spoilt here.)"""
    for layer, name in ((L.LowRankBayesLinear(4, 3, 2), "B_mean"),
                        (L.MeanFieldBayesLinear(4, 3), "W_mean")):  # fmt: skip
        with torch.no_grad():
            getattr(layer, name)[0, 0] = math.nan
        for mode in ("shared", "local", "mean"):
            L.set_sampling(layer, mode)
            with pytest.raises(ValueError, match=rf"parameter '{name}' of the .* contains NaN"):
                layer(torch.ones(2, 4))


def test_low_rank_forward_names_the_overflow_of_the_second_product() -> None:
    """B^T x finite (about 1e38) but A (B^T x) beyond float32: the output check catches it."""
    layer = L.LowRankBayesLinear(4, 3, 2, warm_start=torch.full((3, 4), 100.0), sampling="mean")
    with pytest.raises(ValueError, match=r"^A B\^T x overflowed \(non-finite\) for a finite `x`"):
        layer(torch.full((2, 4), 3e36))


def test_model_kl_names_the_qualified_non_finite_parameter() -> None:
    with pytest.raises(ValueError, match=r"`model` parameter 'layers.1.B_rho' contains NaN"):
        model_kl(_nan_model())


def test_model_kl_names_an_underflow_from_finite_parameters() -> None:
    """A posterior std that underflows to 0 (softplus(-200) in float32) has an infinite KL."""
    layer = L.LowRankBayesLinear(4, 3, 2)
    with torch.no_grad():
        layer.A_rho[0, 0] = -200.0
    with pytest.raises(ValueError, match=r"KL of `model` is inf although its parameters are"):
        model_kl(layer)


def test_layers_refuse_oversized_blocks_before_allocating() -> None:
    with pytest.raises(ValueError, match=r"`out_features` x `in_features` = 1000000000000 x 10 "):
        L.MeanFieldBayesLinear(10, 10**12)
    with pytest.raises(ValueError, match=r"`in_features` x `rank` = 3000000000 x 1 = "):
        L.LowRankBayesLinear(3 * 10**9, 2, 1)
