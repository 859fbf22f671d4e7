r"""Bayesian linear layers: the low-rank factor posterior of the paper and the mean-field baseline.

:class:`LowRankBayesLinear` parameterises :math:`W = A B^\top` (``out x in``), with independent
Gaussians :math:`A_{ik} \sim N(\mu^A_{ik}, \sigma^{A\,2}_{ik})`, :math:`B_{jk} \sim N(\mu^B_{jk},
\sigma^{B\,2}_{jk})`, :math:`\sigma = \mathrm{softplus}(\rho)`. The forward pass never forms
:math:`W`:

* ``"shared"``: one draw of :math:`A, B` per forward pass, :math:`y = (x B) A^\top + b`
  (the paper's choice); :math:`O(r(m+n))` per example instead of :math:`O(mn)`;
* ``"local"``: independent :math:`(A, B)` per example, exactly in law, without sampling them.
  Given :math:`x`, :math:`z = B^\top x` has independent coordinates
  :math:`z_k \sim N(\mu^{B\top}_k x, \sum_j \sigma^{B\,2}_{jk} x_j^2)`, and given :math:`z`,
  :math:`y = A z` has independent coordinates :math:`y_i \sim N(\mu^A_i z, \sum_k
  \sigma^{A\,2}_{ik} z_k^2)`; sampling :math:`z` then :math:`y` reproduces the joint law of
  :math:`(B^\top x, A B^\top x)` under a fresh draw of :math:`(A, B)`, at about twice the cost of
  ``"shared"``;
* ``"mean"``: the posterior means, :math:`y = (x \mu^B) \mu^{A\top} + \mu^b`.

:class:`MeanFieldBayesLinear` is Bayes-by-Backprop on the :math:`mn` entries of :math:`W`
(``"local"`` is the local reparameterisation of Kingma et al., 2015).

References: ``CLAIMS.md`` section 0 (the posterior, App. F initialisation), P1 (counts).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core.base import (
    BayesianModule,
    KLMethod,
    SamplingMode,
    check_finite_through,
    check_input,
)
from lrbnn_core.priors import GaussianPrior, Prior, check_prior
from theory.initialisation import (
    InitTarget,
    svd_warm_start,
    target_variance,
    variance_matching_init,
)

__all__ = ["LowRankBayesLinear", "MeanFieldBayesLinear", "inverse_softplus"]

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


def _numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A numpy Generator seeded from ``generator`` (or from torch's global RNG when ``None``,
    as ``nn.Linear`` draws its initialisation), for the numpy initialisers of ``theory``."""
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {generator!r}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return np.random.default_rng(seed)


def _warm_matrix(value: Any, out_features: int, in_features: int) -> np.ndarray:
    if not isinstance(value, Tensor):
        raise TypeError(f"`warm_start` must be a torch.Tensor or None; got {type(value).__name__}")
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
        self._dtype = dtype or torch.get_default_dtype()
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
        mean: Tensor = getattr(self, f"{name}_mean")
        return mean

    def _std(self, name: str) -> Tensor:
        return nn.functional.softplus(getattr(self, f"{name}_rho"))

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

    def prior_means(self) -> dict[str, Tensor] | None:
        """``{block: prior mean}`` where the prior is centred per entry, else ``None`` (every
        block centred at the prior's scalar mean)."""
        if not hasattr(self, f"{self._blocks[0]}_prior_mean"):
            return None
        return {name: getattr(self, f"{name}_prior_mean") for name in self._blocks}

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
        if not hasattr(self, f"{self._blocks[0]}_prior_std"):
            return None
        return {name: getattr(self, f"{name}_prior_std") for name in self._blocks}

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
        the layer's)."""
        gen = generator if generator is not None else self.generator

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


class LowRankBayesLinear(_GaussianBlocks):
    r"""Low-rank Bayesian linear layer :math:`y = A B^\top x + b` with factor posteriors.

    Parameters
    ----------
    in_features, out_features : int
        :math:`n` and :math:`m` (the weight is ``out x in``).
    rank : int
        :math:`r \in [1, \min(m, n)]`.
    bias : bool
        Whether there is a bias.
    bayesian_bias : bool
        Gaussian posterior on the bias (counted in the KL) or a deterministic bias.
    prior : GaussianPrior or ScaleMixturePrior
        Prior on every stochastic scalar (default :math:`N(0, 1)`).
    init : {"glorot", "he"}
        Dense target variance of App. F (:math:`2/(m+n)` or :math:`2/n`).
    eta : float
        Damping in (0, 1): posterior scales :math:`\eta (s_W^2/r)^{1/4}`; the Bayesian bias
        starts at mean 0, std :math:`\eta s_W`.
    warm_start : Tensor, optional
        Dense ``(out, in)`` matrix: factor means :math:`U_r S_r^{1/2}, V_r S_r^{1/2}` (F2).
    prior_at_init : bool
        Centre a Gaussian prior at the initial means (a data-free prior, as in Dziugaite and Roy).
    sampling : {"shared", "local", "mean"}
    generator : torch.Generator, optional
        Source of the initialisation (torch's global RNG when ``None``).
    dtype : torch.dtype, optional

    Examples
    --------
    >>> layer = LowRankBayesLinear(6, 4, 2, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(3, 6)).shape, layer.kl().shape
    (torch.Size([3, 4]), torch.Size([]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        *,
        bias: bool = True,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        warm_start: Tensor | None = None,
        prior_at_init: bool = False,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(GaussianPrior(1.0) if prior is None else prior, sampling, dtype)
        self.in_features = _check_features(in_features, "in_features")
        self.out_features = _check_features(out_features, "out_features")
        low = min(self.in_features, self.out_features)
        if (
            isinstance(rank, bool)
            or not isinstance(rank, (int, np.integer))
            or not 1 <= rank <= low
        ):
            raise ValueError(
                f"`rank` must be an int in [1, min(in, out)] = [1, {low}]; got {rank!r}"
            )
        self.rank = int(rank)
        e, target = _check_eta(eta), _init_target(init)
        m, n = self.out_features, self.in_features
        if warm_start is None:
            post = variance_matching_init(
                m, n, self.rank, target=target, eta=e, rng=_numpy_rng(generator)
            )
        else:
            post = svd_warm_start(_warm_matrix(warm_start, m, n), self.rank, eta=e, target=target)
        self._add_block("A", post.mu_a, post.sigma_a, prior_at_init)
        self._add_block("B", post.mu_b, post.sigma_b, prior_at_init)
        self._setup_bias(
            bias, bayesian_bias, e * math.sqrt(target_variance(m, n, target)), prior_at_init
        )

    def sample_factors(
        self, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """One draw of ``(A, B, bias)`` (``bias`` deterministic or None where it is not
        Bayesian); ``generator`` defaults to the layer's."""
        gen = generator if generator is not None else self.generator
        bias = self._draw("bias", None, gen) if self.bias_mode == "bayesian" else self.bias
        return self._draw("A", None, gen), self._draw("B", None, gen), bias

    def sample_weight(self, generator: torch.Generator | None = None) -> Tensor:
        """One sample of the ``(out, in)`` weight :math:`A B^\\top` (diagnostics only)."""
        a, b, _ = self.sample_factors(generator)
        return a @ b.T

    def mean_weight(self) -> Tensor:
        r""":math:`E[W] = \mu^A \mu^{B\top}` (the factors are independent)."""
        return self._mean("A") @ self._mean("B").T

    def forward(self, x: Tensor) -> Tensor:
        x = check_input(x, self.in_features, finite=False, dtype=self._mean("A").dtype)
        mode = self.sampling
        if mode is SamplingMode.LOCAL:
            mu_a, mu_b = self._mean("A"), self._mean("B")
            var_a, var_b = self._std("A").square(), self._std("B").square()
            z = _local_gaussian(x @ mu_b, x.square() @ var_b, self.generator)
            check_finite_through(z, x, "B^T x")
            y = _local_gaussian(z @ mu_a.T, z.square() @ var_a.T, self.generator)
            bias = self._bias(tuple(x.shape[:-1]))
        else:
            if mode is SamplingMode.SHARED:
                a, b, bias = self.sample_factors()
            else:
                a, b, bias = self._mean("A"), self._mean("B"), self._bias(None)
            # the (batch, r) product is the cheap place to look for NaN/inf in x
            y = check_finite_through(x @ b, x, "B^T x") @ a.T
        return y if bias is None else y + bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
            f"bias={self.bias_mode}, sampling={self.sampling.value}, prior={self.prior}"
        )


class MeanFieldBayesLinear(_GaussianBlocks):
    r"""Mean-field (Bayes-by-Backprop) linear layer: an independent Gaussian on each of the
    :math:`mn` weights.

    Parameters are those of :class:`LowRankBayesLinear` without ``rank``: weight means drawn from
    :math:`N(0, s_W^2)` (Glorot or He), posterior stds :math:`\eta s_W`; ``warm_start`` sets the
    means to the given matrix. ``"local"`` sampling is the local reparameterisation trick.

    Examples
    --------
    >>> layer = MeanFieldBayesLinear(6, 4, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(3, 6)).shape, layer.factor_posteriors()["W"][0].shape
    (torch.Size([3, 4]), torch.Size([4, 6]))
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bayesian_bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        warm_start: Tensor | None = None,
        prior_at_init: bool = False,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(GaussianPrior(1.0) if prior is None else prior, sampling, dtype)
        self.in_features = _check_features(in_features, "in_features")
        self.out_features = _check_features(out_features, "out_features")
        e, target = _check_eta(eta), _init_target(init)
        m, n = self.out_features, self.in_features
        s_w = math.sqrt(target_variance(m, n, target))
        if warm_start is None:
            mean = s_w * _numpy_rng(generator).standard_normal((m, n))
        else:
            mean = _warm_matrix(warm_start, m, n)
        self._add_block("W", mean, np.full((m, n), e * s_w), prior_at_init)
        self._setup_bias(bias, bayesian_bias, e * s_w, prior_at_init)

    def sample_weight(self, generator: torch.Generator | None = None) -> Tensor:
        """One sample of the ``(out, in)`` weight matrix."""
        return self._draw("W", None, generator if generator is not None else self.generator)

    def mean_weight(self) -> Tensor:
        """:math:`E[W]`."""
        return self._mean("W")

    def forward(self, x: Tensor) -> Tensor:
        x = check_input(x, self.in_features, dtype=self._mean("W").dtype)
        mode = self.sampling
        if mode is SamplingMode.LOCAL:
            var = self._std("W").square()
            y = _local_gaussian(x @ self._mean("W").T, x.square() @ var.T, self.generator)
            bias = self._bias(tuple(x.shape[:-1]))
        else:
            w = self.sample_weight() if mode is SamplingMode.SHARED else self._mean("W")
            y = x @ w.T
            bias = self._bias(None)
        return y if bias is None else y + bias

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias_mode}, sampling={self.sampling.value}, prior={self.prior}"
        )
