"""Validation of the metrics' inputs: probabilities (summing to 1 within the tolerance of
:mod:`lrbnn_core.metrics`), log-probabilities, labels and scores, each as a float64 tensor."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

__all__ = ["PROB_SUM_ULPS", "ArrayLike"]


#: A ``torch.Tensor`` or a numpy array.
ArrayLike: TypeAlias = "Tensor | NDArray[Any]"


#: Probabilities must sum to 1 within ``PROB_SUM_ULPS * C * eps`` (see :mod:`lrbnn_core.metrics`).
PROB_SUM_ULPS = 4


def _as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f" and x.dtype.itemsize > 8:
            x = x.astype(np.float64)  # torch has no long double
        if x.dtype.kind not in "fiub":
            raise TypeError(f"`{name}` must be a real-valued array; got dtype {x.dtype}")
        # np.array copies: torch warns on (and may alias) read-only numpy buffers.
        return torch.from_numpy(np.array(x))
    raise TypeError(f"`{name}` must be a torch.Tensor or a numpy array; got {type(x).__name__}")


def _index(mask: Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in mask.nonzero()[0])


def _sum_tolerance(dtype: torch.dtype, n_classes: int) -> float:
    eps = max(torch.finfo(dtype).eps, torch.finfo(torch.float32).eps)
    return PROB_SUM_ULPS * n_classes * eps


def _require_finite(t: Tensor, name: str) -> Tensor:
    """``t`` unchanged if every entry is finite, else a ``ValueError`` naming ``name``, the first
    bad value and its index."""
    bad = ~torch.isfinite(t)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be finite; got {t[i].item()} at index {i}")
    return t


def _check_probs(x: Any, name: str, *, need_samples: bool = False) -> Tensor:
    """``x`` as float64 ``(S, N, C)`` probabilities (a ``(N, C)`` input gets ``S = 1``)."""
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array of probabilities; got {t.dtype}")
    dims = (3,) if need_samples else (2, 3)
    if t.dim() not in dims or 0 in t.shape or t.shape[-1] < 2:
        expected = "(S, N, C)" if need_samples else "(S, N, C) or (N, C)"
        raise ValueError(
            f"`{name}` must have shape {expected} with S, N >= 1 and C >= 2; got {tuple(t.shape)}"
        )
    tol = _sum_tolerance(t.dtype, t.shape[-1])
    p = t.to(torch.float64)
    _require_finite(p, name)
    bad = p < 0
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be >= 0; got {p[i].item()!r} at index {i}")
    sums = p.sum(-1)
    bad = (sums - 1.0).abs() > tol
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must sum to 1 over its last (class) axis within {tol:.3g}; "
            f"got {sums[i].item()!r} at index {i}"
        )
    return p if p.dim() == 3 else p.unsqueeze(0)


def _check_log_probs(
    x: Any, probs: Tensor, name: str = "log_probs", probs_name: str = "probs"
) -> Tensor:
    """``x`` as float64 log-probabilities of ``probs``' shape whose exp agrees with ``probs``."""
    t = _as_tensor(x, name)
    if not t.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point array; got {t.dtype}")
    # log p has absolute error ~ eps where p = exp(log p) has relative error ~ eps: one tolerance.
    tol = _sum_tolerance(t.dtype, probs.shape[-1])
    lp = t.to(torch.float64)
    if lp.dim() == 2:
        lp = lp.unsqueeze(0)
    if lp.shape != probs.shape:
        raise ValueError(
            f"`{name}` must have the shape of `{probs_name}`, {tuple(probs.shape)}; "
            f"got {tuple(t.shape)}"
        )
    # -inf is a legitimate log-probability (probability exactly 0); NaN and +inf are not.
    bad = torch.isnan(lp) | (lp > tol)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`{name}` must be <= 0 (and not NaN); got {lp[i].item()} at index {i}")
    lse = torch.logsumexp(lp, dim=-1)
    bad = ~(lse.abs() <= tol)
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must have logsumexp 0 over its last (class) axis within {tol:.3g}; "
            f"got {lse[i].item()!r} at index {i}"
        )
    bad = (lp.exp() - probs).abs() > tol
    if bad.any():
        i = _index(bad)
        raise ValueError(
            f"`{name}` must be the log of `{probs_name}` (within {tol:.3g}); got exp({name}) = "
            f"{lp[i].exp().item()!r} but {probs_name} = {probs[i].item()!r} at index {i}"
        )
    return lp


def _check_labels(x: Any, probs: Tensor) -> Tensor:
    t = _as_tensor(x, "labels")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`labels` must be an integer array; got {t.dtype}")
    n, c = probs.shape[1], probs.shape[2]
    if t.dim() != 1 or t.shape[0] != n:
        raise ValueError(
            f"`labels` must have shape (N,) = ({n},) to match `probs`; got {tuple(t.shape)}"
        )
    bad = (t < 0) | (t >= c)
    if bad.any():
        i = _index(bad)
        raise ValueError(f"`labels` must be ints in [0, {c - 1}]; got {t[i].item()} at index {i}")
    return t.to(device=probs.device, dtype=torch.int64)


def _check_scores(x: Any, name: str) -> NDArray[np.float64]:
    t = _as_tensor(x, name)
    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`{name}` must be a real-valued array; got {t.dtype}")
    if t.dim() != 1 or t.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty 1-D array; got shape {tuple(t.shape)}")
    s = t.to(torch.float64)
    _require_finite(s, name)
    out: NDArray[np.float64] = s.cpu().numpy()
    return out
