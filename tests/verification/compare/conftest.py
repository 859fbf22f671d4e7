"""The compare tests' shared fixtures."""

from __future__ import annotations

from typing import Any

import pytest

import verification.compare.storage as storage

#: A fixed git state: other people editing the tree while a test runs would otherwise change
#: ``git_code_changes`` (part of a folder's identity) between two runs of one test.
FIXED_GIT = {"git_commit": "c" * 40, "git_dirty": False, "git_code_changes": None}


@pytest.fixture(autouse=True)
def fixed_git(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setattr(storage, "_git_state", lambda: dict(FIXED_GIT))
    return FIXED_GIT
