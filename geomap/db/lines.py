"""A feature read for `geomap import` as the COPY lines it adds to each table, or its problems.

The step between reading (`geomap.io`) and writing (`geomap.db.importing`), which the reader
thread and the reader processes (`geomap.io.chunks`, `geomap.io.parallel`) are handed: references
to groups and sites are checked against the ids known when the import began, and a value
PostgreSQL cannot store (a NUL character) is refused here. Instances pickle as their arguments,
so that reader processes make their own (the compiled formatter does not pickle).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from geomap.db import bulk, rows, staging
from geomap.errors import Problem
from geomap.model.records import Record, unknown_references


class Item(Protocol):
    """A feature as a reader yields it (`geomap.io.readers.Item`)."""

    where: str
    record: Record | None
    problems: tuple[Problem, ...]


def _formatter(collection: str, actor: str, direct: bool) -> Callable:
    """rows.formatter for the tables an import writes: the collection's own (and history)
    when it writes directly, else the staging tables."""
    if direct:
        history = rows.history_line(collection, actor, bulk.create_changes(collection))
        return rows.formatter(staging.direct_fields(collection), history)
    return rows.formatter(staging.staging_fields(collection))


class FeatureLines:
    """(item, ordinal) -> (a COPY text per table, or None; the item's problems)."""

    def __init__(self, path: Path, collection: str, actor: str, direct: bool, known: dict[str, set[str]]):
        self.arguments = (path, collection, actor, direct, known)
        self.line = _formatter(collection, actor, direct)
        self.known = known  # ids that references may name, by "groups" and "sites"
        self.prefix = f"{path}: "  # staged places leave out the path, which every one starts with

    def __reduce__(self):
        return FeatureLines, self.arguments

    def __call__(self, item: Item, ordinal: int) -> tuple[tuple[str, ...] | None, list[Problem]]:
        if item.record is None:
            return None, list(item.problems)
        problems = unknown_references(item.record, self.known)
        texts = self.line(item.record, item.where.removeprefix(self.prefix), ordinal)
        if rows.has_nul("".join(texts)):
            problems.append(Problem(item.where, "properties", "contains a NUL character (\\u0000), "
                                    "which PostgreSQL cannot store; remove it"))
        return (None if problems else texts), problems
