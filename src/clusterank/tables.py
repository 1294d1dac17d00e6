"""Tables as text: one Markdown writer, one HTML writer and one money format for every table clusterank prints.

Cells are `str()`'d; the HTML writer escapes them. A `Table` (header, rows and the line above it) renders
as the Markdown a user pastes and as the table on a page, so the two never drift apart.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table: `| a | b |`, then `|---|` per column, then one line per row.

    Args:
        header: the column names.
        rows: the cells of each row, `str()`'d.

    Returns:
        The table without a trailing newline, e.g. "| a | b |\\n|---|---|\\n| 1 | 2 |".
    """
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """The same table as HTML (`<table><thead>...</thead><tbody>...</tbody></table>`), every cell escaped.

    Args:
        header: the column names.
        rows: the cells of each row, `str()`'d.

    Returns:
        One line of HTML.
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class Table:
    """A table with the line that introduces it; rendered as Markdown or HTML from the same cells."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str = ""
    """The line above the table ("Cost (USD):"); empty for none."""

    def markdown(self) -> str:
        """The title line, a blank line and the Markdown table (just the table when there is no title)."""
        table = markdown_table(self.header, self.rows)
        return f"{self.title}\n\n{table}" if self.title else table

    def html(self) -> str:
        """The title as a paragraph, then the HTML table."""
        table = html_table(self.header, self.rows)
        return f"<p>{html.escape(self.title)}</p>\n{table}" if self.title else table


def format_usd(usd: float, *, unit_price: bool = False) -> str:
    """Dollars as a person reads them; "-" when not a finite number.

    Args:
        usd: the amount.
        unit_price: format a price per unit (per 1M tokens) with at least two and at most four decimals and no
            trailing zeros beyond two ($0.10, $0.065, $0.0402), instead of an amount ($1,234 / $12.34 / $0.80 /
            $0.0052: whole dollars from $100, cents from $0.10, two significant digits below).

    Returns:
        The text, e.g. "$0.52".
    """
    if not math.isfinite(usd):
        return "-"
    if unit_price:
        text = f"{usd:.4f}".rstrip("0")
        return "$" + text + "0" * (2 - len(text.split(".")[1]))
    if usd >= 100:
        return f"${usd:,.0f}"
    if usd >= 0.1:
        return f"${usd:,.2f}"
    return f"${usd:.2g}" if usd > 0 else "$0"
