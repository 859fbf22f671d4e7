"""Every result number of the README comes from a committed artefact (issue 19): each quote of
verification.readme_numbers, formatted from the artefact, is in the README, and a covered section
holds no other decimal number than its quotes' and its settings."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from verification.readme_numbers import (
    BLOCKS,
    COVERED,
    PENDING,
    QUOTES,
    REGENERATE,
    ROW_SECTIONS,
    ROWS_ARTEFACT,
    SETTINGS,
    Quote,
    claim_rows,
    decimals,
    normalise,
    sections,
    untraced,
)

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("quote", QUOTES, ids=[q.template[:40] for q in QUOTES])
def test_each_quote_is_in_the_readme_with_its_artefacts_numbers(quote: Quote) -> None:
    text = normalise(quote.text(ROOT))
    assert text in normalise(sections(README)[quote.section]), (
        f"README section {quote.section!r} should read: {text}\n(numbers from {quote.artefact}; "
        f"regenerate with `{REGENERATE}`)"
    )


def test_covered_sections_hold_no_number_typed_by_hand() -> None:
    by_section = sections(README)
    for heading in COVERED:
        produced = {n for q in QUOTES if q.section == heading for n in q.numbers(ROOT)}
        produced |= {n for h, _, render in BLOCKS if h == heading for n in decimals(render(ROOT))}
        allowed = produced | SETTINGS.get(heading, frozenset())
        stray = [n for n in decimals(by_section[heading]) if n not in allowed]
        assert not stray, f"numbers of {heading!r} from no artefact: {stray}"


def test_every_section_is_covered_or_pending_with_a_reason() -> None:
    headings = [h for h, body in sections(README).items() if h and decimals(body)]
    for heading in headings:
        assert heading in COVERED or heading in ROW_SECTIONS or PENDING.get(heading), heading
    assert REGENERATE in README


def test_a_changed_artefact_fails_its_quote(tmp_path: Path) -> None:
    """Mutant: one certificate of the committed paper sweep moved by 0.01."""
    quote = QUOTES[0]
    (tmp_path / "figures").mkdir()
    for p in (ROOT / "figures").glob("*.csv"):
        shutil.copy(p, tmp_path / "figures" / p.name)
    path = tmp_path / quote.artefact
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if (r["prior"], r["width"]) == ("data_dependent", "1024"):
            r["best_low_rank_mean"] = str(float(r["best_low_rank_mean"]) + 0.01)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert normalise(quote.text(tmp_path)) not in normalise(README)


def test_a_number_typed_by_hand_is_caught() -> None:
    """Mutant: a covered section gains a measured-looking number no quote produced."""
    heading = COVERED[0]
    body = sections(README)[heading] + "\nThe gap is 0.123.\n"
    produced = {n for q in QUOTES if q.section == heading for n in q.numbers(ROOT)}
    assert "0.123" in [n for n in decimals(body) if n not in produced | SETTINGS[heading]]


def test_decimals_and_sections() -> None:
    assert decimals("a -0.035, +0.008 and 0.5; ends 0.25. not 1,437, v1.2.3 or x0.5y") == [
        "-0.035",
        "+0.008",
        "0.5",
        "0.25",
    ]
    parts = sections("intro 1.5\n## A\nx 0.25\n```\n0.75\n```\n## B\n")
    assert parts == {"": "intro 1.5\n", "A": "x 0.25\n\n", "B": ""}


def test_numbers_of_the_findings_are_those_of_their_claims_rows() -> None:
    """Each bullet's numbers, to the places written, are numbers of the rows of the claims it
    names in bold in paper_checks.md (the artefact ``lrbnn check`` writes)."""
    rows = claim_rows((ROOT / ROWS_ARTEFACT).read_text(encoding="utf-8"))
    by_section = sections(README)
    for heading in ROW_SECTIONS:
        assert decimals(by_section[heading]), heading
        assert untraced(by_section[heading], rows) == [], heading


def test_a_finding_typed_by_hand_is_caught() -> None:
    """Mutants: T3.8p's measured ratio 2.36 written as 2.46; a number moved to a bullet whose
    claim's row does not hold it."""
    rows = claim_rows((ROOT / ROWS_ARTEFACT).read_text(encoding="utf-8"))
    findings = sections(README)["What the checks found so far"]
    assert "ratio 2.36 against" in findings
    assert untraced(findings.replace("ratio 2.36 against", "ratio 2.46 against"), rows) == ["2.46"]
    moved = "- **C5p refuted**: a ratio of 43.05.\n- **F4**: 43.05.\n"
    assert untraced(moved, rows) == ["43.05"]


@pytest.mark.parametrize(("section", "artefact", "render"), BLOCKS)
def test_each_block_is_what_its_command_prints(
    section: str, artefact: str, render: Callable[[Path], str]
) -> None:
    block = render(ROOT)
    assert block in sections(README)[section] or "```\n" + block + "\n```" in README, (
        f"README section {section!r}: regenerate the block from {artefact}"
    )
