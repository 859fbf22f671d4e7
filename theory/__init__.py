"""Every bound and identity of the paper, symbolically (sympy) and numerically (numpy/scipy/mpmath).

This package is pure mathematics: it never imports torch.

- :mod:`theory.pac_bayes`: PAC-Bayes bounds, the binary kl and its inverses, Gaussian and
  factor-space KLs, parameter counts, union bounds;
- :mod:`theory.geometry`: the induced posterior of ``W = A B^T`` (moments, dimension, sampling,
  gauge), built on :mod:`theory.factor_posterior` (the factor posterior, the moments of W) and
  :mod:`theory.initialisation` (the App. F rules);
- :mod:`theory.eym`: Eckart-Young-Mirsky truncation and the rank bias bound;
- :mod:`theory.losses`: the losses and their Lipschitz and smoothness constants;
- :mod:`theory.gaussian_complexity`: Gaussian-complexity estimators and bounds;
- :mod:`theory.singular_kl`, :mod:`theory.product_density`: why the KL is taken in factor space;
- :mod:`theory.symbolic`: the sympy twins.
"""

from theory.eym import (
    BiasNorm,
    RankDecomposition,
    rank_bias_bound,
    rank_decomposition,
    singular_values,
    tail_energy,
    truncated_svd,
)
from theory.geometry import (
    FactorPosterior,
    InitTarget,
    balanced_factors,
    factor_jacobian,
    gauge_transform,
    jacobian_rank,
    manifold_dimension,
    output_moments,
    sample_factors,
    sample_mean_field,
    sample_weights,
    svd_warm_start,
    target_variance,
    variance_matching_init,
    weight_moments,
    weight_variance,
)
from theory.losses import LOSS_NAMES, LOSSES, Loss, Reduction, make_loss
from theory.pac_bayes import (
    UnionBoundSplit,
    best_over_grid,
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
    lowrank_factor_kl,
    mcallester_bound,
    param_counts,
    sample_convergence_bound,
    scale_mixture_kl_mc,
    scale_mixture_kl_upper,
    scale_mixture_logpdf,
    union_bound_split,
)

__all__ = [
    "LOSSES",
    "LOSS_NAMES",
    "BiasNorm",
    "FactorPosterior",
    "InitTarget",
    "Loss",
    "RankDecomposition",
    "Reduction",
    "UnionBoundSplit",
    "balanced_factors",
    "best_over_grid",
    "catoni_bound",
    "complexity_ratio",
    "critical_rank",
    "crossover_rank",
    "factor_jacobian",
    "gauge_transform",
    "gaussian_kl",
    "gaussian_kl_elementwise",
    "jacobian_rank",
    "kl_bernoulli",
    "kl_bound",
    "kl_inv_lower",
    "kl_inv_upper",
    "log_term",
    "lowrank_factor_kl",
    "make_loss",
    "manifold_dimension",
    "mcallester_bound",
    "output_moments",
    "param_counts",
    "rank_bias_bound",
    "rank_decomposition",
    "sample_convergence_bound",
    "sample_factors",
    "sample_mean_field",
    "sample_weights",
    "scale_mixture_kl_mc",
    "scale_mixture_kl_upper",
    "scale_mixture_logpdf",
    "singular_values",
    "svd_warm_start",
    "tail_energy",
    "target_variance",
    "truncated_svd",
    "union_bound_split",
    "variance_matching_init",
    "weight_moments",
    "weight_variance",
]
