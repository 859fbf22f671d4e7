r"""``lrbnn sweep``: certificates, test metrics and theory terms over a grid of ranks x widths x
seeds (x prior modes), resumable, byte-reproducible, run in one process, a local process pool or
a dask cluster.

The modules, one concept each (every public name is re-exported here):

* :mod:`~verification.sweep.spec`: the arguments (:func:`make_spec`, :class:`SweepError`) and
  the grid (:func:`grid`, :func:`grid_penalty`);
* :mod:`~verification.sweep.budgets`: what each profile spends on a point;
* :mod:`~verification.sweep.point`: one grid point (:func:`compute_point`, :func:`run_point`);
* :mod:`~verification.sweep.columns`: ``results.csv``'s columns (:data:`COLUMNS`), rows and
  bytes;
* :mod:`~verification.sweep.schema`: what a stored value may be (point records, ``results.csv``);
* :mod:`~verification.sweep.storage`: point files (with digests), resuming, ``meta.json``,
  ``timings.csv``;
* :mod:`~verification.sweep.lock`: the output folder's exclusive lock;
* :mod:`~verification.sweep.execution`: the executors (this process, a process pool, dask);
* :mod:`~verification.sweep.driver`: :func:`run_sweep`, which joins them;
* :mod:`~verification.sweep.figures`: the figures drawn from ``results.csv``;
* :mod:`~verification.sweep.answer`: where low rank certifies tighter than mean field
  (``where_low_rank_wins.csv`` and its heat map, per prior mode and width).

**One grid point** (:func:`compute_point`) is one model of one family (low-rank at one rank, or
the mean-field baseline) at one hidden width and one seed, trained and certified by the
data-dependent-prior recipe of :mod:`lrbnn_core.certified_training`
(:func:`~lrbnn_core.certified_training.train_and_certify`): the seed splits the training set into
a prior part and a bound part (half each); an ELBO model trained on the prior part centres the
Gaussian prior (its stds times 0.5, 1 or 2); the posterior starts there and minimises the
kl-bound on the whole training set; low-rank posteriors are gauge-balanced; the 0-1 Gibbs risk is
certified on the bound part (``n = n_bound``) against each prior scale, and the best scale is
kept. The seed also generates the dataset (MNIST-1D and teacher-student draw new examples for
every seed; digits takes a new stratified split), so seeds are independent repetitions.

**Prior modes** (``--prior``, :class:`SweepPrior`; a dimension of the grid, the data-dependent
prior alone by default). ``init``, ``zero`` and ``scale-mixture`` are priors fixed before the
data (:mod:`lrbnn_core.prior_modes`): a Gaussian at the seeded initialisation or at zero, each
with a grid of stds, or the paper's scale mixture through its declared closed-form KL bound. No
split: the posterior trains on, and the certificate uses, every training example. Their points
are named with a suffix (``w64-s0-r4-init``); the data-dependent ones keep their ids. PBB runs
once per width and seed, beside the data-dependent points.

**The union bound** (``penalty`` column). Every certificate of the sweep pays
:math:`\ln(K)` nats with :math:`K = (\#\text{ranks} + 1_{\text{mean field}}) \times
\#\text{widths} \times \sum_{\text{prior modes}} \#\text{priors}` (plus PBB's widths
:math:`\times` stds), a mode counting the priors it chooses among (the data-dependent prior
scales, the stds of ``init`` and ``zero``, the one scale mixture; :func:`grid_penalty`): a
reader may pick the best certificate over ranks, the mean-field baseline, widths and priors, and
every certificate of one seed holds at once with probability
:math:`\ge 1 - \delta - \delta_{MC}` (``confidence``). Seeds are not selected
among: they are repetitions (the figures show their mean and range); picking the best seed would
need :math:`\ln(\#\text{seeds})` more nats.

**Reliability.** Each finished point is written atomically to ``DIR/points/<point_id>.json``
(temporary file, fsync, ``os.replace``) with the SHA-256 digest of its content; a restarted
sweep recomputes only the missing points, and any point file that fails its digest, its schema
or finiteness (one line names it). ``meta.json`` carries its own digest and the sweep's
identity (arguments, settings, result-relevant package versions, commit and uncommitted code
changes): a folder written with another identity is refused. One run at a time holds a folder
(an OS lock, released when its process ends); Ctrl-C or SIGTERM keeps every finished point.
``DIR/results.csv`` is assembled from the point files in grid order, with repr-exact floats
(:data:`COLUMNS`); it depends only on the arguments (and the hardware and package versions:
identical bits need the same floating-point code paths), never on the executor, the number of
workers, the order of completion or interruptions. Every point runs with one torch thread and one
BLAS thread so that no reduction order depends on the machine's load (the BLAS limit goes through
threadpoolctl; OpenBLAS can ignore a limit set from a thread other than the main one, so export
``OPENBLAS_NUM_THREADS=1`` on dask workers that run several threads). Wall times go to
``DIR/timings.csv`` only.

The sweep never imports the claim checks: its storage and its numbers can change without
reading them.

References: issue 8 (the sweep); claims T3.8, T3.8c (complexity ratio), C3/T3.6 (tail energy),
E13/E17 (Gaussian complexity) of ``CLAIMS.md``.
"""

from verification.sweep.answer import (
    ANSWER_COLUMNS,
    WHERE_LOW_RANK_WINS,
    WHERE_LOW_RANK_WINS_CSV,
    answer_csv,
    plot_where_low_rank_wins,
    where_low_rank_wins,
)
from verification.sweep.budgets import PINTO_C0
from verification.sweep.columns import COLUMNS, assemble_rows, results_csv
from verification.sweep.driver import SweepInterrupted, SweepReport, run_sweep
from verification.sweep.execution import Executor, PointFailed, execute, executor_kind
from verification.sweep.figures import (
    BOUND_VS_RANK,
    COMPLEXITY_RATIO,
    critical_rank_for,
    make_sweep_figures,
    read_results,
)
from verification.sweep.lock import FolderBusy, folder_lock
from verification.sweep.point import compute_point, run_point, tail_from_singular_values
from verification.sweep.schema import parse_results, validate_record
from verification.sweep.spec import (
    DEFAULT_PRIORS,
    DEFAULT_RANKS,
    DEFAULT_SEEDS,
    DEFAULT_SEQUENCE_WIDTHS,
    DEFAULT_WIDTHS,
    Arch,
    PointSpec,
    SweepDataset,
    SweepError,
    SweepPrior,
    SweepProfile,
    SweepSpec,
    grid,
    grid_penalty,
    make_spec,
    max_rank,
)
from verification.sweep.storage import (
    check_folder,
    prepare_output,
    read_record,
    remove_temporaries,
    write_record,
)

__all__ = [
    "ANSWER_COLUMNS",
    "BOUND_VS_RANK",
    "COLUMNS",
    "COMPLEXITY_RATIO",
    "DEFAULT_PRIORS",
    "DEFAULT_RANKS",
    "DEFAULT_SEEDS",
    "DEFAULT_SEQUENCE_WIDTHS",
    "DEFAULT_WIDTHS",
    "PINTO_C0",
    "WHERE_LOW_RANK_WINS",
    "WHERE_LOW_RANK_WINS_CSV",
    "Arch",
    "Executor",
    "FolderBusy",
    "PointFailed",
    "PointSpec",
    "SweepDataset",
    "SweepError",
    "SweepInterrupted",
    "SweepPrior",
    "SweepProfile",
    "SweepReport",
    "SweepSpec",
    "answer_csv",
    "assemble_rows",
    "check_folder",
    "compute_point",
    "critical_rank_for",
    "execute",
    "executor_kind",
    "folder_lock",
    "grid",
    "grid_penalty",
    "make_spec",
    "make_sweep_figures",
    "max_rank",
    "parse_results",
    "plot_where_low_rank_wins",
    "prepare_output",
    "read_record",
    "read_results",
    "remove_temporaries",
    "results_csv",
    "run_point",
    "run_sweep",
    "tail_from_singular_values",
    "validate_record",
    "where_low_rank_wins",
    "write_record",
]
