r"""The one set of sympy symbols shared by every symbolic derivation of :mod:`theory.symbolic`.

Each symbol carries the assumptions sympy may use (``positive``, ``integer``, ...). Constraints
sympy cannot express (an upper end such as :math:`q < 1` or :math:`\delta < 1`) are stated in the
comment beside the symbol and handled where a derivation needs them.

References
----------
Claims D2, D3, P1, T3.8 and T3.8c.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "C_LR",
    "KL",
    "B",
    "C",
    "C_full",
    "N",
    "c",
    "d",
    "d_in",
    "d_out",
    "delta",
    "ell",
    "emp",
    "m",
    "mu_p",
    "mu_q",
    "n",
    "n_grid",
    "p",
    "q",
    "q_bar",
    "r",
    "s",
    "sigma_p",
    "sigma_q",
    "x",
]

#: integration variable of the Gaussian KL
x = sp.Symbol("x", real=True)
#: means of the posterior q and the prior p (any real)
mu_q, mu_p = sp.symbols("mu_q mu_p", real=True)
#: standard deviations (never variances) of q and p
sigma_q, sigma_p = sp.symbols("sigma_q sigma_p", positive=True)

#: arguments of the binary kl(q || p); both also satisfy q, p < 1
q, p = sp.symbols("q p", positive=True)
#: 1 - q, a separate positive symbol so that sqrt(q (1 - q)) splits without sign questions
q_bar = sp.Symbol("qbar", positive=True)
#: displacement p - q of the kl-inverse, and the budget c with s = sqrt(c)
d = sp.Symbol("d", real=True)
c = sp.Symbol("c", nonnegative=True)
s = sp.Symbol("s", positive=True)

#: empirical (Gibbs) risk in [0, 1]
emp = sp.Symbol("emp", nonnegative=True)
#: KL(Q || P) in nats
KL = sp.Symbol("KL", nonnegative=True)
#: number of training samples (N >= 1) and the confidence (0 < delta < 1)
N = sp.Symbol("N", positive=True, integer=True)
delta = sp.Symbol("delta", positive=True)
#: the log term ln(2 sqrt(N) / delta) as one symbol; it is > ln 2 > 0 on N >= 1, delta < 1
#: (proved by :func:`theory.symbolic.pac_bayes.log_term_is_positive`)
ell = sp.Symbol("ell", positive=True)
#: the unknown of the implicit kl-bound, a risk in (0, 1]
B = sp.Symbol("B", positive=True)
#: Catoni's parameter and the size of its union-bound grid
C = sp.Symbol("C", positive=True)
n_grid = sp.Symbol("K", positive=True, integer=True)

#: layer shape and rank (1 <= r <= min(m, n)) of the parameter counts (claim P1)
m, n, r = sp.symbols("m n r", positive=True, integer=True)
#: layer fan-in and fan-out of claim T3.8
d_in, d_out = sp.symbols("d_in d_out", positive=True, integer=True)
#: per-coordinate KL ceilings C_max of the full-rank and the low-rank posterior (claim D3)
C_full, C_LR = sp.symbols("C_full C_LR", positive=True)
