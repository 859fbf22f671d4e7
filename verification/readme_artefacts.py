"""The readers of the README's committed artefacts (issue 19): each returns the numbers of one
README sentence (formatted as the README writes them) or one table, read from a CSV or JSON file
under the repository root. The sentences and sections are :mod:`verification.readme_numbers`'."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

__all__ = [
    "CERTS",
    "COMPARE",
    "EXAMPLES",
    "PAPER",
    "SWEEP",
    "SWEEP_ANSWER",
    "bernstein",
    "best_minus_pbb",
    "compare_ratios",
    "compare_table",
    "compare_time_ratio",
    "default_answer",
    "default_excess",
    "default_sweep",
    "digits_data_free",
    "examples_prose",
    "examples_table",
    "lstm_prose",
    "lstm_table",
    "mixture_kl",
    "paper_digits",
    "paper_mnist1d",
    "pbb_table",
    "premise",
]


def _rows(root: Path, rel: str) -> list[dict[str, str]]:
    with (root / rel).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _by(root: Path, rel: str, key: str) -> dict[str, dict[str, str]]:
    return {r[key]: r for r in _rows(root, rel)}


def _answer(root: Path, rel: str) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["prior"], r["width"]): r for r in _rows(root, rel)}


def _f(value: str | float, places: int) -> str:
    return f"{float(value):.{places}f}"


def _signed(value: str | float, places: int) -> str:
    return f"{float(value):+.{places}f}"


SWEEP = "figures/sweep_results.csv"
SWEEP_ANSWER = "figures/sweep_where_low_rank_wins.csv"
PAPER = "figures/sweep_paper_{}_where_low_rank_wins.csv"


def default_sweep(root: Path) -> list[str]:
    rows = _by(root, SWEEP, "point_id")
    coarse = [float(r["kl_inverse"]) for r in rows.values() if r["rank"] in ("1", "2", "4")]
    best = [rows[f"w128-s{s}-{k}"] for k in ("r32", "mf") for s in (0, 1)]
    gibbs = [float(r["test_gibbs_error"]) for r in best]
    return [
        _f(rows["w128-s0-r32"]["kl_inverse"], 3),
        _f(rows["w128-s1-r32"]["kl_inverse"], 3),
        _f(rows["w128-s0-mf"]["kl_inverse"], 3),
        _f(rows["w128-s1-mf"]["kl_inverse"], 3),
        _f(min(gibbs), 2),
        _f(max(gibbs), 2),
        _f(rows["w128-s0-r16"]["kl_inverse"], 3),
        _f(rows["w128-s1-r16"]["kl_inverse"], 3),
        _f(min(coarse), 2),
        _f(max(coarse), 2),
    ]


def default_excess(root: Path) -> list[str]:
    rows = [r for r in _rows(root, SWEEP) if r["family"] == "low_rank" and r["measured_ratio"]]
    excess = [float(r["measured_ratio"]) / float(r["predicted_ratio"]) for r in rows]
    return [_f(min(excess), 1), _f(max(excess), 1)]


def default_answer(root: Path) -> list[str]:
    table = _answer(root, SWEEP_ANSWER)
    w64, w128 = table["data_dependent", "64"], table["data_dependent", "128"]
    return [
        _signed(w64["difference_mean"], 3),
        w64["winning_rank"],
        _signed(w128["difference_mean"], 3),
        w128["winning_rank"],
    ]


def paper_mnist1d(root: Path) -> list[str]:
    t = _answer(root, PAPER.format("mnist1d"))
    dd = [t["data_dependent", w] for w in ("64", "256", "1024")]
    init = t["init", "1024"]
    mix = [t["scale_mixture", w] for w in ("64", "256", "1024")]
    return [
        _signed(dd[0]["difference_mean"], 3),
        _signed(dd[1]["difference_mean"], 3),
        _signed(dd[2]["difference_mean"], 3),
        _f(dd[2]["best_low_rank_mean"], 3),
        _f(dd[2]["mean_field_mean"], 3),
        _f(-float(init["difference_mean"]), 3),
        _f(init["best_low_rank_mean"], 3),
        _f(init["mean_field_mean"], 3),
        _f(init["best_low_rank_test_gibbs_error"], 2),
        _f(min(float(r[k]) for r in mix for k in ("best_low_rank_min", "mean_field_min")), 3),
    ]


def paper_digits(root: Path) -> list[str]:
    t = _answer(root, PAPER.format("digits"))
    dd = t["data_dependent", "1024"]
    return [
        _signed(dd["difference_mean"], 3),
        _f(dd["best_low_rank_test_gibbs_error"], 3),
        _f(dd["mean_field_test_gibbs_error"], 3),
    ]


def premise(root: Path) -> list[str]:
    """T3.8p on the paper sweeps (:func:`~verification.claims.trained.premise_sweep.
    premise_by_prior`): rho_mean's range under data-dependent priors, then the measured /
    predicted complexity ratio's range under data-dependent priors and the scale mixture."""
    from verification.claims.trained.premise import PREMISE_BAND
    from verification.claims.trained.premise_sweep import PAPER_SWEEP_FILES, premise_by_prior

    m, d = (premise_by_prior(_rows(root, PAPER_SWEEP_FILES[k]), PREMISE_BAND) for k in
            ("mnist1d", "digits"))  # fmt: skip
    return [
        _f(m["data_dependent"]["rho_mean"][0], 1),
        _f(m["data_dependent"]["rho_mean"][1], 0),
        _f(d["data_dependent"]["rho_mean"][1], 0),
        *(_f(v, 1) for v in m["data_dependent"]["excess"]),
        *(_f(v, 1) for v in d["data_dependent"]["excess"]),
        *(_f(v, 1) for v in m["scale_mixture"]["excess"]),
        *(_f(v, 1) for v in d["scale_mixture"]["excess"]),
    ]


def mixture_kl(root: Path) -> list[str]:
    from verification.claims.trained.premise_sweep import PAPER_SWEEP_FILES

    rows = _rows(root, PAPER_SWEEP_FILES["mnist1d"])
    kls = [float(r["kl"]) for r in rows if r["prior"] == "scale_mixture" and r["width"] == "1024"
           and r["family"] == "mean_field"]  # fmt: skip
    return [_f(max(kls) / 1e6, 1)]


def digits_data_free(root: Path) -> list[str]:
    t = _answer(root, PAPER.format("digits"))
    free = [r for (prior, _), r in t.items() if prior != "data_dependent"]
    values = [float(r[k]) for r in free for k in ("best_low_rank_mean", "mean_field_mean")]
    return [_f(min(values), 2), _f(max(values), 2)]


EXAMPLES = "figures/examples.csv"


def _examples(root: Path) -> dict[tuple[str, str], object]:
    from lrbnn_core.examples import read_csv, summarise

    return {(e.example, e.kind): e for e in summarise(read_csv(root / EXAMPLES))}


def examples_table(root: Path) -> str:
    """What ``python -m lrbnn_core.examples --from-csv figures/examples.csv`` prints."""
    from lrbnn_core.examples import format_table, read_csv

    return format_table(read_csv(root / EXAMPLES))


def examples_prose(root: Path) -> list[str]:
    e: dict[tuple[str, str], Any] = _examples(root)
    acc = {k: v.accuracy[0] for k, v in e.items()}
    names = {"mlp_digits": "MLP on digits", "mlp_mnist1d": "MLP on MNIST-1D",
             "lstm_mnist1d": "LSTM", "transformer_mnist1d": "Transformer"}  # fmt: skip
    kinds = {"low_rank": "low-rank", "mean_field": "mean-field"}
    gaps = [
        (acc[ex, "deterministic"] - acc[ex, kind], f"{kinds[kind]} {names[ex]}")
        for ex in names
        for kind in kinds
    ]
    gap, who = max(gaps)
    # the largest gap either way, rounded up to whole points: "within N points"
    bound = math.ceil(100 * max(abs(g) for g, _ in gaps))
    return [
        _f(acc["mlp_mnist1d", "deterministic"], 3),
        _f(acc["lstm_mnist1d", "deterministic"], 3),
        _f(acc["transformer_mnist1d", "deterministic"], 3),
        str(bound),
        who,
        _f(100 * gap, 1),
        _f(acc["mlp_mnist1d", "low_rank"], 3),
        _f(acc["mlp_mnist1d", "mean_field"], 3),
    ]


CERTS = "figures/certificates_{}.csv"
#: the PBB comparison's runs (``python -m lrbnn_core.pbb ... --csv``), by table label
_PBB_RUNS = {
    "MNIST-1D, seed 0": "pbb_mnist1d_s0",
    "MNIST-1D, seed 1": "pbb_mnist1d_s1",
    "digits, seed 0": "pbb_digits_s0",
}


def _runs(root: Path, name: str) -> list[dict[str, str]]:
    from lrbnn_core.run_table import read_runs_csv

    return read_runs_csv(root / CERTS.format(name))


def _recipe(r: dict[str, str]) -> str:
    if r["family"] == "pbb":
        return f"PBB, sigma = {float(r['prior_scale']):g}"
    return "ours, mean-field" if r["family"] == "mean_field" else f"ours, low rank r = {r['rank']}"


def _bold_best(rows: list[dict[str, str]]) -> list[str]:
    best = min(float(r["kl_inverse"]) for r in rows)
    return [
        f"**{_f(r['kl_inverse'], 3)}**"
        if float(r["kl_inverse"]) == best
        else _f(r["kl_inverse"], 3)
        for r in rows
    ]


def pbb_table(root: Path) -> str:
    """The README's table of ours against PBB, from the ``pbb --csv`` runs."""
    lines = [
        "| dataset, seed | recipe | kl-inverse certificate | test Gibbs error | KL (nats) |",
        "|---|---|---|---|---|",
    ]
    for label, name in _PBB_RUNS.items():
        rows = _runs(root, name)
        for r, cert in zip(rows, _bold_best(rows), strict=True):
            gibbs, kl = _f(r["test_gibbs_error"], 3), _f(r["kl"], 2)
            lines.append(f"| {label} | {_recipe(r)} | {cert} | {gibbs} | {kl} |")
    return "\n".join(lines)


def lstm_table(root: Path) -> str:
    """The README's LSTM certificates, from the ``certified_training --arch lstm --csv`` run."""
    rows = _runs(root, "lstm")
    lines = [
        "| model | kl-inverse certificate | test Gibbs error | KL (nats) | params |",
        "|---|---|---|---|---|",
    ]
    for r, cert in zip(rows, _bold_best(rows), strict=True):
        model = _recipe(r).removeprefix("ours, ")
        lines.append(
            f"| {model} | {cert} | {_f(r['test_gibbs_error'], 3)} | {_f(r['kl'], 1)} | "
            f"{int(r['params']):,} |"
        )
    return "\n".join(lines)


def best_minus_pbb(root: Path) -> list[str]:
    out = []
    for name in _PBB_RUNS.values():
        rows = _runs(root, name)
        pbb = min(float(r["kl_inverse"]) for r in rows if r["family"] == "pbb")
        ours = min(float(r["kl_inverse"]) for r in rows if r["family"] != "pbb")
        out.append(_signed(ours - pbb, 3))
    return out


def bernstein(root: Path) -> list[str]:
    kl, bern = _runs(root, "pbb_mnist1d_s0"), _runs(root, "pbb_mnist1d_s0_bernstein")
    pairs = []
    for key in (("pbb", ""), ("low_rank", "64"), ("mean_field", "")):
        a, b = (next(r for r in rows if (r["family"], r["rank"]) == key) for rows in (kl, bern))
        pairs += [_f(a["kl_inverse"], 3), _f(b["kl_inverse"], 3)]
    return pairs


def lstm_prose(root: Path) -> list[str]:
    rows = {(r["family"], r["rank"]): r for r in _runs(root, "lstm")}
    mf, r32 = rows["mean_field", ""], rows["low_rank", "32"]
    share = 100 * int(r32["params"]) / int(mf["params"])
    return [
        _f(mf["kl_inverse"], 3),
        _f(mf["test_gibbs_error"], 3),
        _f(r32["kl_inverse"], 3),
        _f(r32["test_gibbs_error"], 3),
        f"{share:.0f}",
    ]


COMPARE = "figures/compare_summary.csv"
#: the README's compare table: (column title, summary metric, decimals); the primary metric
#: (accuracy or MAE) and the calibration column (ECE; PICP for regression) depend on the task
_COMPARE_COLUMNS = (
    ("NLL", "nll", 3),
    ("ECE", "ece", 3),
    ("OOD AUROC", "ood_auroc", 3),
)


def _pm(row: dict[str, str], metric: str, places: int) -> str:
    mean, std = row[f"{metric}_mean"], row[f"{metric}_std"]
    return f"{float(mean):.{places}f} ± {float(std or 0):.{places}f}"


def compare_table(root: Path) -> str:
    """The README's table of ``lrbnn compare --profile full``: one row per task and family,
    mean ± std over the seeds (``figures/compare_summary.csv``)."""
    rows = _rows(root, COMPARE)
    lines = [
        "| task | family | accuracy / MAE | NLL | ECE | PICP | OOD AUROC | params | s/epoch "
        "| peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        primary = "accuracy" if r["accuracy_mean"] else "mae"
        picp = _pm(r, "picp", 3) if r["picp_mean"] else "-"
        cells = [_pm(r, m, p) for _, m, p in _COMPARE_COLUMNS]
        lines.append(
            f"| {r['task']} | {r['family']} | {_pm(r, primary, 3)} | {cells[0]} | {cells[1]} "
            f"| {picp} | {cells[2]} | {float(r['params_mean']):,.0f} "
            f"| {float(r['seconds_per_epoch_mean']):.3f} | {float(r['peak_memory_mb_mean']):.2f} |"
        )
    return "\n".join(lines)


def _compare_by(root: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["task"], r["family"]): r for r in _rows(root, COMPARE)}


def compare_ratios(root: Path) -> list[str]:
    """The smallest and largest deep-ensemble / low-rank parameter ratio over the tasks."""
    rows = _compare_by(root)
    tasks = dict.fromkeys(task for task, _ in rows)
    ratios = [
        float(rows[(t, "deep_ensemble")]["params_mean"])
        / float(rows[(t, "low_rank")]["params_mean"])
        for t in tasks
    ]
    return [_f(min(ratios), 1), _f(max(ratios), 1)]


def compare_time_ratio(root: Path) -> list[str]:
    """Low rank's time per epoch over the deterministic model's, on the Transformer task."""
    rows = _compare_by(root)
    lr, det = (rows[("transformer_mnist1d", f)] for f in ("low_rank", "deterministic"))
    return [_f(float(lr["seconds_per_epoch_mean"]) / float(det["seconds_per_epoch_mean"]), 2)]
