r"""Empirical Gaussian complexity and the bounds of the paper's Sec. 3.5 (claims E8-E36, T3.9).

For functions :math:`f: \mathbb R^d \to \mathbb R^k` and a sample :math:`x_1, \dots, x_m`,

.. math:: \hat G(F) = E_\gamma \sup_{f \in F} \frac1m \sum_{j=1}^m \langle \gamma_j, f(x_j)\rangle,
    \qquad \gamma_j \sim N(0, I_k) \text{ independent.}

- :mod:`theory.gaussian_complexity.estimators`: Monte Carlo estimates of :math:`\hat G(F)`
  (exact suprema, batched draws, optional control variates);
- :mod:`theory.gaussian_complexity.bounds`: the bounds as the paper prints them (E15, E17, E21,
  E35);
- :mod:`theory.gaussian_complexity.corrected`: the corrected forms we can prove (E15, E17, T3.9);
- :mod:`theory.gaussian_complexity.crossover`: where the PAC-Bayes and GC gaps cross (E22);
- :mod:`theory.gaussian_complexity.factor_norms`: the size of Gaussian factors' spectral norms
  (E36).

References: ``CLAIMS.md`` section 6.
"""

from theory.gaussian_complexity.bounds import (
    gc_confidence_term,
    gc_generalisation_bound,
    one_layer_gaps,
    pinto_bound_as_restated,
    spectral_norm_tail_bound,
)
from theory.gaussian_complexity.corrected import (
    chi_mean,
    gc_generalisation_bound_corrected,
    one_layer_complexity_bound,
    pinto_bound_corrected,
)
from theory.gaussian_complexity.crossover import (
    crossover_kl,
    leading_crossover_kl,
    remark_crossover_kl,
    symbolic_crossover,
)
from theory.gaussian_complexity.estimators import (
    Sampling,
    empirical_gaussian_complexity,
    linear_class_complexity,
)
from theory.gaussian_complexity.factor_norms import bai_yin_ratio, gordon_ratio, symbolic_e36

__all__ = [
    "Sampling",
    "bai_yin_ratio",
    "chi_mean",
    "crossover_kl",
    "empirical_gaussian_complexity",
    "gc_confidence_term",
    "gc_generalisation_bound",
    "gc_generalisation_bound_corrected",
    "gordon_ratio",
    "leading_crossover_kl",
    "linear_class_complexity",
    "one_layer_complexity_bound",
    "one_layer_gaps",
    "pinto_bound_as_restated",
    "pinto_bound_corrected",
    "remark_crossover_kl",
    "spectral_norm_tail_bound",
    "symbolic_crossover",
    "symbolic_e36",
]
