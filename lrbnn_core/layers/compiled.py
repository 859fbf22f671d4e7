r"""An opt-in compiled training step of the low-rank layer (issue 16): the ``"shared"`` forward,
the closed-form KL, the loss around them and the gradients, as one ``torch.compile`` graph.

At the paper's small sizes an eager step costs dispatch, not arithmetic: even fused
(:mod:`lrbnn_core.layers.fused`), a forward + KL + backward of a 64 x 64 layer runs about 140
operators. Here the step is :func:`torch.func.grad_and_value` of a pure function (the draw
:math:`w = \mu + \mathrm{softplus}(\rho)\,\varepsilon`, :math:`y = (x B) A^\top + b`, the loss,
plus ``kl_weight`` times the KL), compiled whole by inductor: the elementwise work becomes a few
generated C++ loops, autograd's engine is not involved, and the finiteness guard is one flag
computed inside the graph and read once per step.

The noise is not drawn inside the graph (inductor's generator is not torch's): it is drawn
eagerly from the layer's generator in the order of
:meth:`~lrbnn_core.layers.LowRankBayesLinear.sample_factors` (the bias, ``A``, ``B``), so a step
sees the eager step's draws on the same seed, and its loss and gradients agree with the eager
step to float rounding (tested; the eager step is the twin and the fallback).

Compiling costs seconds (about 3 to 6 s on a CPU, once per loss function and shape in a
process); ``benchmarks/bench_layers.py`` prints the time per step beside the eager step and
``nn.Linear`` and after how many steps the compilation pays. Where inductor finds no C++
compiler, or compiling fails, the step warns once and runs the eager step.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from lrbnn_core.base import SamplingMode, check_finite_through, check_input
from lrbnn_core.layers.fused import _constant
from lrbnn_core.layers.low_rank import LowRankBayesLinear
from lrbnn_core.priors import GaussianPrior, gaussian_kl_elementwise

__all__ = ["CompiledStep", "compiled_step", "compiler_available"]

#: the loss around the layer: ``loss(y, *loss_args)``, a 0-dim tensor
Loss = Callable[..., Tensor]

#: compiled step functions by loss function (one graph per loss and shape in a process)
_COMPILED: dict[Loss, Callable[..., Any]] = {}
#: whether the fallback's warning was given (once per process)
_WARNED: list[bool] = [False]


def compiler_available() -> bool:
    """Whether inductor finds a C++ compiler on this machine (``torch.compile``'s CPU backend
    needs one)."""
    try:
        from torch._inductor import cpp_builder

        cpp_builder.get_cpp_compiler()
    except Exception:  # any failure to find or run one: no compiler
        return False
    return True


def _draws(layer: LowRankBayesLinear) -> dict[str, Tensor]:
    """The noise of one ``"shared"`` pass, from the layer's generator in the eager order (the
    bias, ``A``, ``B``: :meth:`LowRankBayesLinear.sample_factors`)."""
    order = ["bias", "A", "B"] if layer.bias_mode == "bayesian" else ["A", "B"]
    gen = layer.generator
    out = {}
    for name in order:
        mean = layer._mean(name)
        out[name] = torch.randn(mean.shape, generator=gen, dtype=mean.dtype, device=mean.device)
    return out


def _forward(params: dict[str, Tensor], x: Tensor, eps: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """``(y, x B)`` for the draw ``mean + softplus(rho) * eps`` of every block."""
    w = {n: params[f"{n}_mean"] + F.softplus(params[f"{n}_rho"]) * e for n, e in eps.items()}
    z = x @ w["B"]
    y = z @ w["A"].t()
    bias = w.get("bias", params.get("bias"))
    return (y if bias is None else y + bias), z


def _kl(params: dict[str, Tensor], prior: dict[str, tuple[Tensor, Tensor]]) -> Tensor:
    """The closed-form KL of every block to its Gaussian prior ``(loc, scale)``, summed
    (:func:`~lrbnn_core.priors.gaussian_kl_elementwise`)."""
    total = []
    for name, (loc, scale) in prior.items():
        std = F.softplus(params[f"{name}_rho"])
        total.append(gaussian_kl_elementwise(params[f"{name}_mean"], std, loc, scale).sum())
    return torch.stack(total).sum()


def _objective(
    loss: Loss,
) -> Callable[..., tuple[Tensor, Tensor]]:
    """The step's pure function of the parameters: ``(total, finite)``, where
    ``finite`` says whether the output and the total are finite (the guard, in the graph)."""

    def total_loss(
        params: dict[str, Tensor],
        x: Tensor,
        eps: dict[str, Tensor],
        prior: dict[str, tuple[Tensor, Tensor]],
        kl_weight: Tensor,
        loss_args: tuple[Tensor, ...],
    ) -> tuple[Tensor, Tensor]:
        y, _ = _forward(params, x, eps)
        total = loss(y, *loss_args) + kl_weight * _kl(params, prior)
        return total, torch.isfinite(y).all() & torch.isfinite(total)

    return total_loss


def _compiled(loss: Loss) -> Callable[..., Any]:
    fn = _COMPILED.get(loss)
    if fn is None:
        with warnings.catch_warnings():
            # inductor's own import warns of torch.jit.script_method's deprecation (torch's
            # code, not ours); imported here once, before the first compilation needs it
            warnings.simplefilter("ignore", DeprecationWarning)
            import torch._inductor.compile_fx
        grad = torch.func.grad_and_value(_objective(loss), has_aux=True)
        fn = _COMPILED[loss] = torch.compile(grad, fullgraph=True, dynamic=False)
    return fn


def _warn_once(reason: str) -> None:
    if not _WARNED[0]:
        _WARNED[0] = True
        warnings.warn(
            f"compiled_step: {reason}; running the eager step instead", RuntimeWarning, stacklevel=3
        )


class CompiledStep:
    """One training step of a :class:`LowRankBayesLinear` (use :func:`compiled_step`):
    ``step(x, *loss_args)`` computes ``loss(layer(x), *loss_args) + kl_weight * layer.kl()``
    for one ``"shared"`` draw, adds its gradients to the parameters' ``.grad`` (as
    ``backward`` does) and returns the loss (0-dim, detached)."""

    def __init__(self, layer: LowRankBayesLinear, loss: Loss, kl_weight: float, compile: bool):
        self.layer, self.loss = layer, loss
        self.kl_weight = kl_weight
        self._aliases: dict[str, Tensor] = {}
        self.compiled = compile and compiler_available()
        if compile and not self.compiled:
            _warn_once("no C++ compiler for torch.compile's CPU backend (inductor)")

    def _params(self) -> dict[str, Tensor]:
        layer = self.layer
        names = [f"{n}_{part}" for n in layer._blocks for part in ("mean", "rho")]
        if layer.bias_mode == "deterministic":
            names.append("bias")
        return {n: layer._parameters[n] for n in names}  # type: ignore[misc]

    def _detached(self, params: dict[str, Tensor]) -> dict[str, Tensor]:
        """Detached aliases of the parameters (the graph's inputs), made once and reused while
        each still shares its parameter's storage and shape: an optimizer's in-place updates
        show through them, and a replaced parameter (``p.data = ...``, a new tensor) gets a new
        alias. Saves one ``aten::detach`` per parameter per step."""
        cache = self._aliases
        for name, p in params.items():
            alias = cache.get(name)
            layout = (p.data_ptr(), p.shape, p.stride(), p.dtype)
            if (
                alias is None
                or (alias.data_ptr(), alias.shape, alias.stride(), alias.dtype) != layout
            ):
                cache[name] = p.detach()
        return {name: cache[name] for name in params}

    def _prior(self) -> dict[str, tuple[Tensor, Tensor]]:
        layer, like = self.layer, self.layer._mean("A")
        if not isinstance(layer.prior, GaussianPrior):
            raise ValueError(
                f"compiled_step needs a GaussianPrior on the layer; got {layer.prior!r}"
            )
        locs, scales = layer.prior_means() or {}, layer.prior_stds() or {}
        return {
            n: (
                locs.get(n, _constant(layer.prior.mean, like)),
                scales.get(n, _constant(layer.prior.std, like)),
            )
            for n in layer._blocks
        }

    def eager(self, x: Tensor, *loss_args: Tensor) -> Tensor:
        """The twin and fallback: the layer's own eager step (fused forward, fused KL,
        autograd's backward), with the layer's finiteness check."""
        layer = self.layer
        total = self.loss(layer(x), *loss_args) + self.kl_weight * layer.kl()
        if not math.isfinite(total.item()):
            raise ValueError(f"the loss is non-finite ({total.item()}) for a finite output")
        total.backward()
        return total.detach()

    def __call__(self, x: Tensor, *loss_args: Tensor) -> Tensor:
        layer = self.layer
        if layer.sampling is not SamplingMode.SHARED:
            raise ValueError(
                f"compiled_step needs the layer in 'shared' sampling; got {layer.sampling.value!r}"
            )
        prior = self._prior()
        if not self.compiled:
            return self.eager(x, *loss_args)
        x = check_input(x, layer.in_features, finite=False, dtype=layer._mean("A").dtype)
        params = self._params()
        eps = _draws(layer)
        weight = _constant(self.kl_weight, x)
        detached = self._detached(params)
        args = (detached, x, eps, prior, weight, loss_args)
        try:
            grads, (total, finite) = _compiled(self.loss)(*args)
        except (torch._dynamo.exc.BackendCompilerFailed, torch._inductor.exc.InductorError) as e:
            # this draw through the same function uncompiled; later steps run the eager step
            self.compiled = False
            _COMPILED.pop(self.loss, None)
            _warn_once(f"compiling failed ({type(e).__name__})")
            grads, (total, finite) = torch.func.grad_and_value(_objective(self.loss), has_aux=True)(
                *args
            )
        if not bool(finite):
            self._name_the_cause(detached, x, eps, total)
        for name, p in params.items():
            g = grads[name]
            p.grad = g if p.grad is None else p.grad + g
        return total

    def _name_the_cause(
        self, params: dict[str, Tensor], x: Tensor, eps: dict[str, Tensor], total: Tensor
    ) -> None:
        """The guard failed: replay this draw eagerly and raise naming the cause, as the eager
        layer does (``x``, a parameter, ``B^T x``, ``A B^T x``), else the KL or the loss."""
        y, z = _forward(params, x, eps)
        check_finite_through(y, x, "A B^T x", module=self.layer, stages=(("B^T x", z),))
        kl = _kl(params, self._prior())
        where = "the KL" if not bool(torch.isfinite(kl)) else "the loss"
        raise ValueError(
            f"{where} is non-finite (loss {float(total)}) for a finite output of the layer"
        )


def compiled_step(
    layer: LowRankBayesLinear, loss: Loss, kl_weight: float, *, compile: bool = True
) -> CompiledStep:
    r"""A compiled training step of ``layer``: ``loss(y, *loss_args) + kl_weight * KL``
    and its gradients, for one ``"shared"`` draw (see the module's notes).

    Parameters
    ----------
    layer : LowRankBayesLinear
        In ``"shared"`` sampling, with a :class:`~lrbnn_core.priors.GaussianPrior`.
    loss : callable
        ``loss(y, *loss_args)``, a 0-dim tensor, traceable by ``torch.compile`` (one graph per
        loss function: pass the same function object to reuse a compilation).
    kl_weight : float
        Finite and >= 0, the KL's weight (``1 / N`` for an ELBO over ``N`` examples).
    compile : bool
        ``False``: the eager step (the twin); ``True`` falls back to it, warning once, where
        there is no C++ compiler.

    Returns
    -------
    CompiledStep
        ``step(x, *loss_args)``: adds the gradients to ``.grad``, returns the loss.

    Examples
    --------
    >>> layer = LowRankBayesLinear(8, 4, 2, generator=torch.Generator().manual_seed(0))
    >>> step = compiled_step(layer, lambda y: y.square().mean(), 1e-3, compile=False)
    >>> loss = step(torch.ones(3, 8))
    >>> layer.A_mean.grad.shape
    torch.Size([4, 2])
    """
    if not isinstance(layer, LowRankBayesLinear):
        raise TypeError(f"`layer` must be a LowRankBayesLinear; got {type(layer).__name__}")
    if not callable(loss):
        raise TypeError(f"`loss` must be callable; got {loss!r}")
    if (
        isinstance(kl_weight, bool)
        or not isinstance(kl_weight, (int, float))
        or not (math.isfinite(kl_weight) and kl_weight >= 0)
    ):
        raise ValueError(f"`kl_weight` must be a finite number >= 0; got {kl_weight!r}")
    if not isinstance(compile, bool):
        raise TypeError(f"`compile` must be a bool; got {compile!r}")
    return CompiledStep(layer, loss, float(kl_weight), compile)
