r"""Per-coordinate KL of a Gaussian to the paper's scale-mixture prior, by quadrature, and the
gauge of a low-rank layer that minimises that exact KL.

The prior :math:`p = \pi N(0, s_1^2) + (1 - \pi) N(0, s_2^2)` has no closed-form KL. With the wide
component :math:`(w_w, s_w)` and the narrow one :math:`(w_n, s_n)`, :math:`s_n \le s_w`,

.. math::

    \ln p(\theta) = \ln\big(w_w N(\theta; 0, s_w^2)\big) + h(\theta), \qquad
    h(\theta) = \ln\big(1 + \rho\, e^{-a \theta^2}\big), \quad
    \rho = \frac{w_n s_w}{w_w s_n}, \quad a = \frac{1}{2 s_n^2} - \frac{1}{2 s_w^2},

so :math:`\mathrm{KL}(N(\mu, \sigma^2) \| p) = \mathrm{KL}(N(\mu, \sigma^2) \| N(0, s_w^2))
- \ln w_w - E[h(\theta)]`. Only :math:`E[h]` needs quadrature, and :math:`0 \le h \le
2^{-60}` outside :math:`|\theta| \le \theta_L = \sqrt{(\max(\ln\rho, 0) + 60 \ln 2)/a}`. It is
integrated on :math:`[\max(-\theta_L, \mu - 10\sigma), \min(\theta_L, \mu + 10\sigma)]` by a
composite Gauss-Legendre rule (:data:`QUAD_PANELS` equal panels of :data:`QUAD_ORDER` nodes), so
every panel is at most :math:`0.32\sigma` and :math:`2\theta_L/64` wide: both the Gaussian and the
transition of :math:`h` (the complex singularities of :math:`h` lie about :math:`\sqrt{\pi/(2a)}`
off the real axis, several panel widths) are resolved. The truncation error is below
:math:`2^{-60} + 1.6 \times 10^{-23} \ln(1 + \rho)`; the quadrature error is estimated by the
difference from the rule with half the panels (:func:`scale_mixture_kl_with_error`), an estimate of
the coarser rule's error.

References: claims T3.8p and D3 of ``CLAIMS.md``; the prior in the paper's model section (Sec. 2).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from lrbnn_core.gauge import apply_gauge
from lrbnn_core.layers import LowRankBayesLinear
from lrbnn_core.priors import ScaleMixturePrior
from theory._validation import (
    FloatArray,
    as_float_array,
    check_int,
    check_open_unit,
    check_positive,
)
from theory.pac_bayes.gaussian_kl import gaussian_kl_elementwise

__all__ = [
    "QUAD_ORDER",
    "QUAD_PANELS",
    "balance_mixture_gauge",
    "scale_mixture_kl_elementwise",
    "scale_mixture_kl_with_error",
]

#: Gauss-Legendre nodes per panel and panels per coordinate of the accurate rule.
QUAD_ORDER = 8
QUAD_PANELS = 64
#: Half-width of the posterior's integration window, in posterior stds (mass outside: 1.5e-23).
_Z = 10.0
#: ``h <= 2^-60`` beyond ``theta_L``.
_TAIL_LOG = 60.0 * math.log(2.0)
#: Coordinates per vectorised block (memory ~ block * panels * order doubles).
_BLOCK = 2048
#: The gauge search: a grid of step 1/8 in ln c over +-4 around its centre (recentred while the
#: best point is on its edge), then a bounded Brent step within one grid step.
_GRID_HALF, _GRID_STEP, _SEARCH_PANELS, _MAX_RECENTRES = 4.0, 0.125, 16, 80


def _components(pi: float, std1: float, std2: float) -> tuple[float, float, float, float]:
    """``(ln w_w, s_w, ln rho, a)`` with the wide component first."""
    p = float(check_open_unit(pi, "pi"))
    s1, s2 = float(check_positive(std1, "std1")), float(check_positive(std2, "std2"))
    (w_w, s_w), (w_n, s_n) = ((p, s1), (1.0 - p, s2)) if s1 >= s2 else ((1.0 - p, s2), (p, s1))
    log_rho = math.log(w_n) - math.log(w_w) + math.log(s_w) - math.log(s_n)
    return math.log(w_w), s_w, log_rho, 0.5 / s_n**2 - 0.5 / s_w**2


def _expected_h(mu: FloatArray, sigma: FloatArray, log_rho: float, a: float, panels: int) -> Any:
    """:math:`E[h(\\theta)]`, :math:`\\theta \\sim N(\\mu, \\sigma^2)`, entry by entry (1-D)."""
    theta_l = math.sqrt((max(log_rho, 0.0) + _TAIL_LOG) / a)
    lo = np.maximum(-theta_l, mu - _Z * sigma)
    hi = np.minimum(theta_l, mu + _Z * sigma)
    width = np.maximum(hi - lo, 0.0)  # empty window: E[h] < 2^-60, taken as 0
    nodes, weights = np.polynomial.legendre.leggauss(QUAD_ORDER)
    step = width / panels
    offsets = np.arange(panels)[:, None] + 0.5 * (nodes[None, :] + 1.0)  # (panels, order)
    x = lo[:, None, None] + step[:, None, None] * offsets[None]
    z = (x - mu[:, None, None]) / sigma[:, None, None]
    integrand = np.logaddexp(0.0, log_rho - a * x * x) * np.exp(-0.5 * z * z)
    per_panel = integrand @ weights  # (n, panels)
    return per_panel.sum(axis=1) * 0.5 * step / (sigma * math.sqrt(2.0 * math.pi))


def _kl(
    mu: FloatArray, sigma: FloatArray, prior: tuple[float, float, float, float], panels: int
) -> FloatArray:
    log_w, s_w, log_rho, a = prior
    wide = gaussian_kl_elementwise(mu, sigma, 0.0, s_w) - log_w
    if a == 0.0:  # equal components: h is the constant ln(1 + rho), and p is that Gaussian
        return wide - np.logaddexp(0.0, log_rho)
    out = np.empty(mu.shape)
    for start in range(0, mu.size, _BLOCK):
        part = slice(start, start + _BLOCK)
        out[part] = wide[part] - _expected_h(mu[part], sigma[part], log_rho, a, panels)
    return out


def _inputs(mean: Any, std: Any) -> tuple[FloatArray, FloatArray]:
    mu = as_float_array(mean, "mean")
    sigma = check_positive(std, "std")
    if mu.shape != sigma.shape:
        raise ValueError(
            f"`mean` and `std` must have the same shape; got {mu.shape} and {sigma.shape}"
        )
    return mu, sigma


def scale_mixture_kl_elementwise(
    mean: Any, std: Any, *, pi: float, std1: float, std2: float, panels: int = QUAD_PANELS
) -> FloatArray:
    r"""Per-entry KL of :math:`N(\mu, \sigma^2)` to :math:`\pi N(0, s_1^2) + (1-\pi) N(0, s_2^2)`.

    .. math::

        \mathrm{KL} = \ln\frac{s_w}{\sigma} + \frac{\sigma^2 + \mu^2}{2 s_w^2} - \frac12
            - \ln w_w - E_{\theta \sim N(\mu, \sigma^2)}\big[\ln(1 + \rho e^{-a\theta^2})\big]

    (module notes), the expectation by composite Gauss-Legendre quadrature.

    Parameters
    ----------
    mean, std : array_like
        Posterior means (finite) and standard deviations (> 0), same shape.
    pi, std1, std2 : float
        The mixture: weight in (0, 1) of the first component, standard deviations > 0.
    panels : int
        Panels of the rule, >= 1 (the default is the accurate rule).

    Returns
    -------
    numpy.ndarray
        float64, of the shape of ``mean``.

    References
    ----------
    Claims T3.8p and D3.

    Examples
    --------
    >>> kl = scale_mixture_kl_elementwise([0.0], [1.0], pi=0.5, std1=1.0, std2=1.0)
    >>> abs(float(kl[0])) < 1e-15  # equal components: the prior is N(0, 1)
    True
    """
    mu, sigma = _inputs(mean, std)
    n_panels = check_int(panels, "panels", low=1)
    flat = _kl(mu.reshape(-1), sigma.reshape(-1), _components(pi, std1, std2), n_panels)
    out: FloatArray = flat.reshape(mu.shape)
    return out


def scale_mixture_kl_with_error(
    mean: Any, std: Any, *, pi: float, std1: float, std2: float
) -> tuple[FloatArray, float]:
    """The accurate per-entry KLs and the largest difference from the rule with half the panels
    (an estimate of the coarser rule's error, so an upper estimate of the accurate one's)."""
    fine = scale_mixture_kl_elementwise(mean, std, pi=pi, std1=std1, std2=std2)
    coarse = scale_mixture_kl_elementwise(
        mean, std, pi=pi, std1=std1, std2=std2, panels=QUAD_PANELS // 2
    )
    return fine, float(np.max(np.abs(fine - coarse), initial=0.0))


def _column_kl(
    blocks: list[tuple[FloatArray, FloatArray, int]],
    prior: tuple[float, float, float, float],
    ts: FloatArray,
    panels: int,
) -> FloatArray:
    """Exact KL of one column of ``A`` (sign +1) and of ``B`` (sign -1) at each log-scale."""
    total = np.zeros(ts.shape)
    for mean, std, sign in blocks:
        scale = np.exp(sign * ts)[:, None]
        kl = _kl((scale * mean).reshape(-1), (scale * std).reshape(-1), prior, panels)
        total += kl.reshape(ts.size, mean.size).sum(axis=1)
    return total


def _best_log_scale(blocks: list[Any], prior: Any) -> float:
    centre = 0.0
    offsets = np.arange(-_GRID_HALF, _GRID_HALF + _GRID_STEP / 2, _GRID_STEP)
    for _ in range(_MAX_RECENTRES):
        grid = centre + offsets
        best = int(np.argmin(_column_kl(blocks, prior, grid, _SEARCH_PANELS)))
        if 0 < best < grid.size - 1:
            break
        centre = float(grid[best])
    t_grid = float(grid[best])
    res = minimize_scalar(
        lambda t: float(_column_kl(blocks, prior, np.array([t]), QUAD_PANELS)[0]),
        bounds=(t_grid - _GRID_STEP, t_grid + _GRID_STEP),
        method="bounded",
        options={"xatol": 1e-6},
    )
    candidates = np.array([0.0, t_grid, float(res.x)])
    return float(candidates[np.argmin(_column_kl(blocks, prior, candidates, QUAD_PANELS))])


def balance_mixture_gauge(layer: LowRankBayesLinear) -> float:
    r"""Rescale each column of a low-rank layer, :math:`(c_k A_{:k}, B_{:k}/c_k)`, to minimise
    the exact factor-space KL to its :class:`~lrbnn_core.priors.ScaleMixturePrior` (the law of
    :math:`W` is unchanged); return the decrease in nats (>= 0).

    :func:`lrbnn_core.gauge.balance_gauge` minimises the declared *upper bound* exactly; this
    minimises the KL itself, column by column, over :math:`t_k = \ln c_k`: a grid of step 1/8
    over :math:`\pm 4` around the current gauge (recentred while the best point is on its edge,
    the KL tending to infinity at both ends), then a bounded Brent refinement within one step.
    A global minimum narrower than one grid step could be missed; the new gauge is kept only if it
    lowers the accurate-rule KL, so the KL never increases.

    References
    ----------
    Claims T3.8p and G1 (the gauge).
    """
    if not isinstance(layer, LowRankBayesLinear):
        raise TypeError(f"`layer` must be a LowRankBayesLinear; got {type(layer).__name__}")
    prior = layer.prior
    if not isinstance(prior, ScaleMixturePrior):
        raise ValueError(f"`layer` must have a ScaleMixturePrior; got {prior!r}")
    spec = _components(prior.pi, prior.std1, prior.std2)
    post = {
        k: (m.detach().double().cpu().numpy(), s.detach().double().cpu().numpy())
        for k, (m, s) in layer.factor_posteriors().items()
    }
    log_scales = np.zeros(layer.rank)
    before = 0.0
    for k in range(layer.rank):
        blocks = [
            (post["A"][0][:, k], post["A"][1][:, k], 1),
            (post["B"][0][:, k], post["B"][1][:, k], -1),
        ]
        before += float(_column_kl(blocks, spec, np.zeros(1), QUAD_PANELS)[0])
        log_scales[k] = _best_log_scale(blocks, spec)
    if not np.any(log_scales):
        return 0.0
    params: list[torch.Tensor] = [
        getattr(layer, f"{block}_{kind}") for block in ("A", "B") for kind in ("mean", "rho")
    ]
    saved = [p.detach().clone() for p in params]
    apply_gauge(layer, torch.as_tensor(np.exp(log_scales), dtype=torch.float64))
    after = _layer_kl(layer, spec)
    if after < before:
        return before - after
    with torch.no_grad():
        for param, value in zip(params, saved, strict=True):
            param.copy_(value)
    return 0.0


def _layer_kl(layer: LowRankBayesLinear, spec: tuple[float, float, float, float]) -> float:
    total = 0.0
    for name in ("A", "B"):
        mean, std = layer.factor_posteriors()[name]
        total += float(
            _kl(
                mean.detach().double().reshape(-1).numpy(),
                std.detach().double().reshape(-1).numpy(),
                spec,
                QUAD_PANELS,
            ).sum()
        )
    return total
