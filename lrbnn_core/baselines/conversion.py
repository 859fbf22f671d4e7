r"""Generic conversions of a deterministic model into the perturbation baselines, by module
name, for any architecture whose projections come from :func:`~lrbnn_core.models.make_linear`
(MLPs, the LSTMs of :mod:`lrbnn_core.recurrent`, the Transformer encoders of
:mod:`lrbnn_core.transformer`, their heads).

* :func:`svd_warm_start_`: LR-SVD for any architecture. A low-rank model and a deterministic
  model built by the same recipe have the same module names; every
  :class:`~lrbnn_core.layers.LowRankBayesLinear` of the low-rank model takes its factor means
  from the truncated SVD of the ``torch.nn.Linear`` of that name,

  .. math::

      \mu^A = U_r \Sigma_r^{1/2}, \qquad \mu^B = V_r \Sigma_r^{1/2}, \qquad
      \mu^A \mu^{B\top} = W_r \;\text{(Eckart-Young-Mirsky, claim C3)},

  and its bias (mean) from that layer's bias; every other parameter or buffer of the same name
  and shape (LayerNorms, the deterministic input projection, a learned positional table) is
  copied. The posterior stds stay those of the fresh low-rank model (App. F, claim F2).
  :func:`lrbnn_core.baselines.lr_svd_mlp` is the MLP-only twin.
* :func:`to_rank1`: the rank-1 baseline for any architecture: a copy of the deterministic model
  whose chosen ``torch.nn.Linear`` layers become
  :class:`~lrbnn_core.baselines.Rank1BayesLinear` with ``W`` and ``b`` taken from them (the
  fused LSTM kernel reads the rank-1 draw through
  :func:`lrbnn_core.recurrent.dense_draw`).

References: ``CLAIMS.md`` X3/X4 (the "perturbation baselines"); the paper's Tables 1 to 3.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor, nn

from lrbnn_core.base import bayesian_modules, check_model
from lrbnn_core.baselines.rank1 import Rank1BayesLinear
from lrbnn_core.layers import LowRankBayesLinear
from theory.initialisation import balanced_factors

__all__ = ["bayesian_layer_names", "svd_warm_start_", "to_rank1"]


def bayesian_layer_names(model: nn.Module) -> tuple[str, ...]:
    """Names (as ``named_modules`` gives them) of the outermost Bayesian layers of ``model``.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> bayesian_layer_names(MLP((4, 3, 2), "low_rank", rank=1))
    ('layers.0', 'layers.1')
    """
    found = {id(m) for m in bayesian_modules(model)}
    return tuple(name for name, m in model.named_modules() if id(m) in found)


def _finite(t: Tensor, what: str) -> Tensor:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"`deterministic` has NaN or infinite values in {what}")
    return t.detach()


def svd_warm_start_(low_rank: nn.Module, deterministic: nn.Module) -> nn.Module:
    r"""Warm-start ``low_rank`` in place from ``deterministic`` (module notes) and return it.

    Parameters
    ----------
    low_rank : torch.nn.Module
        A model whose Bayesian layers are all ``LowRankBayesLinear``.
    deterministic : torch.nn.Module
        A model of the same architecture with ``torch.nn.Linear`` at every one of those names
        (not modified).

    Returns
    -------
    torch.nn.Module
        ``low_rank``.

    Raises
    ------
    ValueError
        A Bayesian layer of ``low_rank`` with no ``torch.nn.Linear`` of that name and shape in
        ``deterministic``; a non-low-rank Bayesian layer; NaN or infinity in a copied tensor.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> from lrbnn_core.base import set_sampling
    >>> g = torch.Generator().manual_seed(0)
    >>> det = MLP((5, 4, 3), "deterministic", generator=g)
    >>> net = svd_warm_start_(MLP((5, 4, 3), "low_rank", rank=4, generator=g), det)
    >>> set_sampling(net, "mean")
    >>> x = torch.randn(2, 5, generator=g)
    >>> torch.allclose(net(x), det(x), atol=1e-6)
    True
    """
    check_model(low_rank, "low_rank")
    check_model(deterministic, "deterministic")
    sources = dict(deterministic.named_modules())
    names = bayesian_layer_names(low_rank)
    targets = dict(low_rank.named_modules())
    converted: set[str] = set()
    with torch.no_grad():
        for name in names:
            layer, source = targets[name], sources.get(name)
            if not isinstance(layer, LowRankBayesLinear):
                raise ValueError(
                    f"`low_rank` layer {name!r} must be a LowRankBayesLinear; got "
                    f"{type(layer).__name__}"
                )
            shape = (layer.out_features, layer.in_features)
            if not isinstance(source, nn.Linear) or tuple(source.weight.shape) != shape:
                got = "nothing" if source is None else type(source).__name__
                raise ValueError(
                    f"`deterministic` must have a torch.nn.Linear {shape[0]} x {shape[1]} named "
                    f"{name!r} (the same recipe); got {got}"
                )
            w = _finite(source.weight, f"{name}.weight")
            mu_a, mu_b = balanced_factors(w.to("cpu", torch.float64).numpy(), layer.rank)
            means = {k: mean for k, (mean, _) in layer.factor_posteriors().items()}
            means["A"].copy_(torch.as_tensor(mu_a))
            means["B"].copy_(torch.as_tensor(mu_b))
            if (source.bias is None) != (layer.bias_mode == "none"):
                raise ValueError(f"layer {name!r}: one of the two models has a bias, not both")
            if source.bias is not None:
                target = means["bias"] if layer.bias_mode == "bayesian" else layer.bias
                assert isinstance(target, Tensor)
                target.copy_(_finite(source.bias, f"{name}.bias"))
            converted.add(name)
        # everything outside the Bayesian layers: copied where name and shape agree
        det_state = deterministic.state_dict()
        for key, value in low_rank.state_dict().items():
            owner = key.rsplit(".", 1)[0] if "." in key else ""
            if any(owner == n or owner.startswith(n + ".") for n in converted):
                continue
            other = det_state.get(key)
            if other is not None and other.shape == value.shape:
                value.copy_(_finite(other, key))
    return low_rank


def _set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, leaf = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, module)


def to_rank1(
    deterministic: nn.Module, names: Iterable[str] | None = None, **layer_options: Any
) -> nn.Module:
    """A copy of ``deterministic`` whose ``torch.nn.Linear`` layers ``names`` (default: all)
    are :class:`~lrbnn_core.baselines.Rank1BayesLinear` with ``W`` and ``b`` copied from them.

    Parameters
    ----------
    deterministic : torch.nn.Module
        Not modified.
    names : iterable of str, optional
        Module names (``named_modules``) of ``torch.nn.Linear`` layers to convert.
    **layer_options
        Passed to every :class:`~lrbnn_core.baselines.Rank1BayesLinear` (``prior``, ``eta``,
        ``sampling``, ``init``, ``generator``); ``warm_start``, ``bias`` and ``dtype`` follow
        the layer converted.

    Examples
    --------
    >>> from lrbnn_core.models import MLP
    >>> net = to_rank1(MLP((4, 3, 2), "deterministic", generator=torch.Generator()))
    >>> [type(layer).__name__ for layer in net.layers]
    ['Rank1BayesLinear', 'Rank1BayesLinear']
    """
    check_model(deterministic, "deterministic")
    for key in ("warm_start", "bias", "dtype", "in_features", "out_features"):
        if key in layer_options:
            raise TypeError(f"`{key}` is set by to_rank1 (from each layer); do not pass it")
    modules = dict(deterministic.named_modules())
    chosen = (
        [n for n, m in modules.items() if isinstance(m, nn.Linear)]
        if names is None
        else list(names)
    )
    if not chosen:
        raise ValueError("`deterministic` has no torch.nn.Linear layer to convert")
    for name in chosen:
        if not isinstance(modules.get(name), nn.Linear):
            got = type(modules[name]).__name__ if name in modules else "nothing"
            raise ValueError(f"`names` must name torch.nn.Linear layers; {name!r} is {got}")
    model = copy.deepcopy(deterministic)
    for name in chosen:
        source = model.get_submodule(name)
        assert isinstance(source, nn.Linear)
        layer = Rank1BayesLinear(
            source.in_features,
            source.out_features,
            bias=source.bias is not None,
            warm_start=_finite(source.weight, f"{name}.weight"),
            dtype=source.weight.dtype,
            **layer_options,
        )
        if source.bias is not None:
            with torch.no_grad():
                assert layer.bias is not None
                layer.bias.copy_(_finite(source.bias, f"{name}.bias"))
        _set_module(model, name, layer)
    return model
