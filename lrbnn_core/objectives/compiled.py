r"""The bound training's risk and KL of a low-rank MLP as one compiled graph: an opt-in path of
:func:`lrbnn_core.objectives.train_bound` (``compile=True``; issue 16).

Each step of the bound training draws one network (``"shared"`` sampling), takes the bounded
cross-entropy of its outputs on a minibatch and the closed-form KL of the posterior to its
Gaussian prior. Eagerly that is a few dozen operators through the layers, their checks and
autograd; here the draws' transforms (:math:`w = \mu + \mathrm{softplus}(\rho)\,\varepsilon`),
the forward, the bounded cross-entropy and the KL's terms are one ``torch.compile`` graph with
dynamic shapes, and AOTAutograd compiles its backward with it. The objective (the kl inverse
is solved in floats), the gradient check and Adam's update stay :func:`train_bound`'s.

What stays the eager step's:

* the noise: drawn outside the graph (inductor's generator is not torch's) from the training's
  generator in the layers' order (per layer the bias, ``A``, ``B``, as
  :meth:`~lrbnn_core.layers.LowRankBayesLinear.sample_factors`), so both paths see the same
  draws;
* the checks: the graph computes whether every output is finite, read with the risk and the
  KL (one read per step, as the eager step's); a non-finite output is replayed by the eager
  forward with the layers' checks, which name the cause;
* the numbers, up to rounding (the KL summed in another order; compiled code may contract a
  product and a sum). A test trains both paths in float64 to within 1e-12.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from lrbnn_core.layers.fused import _constant
from lrbnn_core.layers.low_rank import LowRankBayesLinear
from lrbnn_core.objectives.bounds import _bounded_ce
from lrbnn_core.priors import gaussian_kl_elementwise
from lrbnn_core.training._compiling import compile_dynamic, compile_errors, forget, warn_fallback

__all__ = ["BoundTerms", "risk_and_kl"]


def risk_and_kl(
    blocks: list[list[Tensor]], eps: list[Tensor], xb: Tensor, yb: Tensor, cap: float
) -> tuple[Tensor, Tensor, Tensor]:
    """One draw's bounded cross-entropy (``cap`` = ln(1/p_min)), the closed-form KL summed over
    entries (:func:`~lrbnn_core.priors.gaussian_kl_elementwise`), and whether every output is
    finite.
    ``blocks``: per layer ``[bias, A, B]`` (the bias only where there is one), each block
    ``(mean, rho, loc, scale)`` flattened in that order; ``eps``: one standard normal draw per
    block, in the same order."""
    h, terms, j, last = xb, [], 0, len(blocks) - 1
    for i, flat_block in enumerate(blocks):
        w = []
        for k in range(0, len(flat_block), 4):
            mean, rho, loc, scale = flat_block[k : k + 4]
            std = F.softplus(rho)
            w.append(std * eps[j] + mean)
            j += 1
            terms.append(gaussian_kl_elementwise(mean, std, loc, scale).sum())
        bias, a, b = (w[0], w[1], w[2]) if len(w) == 3 else (None, w[0], w[1])
        h = h @ b @ a.T
        if bias is not None:
            h = h + bias
        if i < last:
            h = torch.relu(h)
    finite = torch.isfinite(h.detach()).all()
    return _bounded_ce(h, yb, cap), torch.stack(terms).sum(), finite


class BoundTerms:
    """``terms(x_batch, y_batch) -> (risk, kl, finite)`` for :func:`train_bound`: one draw of
    ``layers`` (an MLP's, in order) from ``generator``, its bounded cross-entropy, its KL plus
    ``penalty`` (0-dim tensors with gradients) and whether every output is finite (a 0-dim
    bool). ``compile=False``: the same arithmetic uncompiled (the tests' twin)."""

    def __init__(
        self,
        layers: list[LowRankBayesLinear],
        *,
        penalty: float,
        p_min: float,
        generator: torch.Generator,
        compile: bool = True,
    ) -> None:
        self.blocks: list[list[Tensor]] = []
        self.shapes: list[torch.Size] = []
        for layer in layers:
            names = (["bias"] if layer.bias_mode == "bayesian" else []) + ["A", "B"]
            like = layer._mean("A")
            locs, scales = layer.prior_means() or {}, layer.prior_stds() or {}
            prior: Any = layer.prior
            self.blocks.append(
                [
                    t
                    for n in names
                    for t in (
                        layer._mean(n),
                        layer._rho(n),
                        locs.get(n, _constant(prior.mean, like)),
                        scales.get(n, _constant(prior.std, like)),
                    )
                ]
            )
            self.shapes += [layer._mean(n).shape for n in names]
        self.penalty = penalty
        self.cap = -math.log(p_min)
        self.generator = generator
        self.dtype = layers[0]._mean("A").dtype
        self.device = layers[0]._mean("A").device
        self._fn: Callable[..., Any] = compile_dynamic(risk_and_kl) if compile else risk_and_kl

    def __call__(self, xb: Tensor, yb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        gen, dtype, device = self.generator, self.dtype, self.device
        eps = [torch.randn(s, generator=gen, dtype=dtype, device=device) for s in self.shapes]
        args = (self.blocks, eps, xb, yb, self.cap)
        try:
            risk, kl, finite = self._fn(*args)
        except compile_errors() as exc:
            # nothing was computed: this step and the rest run the same function uncompiled
            forget(risk_and_kl)
            warn_fallback("compiled bound training", f"compiling failed ({type(exc).__name__})")
            self._fn = risk_and_kl
            risk, kl, finite = self._fn(*args)
        return risk, kl + self.penalty, finite
