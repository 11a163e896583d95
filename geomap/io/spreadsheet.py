"""CSV that spreadsheets open as data, never as formulas (OWASP's "CSV injection").

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` (and, in
some, a tab or carriage return) as a formula: a title such as `=HYPERLINK("http://x", "click")`
would become a live link, `+1+1` a sum. Every text cell that starts so is written with a leading
apostrophe, which spreadsheets show as text and drop from the value. Numbers are left alone
(a longitude of -73.9 stays a number).
"""
from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """`value` as a spreadsheet shows it: text that would start a formula is escaped."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """csv.writer with every text cell passed through `cell`."""

    def __init__(self, stream: IO[str]):
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
