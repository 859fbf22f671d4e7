"""The folder lock's race windows, made deterministic: a holder has taken ``flock`` but not yet
written its line, or has wiped its line but not yet let go. A contender must then name the holder
once the line appears, or take the lock once it is released, never report an anonymous holder
(the flaky "in use by another process" that two runs started together once produced)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from verification.sweep import FolderBusy, folder_lock
from verification.sweep import lock as lock_module

DELAY_S = 0.2


def _holder_fd(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / lock_module.LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a second open file description: a rival
    os.ftruncate(fd, 0)
    return fd


_THREADS: list[threading.Thread] = []


def _later(action: Callable[[], object]) -> None:
    """Run ``action`` after DELAY_S in a thread that the fixture joins before closing the fd."""

    def run() -> None:
        time.sleep(DELAY_S)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    _THREADS.append(thread)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    fd = _holder_fd(tmp_path / "out")
    yield tmp_path / "out", fd
    while _THREADS:
        _THREADS.pop().join()
    os.close(fd)


def test_a_holder_that_has_not_written_yet_is_named_once_it_writes(
    held: tuple[Path, int],
) -> None:
    folder, fd = held
    _later(lambda: os.pwrite(fd, b"process 4242 on elsewhere (since now)\n", 0))
    with pytest.raises(FolderBusy, match=r"in use by process 4242 on elsewhere"):
        with folder_lock(folder):
            pass


def test_a_holder_that_has_wiped_its_line_and_lets_go_leaves_the_lock_to_the_contender(
    held: tuple[Path, int],
) -> None:
    folder, fd = held
    _later(lambda: fcntl.flock(fd, fcntl.LOCK_UN))
    with folder_lock(folder):
        assert f"process {os.getpid()} on " in (folder / lock_module.LOCK_NAME).read_text()


def test_a_silent_holder_is_reported_as_another_process_after_the_grace(
    held: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = held
    monkeypatch.setattr(lock_module, "HOLDER_LINE_WAIT_S", 0.05)
    start = time.monotonic()
    with pytest.raises(FolderBusy, match=r"in use by another process; "):
        with folder_lock(folder):
            pass
    assert time.monotonic() - start < 1.0


def test_without_the_grace_the_race_is_lost(
    held: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mutant: no polling (grace 0) reproduces the failure the first test guards against."""
    folder, fd = held
    monkeypatch.setattr(lock_module, "HOLDER_LINE_WAIT_S", 0.0)
    _later(lambda: os.pwrite(fd, b"process 4242 on elsewhere (since now)\n", 0))
    with pytest.raises(FolderBusy, match=r"in use by another process; "):
        with folder_lock(folder):
            pass
