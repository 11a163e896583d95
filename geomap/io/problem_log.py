"""The problems an import finds, as it finds them: every one to a CSV report (where, field,
reason), the first few kept to show, and counts."""
from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from geomap.errors import Problem
from geomap.io import spreadsheet

SHOWN = 20  # problems kept in memory to show; the report gets all of them


class ProblemLog:
    """Problems as they are found: all of them to the report file (CSV: where, field, reason),
    the first few kept to show, and counts. Safe to add to from two threads."""

    def __init__(self, report: Path | None):
        self.report = Path(report) if report else None
        self.shown: list[Problem] = []
        self.problems = 0
        self.features = 0
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._writer = None

    def __enter__(self) -> ProblemLog:
        if self.report:
            self._file = open(self.report, "w", newline="", encoding="utf-8")
            self._writer = spreadsheet.Writer(self._file)
            self._writer.writerow(["where", "field", "reason"])
        return self

    def __exit__(self, *exc) -> None:
        if self._file:
            self._file.close()

    def add(self, problems: Iterable[Problem]) -> None:
        """The problems of one feature."""
        problems = list(problems)
        if not problems:
            return
        with self._lock:
            self.features += 1
            self.problems += len(problems)
            self.shown += problems[:max(SHOWN - len(self.shown), 0)]
            if self._writer:
                self._writer.writerows([p.where, p.field, p.reason] for p in problems)
