"""The opt-in compiled training loops (issue 16): ``train_dropout_erm(compile=True)``
(lrbnn_core.training.compiled_erm) and ``train_bound(compile=True)``
(lrbnn_core.objectives.compiled) train a low-rank MLP as the eager loops do, in float64 to 1e-12,
compiled and uncompiled (the same step functions run eagerly: checked without a compiler too); a
step that would go non-finite is refused before it changes anything and named as the eager loop
names it; models the compiled loops cannot train, and machines without a compiler, run the eager
loop with one warning. Mutants (another momentum, masks swapped, no rescaling, the noise
reordered, a penalty one nat off, another rate) are caught by the same comparisons."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch
from torch import Tensor

import lrbnn_core.erm_prior as erm_prior
import lrbnn_core.objectives.compiled as cbound
import lrbnn_core.objectives.trainer as trainer
import lrbnn_core.training._compiling as compiling
import lrbnn_core.training.compiled_erm as cerm
from lrbnn_core import GaussianPrior, set_prior
from lrbnn_core.erm_prior import DropoutERM, stage_generators, train_dropout_erm
from lrbnn_core.models import MLP
from lrbnn_core.objectives import train_bound

SETTINGS = DropoutERM(epochs=3, batch_size=16)
#: the step functions as the toolkit has them (the mutants below call them)
ERM_STEP, RISK_AND_KL = cerm.erm_step, cbound.risk_and_kl
SEED = 7
needs_compiler = pytest.mark.skipif(
    not compiling.compiler_available(), reason="no C++ compiler for inductor"
)


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiling, "_WARNED", set())


def _net(widths: tuple[int, ...] = (5, 8, 6, 3), **kw: Any) -> MLP:
    g = torch.Generator().manual_seed(1)
    return MLP(widths, "low_rank", rank=2, generator=g, **kw).double()


def _data() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(90, 5, generator=g, dtype=torch.float64)
    return x, torch.randint(0, 3, (90,), generator=g)


def _difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(
        float((p - q).abs().max())
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def _eager_erm(net: MLP | None = None, settings: DropoutERM = SETTINGS) -> MLP:
    net = _net() if net is None else net
    train_dropout_erm(net, *_data(), settings=settings, seed=SEED, progress=False)
    return net


def _uncompiled_erm(
    net: MLP | None = None, settings: DropoutERM = SETTINGS, step: Any = None
) -> MLP:
    """The compiled loop's arithmetic run eagerly (``step``: a mutant of ``erm_step``)."""
    net = _net() if net is None else net
    layers, why = compiling.compilable_layers(net, bound=False)
    assert layers, why
    if step is None:
        step = cerm.erm_step

    def refuse(*_: Any) -> None:
        raise AssertionError("a finite run refused a step")

    mp = pytest.MonkeyPatch()
    mp.setattr(cerm, "erm_step", step)
    try:
        cerm.run_compiled_erm(
            layers, _data(), settings, stage_generators(SEED, 0), refuse,
            desc="t", progress=False, compile=False,
        )  # fmt: skip
    finally:
        mp.undo()
    return net


def test_the_uncompiled_erm_step_trains_as_the_eager_loop() -> None:
    ours = _eager_erm()
    assert _difference(ours, _uncompiled_erm()) < 1e-12
    assert _difference(ours, _net()) > 1e-2  # it trained


def _masks_reversed(params: Any, buffers: Any, xb: Any, yb: Any, masks: Any, *rest: Any) -> Any:
    return ERM_STEP(params, buffers, xb, yb, masks[::-1], *rest)


def _not_rescaled(params: Any, buffers: Any, xb: Any, yb: Any, masks: Any, lr: Any, m: Any,
                  _: Any) -> Any:  # fmt: skip
    return ERM_STEP(params, buffers, xb, yb, masks, lr, m, 1.0)


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param(
            {"settings": DropoutERM(epochs=3, batch_size=16, momentum=0.94)}, id="momentum"
        ),
        pytest.param({"step": _not_rescaled}, id="no-rescaling"),
        # equal hidden widths, so that the two hidden layers' masks can be swapped
        pytest.param({"step": _masks_reversed, "net": _net((5, 6, 6, 3))}, id="masks-swapped"),
    ],
)
def test_the_erm_comparison_catches_mutants(mutant: dict[str, Any]) -> None:
    net = mutant.get("net", _net())
    ours = _eager_erm(copy.deepcopy(net))
    assert _difference(ours, _uncompiled_erm(copy.deepcopy(net))) < 1e-12
    assert _difference(ours, _uncompiled_erm(**{**mutant, "net": copy.deepcopy(net)})) > 1e-6


@needs_compiler
def test_the_compiled_erm_trains_as_the_eager_loop() -> None:
    compiled = _net()
    train_dropout_erm(compiled, *_data(), settings=SETTINGS, seed=SEED, progress=False,
                      compile=True)  # fmt: skip
    assert _difference(_eager_erm(), compiled) < 1e-12


def test_a_refused_erm_step_changes_nothing() -> None:
    layers, _ = compiling.compilable_layers(_net(), bound=False)
    params = cerm.mean_blocks(layers)
    before = [p.clone() for p in params]
    buffers = [torch.full_like(p, 0.5) for p in params]
    x, y = _data()
    xb = x[:4].clone()
    xb[1, 2] = float("nan")
    masks = [torch.ones(4, w, dtype=x.dtype) for w in (8, 6)]
    loss, updated = cerm.erm_step(params, buffers, xb, y[:4], masks, 0.1, 0.9, 0.8).tolist()
    assert updated == 0.0 and math.isnan(loss)
    assert all(torch.equal(p, q) for p, q in zip(params, before, strict=True))
    assert all(bool((b == 0.5).all()) for b in buffers)
    # and a finite batch does update
    _, updated = cerm.erm_step(params, buffers, x[:4], y[:4], masks, 0.1, 0.9, 0.8).tolist()
    assert updated == 1.0 and not torch.equal(params[0], before[0])


def _nan_in_a_mean(net: MLP) -> MLP:
    with torch.no_grad():
        net.layers[1].A_mean[0, 0] = float("nan")
    return net


def _raised(
    fn: Any, kinds: tuple[type[BaseException], ...] = (ValueError, FloatingPointError)
) -> tuple[type[BaseException], str]:
    with pytest.raises(kinds) as info:
        fn()
    return info.type, str(info.value)


def test_a_non_finite_erm_step_is_named_as_the_eager_loop_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, y = _data()
    kw = {"settings": SETTINGS, "seed": SEED, "progress": False}
    eager = _raised(lambda: train_dropout_erm(_nan_in_a_mean(_net()), x, y, **kw))
    # the compiled loop's path, its step uncompiled
    monkeypatch.setattr(cerm, "compile_dynamic", lambda fn: fn)
    monkeypatch.setattr(erm_prior, "compiler_available", lambda: True)
    ours = _raised(lambda: train_dropout_erm(_nan_in_a_mean(_net()), x, y, compile=True, **kw))
    assert ours == eager
    assert "parameter 'A_mean'" in eager[1]


BOUND = {"objective": "kl", "delta": 0.05, "n_bound": 90, "penalty": math.log(3.0), "epochs": 2,
         "batch_size": 32, "lr": 1e-2, "seed": 4}  # fmt: skip


def _posterior(per_entry: bool = True) -> MLP:
    net = _net()
    posterior = copy.deepcopy(net)
    if per_entry:
        set_prior(posterior, GaussianPrior(1.0), centre=net, centre_std_scale=0.5)
    return posterior


def _bound(compile: bool, per_entry: bool = True, **changes: Any) -> tuple[MLP, Any]:
    posterior, (x, y) = _posterior(per_entry), _data()
    out = train_bound(posterior, x, y, progress=False, compile=compile, **{**BOUND, **changes})
    return posterior, out


def _uncompiled_terms(monkeypatch: pytest.MonkeyPatch, **kw: Any) -> None:
    """``train_bound(compile=True)`` with the terms' function run eagerly (``kw`` changes the
    :class:`BoundTerms`' arguments: mutants)."""

    def make(model: Any, penalty: float, p_min: float, generator: Any) -> Any:
        layers, why = compiling.compilable_layers(model, bound=True)
        assert layers, why
        args = {"penalty": penalty, "p_min": p_min, "generator": generator, **kw}
        return cbound.BoundTerms(layers, compile=False, **args)

    monkeypatch.setattr(trainer, "_compiled_terms", make)


@pytest.mark.parametrize("per_entry", [True, False], ids=["per-entry-prior", "scalar-prior"])
def test_the_uncompiled_bound_terms_train_as_the_eager_step(
    monkeypatch: pytest.MonkeyPatch, per_entry: bool
) -> None:
    eager, eager_out = _bound(False, per_entry)
    _uncompiled_terms(monkeypatch)
    ours, out = _bound(True, per_entry)
    assert _difference(eager, ours) < 1e-12
    assert _difference(eager, _posterior(per_entry)) > 1e-2  # it trained
    steps = zip(eager_out.steps, out.steps, strict=True)
    assert (
        max(abs(a.value - b.value) + abs(a.kl - b.kl) + abs(a.risk - b.risk) for a, b in steps)
        < 1e-12
    )


def _noise_reordered(blocks: Any, eps: list[Tensor], *rest: Any) -> Any:
    return RISK_AND_KL(blocks, [e.flip(0) for e in eps], *rest)


@pytest.mark.parametrize(
    "mutant",
    [
        pytest.param({"terms": {"penalty": math.log(3.0) + 1.0}}, id="penalty"),
        pytest.param({"train": {"lr": 1.1e-2}}, id="rate"),
        pytest.param({"function": _noise_reordered}, id="noise-reordered"),
    ],
)
def test_the_bound_comparison_catches_mutants(
    monkeypatch: pytest.MonkeyPatch, mutant: dict[str, Any]
) -> None:
    eager, _ = _bound(False)
    if "function" in mutant:
        monkeypatch.setattr(cbound, "risk_and_kl", mutant["function"])
    penalty = mutant.get("terms", {}).get("penalty")
    if penalty is not None:  # the terms' penalty off, the trainer's objective unchanged
        orig = cbound.BoundTerms.__init__

        def init(self: Any, layers: Any, **kw: Any) -> None:
            orig(self, layers, **{**kw, "penalty": penalty})

        monkeypatch.setattr(cbound.BoundTerms, "__init__", init)
    _uncompiled_terms(monkeypatch)
    ours, _ = _bound(True, **mutant.get("train", {}))
    assert _difference(eager, ours) > 1e-6


@needs_compiler
def test_the_compiled_bound_training_trains_as_the_eager_step() -> None:
    eager, eager_out = _bound(False)
    ours, out = _bound(True)
    assert _difference(eager, ours) < 1e-12
    steps = zip(eager_out.steps, out.steps, strict=True)
    assert max(abs(a.value - b.value) for a, b in steps) < 1e-12


def test_a_non_finite_bound_step_is_named_as_the_eager_step_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, y = _data()

    def run(compile: bool) -> None:
        train_bound(_nan_in_a_mean(_posterior()), x, y, progress=False, compile=compile, **BOUND)

    eager = _raised(lambda: run(False))
    _uncompiled_terms(monkeypatch)
    assert _raised(lambda: run(True)) == eager


@pytest.mark.parametrize(
    ("model", "why"),
    [
        (
            lambda: MLP(
                (5, 8, 3), "mean_field", generator=torch.Generator().manual_seed(1)
            ).double(),
            "mean_field MLP",
        ),
        (lambda: _net(bias=False), "no bias"),
    ],
    ids=["mean-field", "no-bias"],
)
def test_what_the_compiled_erm_cannot_train_runs_eagerly_with_a_warning(
    model: Any, why: str
) -> None:
    eager, ours, (x, y) = _eager_erm(model()), model(), _data()
    with pytest.warns(RuntimeWarning, match=f"compiled dropout ERM: .*{why}"):
        train_dropout_erm(ours, x, y, settings=SETTINGS, seed=SEED, progress=False, compile=True)
    assert _difference(eager, ours) == 0.0


def test_no_compiler_runs_the_eager_loops_with_one_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(erm_prior, "compiler_available", lambda: False)
    monkeypatch.setattr(trainer, "compiler_available", lambda: False)
    x, y = _data()
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler") as record:
        a, b = _net(), _net()
        for net in (a, b):  # warned once per process, not per call
            train_dropout_erm(net, x, y, settings=SETTINGS, seed=SEED, progress=False,
                              compile=True)  # fmt: skip
        ours, _ = _bound(True)
    assert len(record) == 2  # the ERM's and the bound training's
    assert _difference(_eager_erm(), a) == 0.0 and _difference(a, b) == 0.0
    assert _difference(_bound(False)[0], ours) == 0.0


def test_the_bound_training_refuses_to_compile_what_it_cannot() -> None:
    for model, why in [
        (lambda: _net(bayesian_bias=False), "deterministic bias"),
        (lambda: _net(sampling="local"), "'local'"),
    ]:
        assert why in compiling.compilable_layers(model(), bound=True)[1]
    net = _net()
    net.register_forward_hook(lambda *_: None)
    assert "hooks" in compiling.compilable_layers(net, bound=True)[1]
    frozen = _net()
    frozen.layers[0].A_mean.requires_grad_(False)
    assert "frozen" in compiling.compilable_layers(frozen, bound=False)[1]
    # and the ERM's step, called directly on layers without a bias, refuses them
    with pytest.raises(ValueError, match="with a bias"):
        cerm.mean_blocks(list(_net(bias=False).layers))


def test_a_failed_compilation_falls_back_to_the_same_step_uncompiled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from torch._dynamo.exc import BackendCompilerFailed

    def failing(fn: Any) -> Any:
        def run(*_: Any) -> Any:
            raise BackendCompilerFailed(fn, RuntimeError("no"), None)

        return run

    monkeypatch.setattr(cerm, "compile_dynamic", failing)
    monkeypatch.setattr(cbound, "compile_dynamic", failing)
    monkeypatch.setattr(erm_prior, "compiler_available", lambda: True)
    monkeypatch.setattr(trainer, "compiler_available", lambda: True)
    x, y = _data()
    net = _net()
    with pytest.warns(RuntimeWarning, match="compiling failed"):
        train_dropout_erm(net, x, y, settings=SETTINGS, seed=SEED, progress=False, compile=True)
        ours, _ = _bound(True)
    assert _difference(_eager_erm(), net) < 1e-12
    assert _difference(_bound(False)[0], ours) < 1e-12


@pytest.mark.parametrize("value", [1, "yes", None])
def test_compile_must_be_a_bool(value: Any) -> None:
    from lrbnn_core.certified_training import GridSettings

    x, y = _data()
    with pytest.raises(TypeError, match="`compile` must be a bool"):
        train_dropout_erm(_net(), x, y, seed=0, progress=False, compile=value)
    with pytest.raises(TypeError, match="`compile` must be a bool"):
        train_bound(_net(), x, y, progress=False, compile=value, **BOUND)
    with pytest.raises(TypeError, match="`compile` must be a bool"):
        GridSettings(compile=value)


@pytest.mark.parametrize(
    "bad",
    [
        lambda x, y: (x.float(), y),
        lambda x, y: (x[:, :4], y),
        lambda x, y: (x, y.int()),
    ],
    ids=["float32-x", "too-few-features", "int32-labels"],
)
def test_inputs_the_compiled_erm_cannot_take_go_to_the_eager_loop(bad: Any) -> None:
    x, y = bad(*_data())
    kw = {"settings": SETTINGS, "seed": SEED, "progress": False}
    eager = _raised(lambda: train_dropout_erm(_net(), x, y, **kw), (Exception,))
    with pytest.warns(RuntimeWarning, match="the inputs are not"):
        ours = _raised(lambda: train_dropout_erm(_net(), x, y, compile=True, **kw), (Exception,))
    assert ours == eager


@needs_compiler
@pytest.mark.parametrize("distinct", [True, False], ids=["as-shipped", "mutant-duck-shapes"])
def test_a_new_width_reuses_the_graph(monkeypatch: pytest.MonkeyPatch, distinct: bool) -> None:
    """A width equal to the batch size first, then another: with distinct sizes (as shipped)
    the second width runs the first graph; with equal sizes sharing a symbol (dynamo's default,
    the mutant) the first graph holds only for width == batch and the second compiles again."""
    from torch._dynamo.utils import counters

    torch._dynamo.reset()  # no graph of another test's shapes
    monkeypatch.setattr(compiling, "_GRAPHS", {})
    monkeypatch.setattr(compiling, "DISTINCT_SIZES", distinct)
    x, y = torch.randn(96, 5, dtype=torch.float64), torch.randint(0, 3, (96,))
    new_graphs = []
    for width in (16, 24):
        net = _net((5, width, width, 3))
        before = counters["stats"]["unique_graphs"]
        train_dropout_erm(net, x, y, settings=DropoutERM(epochs=1, batch_size=16), seed=0,
                          progress=False, compile=True)  # fmt: skip
        new_graphs.append(counters["stats"]["unique_graphs"] - before)
    assert new_graphs == ([1, 0] if distinct else [1, 1])
