r"""``lrbnn compare``: the paper's model families trained and evaluated on the same tasks over
several seeds (issue 18; claims X1-X6 of ``CLAIMS.md`` section 8), with the sweep's machinery:
resumable, locked, atomic storage, parallel workers, a progress bar, figures with sidecars.

The modules, one concept each (every public name is re-exported here):

* :mod:`~verification.compare.spec`: profiles, task and family names, the grid;
* :mod:`~verification.compare.columns`: ``results.csv``'s columns (``CompareRow``'s fields),
  their checks, its bytes and its strict reader;
* :mod:`~verification.compare.point`: one point through ``lrbnn_core.comparison.run_compare``;
* :mod:`~verification.compare.storage`: ``meta.json``, point records, arrays, ``results.csv``;
* :mod:`~verification.compare.summary`: mean and std over seeds (``summary.csv``,
  ``summary.md``);
* :mod:`~verification.compare.figures`: reliability diagrams, OOD ROC curves, performance vs
  parameters;
* :mod:`~verification.compare.driver`: :func:`run_comparison` and :func:`summarise_folder`.

The training itself lives in ``lrbnn_core.comparison``, imported only when a point runs.
"""

from verification.compare.columns import COLUMNS, METRICS, read_results, results_csv
from verification.compare.driver import CompareReport, run_comparison, summarise_folder
from verification.compare.point import ARRAY_FIELDS, compute_point
from verification.compare.spec import (
    FAMILIES,
    PROFILE_SEEDS,
    TASKS,
    CompareError,
    ComparePoint,
    CompareProfile,
    CompareSpec,
    compare_grid,
    make_compare_spec,
)
from verification.compare.summary import (
    SUMMARY_COLUMNS,
    summarise,
    summary_csv,
    summary_markdown,
)

__all__ = [
    "ARRAY_FIELDS",
    "COLUMNS",
    "FAMILIES",
    "METRICS",
    "PROFILE_SEEDS",
    "SUMMARY_COLUMNS",
    "TASKS",
    "CompareError",
    "ComparePoint",
    "CompareProfile",
    "CompareReport",
    "CompareSpec",
    "compare_grid",
    "compute_point",
    "make_compare_spec",
    "read_results",
    "results_csv",
    "run_comparison",
    "summarise",
    "summarise_folder",
    "summary_csv",
    "summary_markdown",
]
