r"""Figures of the geometry of :math:`q_W` (claims L3.5b and T3.4).

Both use matplotlib's object interface with the Agg canvas (no global backend state) and fixed
seeds, so that ``lrbnn figures`` redraws the same pictures.

References: claims L3.5b, T3.4 of ``CLAIMS.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from theory._validation import FloatArray
from theory.geometry import FactorPosterior
from verification.claims.geometry.numeric import rank_ratios
from verification.claims.geometry.statistical import random_posterior
from verification.claims.shared.tolerances import RANK_RTOL_FACTOR
from verification.figures import save_png

__all__ = [
    "FIGURE_SEED",
    "correlation_matrices",
    "figure_posterior",
    "plot_l35b_correlation",
    "plot_t34_spectra",
]

#: Seed of the posteriors drawn in both figures.
FIGURE_SEED = 2026
#: Shape of the figures' posterior: 30 entries, rank 2 < min(m, n).
FIGURE_SHAPE = (6, 5, 2)
_EPS = float(np.finfo(np.float64).eps)
#: Where exact zeros are drawn on the log axes.
_FLOOR = 1e-20


def figure_posterior() -> FactorPosterior:
    """The 6 x 5 rank-2 factor posterior of both figures (seed :data:`FIGURE_SEED`)."""
    m, n, r = FIGURE_SHAPE
    # Means of both signs, so that shared-index correlations of both signs appear.
    return random_posterior(m, n, r, np.random.default_rng(FIGURE_SEED))


def correlation_matrices(post: FactorPosterior) -> tuple[FloatArray, FloatArray]:
    """Correlation matrices of ``W.reshape(-1)`` under the low-rank posterior (``weight_moments``)
    and under the mean-field posterior with the same variances (the identity).

    Examples
    --------
    >>> low, mf = correlation_matrices(figure_posterior())
    >>> low.shape, bool(np.allclose(np.diag(low), 1.0)), bool((mf == np.eye(30)).all())
    ((30, 30), True, True)
    """
    cov = post.moments()[1]
    sd = np.sqrt(np.diag(cov))
    low: FloatArray = cov / np.outer(sd, sd)
    return low, np.eye(cov.shape[0])


def _new_figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_l35b_correlation(path: str | Path) -> Path:
    """Heatmaps of the entry correlations of W: low-rank factor posterior beside mean field.

    References
    ----------
    Claim L3.5b (the idea of the paper's Fig. 3).
    """
    m, n, r = FIGURE_SHAPE
    low, mf = correlation_matrices(figure_posterior())
    fig = _new_figure((10.5, 5.6))
    axes = fig.subplots(1, 2)
    ticks = np.arange(0, m * n, n)
    labels = [f"i={i + 1}" for i in range(m)]
    for ax, mat, title in (
        (axes[0], low, rf"low rank $W = AB^\top$ ({m} x {n}, r = {r})"),
        (axes[1], mf, f"mean field ({m} x {n}, independent entries)"),
    ):
        image = ax.imshow(mat, cmap="RdBu_r", vmin=-1.0, vmax=1.0, interpolation="nearest")
        for t in ticks[1:]:
            ax.axhline(t - 0.5, color="0.3", lw=0.5)
            ax.axvline(t - 0.5, color="0.3", lw=0.5)
        ax.set_xticks(ticks + (n - 1) / 2, labels, fontsize=8)
        ax.set_yticks(ticks + (n - 1) / 2, labels, fontsize=8)
        ax.set_xlabel(f"entry (i, j), row-major: blocks of the {n} entries of row i", fontsize=8)
        ax.set_ylabel("entry (i, j), row-major", fontsize=8)
        ax.set_title(title, fontsize=10)
    shared = low[(np.abs(low) > 0) & ~np.eye(m * n, dtype=bool)]
    fig.colorbar(image, ax=axes, shrink=0.75, label=r"$\mathrm{Corr}(W_{ij}, W_{i'j'})$")
    fig.suptitle("Correlation of weight entries, exact (weight_moments; claim L3.5b)")
    fig.text(
        0.5,
        0.01,
        "Diagonal blocks: entries sharing a row; diagonals of off-diagonal blocks: sharing a "
        f"column ({shared.min():.2f} to {shared.max():.2f});\nentries sharing neither are "
        "independent (exactly 0). Factor means N(0, 1), stds U(0.3, 1), seed "
        f"{FIGURE_SEED}.",
        ha="center",
        va="bottom",
        fontsize=8,
    )
    fig.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    return save_png(fig, path, dpi=130)


def plot_t34_spectra(path: str | Path, *, n_samples: int = 2000) -> Path:
    """Singular-value spectra of low-rank and mean-field draws, and the law of sigma_(r+1).

    References
    ----------
    Claim T3.4.
    """
    from theory.geometry import sample_mean_field, sample_weights, weight_variance

    m, n, r = FIGURE_SHAPE
    post = figure_posterior()
    rng = np.random.default_rng(FIGURE_SEED + 1)
    w = sample_weights(
        post.mu_a, post.sigma_a, post.mu_b, post.sigma_b, n_samples=n_samples, rng=rng
    )
    sd = np.sqrt(weight_variance(post.mu_a, post.sigma_a, post.mu_b, post.sigma_b))
    mf = sample_mean_field(post.mu_a @ post.mu_b.T, sd, n_samples=n_samples, rng=rng)
    # Exact zeros cannot be drawn on a log axis: they are drawn at FLOOR (and counted).
    spec_lr = np.linalg.svd(w, compute_uv=False)
    spec_mf = np.linalg.svd(mf, compute_uv=False)
    spec_lr = spec_lr / spec_lr[:, :1]
    spec_mf = spec_mf / spec_mf[:, :1]
    n_zero = int(np.sum(spec_lr == 0.0) + np.sum(spec_mf == 0.0))
    spec_lr, spec_mf = np.maximum(spec_lr, _FLOOR), np.maximum(spec_mf, _FLOOR)
    fig = _new_figure((11.0, 4.5))
    left, right = fig.subplots(1, 2)
    k = np.arange(1, min(m, n) + 1)
    for spec, shift, colour, label in (
        (spec_lr, -0.17, "C0", f"low rank (r = {r})"),
        (spec_mf, 0.17, "C3", "mean field, same means and variances"),
    ):
        parts = left.boxplot(
            spec,
            positions=k + shift,
            widths=0.3,
            patch_artist=True,
            whis=(0, 100),
            medianprops={"color": "k"},
        )
        for box in parts["boxes"]:
            box.set(facecolor=colour, alpha=0.5)
        left.plot([], [], color=colour, lw=6, alpha=0.5, label=label)
    tol = RANK_RTOL_FACTOR * _EPS * max(m, n)
    left.axhline(_EPS, color="k", ls=":", lw=1, label="machine epsilon")
    left.axhline(
        tol,
        color="k",
        ls="--",
        lw=1,
        label=rf"rank threshold {RANK_RTOL_FACTOR} $\epsilon\,\max(m, n)$",
    )
    left.set_yscale("log")
    left.set_xticks(k, [str(i) for i in k])
    left.set_xlabel("index k")
    left.set_ylabel(r"$\sigma_k(W)\,/\,\sigma_1(W)$")
    left.set_title(
        f"Spectra of {n_samples} draws each ({m} x {n}; whiskers: min to max; "
        f"{n_zero} exact zeros)",
        fontsize=10,
    )
    left.legend(fontsize=8, loc="center left")
    lr_next, mf_next = rank_ratios(w, r)[0], rank_ratios(mf, r)[0]
    bins = np.logspace(np.log10(_FLOOR), 0.5, 80)
    right.hist(np.maximum(lr_next, _FLOOR), bins=bins, color="C0", alpha=0.7, label="low rank")
    right.hist(mf_next, bins=bins, color="C3", alpha=0.7, label="mean field")
    right.axvline(_EPS, color="k", ls=":", lw=1, label="machine epsilon")
    right.axvline(tol, color="k", ls="--", lw=1, label="rank threshold")
    right.set_xscale("log")
    right.set_xlabel(rf"$\sigma_{{{r + 1}}}(W)\,/\,\sigma_1(W)$")
    right.set_ylabel("draws")
    right.set_title(
        rf"Law of $\sigma_{{{r + 1}}}$: low rank max {lr_next.max():.1e}, mean field min "
        f"{mf_next.min():.1e}",
        fontsize=10,
    )
    right.legend(fontsize=8)
    fig.suptitle(r"$q_W$ sits on the rank-$r$ matrices; a mean-field law does not (claim T3.4)")
    return save_png(fig, path, dpi=130)
