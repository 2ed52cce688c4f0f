"""Every table in the README and docs/ is one table: a header, its `|---|` line, and
rows with no blank line among them (a blank line ends a Markdown table, and the rows
after it render as a paragraph of pipes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_SEPARATOR = re.compile(r"\|(\s*:?-+:?\s*\|)+")


def _tables(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of each run of table lines outside code blocks."""
    tables: list[tuple[int, list[str]]] = []
    fenced, current, start = False, [], 0
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            if not current:
                start = number
            current.append(line)
            continue
        if current:
            tables.append((start, current))
            current = []
    return tables


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name) for p in PAGES])
def test_every_table_starts_with_a_header_and_its_separator(page: Path) -> None:
    for start, lines in _tables(page.read_text()):
        assert len(lines) >= 2 and _SEPARATOR.fullmatch(lines[1].strip()), (
            f"{page.name}:{start}: a table without a header line and |---| under it"
            " (rows cut off from their table by a blank line?)"
        )


def test_a_table_split_by_a_blank_line_is_found() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"
    _start, second = _tables(text)[1]
    assert not _SEPARATOR.fullmatch(second[0].strip())
