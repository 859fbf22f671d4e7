"""An exclusive lock on a sweep's output folder: ``fcntl.flock`` on ``DIR/.lock``, an OS lock
that the kernel releases when its process ends (``kill -9`` included), so no stale lock ever
needs deleting. The holder writes its pid, host and start time into the file so that a second
run can say who holds it; the file itself stays (removing it would race with a waiter).

Two runs into one folder would otherwise compute every point twice and clean up each other's
temporary files; with the lock the second run says which process holds the folder and stops,
or waits for it (``--wait``) and then reuses what the first one computed.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from verification.sweep.spec import SweepError

__all__ = ["LOCK_NAME", "FolderBusy", "folder_lock"]

LOCK_NAME = ".lock"


class FolderBusy(SweepError):
    """Another live process holds the output folder's lock."""


# how long a contender waits for the holder's line: a holder writes it just after taking the
# lock and wipes it just before letting go, so an empty file means one of those two moments
HOLDER_LINE_WAIT_S = 2.0


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _try_lock(fd: int) -> str | None:
    """Take the lock without blocking: ``None`` when it is ours, else the holder's line.

    An empty line is the moment between a holder's ``flock`` and its write, or between its wipe
    and its release; polling briefly turns that race into either the lock or the holder's name.
    """
    deadline = time.monotonic() + HOLDER_LINE_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            holder = _holder(fd)
        if holder or time.monotonic() >= deadline:
            return holder or "another process"
        time.sleep(0.01)


@contextmanager
def folder_lock(
    folder: Path, *, wait: bool = False, command: str = "lrbnn sweep"
) -> Iterator[None]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the block.

    Raises :class:`FolderBusy` naming the holder when another process holds it, unless
    ``wait``: then it says so on stderr and blocks until the holder ends.
    """
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # no O_TRUNC: opening must not wipe the holder's line before the lock is ours
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise SweepError(f"`--out` {folder} cannot be used: {exc.strerror or exc}") from None
    try:
        holder = _try_lock(fd)
        if holder is not None:
            if not wait:
                raise FolderBusy(
                    f"`--out` {folder} is in use by {holder}; wait for it to finish, rerun "
                    "with --wait, or use another --out"
                ) from None
            print(f"{command}: waiting for {holder} to release {folder}", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        line = f"process {os.getpid()} on {socket.gethostname()} (since {started})\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
