r"""SWAG sizes the paper reports (part of claim P4), rebuilt from the deterministic models.

SWAG (Maddox et al., 2019) keeps, for a network of :math:`d` parameters, the running mean
:math:`\bar\theta`, optionally the diagonal second moment, and a deviation matrix of :math:`K`
columns (:math:`K = 20` in their experiments); some implementations also count the network
itself. So a SWAG model holds

.. math:: N_{SWAG} = (K + c)\, d,\qquad c \in \{1, 2, 3\}

(mean + deviations; mean + diagonal + deviations; the network + mean + diagonal + deviations).
:math:`d` is rebuilt for each task: the MIMIC MLP and the PM2.5 LSTM under every deterministic
convention of :mod:`verification.claims.counts.reported` and
:mod:`verification.claims.counts.lstm`, and the SST-2 Transformer (the paper's experiments, Table
3: 4 pre-norm blocks, :math:`d_{model} = 256`, 4 heads, :math:`d_{ff} = 512`, BERT vocabulary
30,522, length 64) under the conventions the paper leaves open (positions learned or fixed, a final
LayerNorm or not, 2 logits or 1). Each :math:`d` is counted by formula and on :mod:`lrbnn_core`
modules.

References: claim P4 of ``CLAIMS.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import torch
from torch import nn

from lrbnn_core import make_transformer_encoder
from theory.pac_bayes import param_counts
from verification.claims.counts.specs import Convention, Printed

__all__ = [
    "SST2_ARCH",
    "SWAG_LAYOUTS",
    "sst2_closed_form",
    "sst2_module_count",
    "swag_fits",
    "swag_report",
]

#: c of the module notes: what SWAG stores besides the K deviation columns.
SWAG_LAYOUTS: dict[int, str] = {
    1: "mean + K deviations",
    2: "mean + diagonal + K deviations",
    3: "network + mean + diagonal + K deviations",
}
#: The SWAG sizes of the paper's Tables 1 to 3 (two decimals in thousands or millions).
_PAPER_SWAG = {
    "mimic": Printed("470.42K", Fraction("470.42"), 10**3, 2),
    "pm25": Printed("1.18M", Fraction("1.18"), 10**6, 2),
    "sst2": Printed("208.37M", Fraction("208.37"), 10**6, 2),
}
#: The K searched: every K from 1 to this.
_K_MAX = 100
#: SST-2 Transformer of the paper's Table 3.
SST2_ARCH = {"vocab": 30_522, "d_model": 256, "heads": 4, "d_ff": 512, "layers": 4, "max_len": 64}
#: The paper's own deterministic SST-2 size (matched profiling), to two decimals in millions.
SST2_BASELINE = Printed("9.92M", Fraction("9.92"), 10**6, 2)


def sst2_closed_form(*, learned_positions: bool, final_norm: bool, classes: int) -> int:
    r"""Parameters of the deterministic SST-2 Transformer, by formula.

    .. math::

        V d + L\,[4(d^2 + d) + (d d_{ff} + d_{ff}) + (d_{ff} d + d) + 4d]
        + [2d] + [T d] + (d k + k)

    (token table; per block the four attention maps, the two feed-forward maps and two
    LayerNorms; the optional final LayerNorm; the optional learned position table; the
    classifier with ``k`` logits).

    References
    ----------
    Claim P4.

    Examples
    --------
    >>> sst2_closed_form(learned_positions=False, final_norm=True, classes=2)
    9923074
    """
    a = SST2_ARCH
    d, ff = a["d_model"], a["d_ff"]
    attn = 4 * (param_counts(d, d, 1)["d_full"] + d)
    feed = param_counts(ff, d, 1)["d_full"] + ff + param_counts(d, ff, 1)["d_full"] + d
    block = attn + feed + 2 * (2 * d)
    total = a["vocab"] * d + a["layers"] * block + classes * d + classes
    return int(
        total + (2 * d if final_norm else 0) + (a["max_len"] * d if learned_positions else 0)
    )


def sst2_module_count(*, learned_positions: bool, final_norm: bool, classes: int) -> int:
    """The same count on :func:`lrbnn_core.make_transformer_encoder` (deterministic), a token
    ``nn.Embedding`` (on the meta device: only its size is needed) and an ``nn.Linear`` head."""
    a = SST2_ARCH
    enc = make_transformer_encoder(
        "deterministic",
        a["d_model"],
        a["heads"],
        a["d_ff"],
        a["layers"],
        positional="learned" if learned_positions else "sinusoidal",
        max_len=a["max_len"],
        generator=torch.Generator().manual_seed(0),
    )
    total = sum(p.numel() for p in enc.parameters())
    if not final_norm:
        total -= sum(p.numel() for p in enc.norm.parameters())
    table = nn.Embedding(a["vocab"], a["d_model"], device="meta")
    head = nn.Linear(a["d_model"], classes)
    return int(total + table.weight.numel() + sum(p.numel() for p in head.parameters()))


def _sst2_bases() -> list[tuple[str, int, int]]:
    out = []
    for learned, final, k in itertools.product((False, True), (True, False), (2, 1)):
        label = (
            f"{'learned' if learned else 'sinusoidal'} positions, "
            f"{'final LayerNorm' if final else 'no final LayerNorm'}, {k} logit{'s' * (k > 1)}"
        )
        closed = sst2_closed_form(learned_positions=learned, final_norm=final, classes=k)
        counted = sst2_module_count(learned_positions=learned, final_norm=final, classes=k)
        out.append((label, closed, counted))
    return out


def _bases(convs: list[Convention]) -> list[tuple[str, int, int]]:
    return [(c.label, *c.counts()) for c in convs]


def swag_fits(printed: Printed, bases: list[tuple[str, int, int]]) -> dict[str, Any]:
    """Every ``(base convention, c, K)`` whose SWAG size prints as ``printed``.

    ``bases`` holds ``(label, d by formula, d on modules)``; a base whose two counts differ is
    not used (and reported).

    Examples
    --------
    >>> fit = swag_fits(Printed("470.42K", Fraction("470.42"), 1000, 2), [("MLP", 22401, 22401)])
    >>> [(c, k) for _, c, k, _ in fit["matches"]]
    [(1, 20), (2, 19), (3, 18)]
    """
    agreed = [(label, d) for label, d, d2 in bases if d == d2]
    matches = [
        (label, c, k, (k + c) * d)
        for label, d in agreed
        for c in SWAG_LAYOUTS
        for k in range(1, _K_MAX + 1)
        if printed.matches((k + c) * d)
    ]
    target = printed.value * printed.unit
    standard = [(label, 22 * d) for label, d in agreed]  # c = 2, K = 20 (Maddox et al.)
    return {
        "printed": printed.text,
        "bases": agreed,
        "matches": matches,
        "multipliers": sorted({c + k for _, c, k, _ in matches}),
        "standard_closest": min(standard, key=lambda s: abs(s[1] - target)) if standard else None,
        "twin_mismatch": [(label, d, d2) for label, d, d2 in bases if d != d2],
    }


def swag_report(
    mimic_det: list[Convention], pm25_det: list[Convention]
) -> dict[str, dict[str, Any]]:
    """SWAG fits for the three tasks, and the multipliers ``K + c`` that the printed SST-2
    baseline 9.92M (read as its rounding interval) allows."""
    printed = _PAPER_SWAG
    bases: dict[str, Callable[[], list[tuple[str, int, int]]]] = {
        "mimic": lambda: _bases(mimic_det),
        "pm25": lambda: _bases(pm25_det),
        "sst2": _sst2_bases,
    }
    out = {task: swag_fits(printed[task], bases[task]()) for task in printed}
    lo, hi = SST2_BASELINE.interval()
    t_lo, t_hi = printed["sst2"].interval()
    out["sst2"]["printed_baseline_multipliers"] = [
        mult for mult in range(2, _K_MAX + 4) if mult * lo < t_hi and t_lo < mult * hi
    ]
    return out
