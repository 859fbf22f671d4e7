r"""Where low rank certifies tighter than mean field (issue 17): the table
``DIR/where_low_rank_wins.csv`` (:func:`where_low_rank_wins`, :func:`answer_csv`, columns
:data:`ANSWER_COLUMNS`) and its heat map ``where_low_rank_wins.png``
(:func:`plot_where_low_rank_wins`), drawn from the rows of ``results.csv``.

One table row per (prior mode, width) holding both low-rank and mean-field rows, in
:class:`~verification.sweep.SweepPrior` order, then by width. The certificate is the
kl-inverse one (``kl_inverse``). For seed :math:`s` of that group, with :math:`R` its ranks,

.. math::

    B_s = \min_{r \in R} C_{s,r}, \qquad \Delta_s = B_s - C_{s,MF},

where :math:`C_{s,r}` is the rank-:math:`r` certificate and :math:`C_{s,MF}` the mean-field
one; negative :math:`\Delta_s` means low rank is tighter. Choosing the best rank per seed is
paid for: every certificate of the sweep carries :math:`\ln K` nats for the whole grid (column
``penalty``), so the minimum over ranks still holds with the stated confidence. The table
reports the mean, smallest and largest :math:`B_s`, :math:`C_{s,MF}` and :math:`\Delta_s` over
the seeds that have both families, the rank that is best in the most seeds, and the test Gibbs
errors.

**At matched test error**: the same minimum over :math:`R_= = \{r \in R :
\overline{E}_r \le \overline{E}_{MF}\}` only, with :math:`\overline{E}` the mean over those
seeds of the test Gibbs error, so that a tighter certificate of a worse model does not count as a
win; blank when :math:`R_=` is empty.

Floats are repr-exact, lists ``;``-separated, ``\n`` line endings: the same results give the
same bytes.

References: issue 17; claim T3.8 of ``CLAIMS.md`` (the union bound over the grid).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verification.sweep.png import save_png
from verification.sweep.spec import SweepPrior

__all__ = [
    "ANSWER_COLUMNS",
    "WHERE_LOW_RANK_WINS",
    "WHERE_LOW_RANK_WINS_CSV",
    "answer_csv",
    "plot_where_low_rank_wins",
    "where_low_rank_wins",
]

#: file name of the table (in the sweep folder) and of the heat map (in ``figures/``)
WHERE_LOW_RANK_WINS_CSV = "where_low_rank_wins.csv"
WHERE_LOW_RANK_WINS = "where_low_rank_wins.png"

# The columns of where_low_rank_wins.csv, in this order. "Over seeds": over the seeds of the
# group that have a mean-field row and at least one low-rank row. Certificates are kl_inverse.
ANSWER_COLUMNS: tuple[str, ...] = (
    # the prior mode (a SweepPrior value, as in results.csv's `prior` column)
    "prior",
    # hidden width
    "width",
    # seeds over which the row is computed (';'-separated)
    "seeds",
    # ranks of the group's low-rank rows (';'-separated)
    "ranks",
    # B_s = min over ranks of seed s's low-rank certificate: mean, min and max over seeds
    "best_low_rank_mean",
    "best_low_rank_min",
    "best_low_rank_max",
    # the rank attaining B_s in the most seeds (ties: the smallest rank; within a seed, ties of
    # the certificate also go to the smallest rank), and in how many seeds it does
    "winning_rank",
    "winning_rank_seeds",
    # the mean-field certificate C_{s,MF}: mean, min and max over seeds
    "mean_field_mean",
    "mean_field_min",
    "mean_field_max",
    # Delta_s = B_s - C_{s,MF} (negative: low rank tighter): mean, min and max over seeds
    "difference_mean",
    "difference_min",
    "difference_max",
    # seeds in which Delta_s < 0
    "low_rank_tighter_seeds",
    # test Gibbs error of seed s's best-rank row, mean over seeds
    "best_low_rank_test_gibbs_error",
    # test Gibbs error of the mean-field rows, mean over seeds
    "mean_field_test_gibbs_error",
    # the ranks whose mean test Gibbs error over seeds is <= the mean field's (';'-separated;
    # blank when none is)
    "matched_ranks",
    # the columns above restricted to matched_ranks (blank when matched_ranks is blank):
    # min over matched ranks of seed s's certificate, mean over seeds
    "matched_best_low_rank_mean",
    # the matched rank best in the most seeds (ties as winning_rank)
    "matched_winning_rank",
    # matched best minus C_{s,MF}: mean, min and max over seeds
    "matched_difference_mean",
    "matched_difference_min",
    "matched_difference_max",
)

#: the certificate compared, a column of results.csv
_CERTIFICATE = "kl_inverse"
_TEST_ERROR = "test_gibbs_error"
#: smallest half-range of the heat map's colours: differences under one percentage point of
#: risk stay pale instead of a rounding-level difference taking the darkest colour
_MIN_SPAN = 0.01


def _mean(values: Sequence[float]) -> float:
    # fsum: the mean does not depend on the order of the seeds
    return math.fsum(values) / len(values)


def _best(by_rank: dict[int, float], ranks: Sequence[int]) -> tuple[int, float]:
    """The smallest certificate among ``ranks`` and its rank (ties: the smallest rank)."""
    rank = min(ranks, key=lambda k: (by_rank[k], k))
    return rank, by_rank[rank]


def _most_often(winners: Sequence[int]) -> tuple[int, int]:
    rank = min(set(winners), key=lambda k: (-winners.count(k), k))
    return rank, winners.count(rank)


def _group_row(mode: str, width: int, group: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    mf = {int(r["seed"]): r for r in group if r["family"] == "mean_field"}
    low: dict[int, dict[int, dict[str, Any]]] = {}
    for r in group:
        if r["family"] == "low_rank":
            low.setdefault(int(r["seed"]), {})[int(r["rank"])] = r
    seeds = sorted(set(mf) & set(low))
    if not seeds:
        return None
    ranks = sorted({k for s in seeds for k in low[s]})
    cert = {s: {k: float(r[_CERTIFICATE]) for k, r in low[s].items()} for s in seeds}
    c_mf = [float(mf[s][_CERTIFICATE]) for s in seeds]
    best = [_best(cert[s], sorted(cert[s])) for s in seeds]
    diff = [b - c for (_, b), c in zip(best, c_mf, strict=True)]
    winner, wins = _most_often([k for k, _ in best])
    e_mf = _mean([float(mf[s][_TEST_ERROR]) for s in seeds])
    e_rank = {
        k: _mean([float(low[s][k][_TEST_ERROR]) for s in seeds if k in low[s]]) for k in ranks
    }
    row: dict[str, Any] = dict.fromkeys(ANSWER_COLUMNS)
    row.update(
        prior=mode,
        width=width,
        seeds=seeds,
        ranks=ranks,
        best_low_rank_mean=_mean([b for _, b in best]),
        best_low_rank_min=min(b for _, b in best),
        best_low_rank_max=max(b for _, b in best),
        winning_rank=winner,
        winning_rank_seeds=wins,
        mean_field_mean=_mean(c_mf),
        mean_field_min=min(c_mf),
        mean_field_max=max(c_mf),
        difference_mean=_mean(diff),
        difference_min=min(diff),
        difference_max=max(diff),
        low_rank_tighter_seeds=sum(d < 0 for d in diff),
        best_low_rank_test_gibbs_error=_mean(
            [float(low[s][k][_TEST_ERROR]) for s, (k, _) in zip(seeds, best, strict=True)]
        ),
        mean_field_test_gibbs_error=e_mf,
    )
    matched = [k for k in ranks if e_rank[k] <= e_mf]
    # a seed without any matched rank has no matched certificate: only seeds with one count
    usable = [(s, c) for s, c in zip(seeds, c_mf, strict=True) if set(matched) & set(cert[s])]
    if matched and usable:
        m_best = [_best(cert[s], sorted(set(matched) & set(cert[s]))) for s, _ in usable]
        m_diff = [b - c for (_, b), (_, c) in zip(m_best, usable, strict=True)]
        row.update(
            matched_ranks=matched,
            matched_best_low_rank_mean=_mean([b for _, b in m_best]),
            matched_winning_rank=_most_often([k for k, _ in m_best])[0],
            matched_difference_mean=_mean(m_diff),
            matched_difference_min=min(m_diff),
            matched_difference_max=max(m_diff),
        )
    return row


def where_low_rank_wins(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The table's rows (dicts keyed by :data:`ANSWER_COLUMNS`; blank cells are ``None``) from
    parsed ``results.csv`` rows (module docstring); empty when no (prior mode, width) has both
    families.

    Examples
    --------
    >>> def row(family, rank, seed, cert, err):
    ...     return {"prior": "init", "width": 8, "family": family, "rank": rank, "seed": seed,
    ...             "kl_inverse": cert, "test_gibbs_error": err}
    >>> rows = [row("low_rank", 1, 0, 0.5, 0.25), row("low_rank", 2, 0, 0.375, 0.5),
    ...         row("mean_field", None, 0, 0.625, 0.25)]
    >>> (table,) = where_low_rank_wins(rows)
    >>> table["winning_rank"], table["difference_mean"], table["matched_difference_mean"]
    (2, -0.25, -0.125)
    """
    table = []
    for mode in SweepPrior:
        at = [r for r in rows if r["prior"] == mode.value]
        for width in sorted({int(r["width"]) for r in at}):
            row = _group_row(mode.value, width, [r for r in at if int(r["width"]) == width])
            if row is not None:
                table.append(row)
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(_cell(v) for v in value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a where_low_rank_wins cell is not finite: {value!r}")
        return repr(value)
    return str(value)


def answer_csv(table: Sequence[dict[str, Any]]) -> bytes:
    """The bytes of ``where_low_rank_wins.csv``: header :data:`ANSWER_COLUMNS`, one line per
    row of :func:`where_low_rank_wins`, ``\\n`` endings."""
    from verification.sweep.columns import table_csv

    return table_csv(ANSWER_COLUMNS, table, _cell)


def plot_where_low_rank_wins(
    table: Sequence[dict[str, Any]], path: Path, *, title: str
) -> Path | None:
    """Draw the heat map of ``difference_mean`` over prior mode (rows) x width (columns):
    diverging colours centred at 0 (blue: low rank tighter), each cell annotated with the
    difference, both certificates (low rank vs mean field), the winning rank and the difference
    at matched test error (grey: no row);
    ``None`` for an empty table."""
    if not table:
        return None
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    modes = [m.value for m in SweepPrior if any(r["prior"] == m.value for r in table)]
    widths = sorted({int(r["width"]) for r in table})
    cells = {(r["prior"], int(r["width"])): r for r in table}
    grid = np.full((len(modes), len(widths)), np.nan)
    for (mode, width), r in cells.items():
        grid[modes.index(mode), widths.index(width)] = r["difference_mean"]
    # symmetric limits centre the diverging map at 0
    span = max(float(np.nanmax(np.abs(grid))), _MIN_SPAN)
    fig = Figure(
        figsize=(max(7.0, 1.8 * len(widths) + 3.0), 1.1 * len(modes) + 2.0), layout="constrained"
    )
    ax = fig.subplots()
    # grey, not the centre's white: a (mode, width) without both families is not a tie
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.8")
    image = ax.imshow(grid, cmap=cmap, norm=Normalize(-span, span), aspect="auto")
    for (mode, width), r in cells.items():
        i, j = modes.index(mode), widths.index(width)
        matched = r["matched_difference_mean"]
        lines = [
            f"{r['difference_mean']:+.3g}",
            # the levels: a difference between two vacuous certificates is no win
            f"{r['best_low_rank_mean']:.3f} vs {r['mean_field_mean']:.3f}",
            f"rank {r['winning_rank']} ({r['winning_rank_seeds']}/{len(r['seeds'])} seeds)",
            "matched: none" if matched is None else f"matched: {matched:+.3g}",
        ]
        dark = abs(r["difference_mean"]) > 0.6 * span
        ax.text(j, i, "\n".join(lines), ha="center", va="center", fontsize="x-small",
                color="white" if dark else "black")  # fmt: skip
    for i, j in zip(*np.nonzero(np.isnan(grid)), strict=True):
        ax.text(j, i, "no mean field\nor low rank", ha="center", va="center", fontsize="x-small")
    ax.set_xticks(range(len(widths)), [str(w) for w in widths])
    ax.set_yticks(range(len(modes)), [m.replace("_", "-") for m in modes])
    ax.set_xlabel("width")
    ax.set_ylabel("prior mode")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label("best low rank - mean field\n(kl-inverse certificate; < 0: low rank tighter)")
    ax.set_title(title, fontsize="medium")
    return save_png(fig, path)
