r"""The README's result numbers and the committed artefacts they come from (issue 19).

Each :class:`Quote` is a README sentence with ``{}`` where its numbers go, the artefact they are
read from (a CSV or ``paper_checks.md``, written by the command :data:`REGENERATE` names) and the
function that reads and formats them. ``tests/test_readme_numbers.py`` formats every quote from
the committed artefacts and requires the README to contain it (white space aside), and requires
every decimal number of a :data:`COVERED` section to be one a quote produced, or a setting of
:data:`SETTINGS`: a number typed into the README by hand cannot drift from its artefact
unnoticed. Sections whose artefacts are not committed yet are listed in :data:`PENDING`.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BLOCKS",
    "COVERED",
    "PENDING",
    "QUOTES",
    "REGENERATE",
    "ROWS_ARTEFACT",
    "ROW_SECTIONS",
    "SETTINGS",
    "Quote",
    "claim_rows",
    "decimals",
    "examples_table",
    "normalise",
    "sections",
    "untraced",
]

#: The one command that regenerates every artefact below (Makefile).
REGENERATE = "make readme-assets"


@dataclass(frozen=True)
class Quote:
    """A README sentence (``template``, ``{}`` per number) in ``section`` (a ``##`` heading's
    text), its numbers read by ``numbers`` from the repository root's ``artefact``."""

    section: str
    template: str
    artefact: str
    numbers: Callable[[Path], list[str]]

    def text(self, root: Path) -> str:
        """The sentence with its numbers from the committed artefact."""
        return self.template.format(*self.numbers(root))


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


_SWEEP = "figures/sweep_results.csv"
_SWEEP_ANSWER = "figures/sweep_where_low_rank_wins.csv"
_PAPER = "figures/sweep_paper_{}_where_low_rank_wins.csv"
_ANSWER_HEADING = "Where does low rank certify tighter? (the sweep's answer)"
_QUICK_HEADING = "Quick start (fresh machine)"


def _default_sweep(root: Path) -> list[str]:
    rows = _by(root, _SWEEP, "point_id")
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


def _default_excess(root: Path) -> list[str]:
    rows = [r for r in _rows(root, _SWEEP) if r["family"] == "low_rank" and r["measured_ratio"]]
    excess = [float(r["measured_ratio"]) / float(r["predicted_ratio"]) for r in rows]
    return [_f(min(excess), 1), _f(max(excess), 1)]


def _default_answer(root: Path) -> list[str]:
    table = _answer(root, _SWEEP_ANSWER)
    w64, w128 = table["data_dependent", "64"], table["data_dependent", "128"]
    return [
        _signed(w64["difference_mean"], 3),
        w64["winning_rank"],
        _signed(w128["difference_mean"], 3),
        w128["winning_rank"],
    ]


def _paper_mnist1d(root: Path) -> list[str]:
    t = _answer(root, _PAPER.format("mnist1d"))
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


def _paper_digits(root: Path) -> list[str]:
    t = _answer(root, _PAPER.format("digits"))
    dd = t["data_dependent", "1024"]
    return [
        _signed(dd["difference_mean"], 3),
        _f(dd["best_low_rank_test_gibbs_error"], 3),
        _f(dd["mean_field_test_gibbs_error"], 3),
    ]


def _premise(root: Path) -> list[str]:
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


def _mixture_kl(root: Path) -> list[str]:
    from verification.claims.trained.premise_sweep import PAPER_SWEEP_FILES

    rows = _rows(root, PAPER_SWEEP_FILES["mnist1d"])
    kls = [float(r["kl"]) for r in rows if r["prior"] == "scale_mixture" and r["width"] == "1024"
           and r["family"] == "mean_field"]  # fmt: skip
    return [_f(max(kls) / 1e6, 1)]


def _digits_data_free(root: Path) -> list[str]:
    t = _answer(root, _PAPER.format("digits"))
    free = [r for (prior, _), r in t.items() if prior != "data_dependent"]
    values = [float(r[k]) for r in free for k in ("best_low_rank_mean", "mean_field_mean")]
    return [_f(min(values), 2), _f(max(values), 2)]


_EXAMPLES = "figures/examples.csv"
_MODELS_HEADING = "Models (`lrbnn_core`)"


def _examples(root: Path) -> dict[tuple[str, str], object]:
    from lrbnn_core.examples import read_csv, summarise

    return {(e.example, e.kind): e for e in summarise(read_csv(root / _EXAMPLES))}


def examples_table(root: Path) -> str:
    """What ``python -m lrbnn_core.examples --from-csv figures/examples.csv`` prints."""
    from lrbnn_core.examples import format_table, read_csv

    return format_table(read_csv(root / _EXAMPLES))


def _examples_prose(root: Path) -> list[str]:
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


#: README blocks printed by a command from a committed artefact: (section, artefact, what the
#: command prints), compared line for line by the test
BLOCKS: tuple[tuple[str, str, Callable[[Path], str]], ...] = (
    (_MODELS_HEADING, _EXAMPLES, examples_table),
)

QUOTES: tuple[Quote, ...] = (
    Quote(
        _ANSWER_HEADING,
        "kl-inverse certificate (rank 32) against mean-field's is {} at width 64 (tighter at one "
        "seed of two: a tie), {} at width 256 and {} at width 1024 ({} against {}), tighter at "
        "both seeds and also at matched test error",
        _PAPER.format("mnist1d"),
        lambda root: _paper_mnist1d(root)[:5],
    ),
    Quote(
        _ANSWER_HEADING,
        "low rank is {} tighter at width 1024 ({} against {}, both seeds), at a test Gibbs error "
        "of {} (the posteriors hardly leave the random network); under the paper's scale mixture "
        "both are {} or more",
        _PAPER.format("mnist1d"),
        lambda root: _paper_mnist1d(root)[5:],
    ),
    Quote(
        _ANSWER_HEADING,
        "the data-dependent gap is smaller ({} at width 1024, both seeds) and vanishes at matched "
        "test error (the low-rank models are less accurate there: test Gibbs error {} against {})",
        _PAPER.format("digits"),
        _paper_digits,
    ),
    Quote(
        _ANSWER_HEADING,
        "(mean-field's KL reaches {} million nats at width 1024)",
        "figures/sweep_paper_mnist1d.csv",
        _mixture_kl,
    ),
    Quote(
        _ANSWER_HEADING,
        "the data-free priors are near-vacuous again ({} to {})",
        _PAPER.format("digits"),
        _digits_data_free,
    ),
    Quote(
        _ANSWER_HEADING,
        "under data-dependent priors the low-rank posteriors pay {} to {} times mean-field's KL "
        "per coordinate on MNIST-1D (up to {} on digits), so the measured complexity ratio is {} "
        "to {} times the predicted one ({} to {} on digits); under the scale mixture it is {} to "
        "{} times ({} to {} on digits)",
        "figures/sweep_paper_mnist1d.csv and figures/sweep_paper_digits.csv",
        _premise,
    ),
    Quote(
        _QUICK_HEADING,
        "(default sweep: {} at width 64, rank {} winning at one seed; {} at width 128, rank {} "
        "winning at both seeds)",
        _SWEEP_ANSWER,
        _default_answer,
    ),
    Quote(
        _QUICK_HEADING,
        "The tightest is low rank: r = 32 at width 128 certifies {} (seed 0; {} at seed 1) "
        "against {} ({}) for the mean-field baseline of the same width, at test Gibbs errors of "
        "{} to {}; r = 16 is within 0.01 of the baseline ({}, {}), and ranks 1 to 4 are too "
        "coarse for MNIST-1D ({} to {}).",
        _SWEEP,
        _default_sweep,
    ),
    Quote(
        _MODELS_HEADING,
        "Every deterministic model reaches its published anchor (MLP {} against MNIST-1D's 0.68, "
        "LSTM {} against the GRU's 0.91, Transformer {} against 0.85), and every Bayesian model "
        "lands within {} points of its deterministic twin (the largest gap: the {}, {} points "
        "below); on MNIST-1D's MLP the low-rank model reaches {} and mean-field {}.",
        _EXAMPLES,
        _examples_prose,
    ),
    Quote(
        _QUICK_HEADING,
        "The measured complexity ratio sqrt(KL_LR / KL_MF) lies above the predicted "
        "sqrt(r(m+n)/(mn)) at every rank, by {}x to {}x",
        _SWEEP,
        _default_excess,
    ),
)

#: Sections whose every decimal number must come from a quote or be a setting.
COVERED: tuple[str, ...] = (_ANSWER_HEADING,)

#: Sections whose numbers still wait for a committed artefact, and why (issue 19, open).
PENDING: dict[str, str] = {
    _QUICK_HEADING: "the workers benchmark's 0.57 (benchmarks/bench_sweep_workers.py writes no "
    "file yet) beside the sweep's quoted numbers and its settings",
    "Using the theory": "kl-inverse timings (benchmarks/bench_kl_inverse.py writes no file yet)",
    "Models (`lrbnn_core`)": "benchmark timings; the examples' prose beside figures/examples.csv",
    "Certificates for trained models": "certified_training and pbb runs write no file yet",
}

#: Decimal numbers of covered sections that are settings (chosen, not measured), per section.
SETTINGS: dict[str, frozenset[str]] = {
    _ANSWER_HEADING: frozenset({"0.95", "0.01", "0.03", "0.1"}),
}

#: a decimal number as written (``0.503``, ``-0.035``, ``+0.008``, ``0.977x``), not part of a word,
#: a version (``1.2.3``) or a thousands group (``1,437``)
_DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![^\Wx]|\.\d)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def normalise(text: str) -> str:
    """``text`` with every run of white space one space (the README wraps its lines)."""
    return " ".join(text.split())


def sections(readme: str) -> dict[str, str]:
    """The README's ``##`` sections by heading text (fenced code removed)."""
    out: dict[str, str] = {}
    heading = ""
    for line in _FENCE.sub("", readme).splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = ""
        else:
            out[heading] = out.get(heading, "") + line + "\n"
    return out


#: Sections whose numbers come from ``paper_checks.md``: each bullet's (paragraph's) decimal
#: numbers must be, to the places written, numbers of the rows of the claims it names in bold
#: (every row's if it names none); :func:`untraced` finds those that are not.
ROW_SECTIONS: tuple[str, ...] = ("What the checks found so far", "Statistical checks")
ROWS_ARTEFACT = "paper_checks.md"

_BOLD_ID = re.compile(r"\*\*([A-Z][A-Za-z0-9.]*?)\.?[*\s:]")
_ROW = re.compile(r"^\| ([A-Z][A-Za-z0-9.]*) \|(.*)$", re.M)


def claim_rows(paper_checks: str) -> dict[str, str]:
    """The text of every claim row of ``paper_checks.md``, by claim id."""
    return {m.group(1): m.group(2) for m in _ROW.finditer(paper_checks)}


def _paragraphs(text: str) -> list[str]:
    """Bullets (a ``- `` line and its indented continuation) and plain paragraphs."""
    parts: list[str] = []
    for line in text.splitlines():
        if line.startswith("- ") or (not line.strip()) or not parts:
            parts.append(line)
        else:
            parts[-1] += "\n" + line
    return [p for p in parts if p.strip()]


def _same(written: str, measured: str) -> bool:
    """Whether ``measured`` rounds to ``written`` at its number of decimal places."""
    places = len(written.split(".")[1].rstrip("x"))
    value = written.rstrip("x").lstrip("+")
    return f"{float(measured.rstrip('x')):.{places}f}" in (value, value.replace("-", ""))


def untraced(section: str, rows: dict[str, str]) -> list[str]:
    """The decimal numbers of ``section`` (README text) found in no row its paragraph names."""
    missing = []
    for para in _paragraphs(section):
        ids = [i for i in _BOLD_ID.findall(para) if i in rows] or list(rows)
        pool = [n for i in ids for n in decimals(rows[i])]
        missing += [d for d in decimals(para) if not any(_same(d, n) for n in pool)]
    return missing


def decimals(text: str) -> list[str]:
    """The decimal numbers written in ``text`` (``0.503``, ``-0.035``, ``+0.008``)."""
    return _DECIMAL.findall(text)
