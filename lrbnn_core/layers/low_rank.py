r"""The low-rank factor posterior of the paper: :math:`W = A B^\top` with Gaussian factors
(notes: :mod:`lrbnn_core.layers`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lrbnn_core.base import SamplingMode, check_finite_through, check_input
from lrbnn_core.layers.blocks import (
    _check_blocks,
    _check_eta,
    _check_features,
    _check_flag,
    _check_generator,
    _GaussianBlocks,
    _init_target,
    _local_gaussian,
    _numpy_rng,
    _warm_matrix,
)
from lrbnn_core.layers.fused import low_rank_shared
from lrbnn_core.priors import GaussianPrior, Prior
from theory.initialisation import (
    InitTarget,
    svd_warm_start,
    target_variance,
    variance_matching_init,
)

__all__ = ["LowRankBayesLinear"]


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
        m, n = self.out_features, self.in_features
        _check_blocks(
            dtype,
            ("A", {"out_features": m, "rank": self.rank}),
            ("B", {"in_features": n, "rank": self.rank}),
        )
        e, target = _check_eta(eta), _init_target(init)
        _check_flag(prior_at_init, "prior_at_init")
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
        gen = _check_generator(generator) or self.generator
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
            y = _local_gaussian(z @ mu_a.T, z.square() @ var_a.T, self.generator)
            bias = self._bias(tuple(x.shape[:-1]))
            out = y if bias is None else y + bias
        elif mode is SamplingMode.SHARED:
            # one fused node: the draws of sample_factors and the products, bit for bit
            out, z = low_rank_shared(
                x,
                (self._mean("A"), self._rho("A")),
                (self._mean("B"), self._rho("B")),
                self._bias_pair(),
                self.generator,
            )
        else:
            z = x @ self._mean("B")
            y = z @ self._mean("A").T
            bias = self._bias(None)
            out = y if bias is None else y + bias
        # One check, of the output (a NaN or inf in x, in a parameter or in an overflowed
        # B^T x always reaches it); the cause is looked for only when it fails.
        return check_finite_through(out, x, "A B^T x", module=self, stages=(("B^T x", z),))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
            f"bias={self.bias_mode}, sampling={self.sampling.value}, prior={self.prior}"
        )
