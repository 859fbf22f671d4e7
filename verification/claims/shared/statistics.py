r"""Exact tests shared by the statistical checks of every area.

References: claims D2, E15, E29, E35 and E36 of ``CLAIMS.md``.
"""

from __future__ import annotations

from scipy import stats

from theory._validation import check_int

__all__ = ["binomial_p_value"]


def binomial_p_value(violations: int, n_trials: int, delta: float) -> float:
    r"""One-sided exact p-value :math:`P(\mathrm{Binomial}(T, \delta) \ge V)`.

    Under the claim the violation count is stochastically at most Binomial(T, delta), so a small
    p-value is evidence that the bound fails more often than delta.

    Examples
    --------
    >>> binomial_p_value(0, 100, 0.05)
    1.0
    """
    check_int(violations, "violations", low=0, high=n_trials)
    return float(stats.binom.sf(violations - 1, n_trials, delta))
