"""Small numerical kernels shared by several formulas (no validation: callers validate)."""

from __future__ import annotations

import numpy as np

from theory._validation import FloatArray

__all__ = ["x_minus_log1p"]

#: Below this |x| the function x - log1p(x) is summed as its Taylor series (truncation error
#: < |x|^6 / 6, i.e. relative error < 1e-16 at |x| = 1e-4), because the direct difference cancels.
_SERIES_CUTOFF = 1e-4


def x_minus_log1p(x: FloatArray) -> FloatArray:
    r"""The non-negative function :math:`\psi(x) = x - \ln(1 + x)` on :math:`[-1, \infty]`.

    Accurate to a few ulps relative everywhere: a Taylor series near 0, the direct form elsewhere
    (where the two terms no longer cancel). :math:`\psi(-1) = +\infty`.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(x - np.log1p(x))
    # Patch only the few points near 0 (cheaper than evaluating both forms everywhere).
    small = np.abs(x) < _SERIES_CUTOFF
    if small.any():
        xs = x[small]
        out[small] = xs * xs * (0.5 - xs * (1.0 / 3.0 - xs * (0.25 - xs / 5.0)))
    return out
