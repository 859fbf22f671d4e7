"""The toolkit's own thread limits: BLAS (through threadpoolctl) and torch, set by its commands.

The checks, the sweep and the examples make many small linear-algebra calls (SVDs of 12 x 12
matrices, 64-wide layers). On such sizes every extra BLAS or OpenMP thread only adds contention:
``lrbnn check --only D2`` took 65 s with the libraries' default thread counts against 6.9 s with
one thread on a loaded 2-core machine (issue 19). So every command line of the toolkit (``lrbnn``
and the ``python -m lrbnn_core.*`` entry points) takes ``--threads N`` (default 1) and calls
:func:`set_thread_limits` before any work, instead of relying on ``OPENBLAS_NUM_THREADS=1`` and
``OMP_NUM_THREADS=1`` in the caller's environment.

OpenBLAS reads its environment variable once, when the library loads; a library already loaded
(numpy's, as soon as numpy is imported) is limited at run time through threadpoolctl, and one
loaded later (scipy's, torch's) reads the variables this function also exports, as do child
processes (the sweep's spawned workers). torch's intra-op pool is set with
``torch.set_num_threads``.

References: issue 19 (the README's direct commands were 7 to 10 times slower than the Makefile's).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

__all__ = ["DEFAULT_THREADS", "THREADS_HELP", "add_threads_argument", "set_thread_limits"]

#: The default of every ``--threads`` option (as the Makefile's ``OPENBLAS_NUM_THREADS=1``).
DEFAULT_THREADS = 1

#: The help text of every ``--threads`` option.
THREADS_HELP = (
    "threads for BLAS and torch in this process and its workers (default 1: the toolkit makes "
    "many small matrix calls, where more threads only contend; with the libraries' defaults "
    "`lrbnn check --only D2` took 65 s instead of 6.9 s on 2 cores)"
)

#: The environment variables exported for libraries loaded later and for child processes.
_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# threadpoolctl's limiter, kept alive for the life of the process (its limits are global)
_limits: list[Any] = []


def _positive_threads(value: str) -> int:
    """argparse type of ``--threads``: an int >= 1, or a one-line error naming the value."""
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1; got {value!r}")
    return n


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--threads N`` (default :data:`DEFAULT_THREADS`) to ``parser``."""
    parser.add_argument(
        "--threads",
        type=_positive_threads,
        default=DEFAULT_THREADS,
        metavar="N",
        help=THREADS_HELP,
    )


def set_thread_limits(threads: int) -> None:
    """Limit BLAS and torch to ``threads`` threads in this process and the processes it starts.

    Parameters
    ----------
    threads : int
        Threads per process, at least 1.

    Raises
    ------
    TypeError
        ``threads`` is not an int (a bool is refused too).
    ValueError
        ``threads`` is below 1.
    """
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"`threads` must be an int; got {threads!r}")
    if threads < 1:
        raise ValueError(f"`threads` must be >= 1; got {threads!r}")
    for name in _ENV_VARS:
        os.environ[name] = str(threads)
    # after importing torch and scipy's linear algebra, so that the BLAS and OpenMP libraries they
    # load are among those limited here (threadpoolctl limits only loaded libraries)
    import scipy.linalg  # noqa: F401
    import torch
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    torch.set_num_threads(threads)
    _limits.append(threadpool_limits(limits=threads))
