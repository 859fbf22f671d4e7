"""Reading the README for its numbers (issue 19): its ``##`` sections, the decimal numbers
written in a text, and whether a paragraph's numbers are those of the ``paper_checks.md`` rows
of the claims it names (:func:`untraced`). Used by :mod:`verification.readme_numbers` and its
test."""

from __future__ import annotations

import re

__all__ = [
    "ROWS_ARTEFACT",
    "ROW_SECTIONS",
    "claim_rows",
    "decimals",
    "normalise",
    "sections",
    "untraced",
]

#: a decimal number as written (``0.503``, ``-0.035``, ``+0.008``, ``0.977x``), not part of a word,
#: a version (``1.2.3``) or a thousands group (``1,437``)
_DECIMAL = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![^\Wx]|\.\d)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def normalise(text: str) -> str:
    """``text`` with every run of white space one space (the README wraps its lines)."""
    return " ".join(text.split())


def sections(readme: str) -> dict[str, str]:
    """The README's ``##`` sections by heading text (fenced code removed)."""
    out: dict[str, str] = {}
    heading = ""
    for line in _FENCE.sub("", readme).splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = ""
        else:
            out[heading] = out.get(heading, "") + line + "\n"
    return out


#: Sections whose numbers come from ``paper_checks.md``: each bullet's (paragraph's) decimal
#: numbers must be, to the places written, numbers of the rows of the claims it names in bold
#: (every row's if it names none); :func:`untraced` finds those that are not.
ROW_SECTIONS: tuple[str, ...] = ("What the checks found so far", "Statistical checks")
ROWS_ARTEFACT = "paper_checks.md"

_BOLD_ID = re.compile(r"\*\*([A-Z][A-Za-z0-9.]*?)\.?[*\s:]")
_ROW = re.compile(r"^\| ([A-Z][A-Za-z0-9.]*) \|(.*)$", re.M)


def claim_rows(paper_checks: str) -> dict[str, str]:
    """The text of every claim row of ``paper_checks.md``, by claim id."""
    return {m.group(1): m.group(2) for m in _ROW.finditer(paper_checks)}


def _paragraphs(text: str) -> list[str]:
    """Bullets (a ``- `` line and its indented continuation) and plain paragraphs."""
    parts: list[str] = []
    for line in text.splitlines():
        if line.startswith("- ") or (not line.strip()) or not parts:
            parts.append(line)
        else:
            parts[-1] += "\n" + line
    return [p for p in parts if p.strip()]


def _same(written: str, measured: str) -> bool:
    """Whether ``measured`` rounds to ``written`` at its number of decimal places."""
    places = len(written.split(".")[1].rstrip("x"))
    value = written.rstrip("x").lstrip("+")
    return f"{float(measured.rstrip('x')):.{places}f}" in (value, value.replace("-", ""))


def untraced(section: str, rows: dict[str, str]) -> list[str]:
    """The decimal numbers of ``section`` (README text) found in no row its paragraph names."""
    missing = []
    for para in _paragraphs(section):
        ids = [i for i in _BOLD_ID.findall(para) if i in rows] or list(rows)
        pool = [n for i in ids for n in decimals(rows[i])]
        missing += [d for d in decimals(para) if not any(_same(d, n) for n in pool)]
    return missing


def decimals(text: str) -> list[str]:
    """The decimal numbers written in ``text`` (``0.503``, ``-0.035``, ``+0.008``)."""
    return _DECIMAL.findall(text)
