"""Every theory figure, by file name; ``lrbnn figures`` regenerates them all.

File names start with the claim id they illustrate, so ``paper_checks.md`` links each figure
from its claim's row.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

__all__ = ["FIGURES", "figures_for_claim", "make_figures"]


def _f4(path: Path) -> Path:
    from verification.checks.lstm_f4 import plot_f4

    return plot_f4(path)


def _l35b_correlation(path: Path) -> Path:
    from verification.checks.geometry_figures import plot_l35b_correlation

    return plot_l35b_correlation(path)


def _t34_singular_values(path: Path) -> Path:
    from verification.checks.geometry_figures import plot_t34_spectra

    return plot_t34_spectra(path)


def _t36_tail_energy(path: Path) -> Path:
    from verification.checks.eym_figures import plot_t36

    return plot_t36(path)


def _t37_decomposition(path: Path) -> Path:
    from verification.checks.eym_figures import plot_t37

    return plot_t37(path)


def _e17_pinto_vs_exact(path: Path) -> Path:
    from verification.checks.gc_figures import plot_e17

    return plot_e17(path)


def _e21_gap_comparison(path: Path) -> Path:
    from verification.checks.gc_figures import plot_e21

    return plot_e21(path)


#: file name -> function drawing it to a given path
FIGURES: dict[str, Callable[[Path], Path]] = {
    "E17_pinto_vs_exact.png": _e17_pinto_vs_exact,
    "E21_gap_comparison.png": _e21_gap_comparison,
    "F4_pac_bayes_lstm.png": _f4,
    "L3.5b_weight_correlation.png": _l35b_correlation,
    "T3.4_singular_values.png": _t34_singular_values,
    "T3.6_tail_energy.png": _t36_tail_energy,
    "T3.7_decomposition.png": _t37_decomposition,
}


def make_figures(out_dir: Path, *, progress: bool = True) -> list[Path]:
    """Draw every figure into ``out_dir`` (created if needed); return the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in tqdm(FIGURES.items(), desc="lrbnn figures", unit="fig", disable=not progress):
        written.append(draw(out_dir / name))
    return written


def figures_for_claim(claim_id: str) -> list[str]:
    """The registered figure file names that illustrate this claim."""
    return sorted(name for name in FIGURES if name.split("_", 1)[0] == claim_id)
