r"""Check of claim P5: the PM2.5 LSTM sizes of the paper's Table 2, rebuilt from App. G.

The architecture (the paper's App. G and its bias convention): two LSTM layers, :math:`H = 64`, 15
input features; ``x_to_gates`` has a bias, ``h_to_gates`` none; a low-rank output head of rank 1;
ranks "14 for the first layer and 20 for the second" (main text) or ":math:`r_{ih} = 14, r_{hh} =
20`" (appendix). What the paper does not state is enumerated (:func:`conventions`): the four gates
stacked in one :math:`4H \times d` matrix or held as four :math:`H \times d` matrices; the two rank
readings; a bias on ``x_to_gates`` only or on both maps (PyTorch); Bayesian or deterministic
biases; the head rank-1 Bayesian, dense Bayesian, dense deterministic or absent; 2 numbers (mean
and scale) or 1 per stochastic scalar; 1 to 5 members for the rank-1 baseline. Every count is made
twice (:mod:`verification.claims.counts.specs`) and, where :func:`lrbnn_core.make_lstm` can express
the convention (stacked gates, one bias), a third time on the real LSTM modules.

References: claim P5 of ``CLAIMS.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from lrbnn_core import make_lstm, stochastic_parameter_count
from verification.claims.counts.specs import (
    Bias,
    Convention,
    LayerSpec,
    Linear,
    Printed,
    assess,
    module_count,
)
from verification.claims.shared.lstm import lstm_shapes
from verification.registry import Budget, Outcome, Verdict

__all__ = [
    "ENSEMBLE_SIZE",
    "FEATURES",
    "HIDDEN",
    "RANKS",
    "BiasWhere",
    "Gates",
    "Head",
    "RankReading",
    "check_p5",
    "conventions",
    "lstm_specs",
    "make_lstm_count",
    "matrices",
]

HIDDEN, FEATURES, RANKS, ENSEMBLE_SIZE = 64, 15, (14, 20), 5
_K = 1000
#: Table 2, printed to the nearest thousand ("47K" is any count in [46,500, 47,500)).
_PAPER_TABLE2: dict[str, Printed] = {
    "low_rank": Printed("47K", Fraction(47), _K, 0),
    "mean_field": Printed("132K", Fraction(132), _K, 0),
    "deterministic": Printed("33K", Fraction(33), _K, 0),
    "ensemble": Printed("330K", Fraction(330), _K, 0),
    "rank1": Printed("66K", Fraction(66), _K, 0),
}
_RANK1_MEMBERS = (1, 2, 3, 4, 5)


class Gates(str, Enum):
    """How the four gate maps of one LSTM layer are held."""

    #: one :math:`4H \times d` matrix per map (Keras, PyTorch, :mod:`lrbnn_core.recurrent`)
    STACKED = "stacked 4H x d"
    #: four :math:`H \times d` matrices per map, each factorised on its own
    PER_GATE = "per-gate H x d"


class RankReading(str, Enum):
    """Which matrices get rank 14 and which rank 20."""

    #: every ``x_to_gates`` matrix 14, every ``h_to_gates`` matrix 20 (App. G)
    IH_HH = "(r_ih, r_hh) = (14, 20)"
    #: both matrices of layer 1 rank 14, both of layer 2 rank 20 (main text)
    LAYER = "(layer 1, layer 2) = (14, 20)"


class BiasWhere(str, Enum):
    """Which maps carry a bias."""

    #: ``x_to_gates`` only (App. G)
    INPUT = "bias on x_to_gates only"
    #: both maps (PyTorch's ``b_ih + b_hh``)
    BOTH = "bias on both maps"


class Head(str, Enum):
    """The output layer ``H -> 1``."""

    RANK1 = "rank-1 Bayesian head"
    DENSE_BAYES = "dense Bayesian head"
    DENSE_DET = "dense deterministic head"
    NONE = "no head"


def matrices(gates: Gates) -> list[tuple[int, str, int, int]]:
    """``(layer, map, m, n)`` of every gate matrix (``map`` is ``"ih"`` or ``"hh"``).

    Examples
    --------
    >>> matrices(Gates.STACKED)
    [(1, 'ih', 256, 15), (1, 'hh', 256, 64), (2, 'ih', 256, 64), (2, 'hh', 256, 64)]
    """
    out = []
    for layer in (1, 2):
        d_in = FEATURES if layer == 1 else HIDDEN
        for which, n in (("ih", d_in), ("hh", HIDDEN)):
            copies = 1 if gates is Gates.STACKED else 4
            m = 4 * HIDDEN if gates is Gates.STACKED else HIDDEN
            out += [(layer, which, m, n)] * copies
    return out


def _rank(reading: RankReading, layer: int, which: str) -> int:
    first = which == "ih" if reading is RankReading.IH_HH else layer == 1
    return RANKS[0] if first else RANKS[1]


def lstm_specs(
    kind: Linear,
    gates: Gates,
    *,
    reading: RankReading = RankReading.IH_HH,
    where: BiasWhere = BiasWhere.INPUT,
    bias: Bias = Bias.BAYESIAN,
    head: Head = Head.RANK1,
    members: int = 1,
) -> tuple[LayerSpec, ...]:
    r"""The linear maps of the two-layer LSTM and its head under one convention.

    .. math:: N_{LR} = s \sum_{W} r_W (m_W + n_W) + N_{bias} + N_{head}

    References
    ----------
    Claim P5.

    Examples
    --------
    >>> from verification.claims.counts.specs import model_counts
    >>> model_counts(lstm_specs(Linear.LOW_RANK, Gates.STACKED))
    (43304, 43304)
    """
    if kind is Linear.DETERMINISTIC or kind is Linear.RANK1:
        bias = Bias.DETERMINISTIC
    specs = []
    for layer, which, m, n in matrices(gates):
        rank = _rank(reading, layer, which) if kind is Linear.LOW_RANK else None
        has = which == "ih" or where is BiasWhere.BOTH
        specs.append(LayerSpec(kind, n, m, rank, bias if has else Bias.NONE, members))
    head_kind = {
        Head.RANK1: Linear.RANK1 if kind is Linear.RANK1 else Linear.LOW_RANK,
        Head.DENSE_BAYES: Linear.MEAN_FIELD,
        Head.DENSE_DET: Linear.DETERMINISTIC,
    }.get(head)
    if head_kind is not None:
        head_bias = (
            Bias.DETERMINISTIC if head_kind in (Linear.DETERMINISTIC, Linear.RANK1) else bias
        )
        rank = 1 if head_kind is Linear.LOW_RANK else None
        specs.append(LayerSpec(head_kind, HIDDEN, 1, rank, head_bias, members))
    return tuple(specs)


_HEADS = {
    Linear.LOW_RANK: tuple(Head),
    Linear.MEAN_FIELD: (Head.DENSE_BAYES, Head.DENSE_DET, Head.NONE),
    Linear.DETERMINISTIC: (Head.DENSE_DET, Head.NONE),
    Linear.RANK1: (Head.RANK1, Head.DENSE_DET, Head.NONE),
}


def conventions(model: str) -> Iterator[Convention]:
    """Every convention tried for one model of Table 2 (``low_rank``, ``mean_field``,
    ``deterministic``, ``ensemble`` or ``rank1``); labels name every choice.

    Examples
    --------
    >>> len(list(conventions("low_rank"))), len(list(conventions("deterministic")))
    (128, 8)
    """
    kind = {
        "low_rank": Linear.LOW_RANK,
        "mean_field": Linear.MEAN_FIELD,
        "deterministic": Linear.DETERMINISTIC,
        "ensemble": Linear.DETERMINISTIC,
        "rank1": Linear.RANK1,
    }.get(model)
    if kind is None:
        raise ValueError(f"`model` must be one of {sorted(_PAPER_TABLE2)}; got {model!r}")
    readings = tuple(RankReading) if kind is Linear.LOW_RANK else (RankReading.IH_HH,)
    bayesian = kind in (Linear.LOW_RANK, Linear.MEAN_FIELD)
    biases = (Bias.BAYESIAN, Bias.DETERMINISTIC) if bayesian else (Bias.DETERMINISTIC,)
    scalars = (2, 1) if bayesian else (2,)
    members = _RANK1_MEMBERS if kind is Linear.RANK1 else (1,)
    copies = ENSEMBLE_SIZE if model == "ensemble" else 1
    grid = itertools.product(Gates, readings, BiasWhere, biases, _HEADS[kind], scalars, members)
    for gates, reading, where, bias, head, s, k in grid:
        head_text = (
            "rank-1 multiplicative head"
            if kind is Linear.RANK1 and head is Head.RANK1
            else head.value
        )
        parts = [gates.value, where.value, head_text]
        if kind is Linear.LOW_RANK:
            parts.insert(1, reading.value)
        if bayesian:
            parts += [f"{bias.value} biases", f"{s} per stochastic scalar"]
        if kind is Linear.RANK1:
            parts.append(f"{k} member{'s' if k > 1 else ''}")
        if copies > 1:
            parts.append(f"{copies} copies")
        specs = lstm_specs(
            kind, gates, reading=reading, where=where, bias=bias, head=head, members=k
        )
        yield Convention(", ".join(parts), specs, copies, s)


@lru_cache(maxsize=64)
def _lstm_layer(kind: Linear, d_in: int, rank: int, input_rank: int, bias: Bias, s: int) -> int:
    gen = torch.Generator().manual_seed(0)  # only the sizes matter
    lstm = make_lstm(
        kind.value,
        d_in,
        HIDDEN,
        rank=rank,
        input_rank=input_rank,
        bayesian_bias=bias is Bias.BAYESIAN,
        generator=gen,
    )
    total = sum(p.numel() for p in lstm.parameters())
    return int(total if s == 2 else total - stochastic_parameter_count(lstm))


def make_lstm_count(convention: Convention) -> int | None:
    """The same count on two real :func:`lrbnn_core.make_lstm` layers (plus the head), or
    ``None`` where ``make_lstm`` cannot express the convention (per-gate matrices, a bias on
    ``h_to_gates``, rank-1 layers)."""
    specs = convention.specs
    lstm, head = (specs[:4], specs[4:]) if len(specs) in (4, 5) else ((), ())
    if not lstm or lstm[0].kind is Linear.RANK1 or lstm[1].bias is not Bias.NONE:
        return None
    total = 0
    for ih, hh in (lstm[:2], lstm[2:]):
        ranks = (hh.rank or 1, ih.rank or 1)
        total += _lstm_layer(ih.kind, ih.n_in, *ranks, ih.bias, convention.per_scalar)
    total += sum(module_count(h, convention.per_scalar) for h in head)
    return convention.copies * total


def _row(model: str) -> dict[str, Any]:
    convs = list(conventions(model))
    third = {c.label: make_lstm_count(c) for c in convs}
    bad = [c.label for c in convs if third[c.label] not in (None, c.counts()[0])]
    out = assess(_PAPER_TABLE2[model], [c for c in convs if c.label not in bad])
    out["tried"], out["make_lstm_checked"] = len(convs), sum(v is not None for v in third.values())
    out["twin_mismatch"] = out["twin_mismatch"] + [(b, None, third[b]) for b in bad]
    return out


def _consistency() -> dict[str, Any]:
    """What the printed sizes say about each other (each read as its rounding interval)."""
    lo = {k: p.interval()[0] for k, p in _PAPER_TABLE2.items()}
    hi = {k: p.interval()[1] for k, p in _PAPER_TABLE2.items()}
    implied = (
        max(lo["mean_field"] / 2, lo["ensemble"] / 5),
        min(hi["mean_field"] / 2, hi["ensemble"] / 5),
    )
    return {
        "mf_over_det": (
            float(lo["mean_field"] / hi["deterministic"]),
            float(hi["mean_field"] / lo["deterministic"]),
        ),
        "de_over_det": (
            float(lo["ensemble"] / hi["deterministic"]),
            float(hi["ensemble"] / lo["deterministic"]),
        ),
        "det_implied_by_mf_and_de": tuple(float(x) for x in implied),
    }


def check_p5(budget: Budget, rng: np.random.Generator) -> Outcome:
    """Claim P5: every Table 2 size against every convention (module notes).

    ``reproduced`` only if each printed size is matched by some convention on which the formula
    and the modules agree. ``budget`` and ``rng`` are unused: the check is a fixed enumeration.
    """
    rows = {model: _row(model) for model in _PAPER_TABLE2}
    stated = lstm_specs(Linear.LOW_RANK, Gates.STACKED)
    stated_count = Convention("stated", stated).counts()[0]
    coincide = {
        Convention("", lstm_specs(Linear.LOW_RANK, g, reading=r)).counts()[0]
        for g in Gates
        for r in RankReading
        if g is Gates.STACKED
    }
    shapes_ok = all(
        sorted((m, n) for _, _, m, n in matrices(g))
        == sorted(lstm_shapes(stacked_gates=g is Gates.STACKED, output_layer=False))
        for g in Gates
    )
    cons = _consistency()
    missing = [k for k, r in rows.items() if not r["matches"]]
    mismatched = sum(len(r["twin_mismatch"]) for r in rows.values())
    parts = []
    for model, r in rows.items():
        if r["matches"]:
            parts.append(f"{model} {r['printed']}: {r['match_counts']} ({r['matches'][0]})")
        elif r["closest"] is None:
            parts.append(f"{model} {r['printed']}: the twins disagree on all {r['tried']}")
        else:
            label, count = r["closest"]
            parts.append(f"{model} ours {count:,} vs {r['printed']} (closest: {label})")
    mf, de, det = cons["mf_over_det"], cons["de_over_det"], cons["det_implied_by_mf_and_de"]
    evidence = (
        f"Table 2 rebuilt from App. G (2 LSTM layers, H = {HIDDEN}, {FEATURES} features, ranks "
        f"{RANKS}), {sum(r['tried'] for r in rows.values())} conventions (gates stacked 4H x d "
        "or per gate; ranks (r_ih, r_hh) or (layer 1, layer 2); bias on x_to_gates only or on "
        "both maps, Bayesian or deterministic; head rank-1 / dense Bayesian / dense "
        "deterministic / none; 2 or 1 numbers per stochastic scalar; rank-1 with 1-5 members; "
        "ensemble = 5 deterministic), each counted by param_counts and on lrbnn_core modules "
        f"({sum(r['make_lstm_checked'] for r in rows.values())} also on make_lstm; "
        f"{mismatched} disagreements; shapes {'agree' if shapes_ok else 'DISAGREE'} with "
        "lstm_f4.lstm_shapes). Printed sizes read to the nearest 1K. "
        + "; ".join(parts)
        + f". The stated convention (stacked, bias on x_to_gates, Bayesian, rank-1 head, mean "
        f"+ scale) gives {stated_count:,}; the two rank readings give identical counts "
        f"({sorted(coincide)}: W_hh of layer 1 and W_ih of layer 2 share a shape). Printed "
        f"ratios: mean-field / deterministic in [{mf[0]:.2f}, {mf[1]:.2f}] and ensemble / "
        f"deterministic in [{de[0]:.2f}, {de[1]:.2f}], where 2 and 5 are expected; both printed "
        f"sizes fit a deterministic model in [{det[0]:,.0f}, {det[1]:,.0f}), twice the printed "
        "33K."
    )
    data: dict[str, Any] = {
        "rows": rows,
        "stated_low_rank": stated_count,
        "rank_readings_counts": sorted(coincide),
        "shapes_agree_with_lstm_f4": shapes_ok,
        "consistency": cons,
        "not_reproduced": missing,
    }
    verdict = Verdict.REPRODUCED if not missing and mismatched == 0 else Verdict.NOT_REPRODUCED
    return Outcome(verdict, evidence, data)
