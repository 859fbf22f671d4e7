r"""LR-SVD: a low-rank Bayesian MLP warm-started from the truncated SVD of a trained deterministic
MLP of the same widths, then fine-tuned by the ELBO (by the caller, with
:func:`lrbnn_core.training.train`).

For each layer with trained weight :math:`W_i = U \Sigma V^\top` and rank :math:`r_i`, the factor
means start at the balanced factors

.. math::

    \mu^A_i = U_{r_i} \Sigma_{r_i}^{1/2}, \qquad \mu^B_i = V_{r_i} \Sigma_{r_i}^{1/2}, \qquad
    \mu^A_i \mu^{B\top}_i = (W_i)_{r_i},

the best rank-:math:`r_i` approximation (Eckart-Young-Mirsky, ``CLAIMS.md`` C3), the bias means
are the trained biases, and the posterior stds are those of a fresh low-rank layer,
:math:`\eta (s_W^2/r_i)^{1/4}` (App. F, claim F2): small against the means for small
:math:`\eta`.

References: the paper's Tables 1 to 3 (the "LR-SVD" rows); claims F2, C3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.layers import LowRankBayesLinear
from lrbnn_core.models import MLP, LayerKind
from theory.initialisation import balanced_factors

__all__ = ["lr_svd_mlp"]


def lr_svd_mlp(
    deterministic: MLP,
    rank: int | Sequence[int],
    **layer_options: Any,
) -> MLP:
    r"""A ``"low_rank"`` :class:`~lrbnn_core.models.MLP` whose means start at the truncated SVD
    of ``deterministic``.

    Parameters
    ----------
    deterministic : MLP
        A trained MLP of kind ``"deterministic"``; it is not modified.
    rank : int or sequence of int
        Per-layer ranks, as for :class:`~lrbnn_core.models.MLP` (an int is capped at each
        layer's full rank).
    **layer_options
        Passed to the low-rank MLP (``eta``, ``prior``, ``sampling``, ``bayesian_bias``,
        ``init``, ``generator``); ``dtype`` and ``bias`` follow ``deterministic``.

    Returns
    -------
    MLP
        Kind ``"low_rank"``, the widths of ``deterministic``.

    Examples
    --------
    >>> det = MLP((5, 4, 3), "deterministic", generator=torch.Generator().manual_seed(0))
    >>> net = lr_svd_mlp(det, 4)  # full rank: the mean network is the deterministic one
    >>> x = torch.randn(2, 5)
    >>> from lrbnn_core.base import set_sampling
    >>> set_sampling(net, "mean")
    >>> torch.allclose(net(x), det(x), atol=1e-6)
    True
    """
    if not isinstance(deterministic, MLP) or deterministic.kind is not LayerKind.DETERMINISTIC:
        got = (
            f"an MLP of kind {deterministic.kind.value!r}"
            if isinstance(deterministic, MLP)
            else type(deterministic).__name__
        )
        raise TypeError(f"`deterministic` must be an MLP of kind 'deterministic'; got {got}")
    for key in ("dtype", "bias", "warm_start", "rank", "kind"):
        if key in layer_options:
            raise TypeError(f"`{key}` is set by lr_svd_mlp (from `deterministic`); do not pass it")
    dense = [layer for layer in deterministic.layers if isinstance(layer, nn.Linear)]
    has_bias = dense[0].bias is not None
    dtype = dense[0].weight.dtype
    net = MLP(
        deterministic.widths,
        LayerKind.LOW_RANK,
        rank=rank,
        bias=has_bias,
        dtype=dtype,
        **layer_options,
    )
    ranks = net.ranks or ()
    with torch.no_grad():
        for layer, source, r in zip(net.layers, dense, ranks, strict=True):
            if not bool(torch.isfinite(source.weight).all()):
                raise ValueError("`deterministic` has NaN or infinite weights")
            mu_a, mu_b = balanced_factors(source.weight.detach().to("cpu", torch.float64), r)
            assert isinstance(layer, LowRankBayesLinear)
            means = {name: mean for name, (mean, _) in layer.factor_posteriors().items()}
            means["A"].copy_(torch.as_tensor(mu_a, dtype=dtype))
            means["B"].copy_(torch.as_tensor(mu_b, dtype=dtype))
            if source.bias is not None:
                if not bool(torch.isfinite(source.bias).all()):
                    raise ValueError("`deterministic` has NaN or infinite biases")
                target = means["bias"] if layer.bias_mode == "bayesian" else layer.bias
                assert isinstance(target, Tensor)
                target.copy_(source.bias.detach())
    return net
