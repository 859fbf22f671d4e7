r"""What the committed paper-profile sweeps say about claim T3.8p (issue 17): the per-layer
ratios :math:`\rho_{mean} = \bar C^{LR}_l / \bar C^{MF}_l` of every certified low-rank posterior
of ``lrbnn sweep --profile paper`` (``figures/sweep_paper_<dataset>.csv``), summarised per prior
mode, and cited in T3.8p's evidence.

This is ours, not the paper's, and it does not decide the verdict: T3.8p's rule is applied to
its own trainings (:mod:`verification.claims.trained.premise`). The sweep measures the same
quantity on posteriors trained on a PAC-Bayes bound (not an ELBO) at widths 64 to 1024, read
from the committed CSV (not re-run by ``lrbnn check``: the sweep takes about 25 minutes).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["PAPER_SWEEP_FILES", "paper_sweep_note", "premise_by_prior"]

#: The committed paper-profile results, by data set (relative to the repository root).
PAPER_SWEEP_FILES: dict[str, str] = {
    "mnist1d": "figures/sweep_paper_mnist1d.csv",
    "digits": "figures/sweep_paper_digits.csv",
}
#: The repository root (where ``figures/`` lives) of this checkout.
_ROOT = Path(__file__).resolve().parents[3]


def _floats(cell: str) -> list[float]:
    return [float(v) for v in cell.split(";")] if cell else []


def premise_by_prior(rows: Iterable[dict[str, str]], band: float) -> dict[str, dict[str, Any]]:
    r"""Per prior mode, over the low-rank rows of a sweep's ``results.csv`` (as read by
    :class:`csv.DictReader`) whose per-layer ratios are defined: the number of (row, layer)
    pairs, how many have :math:`\rho_{mean}` and :math:`\rho_{max}` both in ``[1/band, band]``
    (T3.8p's rule, layer by layer), the smallest and largest :math:`\rho_{mean}`, and the
    smallest and largest network-level ``measured_ratio / predicted_ratio``.

    Examples
    --------
    >>> rows = [{"family": "low_rank", "prior": "init", "layer_kl_per_coord_ratio": "1.5;3",
    ...          "layer_kl_per_coord_max_ratio": "1;1", "predicted_ratio": "0.5",
    ...          "measured_ratio": "0.6"}]
    >>> s = premise_by_prior(rows, 2.0)["init"]
    >>> s["pairs"], s["inside"], s["rho_mean"], round(s["excess"][0], 6)
    (2, 1, (1.5, 3.0), 1.2)
    """
    if not (isinstance(band, (int, float)) and band > 1.0):
        raise ValueError(f"`band` must be a number > 1; got {band!r}")
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"pairs": 0, "inside": 0, "means": [], "excess": []}
    )
    for row in rows:
        mean = _floats(row.get("layer_kl_per_coord_ratio", ""))
        peak = _floats(row.get("layer_kl_per_coord_max_ratio", ""))
        if row.get("family") != "low_rank" or not mean:
            continue
        if len(peak) != len(mean):
            raise ValueError(
                f"row {row.get('point_id', '?')!r}: {len(mean)} rho_mean but {len(peak)} rho_max"
            )
        entry = acc[row["prior"]]
        for m, p in zip(mean, peak, strict=True):
            entry["pairs"] += 1
            entry["inside"] += int(all(1.0 / band <= v <= band for v in (m, p)))
        entry["means"] += mean
        if row.get("predicted_ratio") and row.get("measured_ratio"):
            entry["excess"].append(float(row["measured_ratio"]) / float(row["predicted_ratio"]))
    out = {}
    for prior, entry in acc.items():
        excess = entry["excess"]
        out[prior] = {
            "pairs": entry["pairs"],
            "inside": entry["inside"],
            "rho_mean": (min(entry["means"]), max(entry["means"])),
            "excess": (min(excess), max(excess)) if excess else (math.nan, math.nan),
        }
    return out


def paper_sweep_note(band: float, root: Path | None = None) -> str:
    """The sentence T3.8p's evidence cites: per data set with a committed paper-profile sweep,
    per prior mode, :func:`premise_by_prior`; says so when no sweep is committed."""
    base = _ROOT if root is None else Path(root)
    parts = []
    for dataset, rel in PAPER_SWEEP_FILES.items():
        path = base / rel
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as f:
            summary = premise_by_prior(csv.DictReader(f), band)
        texts = [
            f"{prior.replace('_', '-')}: rho_mean {s['rho_mean'][0]:.2f} to "
            f"{s['rho_mean'][1]:.2f}, "
            f"{s['inside']} of {s['pairs']} layers inside the band, measured / predicted "
            f"complexity ratio {s['excess'][0]:.2f} to {s['excess'][1]:.2f}"
            for prior, s in summary.items()
        ]
        parts.append(f"{dataset} ({rel}): " + "; ".join(texts))
    if not parts:
        return "No paper-profile sweep is committed (lrbnn sweep --profile paper)."
    return (
        "Also measured (ours, cited, not part of the rule; lrbnn sweep --profile paper, "
        "posteriors trained on the kl-bound and certified, widths 64 to 1024, ranks 4 to 32, "
        "per layer against the mean-field posterior of the same width, seed and prior): "
        + ". ".join(parts)
        + "."
    )
