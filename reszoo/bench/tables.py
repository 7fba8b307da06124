"""Plain-text and markdown tables for the commands' ``render`` functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MATCH_MARKS = {True: "✓", False: "✗", None: "—"}


def fmt(value, spec: str = "") -> str:
    """``format(value, spec)``, or an em dash for a missing value."""
    return "—" if value is None else format(value, spec)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """Right-aligned columns under a dashed rule, or a markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])
