r"""Rank-1 multiplicative perturbations (Dusenberry et al., 2020, "Efficient and scalable Bayesian
neural nets with rank-1 factors"): a point-estimate weight matrix times a random rank-1 matrix.

.. math::

    y = \big((x \odot s)\, W^\top\big) \odot r + b
      = \big(W \odot r s^\top\big) x + b, \qquad
    r_i \sim N(\mu^r_i, \sigma^{r\,2}_i), \; s_j \sim N(\mu^s_j, \sigma^{s\,2}_j),

with :math:`W` (``out x in``) and :math:`b` point estimates (no prior, no KL) and mean-field
Gaussian posteriors on :math:`r \in \mathbb R^{\mathrm{out}}` and :math:`s \in
\mathbb R^{\mathrm{in}}`. The prior on every entry of :math:`r` and :math:`s` is
:math:`N(1, \sigma_0^2)`: the perturbation is centred at the identity (``r = s = 1`` gives the
deterministic layer). The SBNN paper states no prior for its rank-1 baseline; the default
:math:`\sigma_0 = 0.1` is our choice (not yet checked against Dusenberry et al.'s configurations).
The KL has the closed form of :func:`~lrbnn_core.priors.gaussian_kl_elementwise`, summed over the
:math:`\mathrm{in} + \mathrm{out}` entries.

Sampling modes, as for the other Bayesian layers: ``"shared"`` draws one :math:`(r, s)` per
forward pass for the whole batch (first :math:`s`, then :math:`r`); ``"local"`` draws one
:math:`(s, r)` per example (exact, and cheap: the perturbation is a pair of vectors);
``"mean"`` uses :math:`\mu^r, \mu^s`. The layer never forms :math:`W \odot r s^\top`.

References: issue 18 and ``CLAIMS.md`` X3/X4 (the "perturbation baselines").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lrbnn_core.base import SamplingMode, check_finite_through, check_input
from lrbnn_core.layers.blocks import (
    _check_blocks,
    _check_eta,
    _check_features,
    _check_flag,
    _check_generator,
    _GaussianBlocks,
    _init_target,
    _numpy_rng,
    _warm_matrix,
)
from lrbnn_core.models import _check_widths, relu_chain
from lrbnn_core.priors import GaussianPrior, Prior
from theory.initialisation import InitTarget, target_variance

__all__ = ["DEFAULT_RANK1_PRIOR", "Rank1BayesLinear", "Rank1MLP", "rank1_mlp"]

#: :math:`N(1, 0.1^2)` on every entry of :math:`r` and :math:`s`
DEFAULT_RANK1_PRIOR = GaussianPrior(0.1, mean=1.0)


class Rank1BayesLinear(_GaussianBlocks):
    r"""Linear layer :math:`y = ((x \odot s) W^\top) \odot r + b` with Gaussian :math:`r, s`.

    Parameters
    ----------
    in_features, out_features : int
        :math:`n` and :math:`m` (``W`` is ``out x in``).
    bias : bool
        Whether there is a (deterministic) bias.
    prior : GaussianPrior or ScaleMixturePrior, optional
        Prior on every entry of :math:`r` and :math:`s`; default :data:`DEFAULT_RANK1_PRIOR`,
        :math:`N(1, 0.1^2)`.
    init : {"glorot", "he"}
        ``W`` is drawn from :math:`N(0, s_W^2)` with that target variance (as the deterministic
        layers of :func:`~lrbnn_core.models.make_linear`); the bias starts at 0.
    eta : float
        In (0, 1): the posterior means of :math:`r, s` start at 1 and their stds at ``eta`` (a
        relative perturbation of the weights, as ``eta s_W`` is in the mean-field layer).
    warm_start : Tensor, optional
        ``(out, in)`` matrix that ``W`` starts from (e.g. a trained deterministic layer).
    prior_at_init : bool
        Centre a Gaussian prior at the initial means of :math:`r, s`.
    sampling : {"shared", "local", "mean"}
    generator : torch.Generator, optional
        Source of the initialisation.
    dtype : torch.dtype, optional

    Examples
    --------
    >>> layer = Rank1BayesLinear(6, 4, generator=torch.Generator().manual_seed(0))
    >>> layer(torch.ones(3, 6)).shape, sorted(layer.factor_posteriors())
    (torch.Size([3, 4]), ['r', 's'])
    >>> abs(layer.kl().detach().item()) < 1e-5  # r, s start at the prior's N(1, 0.1^2) (eta = 0.1)
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        prior: Prior | None = None,
        init: InitTarget | str = InitTarget.GLOROT,
        eta: float = 0.1,
        warm_start: Tensor | None = None,
        prior_at_init: bool = False,
        sampling: SamplingMode | str = SamplingMode.SHARED,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(DEFAULT_RANK1_PRIOR if prior is None else prior, sampling, dtype)
        self.in_features = _check_features(in_features, "in_features")
        self.out_features = _check_features(out_features, "out_features")
        m, n = self.out_features, self.in_features
        _check_blocks(dtype, ("W", {"out_features": m, "in_features": n}))
        e, target = _check_eta(eta), _init_target(init)
        _check_flag(prior_at_init, "prior_at_init")
        _check_flag(bias, "bias")
        if warm_start is None:
            s_w = math.sqrt(target_variance(m, n, target))
            w = s_w * _numpy_rng(generator).standard_normal((m, n))
        else:
            w = _warm_matrix(warm_start, m, n)
        self.weight = nn.Parameter(torch.as_tensor(w, dtype=self._dtype))
        self._add_block("r", np.ones(m), np.full(m, e), prior_at_init)
        self._add_block("s", np.ones(n), np.full(n, e), prior_at_init)
        self.bias_mode = "deterministic" if bias else "none"
        if bias:
            self.bias = nn.Parameter(torch.zeros(m, dtype=self._dtype))
        else:
            self.register_parameter("bias", None)

    def sample_perturbation(
        self, generator: torch.Generator | None = None, batch_shape: tuple[int, ...] = ()
    ) -> tuple[Tensor, Tensor]:
        """One draw of ``(r, s)``, of shapes ``(*batch_shape, out)`` and ``(*batch_shape, in)``
        (``s`` is drawn first); ``generator`` defaults to the layer's."""
        gen = _check_generator(generator) or self.generator
        s = self._draw("s", (*batch_shape, self.in_features), gen)
        r = self._draw("r", (*batch_shape, self.out_features), gen)
        return r, s

    def sample_weight(self, generator: torch.Generator | None = None) -> Tensor:
        r"""One sample of the ``(out, in)`` weight :math:`W \odot r s^\top` (diagnostics only)."""
        r, s = self.sample_perturbation(generator)
        return self.weight * torch.outer(r, s)

    def mean_weight(self) -> Tensor:
        r""":math:`E[W \odot r s^\top] = W \odot \mu^r \mu^{s\top}` (:math:`r, s` independent)."""
        return self.weight * torch.outer(self._mean("r"), self._mean("s"))

    def forward(self, x: Tensor) -> Tensor:
        x = check_input(x, self.in_features, finite=False, dtype=self.weight.dtype)
        mode = self.sampling
        if mode is SamplingMode.MEAN:
            r, s = self._mean("r"), self._mean("s")
        else:
            batch = tuple(x.shape[:-1]) if mode is SamplingMode.LOCAL else ()
            r, s = self.sample_perturbation(None, batch)
        out = ((x * s) @ self.weight.T) * r
        if self.bias is not None:
            out = out + self.bias
        return check_finite_through(out, x, "((x s) W^T) r", module=self)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias_mode}, sampling={self.sampling.value}, prior={self.prior}"
        )


class Rank1MLP(nn.Module):
    r"""An MLP of :class:`Rank1BayesLinear` layers, ReLU between them, none after the last (the
    layout of :class:`lrbnn_core.models.MLP`, which builds only the kinds of
    :class:`~lrbnn_core.models.LayerKind`).

    Parameters
    ----------
    widths : sequence of int
        :math:`h_0, \dots, h_L`.
    **layer_options
        Passed to every :class:`Rank1BayesLinear` (``prior``, ``eta``, ``sampling``, ``init``,
        ``bias``, ``generator``, ``dtype``).

    Examples
    --------
    >>> net = Rank1MLP((8, 6, 3), generator=torch.Generator().manual_seed(0))
    >>> net(torch.zeros(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, widths: Sequence[int], **layer_options: Any) -> None:
        super().__init__()
        self.widths = _check_widths(widths)
        self.layers = nn.ModuleList(
            Rank1BayesLinear(a, b, **layer_options)
            for a, b in zip(self.widths[:-1], self.widths[1:], strict=True)
        )

    def forward(self, x: Tensor) -> Tensor:
        return relu_chain(self.layers, x)

    def extra_repr(self) -> str:
        return f"widths={self.widths}, kind=rank1"


def rank1_mlp(widths: Sequence[int], **layer_options: Any) -> Rank1MLP:
    """The rank-1 baseline MLP (:class:`Rank1MLP`), trainable by
    :func:`lrbnn_core.training.train` (its KL is :func:`lrbnn_core.base.model_kl`'s).

    Examples
    --------
    >>> from lrbnn_core.base import model_kl
    >>> net = rank1_mlp((4, 3, 2), generator=torch.Generator().manual_seed(0))
    >>> sum(p.numel() for p in net.parameters())  # W, b, and (mean, rho) of r and s
    47
    >>> model_kl(net).shape
    torch.Size([])
    """
    return Rank1MLP(widths, **layer_options)
