"""What the Bayesian linear layers share: named blocks of Gaussian parameters (mean and
pre-softplus scale ``rho``) with their prior, KL and bias, the draws of ``"local"`` sampling, and
the checks and initialisation helpers of the constructors (notes: :mod:`lrbnn_core.layers`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core._validation import check_int, check_tensor_size
from lrbnn_core.base import BayesianModule, KLMethod, SamplingMode, check_dtype, kl_method
from lrbnn_core.layers.fused import gaussian_kl
from lrbnn_core.priors import GaussianPrior, Prior, check_prior
from theory.initialisation import InitTarget

__all__ = ["inverse_softplus"]


#: Floor on a pre-activation variance before its square root in ``"local"`` mode. The variance is
#: a sum of squares (>= 0) and is exactly 0 only for an all-zero input row, where the derivative
#: of sqrt is infinite and 0 * inf would poison the gradients with NaN. The floor moves a
#: standard deviation by at most 1e-15 (float32 keeps 1e-30 as a normal number).
_VAR_FLOOR = 1e-30


def inverse_softplus(std: Tensor) -> Tensor:
    r""":math:`\rho = \ln(e^\sigma - 1)`, so that ``softplus(rho) == std`` (std > 0).

    >>> rho = inverse_softplus(torch.tensor([0.3], dtype=torch.float64))
    >>> round(torch.nn.functional.softplus(rho).item(), 15)
    0.3
    """
    return std + torch.log(-torch.expm1(-std))


def _check_features(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an int >= 1; got {value!r}")
    return int(value)


def _check_blocks(dtype: torch.dtype | None, *blocks: tuple[str, dict[str, int]]) -> None:
    """Refuse, before anything is allocated, parameter blocks over the size limit: each block is
    (its name, {argument: side})."""
    itemsize = (dtype or torch.get_default_dtype()).itemsize
    for what, shape in blocks:
        check_tensor_size(shape, f"the parameter block {what!r}", itemsize)


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool; got {value!r}")
    return value


def _check_eta(eta: Any) -> float:
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 < float(eta) < 1.0:
        raise ValueError(f"`eta` must be a number in (0, 1); got {eta!r}")
    return float(eta)


def _init_target(value: Any) -> InitTarget:
    try:
        return InitTarget(value)
    except ValueError:
        known = ", ".join(repr(t.value) for t in InitTarget)
        raise ValueError(f"`init` must be one of {known}; got {value!r}") from None


def _check_generator(generator: Any) -> torch.Generator | None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    return generator


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A numpy Generator seeded from ``generator`` (or from torch's global RNG when ``None``,
    as ``nn.Linear`` draws its initialisation), for the numpy initialisers of ``theory``."""
    _check_generator(generator)
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return np.random.default_rng(seed)


def _warm_matrix(value: Any, out_features: int, in_features: int) -> np.ndarray:
    if not isinstance(value, Tensor):
        raise TypeError(f"`warm_start` must be a torch.Tensor or None; got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"`warm_start` must be a floating-point tensor; got dtype {value.dtype}")
    if tuple(value.shape) != (out_features, in_features):
        raise ValueError(
            f"`warm_start` must have shape (out_features, in_features) = "
            f"({out_features}, {in_features}); got {tuple(value.shape)}"
        )
    w = value.detach().to("cpu", torch.float64).numpy()
    if not np.isfinite(w).all():
        raise ValueError("`warm_start` contains NaN or infinite values")
    return w


class _GaussianBlocks(BayesianModule):
    """Shared machinery: named blocks of (mean, rho) parameters with optional prior locations."""

    in_features: int
    out_features: int
    #: "none", "deterministic" or "bayesian"
    bias_mode: str

    def __init__(
        self, prior: Prior, sampling: SamplingMode | str, dtype: torch.dtype | None
    ) -> None:
        super().__init__(sampling)
        self.prior = check_prior(prior)
        self._dtype = check_dtype(dtype) or torch.get_default_dtype()
        self._blocks: list[str] = []

    def _add_block(self, name: str, mean: Any, std: Any, prior_at_init: bool) -> None:
        mean_t = torch.as_tensor(np.asarray(mean), dtype=self._dtype)
        std_t = torch.as_tensor(np.asarray(std), dtype=self._dtype)
        self.register_parameter(f"{name}_mean", nn.Parameter(mean_t.clone()))
        self.register_parameter(f"{name}_rho", nn.Parameter(inverse_softplus(std_t)))
        if prior_at_init:
            if not isinstance(self.prior, GaussianPrior):
                raise ValueError(
                    "`prior_at_init` needs a GaussianPrior (the mixture is centred at 0)"
                )
            self.register_buffer(f"{name}_prior_mean", mean_t.clone())
        self._blocks.append(name)

    def _mean(self, name: str) -> Tensor:
        mean: Tensor = self._parameters[f"{name}_mean"]  # type: ignore[assignment]
        return mean

    def _rho(self, name: str) -> Tensor:
        rho: Tensor = self._parameters[f"{name}_rho"]  # type: ignore[assignment]
        return rho

    def _std(self, name: str) -> Tensor:
        return nn.functional.softplus(self._rho(name))

    def _draw(
        self,
        name: str,
        shape: tuple[int, ...] | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        mean, std = self._mean(name), self._std(name)
        size = mean.shape if shape is None else shape
        eps = torch.randn(size, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + std * eps

    def _prior_entries(self, key: str) -> dict[str, Tensor] | None:
        buffers = self._buffers
        if f"{self._blocks[0]}_prior_{key}" not in buffers:
            return None
        return {name: buffers[f"{name}_prior_{key}"] for name in self._blocks}  # type: ignore[misc]

    def prior_means(self) -> dict[str, Tensor] | None:
        """``{block: prior mean}`` where the prior is centred per entry, else ``None`` (every
        block centred at the prior's scalar mean)."""
        return self._prior_entries("mean")

    def set_prior(
        self,
        prior: Prior,
        *,
        means: dict[str, Tensor] | None = None,
        stds: dict[str, Tensor] | None = None,
    ) -> None:
        """Replace the prior. ``means`` / ``stds`` (one tensor per block, of the block's shape)
        replace a Gaussian prior's mean / std entry by entry: centred at the initialisation, or
        learnt on data the certificate will not use (a data-dependent prior); ``None`` removes
        such per-entry values."""
        self.prior = check_prior(prior)
        for key, values in (("mean", means), ("std", stds)):
            for name in self._blocks:
                if hasattr(self, f"{name}_prior_{key}"):
                    delattr(self, f"{name}_prior_{key}")
            if values is None:
                continue
            if not isinstance(self.prior, GaussianPrior):
                raise ValueError(f"`{key}s` needs a GaussianPrior (the mixture is centred at 0)")
            self._set_entries(key, values)

    def _set_entries(self, key: str, values: dict[str, Tensor]) -> None:
        if not isinstance(values, dict) or set(values) != set(self._blocks):
            got = sorted(values) if isinstance(values, dict) else type(values).__name__
            raise ValueError(f"`{key}s` must map every block {sorted(self._blocks)}; got {got}")
        for name in self._blocks:
            mean = self._mean(name)
            value = values[name]
            if not isinstance(value, Tensor) or value.shape != mean.shape:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value)
                raise ValueError(
                    f"`{key}s['{name}']` must be a tensor of shape {tuple(mean.shape)}; got {shape}"
                )
            if not bool(torch.isfinite(value).all()) or (key == "std" and bool((value <= 0).any())):
                raise ValueError(f"`{key}s['{name}']` must be finite (and > 0 for a std)")
            self.register_buffer(f"{name}_prior_{key}", value.detach().to(mean).clone())

    def prior_stds(self) -> dict[str, Tensor] | None:
        """``{block: prior std}`` where the prior's std is set per entry, else ``None``."""
        return self._prior_entries("std")

    def factor_posteriors(self) -> dict[str, tuple[Tensor, Tensor]]:
        """``{block: (mean, std)}`` for every stochastic block (live tensors)."""
        return {name: (self._mean(name), self._std(name)) for name in self._blocks}

    def kl(
        self,
        method: KLMethod | str = KLMethod.CLOSED_FORM,
        *,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> Tensor:
        """KL of the posterior to the prior, summed over every stochastic scalar (0-dim).

        ``dtype``: evaluate in this dtype (``torch.float64`` for certificates: the float32
        posterior's KL without float32 rounding in the sum). Monte Carlo draws are then made in
        it too.

        ``"closed_form"``: exact for a :class:`GaussianPrior`, the declared upper bound for a
        :class:`ScaleMixturePrior` (``prior.kl_is_exact`` tells which); ``"monte_carlo"``: an
        unbiased estimate from ``n_samples`` draws per scalar (``generator`` or, if ``None``,
        the layer's).

        The closed form for a Gaussian prior without ``dtype`` (the training step) is one
        fused node with its analytic gradient (:func:`~lrbnn_core.layers.fused.gaussian_kl`);
        its value is that of the term-by-term path, bit for bit."""
        check_int(n_samples, "n_samples", 1)
        dtype = check_dtype(dtype)
        gen = _check_generator(generator) or self.generator
        if (
            dtype is None
            and isinstance(self.prior, GaussianPrior)
            and kl_method(method) is KLMethod.CLOSED_FORM
        ):
            # the training path: one fused node with its analytic gradient (fused.gaussian_kl);
            # an explicit dtype (certificates) keeps the term-by-term reference below
            locs, scales = self.prior_means() or {}, self.prior_stds() or {}
            return gaussian_kl(
                [
                    (
                        self._mean(name),
                        self._rho(name),
                        locs.get(name, self.prior.mean),
                        scales.get(name, self.prior.std),
                    )
                    for name in self._blocks
                ]
            )

        def cast(t: Tensor | None) -> Tensor | None:
            return t if t is None or dtype is None else t.to(dtype)

        def cast_t(t: Tensor) -> Tensor:
            return t if dtype is None else t.to(dtype)

        terms = [
            self.prior.kl(
                cast_t(self._mean(name)),
                cast_t(self._std(name)),
                method,
                prior_mean=cast(getattr(self, f"{name}_prior_mean", None)),
                prior_std=cast(getattr(self, f"{name}_prior_std", None)),
                n_samples=n_samples,
                generator=gen,
            )
            for name in self._blocks
        ]
        return torch.stack(terms).sum()

    def _bias(self, batch_shape: tuple[int, ...] | None) -> Tensor | None:
        """The bias for this pass: None, the deterministic one, one draw (shared) or one draw
        per example (local, ``batch_shape`` given)."""
        if self.bias_mode == "none":
            return None
        if self.bias_mode == "deterministic" or self.sampling is SamplingMode.MEAN:
            return self._mean("bias") if self.bias_mode == "bayesian" else self.bias
        shape = None if batch_shape is None else (*batch_shape, self.out_features)
        return self._draw("bias", shape, self.generator)

    def _bias_pair(self) -> tuple[Tensor | None, Tensor | None]:
        """``(mean, rho)`` of a Bayesian bias, ``(bias, None)`` of a deterministic one,
        ``(None, None)`` without one (the argument of the fused passes)."""
        if self.bias_mode == "bayesian":
            return self._mean("bias"), self._rho("bias")
        return (self.bias if self.bias_mode == "deterministic" else None), None

    def _setup_bias(self, bias: bool, bayesian_bias: bool, std: float, prior_at_init: bool) -> None:
        if not isinstance(bias, bool) or not isinstance(bayesian_bias, bool):
            raise TypeError(
                f"`bias` and `bayesian_bias` must be bools; got {bias!r}, {bayesian_bias!r}"
            )
        self.bias_mode = "none" if not bias else ("bayesian" if bayesian_bias else "deterministic")
        zeros = np.zeros(self.out_features)
        if self.bias_mode == "bayesian":
            self._add_block("bias", zeros, np.full(self.out_features, std), prior_at_init)
        elif self.bias_mode == "deterministic":
            self.bias = nn.Parameter(torch.zeros(self.out_features, dtype=self._dtype))
        else:
            self.register_parameter("bias", None)


def _local_gaussian(mean: Tensor, var: Tensor, generator: torch.Generator | None) -> Tensor:
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    return mean + torch.sqrt(var.clamp_min(_VAR_FLOOR)) * eps
