r"""``lrbnn compare``, the models' side (issue 18): one (task, family, seed) trained by its
recipe and scored into one :class:`CompareRow` (:func:`run_compare`), on offline analogues of
the paper's three settings, against the baselines the paper uses.

Modules: :mod:`~lrbnn_core.comparison.tasks` (:class:`CompareTask`, :class:`Scale`,
:data:`SCALE_TABLE`, the data and models), :mod:`~lrbnn_core.comparison.families`
(:class:`Family`, how each is trained), :mod:`~lrbnn_core.comparison.memory` (peak training
memory), :mod:`~lrbnn_core.comparison.scoring` (:class:`CompareRow`, :class:`CompareArrays`)
and :mod:`~lrbnn_core.comparison.run` (:func:`run_compare`).

References: ``CLAIMS.md`` X1-X6; the paper's Tables 1 to 3.
"""

from __future__ import annotations

from lrbnn_core.comparison.families import ENSEMBLE_MEMBERS, Family
from lrbnn_core.comparison.memory import peak_allocated_bytes, peak_training_memory_mb
from lrbnn_core.comparison.run import run_compare
from lrbnn_core.comparison.scoring import CompareArrays, CompareRow
from lrbnn_core.comparison.tasks import (
    CO2_NOISE_STD,
    SCALE_TABLE,
    CompareTask,
    Scale,
    ScaleSpec,
    compare_recipe,
)

__all__ = [
    "CO2_NOISE_STD",
    "ENSEMBLE_MEMBERS",
    "SCALE_TABLE",
    "CompareArrays",
    "CompareRow",
    "CompareTask",
    "Family",
    "Scale",
    "ScaleSpec",
    "compare_recipe",
    "peak_allocated_bytes",
    "peak_training_memory_mb",
    "run_compare",
]
