"""paper_checks.md is current: one row per registered claim, in registry order, with the verdict
the registry's check gives today (the expected verdicts of test_registry, which the per-claim
tests hold to the checks) and the command that reproduces it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.verification.test_registry import EXPECTED
from verification.registry import CLAIMS

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(
    r"^\| (?P<id>[^|]+?) \| .*? \| (?P<kind>[a-z]+) \| \*\*(?P<verdict>[a-z-]+)\*\* \|"
)


def _rows() -> list[re.Match[str]]:
    text = (ROOT / "paper_checks.md").read_text(encoding="utf-8")
    return [m for line in text.splitlines() if (m := ROW.match(line))]


def test_every_claim_has_one_row_in_registry_order() -> None:
    assert [m["id"] for m in _rows()] == [c.id for c in CLAIMS]


def test_every_verdict_is_current_and_none_is_pending() -> None:
    got = {m["id"]: m["verdict"] for m in _rows()}
    assert got == {cid: verdict.value for cid, verdict in EXPECTED.items()}
    assert "pending" not in got.values()


def test_every_row_names_its_reproduce_command() -> None:
    text = (ROOT / "paper_checks.md").read_text(encoding="utf-8")
    for claim in CLAIMS:
        assert f"`{claim.reproduce}`" in text, claim.id
