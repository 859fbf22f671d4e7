"""What the opt-in compiled training loops share (issue 16): whether ``torch.compile`` can run
here, one compiled graph per pure function, the models those loops take, and the one warning
of a fallback to the eager loop.

The loops themselves are :mod:`lrbnn_core.training.compiled_erm` (the dropout ERM of a prior model's
means) and :mod:`lrbnn_core.objectives.compiled` (the bound training's risk and KL). Both take
a low-rank MLP only (:func:`compilable_layers` says why another model runs eagerly), compile
with dynamic shapes so that the widths and ranks of a sweep share graphs, and keep the eager
loop's checks (a non-finite step is refused before it changes a parameter, and named by the
eager layers' own checks).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from lrbnn_core.base import SamplingMode, bayesian_modules
from lrbnn_core.layers.compiled import compiler_available
from lrbnn_core.layers.low_rank import LowRankBayesLinear
from lrbnn_core.models import MLP, LayerKind
from lrbnn_core.priors import GaussianPrior

__all__ = ["compilable_layers", "compile_dynamic", "compiler_available", "warn_fallback"]

#: compiled graphs by pure function (one per function in a process; dynamic shapes)
_GRAPHS: dict[Callable[..., Any], Callable[..., Any]] = {}
#: give equal sizes their own symbols when tracing (:func:`compile_dynamic`)
DISTINCT_SIZES = True
#: the (loop, reason) pairs whose fallback has been warned of (once each per process)
_WARNED: set[tuple[str, str]] = set()


def compile_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a failed compilation (after which a loop runs eagerly)."""
    from torch._dynamo.exc import BackendCompilerFailed
    from torch._inductor.exc import InductorError

    return (BackendCompilerFailed, InductorError)


def compile_dynamic(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as one ``torch.compile`` graph with dynamic shapes, made once per process (compiled
    at its first call, recompiled where a shape breaks its guards). Parameters' shapes are
    dynamic too (dynamo holds them static by default, which would compile once per width and
    rank of a sweep), and sizes that happen to be equal get their own symbols (by default they
    share one, so that a width of 64 beside batches of 64 compiles a graph for that equality
    only: over the default grid's shapes 8 compilations instead of 5); the returned function
    sets both for its own calls only."""
    graph = _GRAPHS.get(fn)
    if graph is None:
        with warnings.catch_warnings():
            # inductor's own import warns of torch.jit.script_method's deprecation (torch's
            # code, not ours): imported once here, before the first compilation needs it
            warnings.simplefilter("ignore", DeprecationWarning)
            from torch._inductor import compile_fx  # noqa: F401
        graph = _GRAPHS[fn] = torch.compile(fn, dynamic=True, fullgraph=True)
    from torch.fx.experimental import _config as fx_config

    dynamic = torch._dynamo.config.patch(force_parameter_static_shapes=False)
    distinct = fx_config.patch(use_duck_shape=not DISTINCT_SIZES)  # type: ignore[attr-defined]

    def run(*args: Any) -> Any:
        with dynamic, distinct:
            return graph(*args)

    return run


def forget(fn: Callable[..., Any]) -> None:
    """Drop ``fn``'s compiled graph (after a failed compilation)."""
    _GRAPHS.pop(fn, None)


def warn_fallback(loop: str, reason: str) -> None:
    """Warn once per process and reason that ``loop`` runs eagerly, and why."""
    if (loop, reason) not in _WARNED:
        _WARNED.add((loop, reason))
        warnings.warn(
            f"{loop}: {reason}; running the eager loop instead", RuntimeWarning, stacklevel=3
        )


def _hooked(module: nn.Module) -> bool:
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or module._backward_hooks
        or module._backward_pre_hooks
    )


def _means(layer: LowRankBayesLinear) -> list[torch.Tensor]:
    bias = layer._mean("bias") if layer.bias_mode == "bayesian" else layer.bias
    return [layer._mean("A"), layer._mean("B")] + ([] if bias is None else [bias])


def compilable_layers(model: nn.Module, *, bound: bool) -> tuple[list[LowRankBayesLinear], str]:
    """The layers of ``model`` if the compiled loops can train it, else ``([], why not)``.

    They take an :class:`~lrbnn_core.models.MLP` (exactly: a subclass may change its forward) of
    :class:`~lrbnn_core.layers.LowRankBayesLinear` layers, without hooks (a hook would not run
    in the graph). The ERM needs a bias in every layer and no frozen mean; the bound training
    (``bound=True``) needs Bayesian biases or none, the ``"shared"`` sampling and Gaussian
    priors."""
    from torch.nn.modules import module as torch_module

    if type(model) is not MLP:
        return [], f"the model is a {type(model).__name__}, not a low-rank MLP"
    if model.kind is not LayerKind.LOW_RANK:
        return [], f"the model is a {model.kind.value} MLP, not a low-rank one"
    layers = [m for m in bayesian_modules(model) if type(m) is LowRankBayesLinear]
    if len(layers) != len(bayesian_modules(model)):
        return [], "a layer is not a LowRankBayesLinear"
    if any(_hooked(m) for m in model.modules()) or any(
        getattr(torch_module, name, None)
        for name in (
            "_global_forward_hooks",
            "_global_forward_pre_hooks",
            "_global_backward_hooks",
            "_global_backward_pre_hooks",
        )
    ):
        return [], "the model has hooks"
    for layer in layers:
        if not bound and layer.bias_mode == "none":
            return [], "a layer has no bias"
        if not bound and not all(p.requires_grad for p in _means(layer)):
            return [], "a mean is frozen"
        if bound:
            if layer.bias_mode == "deterministic":
                return [], "a layer has a deterministic bias"
            if layer.sampling is not SamplingMode.SHARED:
                return [], f"a layer samples {layer.sampling.value!r}, not 'shared'"
            if not isinstance(layer.prior, GaussianPrior):
                return [], "a layer's prior is not Gaussian"
    return layers, ""
