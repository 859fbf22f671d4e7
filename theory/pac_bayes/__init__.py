r"""PAC-Bayes bounds and what goes into them (claims P1, P2, D2, D3, T3.8).

Loss bounded in :math:`[0, 1]`, ``n`` training samples, a prior fixed before seeing the data.
Every function validates its arguments (see :mod:`theory._validation`) and broadcasts like a
numpy ufunc; a scalar input gives a Python float.

- :mod:`theory.pac_bayes.bounds`: the McAllester, kl-inverse, Catoni and sample-convergence
  bounds;
- :mod:`theory.pac_bayes.counts`: parameter counts and the ranks of claim T3.8;
- :mod:`theory.pac_bayes.kl_inverse`: the binary kl and its two conservative inverses;
- :mod:`theory.pac_bayes.gaussian_kl`: the KL between diagonal Gaussians (claim D3);
- :mod:`theory.pac_bayes.factor_kl`: the factor-space KL of a low-rank posterior (D3, KLF);
- :mod:`theory.pac_bayes.union_bound`: the price of choosing over a grid.

Why the KL is taken in factor space (claim KLF) is computed in :mod:`theory.singular_kl` and
:mod:`theory.product_density`, outside this package: they load sympy and scipy.stats, and
``lrbnn_core`` imports this package.
"""

from theory.pac_bayes.bounds import (
    catoni_bound,
    empirical_bernstein_bound,
    kl_bound,
    log_term,
    mcallester_bound,
    sample_convergence_bound,
)
from theory.pac_bayes.counts import complexity_ratio, critical_rank, crossover_rank, param_counts
from theory.pac_bayes.factor_kl import (
    gaussian_entropy,
    lowrank_factor_kl,
    scale_mixture_kl_mc,
    scale_mixture_kl_upper,
    scale_mixture_logpdf,
)
from theory.pac_bayes.gaussian_kl import gaussian_kl, gaussian_kl_elementwise
from theory.pac_bayes.kl_inverse import kl_bernoulli, kl_inv_lower, kl_inv_upper
from theory.pac_bayes.union_bound import UnionBoundSplit, best_over_grid, union_bound_split

__all__ = [
    "UnionBoundSplit",
    "best_over_grid",
    "catoni_bound",
    "complexity_ratio",
    "critical_rank",
    "crossover_rank",
    "empirical_bernstein_bound",
    "gaussian_entropy",
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
