"""What every Bayesian layer of ``lrbnn_core`` shares: the sampling mode, the generator, the KL.

A Bayesian layer owns its stochastic parameters (a *block* is one tensor of independent Gaussian
scalars: ``"A"``, ``"B"``, ``"W"``, ``"bias"``, ...). Models built from layers get their KL, their
sampling mode and their random generator through the helpers here, which walk the module tree, so
that a container never double-counts a layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core._validation import parse_enum

__all__ = [
    "BayesianModule",
    "KLMethod",
    "SamplingMode",
    "bayesian_modules",
    "check_dtype",
    "check_finite_through",
    "check_input",
    "check_model",
    "check_size",
    "deferred_finite_checks",
    "model_kl",
    "nonfinite_parameter",
    "set_generator",
    "set_prior",
    "set_sampling",
    "stochastic_parameter_count",
]


class SamplingMode(str, Enum):
    """How a Bayesian layer draws its weights in ``forward``."""

    #: one draw of every stochastic parameter per forward pass, shared by the whole batch (the
    #: paper's choice)
    SHARED = "shared"
    #: independent draws per example, without forming the weight matrix (local
    #: reparameterisation: exact Gaussian pre-activations)
    LOCAL = "local"
    #: no sampling: the posterior means (a deterministic network, for diagnostics)
    MEAN = "mean"


class KLMethod(str, Enum):
    """How ``kl`` evaluates the KL of the posterior to the prior."""

    #: the exact closed form (Gaussian priors) or, where there is none, the prior's declared
    #: closed-form *upper* bound (scale mixtures): the value a certificate may use
    CLOSED_FORM = "closed_form"
    #: an unbiased Monte Carlo estimate from posterior samples (for training with mixture priors)
    MONTE_CARLO = "monte_carlo"


def sampling_mode(value: Any, name: str = "sampling") -> SamplingMode:
    return parse_enum(SamplingMode, value, name)


def kl_method(value: Any, name: str = "method") -> KLMethod:
    return parse_enum(KLMethod, value, name)


def check_model(model: Any, name: str = "model") -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``, else a TypeError naming ``name``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"`{name}` must be a torch.nn.Module; got {type(model).__name__}")
    return model


def check_dtype(dtype: Any, name: str = "dtype") -> torch.dtype | None:
    """``None`` or a torch floating dtype. A string (``"float64"``) is refused rather than
    guessed at: torch itself takes only ``torch.dtype`` objects."""
    if dtype is None:
        return None
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"`{name}` must be a torch floating dtype (torch.float32, torch.float64) or None; "
            f"got {dtype!r} ({type(dtype).__name__})"
        )
    if not dtype.is_floating_point:
        raise TypeError(
            f"`{name}` must be a torch floating dtype (torch.float32, torch.float64) or None; "
            f"got {dtype}"
        )
    return dtype


def nonfinite_parameter(module: nn.Module) -> str | None:
    """The qualified name of the first parameter or buffer of ``module`` holding NaN or
    infinity, or ``None``: for error messages only (one pass over every tensor)."""
    for name, t in (*module.named_parameters(), *module.named_buffers()):
        if (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            return name
    return None


class BayesianModule(nn.Module):
    """Base class of the layers that own stochastic parameters.

    Subclasses implement ``kl`` and ``factor_posteriors``; ``sampling`` and ``generator`` are
    plain attributes read at every forward pass (``generator=None`` uses torch's global RNG).
    """

    def __init__(self, sampling: SamplingMode | str = SamplingMode.SHARED) -> None:
        super().__init__()
        self.sampling = sampling_mode(sampling)
        self.generator: torch.Generator | None = None

    def kl(
        self,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """KL of this layer's posterior to its prior, summed over its blocks (0-dim tensor),
        evaluated in ``dtype`` (the parameters' when ``None``)."""
        raise NotImplementedError

    def factor_posteriors(self) -> dict[str, tuple[Tensor, Tensor]]:
        """``{block name: (mean, std)}`` of every stochastic parameter block."""
        raise NotImplementedError

    def set_prior(
        self,
        prior: Any,
        *,
        means: dict[str, Tensor] | None = None,
        stds: dict[str, Tensor] | None = None,
    ) -> None:
        """Replace the prior (``means``, ``stds``: per-entry values of a Gaussian prior)."""
        raise NotImplementedError

    def prior_means(self) -> dict[str, Tensor] | None:
        """Per-entry prior means by block, or ``None`` (the prior's scalar mean)."""
        raise NotImplementedError

    def prior_stds(self) -> dict[str, Tensor] | None:
        """Per-entry prior stds by block, or ``None`` (the prior's scalar std)."""
        raise NotImplementedError


def set_prior(
    model: nn.Module,
    prior: Any,
    *,
    centre: nn.Module | None = None,
    centre_std_scale: float | None = None,
) -> None:
    """Give every Bayesian layer of ``model`` the prior ``prior``.

    ``centre`` is a model of the same architecture whose posterior means become the centres of
    the (Gaussian) prior, entry by entry: ``model`` itself (a prior at the current means, e.g.
    the initialisation) or a model trained on data held out from the certificate (a
    data-dependent prior). ``None`` centres every entry at the prior's scalar mean.
    ``centre_std_scale`` (with ``centre``): the prior's std, entry by entry, is this multiple
    of ``centre``'s posterior std (a learnt prior scale; ``prior.std`` is then not used)."""
    layers = bayesian_modules(model)
    if not layers:
        raise ValueError(f"`model` ({type(model).__name__}) has no Bayesian layer")
    if centre is None:
        if centre_std_scale is not None:
            raise ValueError(
                f"`centre_std_scale` needs a `centre` model; got centre_std_scale="
                f"{centre_std_scale!r} with centre=None"
            )
        for layer in layers:
            layer.set_prior(prior)
        return
    sources = bayesian_modules(check_model(centre, "centre"))
    if [type(m) for m in sources] != [type(m) for m in layers]:
        raise ValueError(
            "`centre` must have the architecture of `model` (the same Bayesian layers); got a "
            f"{type(centre).__name__} with {len(sources)} Bayesian layers for {len(layers)}"
        )
    if centre_std_scale is not None and not (
        isinstance(centre_std_scale, (int, float))
        and not isinstance(centre_std_scale, bool)
        and 0 < centre_std_scale < float("inf")
    ):
        raise ValueError(
            f"`centre_std_scale` must be a finite number > 0; got {centre_std_scale!r}"
        )
    # Read every centre before writing any: `centre` may be `model` itself.
    means, stds = [], []
    for src in sources:
        post = src.factor_posteriors()
        means.append({k: m.detach().clone() for k, (m, _) in post.items()})
        if centre_std_scale is not None:
            stds.append({k: s.detach() * float(centre_std_scale) for k, (_, s) in post.items()})
    for i, layer in enumerate(layers):
        layer.set_prior(prior, means=means[i], stds=stds[i] if stds else None)


def bayesian_modules(model: nn.Module) -> list[BayesianModule]:
    """The outermost ``BayesianModule`` s of ``model`` (itself included), in module order: a
    Bayesian layer built from Bayesian sub-layers counts once, through its own ``kl``."""
    check_model(model)
    found: list[BayesianModule] = []

    def walk(module: nn.Module) -> None:
        if isinstance(module, BayesianModule):
            found.append(module)
            return
        for child in module.children():
            walk(child)

    walk(model)
    return found


def model_kl(
    model: nn.Module,
    method: KLMethod | str = KLMethod.CLOSED_FORM,
    *,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype | None = None,
    check_finite: bool = True,
) -> Tensor:
    """Sum of ``kl`` over every Bayesian layer of ``model``; raises if there is none (a model
    without stochastic parameters has no posterior to certify or regularise). ``dtype``: see
    :meth:`BayesianModule.kl` (``torch.float64`` for certificates).

    A KL that is not finite raises ``ValueError`` naming the first parameter of ``model`` that
    holds NaN or infinity (or saying that it overflowed from finite parameters).
    ``check_finite=False`` skips that check, which waits for the value: for training loops
    that check the loss the KL enters anyway (one wait per step, not two)."""
    layers = bayesian_modules(model)
    if not layers:
        raise ValueError(
            f"`model` ({type(model).__name__}) has no stochastic parameters: no Bayesian layer"
        )
    method = kl_method(method)
    dtype = check_dtype(dtype)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    if not isinstance(check_finite, bool):
        raise TypeError(f"`check_finite` must be a bool; got {check_finite!r}")
    # ``dtype`` only when asked for, so that layers written before it existed keep working
    extra = {} if dtype is None else {"dtype": dtype}
    terms = [m.kl(method, n_samples=n_samples, generator=generator, **extra) for m in layers]
    total = torch.stack(terms).sum()
    if check_finite and not bool(torch.isfinite(total)):
        bad = nonfinite_parameter(model)
        if bad is not None:
            raise ValueError(f"`model` parameter {bad!r} contains NaN or infinite values")
        raise ValueError(
            f"the KL of `model` is {total.item()} although its parameters are finite: a "
            f"posterior std underflowed to 0 (softplus of a very negative rho) or a term "
            f"overflowed in {total.dtype}"
        )
    return total


def stochastic_parameter_count(model: nn.Module) -> int:
    """Number of stochastic scalars (each has a mean and a std) of every Bayesian layer."""
    return sum(
        int(mean.numel())
        for m in bayesian_modules(model)
        for mean, _ in m.factor_posteriors().values()
    )


def set_sampling(model: nn.Module, mode: SamplingMode | str) -> None:
    """Set the sampling mode of every Bayesian layer of ``model``."""
    check_model(model)
    chosen = sampling_mode(mode, "mode")
    for module in model.modules():
        if isinstance(module, BayesianModule):
            module.sampling = chosen


def set_generator(model: nn.Module, generator: torch.Generator | None) -> None:
    """Make every Bayesian layer of ``model`` draw from ``generator`` (one stream for the whole
    model: two runs from one seed give identical numbers)."""
    check_model(model)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    for module in model.modules():
        if isinstance(module, BayesianModule):
            module.generator = generator


def check_input(
    x: Any,
    features: int,
    name: str = "x",
    *,
    min_dim: int = 2,
    finite: bool = True,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """``x`` as a floating tensor whose last axis has ``features`` entries and (if ``finite``) no
    NaN/inf. The Bayesian linear layers check their output instead (``finite=False`` here,
    then :func:`check_finite_through`): a bad ``x`` always reaches it, and a full pass over
    ``x`` costs more than a low-rank layer."""
    if not isinstance(x, Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor; got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"`{name}` must have the layer's dtype {dtype}; got {x.dtype}")
    if x.dim() < min_dim or x.shape[-1] != features:
        raise ValueError(
            f"`{name}` must have shape (..., {features}) with at least {min_dim} axes; "
            f"got {tuple(x.shape)}"
        )
    if finite and not bool(torch.isfinite(x).all()):
        raise ValueError(f"`{name}` contains NaN or infinite values")
    return x


#: Set by :func:`deferred_finite_checks` (per thread and per async context).
_CHECKS_DEFERRED: ContextVar[bool] = ContextVar("lrbnn_finite_checks_deferred", default=False)


@contextmanager
def deferred_finite_checks() -> Iterator[None]:
    """Within this context :func:`check_finite_through` returns at once: no pass over the
    output, no wait for the device.

    For a caller that checks a number every output reaches (the training loop checks each
    step's loss, which a non-finite output always makes non-finite) and that, when that check
    fails, runs the forward pass again outside the context to have the layer name the cause.

    >>> from lrbnn_core.layers import LowRankBayesLinear
    >>> with deferred_finite_checks():
    ...     y = LowRankBayesLinear(3, 2, 1)(torch.full((1, 3), float("nan")))
    >>> bool(y.isnan().all())
    True
    """
    token = _CHECKS_DEFERRED.set(True)
    try:
        yield
    finally:
        _CHECKS_DEFERRED.reset(token)


def _all_finite(t: Tensor) -> bool:
    """Whether every entry of ``t`` is finite, in one pass where it is: a sum is finite only if
    every term is (NaN propagates, an infinity stays infinite or meets its opposite and makes
    NaN); only a non-finite sum, which finite terms can reach by overflow, is looked at entry
    by entry."""
    return math.isfinite(t.sum().item()) or bool(torch.isfinite(t).all())


def check_finite_through(
    t: Tensor,
    x: Tensor,
    what: str,
    name: str = "x",
    *,
    module: nn.Module | None = None,
    stages: tuple[tuple[str, Tensor], ...] = (),
) -> Tensor:
    """Raise if ``t``, computed from ``x`` (and ``module``'s parameters) by sums of products
    (such as ``(x @ B) @ A.T``), is not finite.

    A NaN or infinite entry of ``x`` always makes ``t`` non-finite (NaN times anything is NaN;
    infinity times a nonzero is infinite, times zero NaN, and a sum with a non-finite term is
    non-finite), and so does one of a parameter; so one check of ``t`` (one wait for the
    device) catches every bad ``x``. Only on failure is the cause looked for, and named: ``x``,
    else the first non-finite parameter of ``module``, else the first non-finite intermediate
    of ``stages`` (``(what, tensor)`` pairs), else ``what``, overflowed from finite values.
    Skipped inside :func:`deferred_finite_checks`."""
    if not (_CHECKS_DEFERRED.get() or _all_finite(t)):
        if not bool(torch.isfinite(x).all()):
            raise ValueError(f"`{name}` contains NaN or infinite values")
        bad = None if module is None else nonfinite_parameter(module)
        if bad is not None:
            raise ValueError(
                f"parameter {bad!r} of the {type(module).__name__} contains NaN or infinite "
                f"values (the input `{name}` is finite)"
            )
        where = next((w for w, s in stages if not bool(torch.isfinite(s).all())), what)
        raise ValueError(f"{where} overflowed (non-finite) for a finite `{name}`")
    return t


def check_size(value: Any, name: str, low: int = 1, high: int | None = None, hint: str = "") -> int:
    """``value`` as an int in ``[low, high]``; ``hint`` names what ``high`` is."""
    upper = "inf" if high is None else (f"{hint} = {high}" if hint else str(high))
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        raise ValueError(f"`{name}` must be an int in [{low}, {upper}]; got {value!r}")
    return int(value)
