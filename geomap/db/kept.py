"""A table-wide bound kept per pooled connection, checked in the statement that relies on it.

Some hot reads need a bound over the whole table before they can use an index well: nearby the
largest precision radius (its boxes widen by it, `geomap.db.near`), a dated items page the
longest span of an incident (its walk of the start-date B-tree starts that much before the
window, `geomap.db.features`). Reading the bound before every statement costs a round trip
(issue 16). So it is kept in the connection's `info`, and each statement checks in its own
snapshot that the bound still holds: a one-time filter (`max(...) <= :kept`, one row of an
index) that empties the answer when a write from any process has passed it. An empty answer is
then read again with the bound read afresh; one that was empty anyway is the same answer.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection


@dataclass(frozen=True)
class Kept:
    """A bound kept in `Connection.info` under `key`, read by `read` when none is kept or the
    kept one may have been passed."""

    key: str
    read: Callable[[Connection], Any]

    def value(self, conn: Connection) -> Any:
        """The kept bound (read and kept if none is)."""
        if conn.info.get(self.key) is None:
            conn.info[self.key] = self.read(conn)
        return conn.info[self.key]

    def rows(self, conn: Connection, run: Callable[[Any], list]) -> list:
        """`run(bound)`'s rows with the kept bound, and again with the one read now when it may
        have grown since (no rows)."""
        kept = conn.info.get(self.key)
        rows = [] if kept is None else run(kept)
        if rows:
            return rows
        fresh = conn.info[self.key] = self.read(conn)
        return rows if kept is not None and fresh <= kept else run(fresh)
