"""Where files meet the database: `geomap load` reads files with `geomap.io` and writes them
with the one write path, `geomap.db.write` (which `geomap import` and the API's writes use too).

Idempotent: a feature whose content equals the stored one is left alone (no new version, no
history row); a new feature is created, a changed one updated (version + 1) with its previous
version kept in history. Everything in one transaction, or nothing.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from geomap.db import write
from geomap.io.geojson import COLLECTIONS
from geomap.io.load import SEED_FILES, read_all


@dataclass
class LoadReport:
    """What `geomap load` did: per collection, how many features it created, updated and left unchanged."""

    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        return [f"{c}: {self.created[c]} created, {self.updated[c]} updated, {self.unchanged[c]} unchanged"
                for c in COLLECTIONS if c in self.created | self.updated | self.unchanged]


def load(engine: Engine, paths: list[Path] | None = None, actor: str = "geomap load") -> LoadReport:
    """Load the files (default: the seed files). Raises InvalidInput, changing nothing, on any problem."""
    records = read_all(paths or list(SEED_FILES))
    report = LoadReport()
    with engine.begin() as conn:
        write.check_references(conn, records)
        for collection in COLLECTIONS:  # groups and sites first: the others name them
            applied = write.write(conn, collection, [r for r in records if r.collection == collection], actor)
            report.created.update({collection: applied.created})
            report.updated.update({collection: applied.updated})
            report.unchanged.update({collection: applied.unchanged})
    return LoadReport(+report.created, +report.updated, +report.unchanged)  # + drops the zeros
