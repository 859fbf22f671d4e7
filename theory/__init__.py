"""Every bound and identity of the paper, symbolically (sympy) and numerically (numpy/scipy/mpmath).

This package is pure mathematics: it never imports torch.
"""

from theory.factor_kl import (
    lowrank_factor_kl,
    scale_mixture_kl_mc,
    scale_mixture_kl_upper,
    scale_mixture_logpdf,
)
from theory.pac_bayes import (
    catoni_bound,
    complexity_ratio,
    critical_rank,
    crossover_rank,
    gaussian_kl,
    gaussian_kl_elementwise,
    kl_bernoulli,
    kl_bound,
    kl_inv_lower,
    kl_inv_upper,
    log_term,
    mcallester_bound,
    param_counts,
    sample_convergence_bound,
)
from theory.union_bound import UnionBoundSplit, best_over_grid, union_bound_split

__all__ = [
    "UnionBoundSplit",
    "best_over_grid",
    "catoni_bound",
    "complexity_ratio",
    "critical_rank",
    "crossover_rank",
    "gaussian_kl",
    "gaussian_kl_elementwise",
    "kl_bernoulli",
    "kl_bound",
    "kl_inv_lower",
    "kl_inv_upper",
    "log_term",
    "lowrank_factor_kl",
    "mcallester_bound",
    "param_counts",
    "sample_convergence_bound",
    "scale_mixture_kl_mc",
    "scale_mixture_kl_upper",
    "scale_mixture_logpdf",
    "union_bound_split",
]
