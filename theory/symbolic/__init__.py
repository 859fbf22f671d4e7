"""Symbolic (sympy) twins of the formulas of :mod:`theory`, derived rather than typed.

Every expression is built from the one set of symbols of :mod:`theory.symbolic.symbols`, is
cached (sympy integration is slow) and has a ``lambdify``-ed version that the tests compare with
the numeric implementation.
"""

from theory.symbolic.kl_inverse_series import (
    MAX_TERMS,
    kl_inv_upper_coefficients,
    kl_inv_upper_series,
    kl_inv_upper_series_function,
    kl_shift_series,
)
from theory.symbolic.pac_bayes import (
    binary_kl_expr,
    catoni_expr,
    catoni_function,
    gaussian_kl_expr,
    gaussian_kl_function,
    kl_bound_equation,
    kl_bound_residual_function,
    log_term_expr,
    log_term_is_positive,
    mcallester_expr,
    mcallester_function,
    param_count_exprs,
    param_counts_function,
)
from theory.symbolic.rank_bounds import (
    T38cSignProof,
    complexity_ratio_derivative,
    complexity_ratio_expr,
    complexity_ratio_function,
    complexity_ratio_residual,
    complexity_ratio_target,
    full_rank_bound_expr,
    low_rank_bound_expr,
    t38_bounds_function,
    t38c_condition_expr,
    t38c_sign_proof,
)

__all__ = [
    "MAX_TERMS",
    "T38cSignProof",
    "binary_kl_expr",
    "catoni_expr",
    "catoni_function",
    "complexity_ratio_derivative",
    "complexity_ratio_expr",
    "complexity_ratio_function",
    "complexity_ratio_residual",
    "complexity_ratio_target",
    "full_rank_bound_expr",
    "gaussian_kl_expr",
    "gaussian_kl_function",
    "kl_bound_equation",
    "kl_bound_residual_function",
    "kl_inv_upper_coefficients",
    "kl_inv_upper_series",
    "kl_inv_upper_series_function",
    "kl_shift_series",
    "log_term_expr",
    "log_term_is_positive",
    "low_rank_bound_expr",
    "mcallester_expr",
    "mcallester_function",
    "param_count_exprs",
    "param_counts_function",
    "t38_bounds_function",
    "t38c_condition_expr",
    "t38c_sign_proof",
]
