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

from torch import nn

from lrbnn_core.baselines.conversion import svd_warm_start_
from lrbnn_core.models import MLP, LayerKind

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
    >>> import torch
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
    net = MLP(
        deterministic.widths,
        LayerKind.LOW_RANK,
        rank=rank,
        bias=dense[0].bias is not None,
        dtype=dense[0].weight.dtype,
        **layer_options,
    )
    # the truncated SVD layer by layer, biases copied (one implementation for every
    # architecture: lrbnn_core.baselines.conversion)
    svd_warm_start_(net, deterministic)
    return net
