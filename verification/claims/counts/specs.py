r"""Parameter counts of whole models under a stated convention, twice: by formula and by module.

A model is a tuple of :class:`LayerSpec` (one linear map each: its kind, shape, rank and bias).
:func:`closed_form` counts it from :func:`theory.pac_bayes.param_counts` (claim P1);
:func:`module_count` builds the real :mod:`lrbnn_core` layers and counts their tensors. The two
share no arithmetic, so a count is trusted only where they agree.

Kinds (``m`` outputs, ``n`` inputs, rank ``r``, ``s`` numbers per stochastic scalar):

.. math::

    \text{low rank: } s\,r(m+n), \quad \text{mean field: } s\,mn, \quad
    \text{deterministic: } mn, \quad \text{rank-1 (Dusenberry), K members: } mn + K s (m+n)

plus the bias: :math:`s\,m` (Bayesian), :math:`m` (deterministic) or 0. ``s = 2`` counts a mean
and a scale per stochastic scalar (the paper's Table 5); ``s = 1`` counts the stochastic scalars
themselves (``D`` of claim P1) plus the deterministic parameters.

References: claims P1, P4 and P5 of ``CLAIMS.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Any

import torch
from torch import nn

from lrbnn_core import LowRankBayesLinear, make_linear, stochastic_parameter_count
from theory._validation import check_int
from theory.pac_bayes import param_counts

__all__ = [
    "Bias",
    "Convention",
    "LayerSpec",
    "Linear",
    "Printed",
    "assess",
    "closed_form",
    "model_counts",
    "module_count",
]


class Linear(str, Enum):
    """What one linear map of a model is."""

    #: ``W = A B^T`` with Gaussian factors (:class:`~lrbnn_core.LowRankBayesLinear`)
    LOW_RANK = "low_rank"
    #: one Gaussian per weight (:class:`~lrbnn_core.MeanFieldBayesLinear`)
    MEAN_FIELD = "mean_field"
    #: a point estimate (``torch.nn.Linear``)
    DETERMINISTIC = "deterministic"
    #: Dusenberry et al.'s rank-1 multiplicative layer ``W o (r s^T)``: a deterministic ``W`` and,
    #: per ensemble member, Gaussian vectors ``r`` (m) and ``s`` (n)
    RANK1 = "rank1"


class Bias(str, Enum):
    """How a linear map's bias is held."""

    #: a Gaussian posterior (a mean and a scale per entry)
    BAYESIAN = "bayesian"
    #: a point estimate
    DETERMINISTIC = "deterministic"
    #: no bias
    NONE = "none"


@dataclass(frozen=True)
class LayerSpec:
    """One linear map ``n_in -> n_out`` of a model under a counting convention."""

    kind: Linear
    n_in: int
    n_out: int
    rank: int | None = None
    bias: Bias = Bias.DETERMINISTIC
    #: ensemble members of a rank-1 layer (each has its own ``r`` and ``s``)
    members: int = 1

    def __post_init__(self) -> None:
        check_int(self.n_in, "n_in")
        check_int(self.n_out, "n_out")
        check_int(self.members, "members")
        if not isinstance(self.kind, Linear):
            raise TypeError(f"`kind` must be a Linear; got {self.kind!r}")
        if not isinstance(self.bias, Bias):
            raise TypeError(f"`bias` must be a Bias; got {self.bias!r}")
        if self.kind is Linear.LOW_RANK:
            check_int(self.rank, "rank", high=min(self.n_in, self.n_out))
        elif self.rank is not None:
            raise ValueError(f"`rank` must be None for kind {self.kind.value!r}; got {self.rank}")
        if self.bias is Bias.BAYESIAN and self.kind in (Linear.DETERMINISTIC, Linear.RANK1):
            raise ValueError(f"`bias` 'bayesian' needs a Bayesian kind; got {self.kind.value!r}")


def _per_scalar(per_scalar: int) -> int:
    if per_scalar not in (1, 2):
        raise ValueError(f"`per_scalar` must be 1 or 2; got {per_scalar!r}")
    return per_scalar


def closed_form(spec: LayerSpec, per_scalar: int = 2) -> int:
    r"""The parameters of one layer from :func:`theory.pac_bayes.param_counts` (module notes).

    Examples
    --------
    >>> closed_form(LayerSpec(Linear.LOW_RANK, 44, 128, 15, Bias.BAYESIAN))
    5416
    """
    s = _per_scalar(per_scalar)
    m, n = spec.n_out, spec.n_in
    pc = param_counts(m, n, spec.rank or 1)
    low, full = ("low_rank", "mean_field") if s == 2 else ("d_low_rank", "d_full")
    weights = {
        Linear.LOW_RANK: pc[low],
        Linear.MEAN_FIELD: pc[full],
        Linear.DETERMINISTIC: pc["d_full"],
        # r s^T is a rank-1 factorisation with Gaussian factors: P1's low-rank count at r = 1
        Linear.RANK1: pc["d_full"] + spec.members * param_counts(m, n, 1)[low],
    }[spec.kind]
    bias = {Bias.BAYESIAN: s * m, Bias.DETERMINISTIC: m, Bias.NONE: 0}[spec.bias]
    return int(weights) + bias


@lru_cache(maxsize=512)
def module_count(spec: LayerSpec, per_scalar: int = 2) -> int:
    """The parameters of one layer counted on the :mod:`lrbnn_core` modules that implement it.

    Every tensor of the module is counted with ``numel``; with ``per_scalar = 1`` each stochastic
    scalar (``stochastic_parameter_count``) is counted once instead of twice.

    Examples
    --------
    >>> module_count(LayerSpec(Linear.LOW_RANK, 44, 128, 15, Bias.BAYESIAN))
    5416
    """
    s = _per_scalar(per_scalar)
    gen = torch.Generator().manual_seed(0)  # the values do not matter, only the sizes
    modules: list[nn.Module]
    if spec.kind is Linear.RANK1:
        # The multiplicative factors r s^T hold what a bias-free rank-1 factor layer holds.
        modules = [nn.Linear(spec.n_in, spec.n_out, bias=spec.bias is not Bias.NONE)]
        modules += [
            LowRankBayesLinear(spec.n_in, spec.n_out, 1, bias=False, generator=gen)
            for _ in range(spec.members)
        ]
    else:
        modules = [
            make_linear(
                spec.kind.value,
                spec.n_in,
                spec.n_out,
                spec.rank,
                bias=spec.bias is not Bias.NONE,
                bayesian_bias=spec.bias is Bias.BAYESIAN,
                generator=gen,
            )
        ]
    total = sum(p.numel() for mod in modules for p in mod.parameters())
    stochastic = sum(stochastic_parameter_count(mod) for mod in modules)
    return int(total if s == 2 else total - stochastic)


def model_counts(specs: Iterable[LayerSpec], per_scalar: int = 2) -> tuple[int, int]:
    """``(closed form, module count)`` of a whole model (the sums over its layers).

    Examples
    --------
    >>> det = Linear.DETERMINISTIC
    >>> model_counts([LayerSpec(det, 44, 128), LayerSpec(det, 128, 1)])
    (5889, 5889)
    """
    specs = tuple(specs)
    return (
        sum(closed_form(s, per_scalar) for s in specs),
        sum(module_count(s, per_scalar) for s in specs),
    )


@dataclass(frozen=True)
class Printed:
    """A number as the paper prints it: ``value`` units of ``unit``, rounded to ``decimals``
    decimals (``None``: printed exactly)."""

    text: str
    value: Fraction
    unit: int = 1
    decimals: int | None = None

    def interval(self) -> tuple[Fraction, Fraction]:
        """``[lo, hi)``: the integers that print as this number (``lo == hi``: exact)."""
        centre = self.value * self.unit
        if self.decimals is None:
            return centre, centre
        half = Fraction(self.unit, 2 * 10**self.decimals)
        return centre - half, centre + half

    def matches(self, count: int | Fraction) -> bool:
        lo, hi = self.interval()
        return count == lo if lo == hi else lo <= count < hi


@dataclass(frozen=True)
class Convention:
    """A stated way to count a model: its layers, copies (ensemble members) and ``per_scalar``."""

    label: str
    specs: tuple[LayerSpec, ...]
    copies: int = 1
    per_scalar: int = 2

    def counts(self) -> tuple[int, int]:
        """``(closed form, module count)`` of the whole model, copies included."""
        closed, counted = model_counts(self.specs, self.per_scalar)
        return self.copies * closed, self.copies * counted


def assess(printed: Printed, conventions: Sequence[Convention]) -> dict[str, Any]:
    """Which conventions reproduce ``printed`` (formula and modules agree, and the count prints
    as the paper's number), and the closest one otherwise.

    Examples
    --------
    >>> det = Linear.DETERMINISTIC
    >>> c = Convention("tiny", (LayerSpec(det, 2, 3),))
    >>> assess(Printed("9", Fraction(9)), [c])["matches"]
    ['tiny']
    """
    if not conventions:
        raise ValueError("`conventions` must not be empty")
    rows = [(c.label, *c.counts()) for c in conventions]
    target = printed.value * printed.unit
    agreed = [(label, closed) for label, closed, counted in rows if closed == counted]
    closest = min(agreed, key=lambda lc: abs(lc[1] - target)) if agreed else None
    return {
        "printed": printed.text,
        "interval": tuple(float(x) for x in printed.interval()),
        "tried": len(rows),
        "matches": [label for label, closed in agreed if printed.matches(closed)],
        "match_counts": sorted({closed for _, closed in agreed if printed.matches(closed)}),
        "closest": closest,
        "twin_mismatch": [
            (label, closed, counted) for label, closed, counted in rows if closed != counted
        ],
    }
