r"""Where the two one-layer gaps of Prop. E.21 cross, exactly (Remarks E.22-E.26).

With :math:`\|x_j\|_2 \le R` for every point (so :math:`\|X\|_F \le R\sqrt m`, equality taken),
the printed gaps are

.. math::

    \mathrm{Gap}_{PAC} = \sqrt{\frac{C_{max} r (d_{in} + d_{out}) + \log(2\sqrt m/\delta)}{2m}},
    \qquad
    \mathrm{Gap}_{GC} = \sqrt{\pi L}\, C_0 C_1^2 R \sqrt{\frac{r d_{out}}{m}}
        + 3\sqrt{\frac{\log(2/\delta)}{2m}}.

Both are non-negative, so :math:`\mathrm{Gap}_{PAC} < \mathrm{Gap}_{GC}` iff their squares are
ordered, i.e. iff :math:`C_{max} < C^\ast` with, writing :math:`K = L C_0^2 C_1^4 R^2`,

.. math::

    C^\ast (d_{in} + d_{out}) = 2\pi K d_{out}
        + \frac{6\sqrt{2\pi K d_{out} r \log(2/\delta)} + 8\log(2/\delta) - \tfrac12 \log m}{r}.

Dropping the confidence terms (the log and concentration terms) leaves the first term: the
crossover is :math:`C_{max}(d_{in} + d_{out}) = 2\pi K d_{out}`, twice the remark's
:math:`\pi L C_0^2 C_1^4 R^2 d_{out}`. Keeping them raises :math:`C^\ast` by a term that
dominates when :math:`K d_{out} r` is small (for :math:`m < (2/\delta)^{16}`), so the remark's
condition is sufficient for PAC-Bayes to win but places the crossover too low, by a factor that
is unbounded as :math:`C_1 \to 0`.

References: claims E22 and E21 of ``CLAIMS.md``.
"""

from __future__ import annotations

import math
from typing import Any

from theory._validation import check_int, check_nonnegative, check_open_unit, check_positive
from theory._validation import scalar as _scalar

__all__ = ["crossover_kl", "leading_crossover_kl", "remark_crossover_kl", "symbolic_crossover"]


def _real(x: Any, name: str, *, positive: bool = True) -> float:
    check = check_positive if positive else check_nonnegative
    return _scalar(check(x, name), name)


def _constant(lipschitz: float, c0: float, c1: float, radius: float) -> float:
    """:math:`K = L C_0^2 C_1^4 R^2`."""
    return (
        _real(lipschitz, "lipschitz")
        * _real(c0, "c0") ** 2
        * _real(c1, "c1") ** 4
        * _real(radius, "radius") ** 2
    )


def remark_crossover_kl(
    *, d_in: int, d_out: int, lipschitz: float, c0: float, c1: float, radius: float
) -> float:
    r"""The remark's threshold on :math:`C_{max}`: PAC-Bayes favourable when
    :math:`C_{max}(d_{in} + d_{out}) \lesssim \pi L C_0^2 C_1^4 R^2 d_{out}`.

    .. math:: C_{rem} = \frac{\pi L C_0^2 C_1^4 R^2 d_{out}}{d_{in} + d_{out}}

    Examples
    --------
    >>> round(remark_crossover_kl(d_in=64, d_out=16, lipschitz=1, c0=1, c1=1, radius=1), 6)
    0.628319

    References
    ----------
    Claim E22.
    """
    di, do = check_int(d_in, "d_in"), check_int(d_out, "d_out")
    return math.pi * _constant(lipschitz, c0, c1, radius) * do / (di + do)


def leading_crossover_kl(
    *, d_in: int, d_out: int, lipschitz: float, c0: float, c1: float, radius: float
) -> float:
    r"""The crossover of the printed gaps with their confidence terms dropped.

    .. math:: C_{lead} = \frac{2\pi L C_0^2 C_1^4 R^2 d_{out}}{d_{in} + d_{out}}

    Examples
    --------
    >>> round(leading_crossover_kl(d_in=64, d_out=16, lipschitz=1, c0=1, c1=1, radius=1), 6)
    1.256637

    References
    ----------
    Claim E22.
    """
    di, do = check_int(d_in, "d_in"), check_int(d_out, "d_out")
    return 2.0 * math.pi * _constant(lipschitz, c0, c1, radius) * do / (di + do)


def crossover_kl(
    *,
    rank: int,
    d_in: int,
    d_out: int,
    n: int,
    delta: float,
    lipschitz: float,
    c0: float,
    c1: float,
    radius: float,
) -> float:
    r"""The exact crossover :math:`C^\ast` of the printed gaps (all terms kept): PAC-Bayes's gap
    is the smaller iff :math:`C_{max} < C^\ast`. Negative when the GC gap is smaller for every
    :math:`C_{max} \ge 0`.

    .. math::

        C^\ast = \frac{2m\,\mathrm{Gap}_{GC}^2 - \log(2\sqrt m/\delta)}{r(d_{in} + d_{out})}
        = \frac{2\pi K d_{out}}{d_{in} + d_{out}}
        + \frac{6\sqrt{2\pi K d_{out} r\log(2/\delta)} + 8\log(2/\delta) - \frac12\log m}
            {r(d_{in} + d_{out})}

    (the second form is what this function evaluates; the first is its twin in the tests).

    Examples
    --------
    >>> round(crossover_kl(rank=4, d_in=64, d_out=16, n=10_000, delta=0.05, lipschitz=1.0,
    ...                    c0=1.0, c1=1.0, radius=1.0), 6)
    2.05662

    References
    ----------
    Claim E22.
    """
    di, do = check_int(d_in, "d_in"), check_int(d_out, "d_out")
    r = check_int(rank, "rank", high=min(di, do))
    m = check_int(n, "n")
    log_d = math.log(2.0 / _scalar(check_open_unit(delta, "delta"), "delta"))
    k = _constant(lipschitz, c0, c1, radius)
    lead = 2.0 * math.pi * k * do
    rest = 6.0 * math.sqrt(2.0 * math.pi * k * do * r * log_d) + 8.0 * log_d - 0.5 * math.log(m)
    return (lead + rest / r) / (di + do)


def symbolic_crossover() -> dict[str, Any]:
    r"""Sympy derivation of the crossover from the printed gaps (the twin of
    :func:`crossover_kl`).

    Returns the solution ``c_star`` of :math:`\mathrm{Gap}_{PAC}^2 = \mathrm{Gap}_{GC}^2` in
    :math:`C_{max}`, its difference ``residual`` from :func:`crossover_kl`'s expanded form
    (0), ``leading`` (the solution with the confidence terms dropped), ``remark_over_leading``
    (1/2) and ``large_rank_limit`` (:math:`\lim_{r\to\infty} C^\ast / C_{lead} = 1`).

    References
    ----------
    Claim E22.
    """
    import sympy as sp

    c, r, di, do, m, lip, c0, c1, rad, dl = sp.symbols(
        "C_max r d_in d_out m L C_0 C_1 R delta", positive=True
    )
    log_d = sp.log(2 / dl)
    pac2 = (c * r * (di + do) + sp.log(2 * sp.sqrt(m) / dl)) / (2 * m)
    gc = sp.sqrt(sp.pi * lip) * c0 * c1**2 * rad * sp.sqrt(r * do / m) + 3 * sp.sqrt(
        log_d / (2 * m)
    )
    (c_star,) = sp.solve(sp.Eq(pac2, gc**2), c)
    k = lip * c0**2 * c1**4 * rad**2
    expanded = (
        2 * sp.pi * k * do
        + (6 * sp.sqrt(2 * sp.pi * k * do * r * log_d) + 8 * log_d - sp.log(m) / 2) / r
    ) / (di + do)
    pac2_lead = c * r * (di + do) / (2 * m)
    gc_lead = sp.sqrt(sp.pi * lip) * c0 * c1**2 * rad * sp.sqrt(r * do / m)
    (leading,) = sp.solve(sp.Eq(pac2_lead, gc_lead**2), c)
    remark = sp.pi * k * do / (di + do)
    return {
        "c_star": c_star,
        "residual": sp.simplify(sp.expand_log(c_star - expanded, force=True)),
        "leading": sp.simplify(leading),
        "remark_over_leading": sp.simplify(remark / leading),
        "large_rank_limit": sp.limit(c_star / leading, r, sp.oo),
    }
