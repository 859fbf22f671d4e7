r"""The losses of the paper's constant table and their Lipschitz and smoothness constants (C9, CT).

- :mod:`theory.losses.loss`: :class:`Loss` (value, gradient, Hessian, the paper's constants and
  the true ones) and :func:`make_loss`;
- :mod:`theory.losses.constants`: the true constants, derived, and the paper's claims;
- :mod:`theory.losses.search`: the numerical twin, the suprema found by search.

The sympy twin is :mod:`theory.symbolic.losses`.

References: claims C9 and CT of ``CLAIMS.md``.
"""

from theory.losses.constants import LossConstants, paper_claims, true_constants
from theory.losses.loss import (
    CONSTANT_RTOL,
    LOSS_NAMES,
    LOSSES,
    Loss,
    Reduction,
    make_loss,
)
from theory.losses.search import JUMP_FLOOR, SearchResult, search_constants

__all__ = [
    "CONSTANT_RTOL",
    "JUMP_FLOOR",
    "LOSSES",
    "LOSS_NAMES",
    "Loss",
    "LossConstants",
    "Reduction",
    "SearchResult",
    "make_loss",
    "paper_claims",
    "search_constants",
    "true_constants",
]
