"""The incidents the likely-duplicate search needs (`geomap.analysis.duplicates`): those of an
import with the stored ones near them in time (`geomap import`'s report), or one incident with
some of its neighbours (the context report's), read as plain columns.

During an import it runs inside the import's transaction, after the upsert: `staging.IMPORT.seen`
holds the imported ids (unless the import was a first one, which imported every incident there
is). Only the stored incidents whose dates come within the rule's days of the imported ones' are
read.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Connection, text

from geomap.db.staging import IMPORT

BATCH = 1 << 16

_COLUMNS = (
    "i.id, i.event_type, i.date_start - DATE '1970-01-01', i.date_end - DATE '1970-01-01', "
    "ST_X(i.geom), ST_Y(i.geom), i.precision_m, coalesce(ST_X(s.geom), 'NaN'), coalesce(ST_Y(s.geom), 'NaN'), "
    "coalesce(s.precision_m, 'NaN'), {mine} "
    "FROM incidents i LEFT JOIN sites s ON s.id = i.target_site{seen}"
)


@dataclass(frozen=True)
class Columns:
    """Incidents as the search takes them (`geomap.analysis.duplicate_rows.prepare`), in batches read
    as they are asked for: incident batches (ids, event types, one row of numbers each: start and
    end day since 1970, lon, lat, precision, the target site's lon, lat and precision or NaN, 1 for
    the incidents of interest), then claim batches (the incident ids and group ids claims name)."""

    incidents: Iterator[tuple[list[str], list[str], np.ndarray]]
    claims: Iterator[tuple[list[str], list[str]]]


def of_import(conn: Connection, days: int, everything_imported: bool = False) -> Columns | None:
    """This import's incidents (of interest) and the stored ones within `days` of their dates;
    None when the import brought none. `everything_imported`: a first import (no `seen` table)."""
    if everything_imported:
        return read(conn, "true", "", "", {})
    span = conn.execute(text(f"SELECT min(i.date_start), max(i.date_end) FROM {IMPORT.seen} m "
                             "JOIN incidents i ON i.id = m.id")).one()
    if span[0] is None:
        return None
    window = " WHERE daterange(i.date_start, i.date_end, '[]') && daterange(:first, :last, '[]')"
    return read(conn, "m.id IS NOT NULL", f" LEFT JOIN {IMPORT.seen} m ON m.id = i.id", window,
                {"first": span[0] - timedelta(days=days), "last": span[1] + timedelta(days=days)})


def of_incident(conn: Connection, incident_id: str, ids: list[str]) -> Columns:
    """One incident (of interest) and the incidents `ids` (the context report's neighbours)."""
    # one ANY (an OR with the focus's own id would not use the primary key: a scan of every incident);
    # the claims by their own index: joined to incidents, 10,000 ids were a hash join over every
    # claim (415-485 ms at 1,000,000 incidents against 35 ms)
    return read(conn, "i.id = :id", "", " WHERE i.id = ANY(:ids)", {"id": incident_id, "ids": [incident_id, *ids]},
                stream=False, claims_where=" WHERE a.incident_id = ANY(:ids)")  # on the report's autocommit connection


def targeting(conn: Connection, site_ids: list[str], first: date, last: date) -> list[str]:
    """The incidents that target one of the sites and whose dates meet `first`..`last` (the
    target-site index, migration 0011): records coded at a site, wherever their own point is."""
    if not site_ids:
        return []
    return list(conn.execute(text("SELECT id FROM incidents WHERE target_site = ANY(:sites) AND date_end >= :first "
                                  "AND date_start <= :last"), {"sites": site_ids, "first": first, "last": last}
                             ).scalars())


def read(conn: Connection, mine: str, seen: str, where: str, params: dict, stream: bool = True,
         claims_where: str | None = None) -> Columns:
    """The incidents (with their target sites) that `where` keeps and their claims' groups, as
    batches (with `stream`, from server-side cursors, which need a transaction): a million
    incidents are never a million row objects at once. The claims are read once the incidents are:
    those of the incidents kept, or those `claims_where` keeps (a condition on `attributions a` alone)."""
    incidents = _batches(conn, f"SELECT {_COLUMNS.format(mine=mine, seen=seen)}{where}", params, stream)
    joined = f"JOIN incidents i ON i.id = a.incident_id {seen}{where}"
    claims = _batches(conn, f"SELECT a.incident_id, a.group_id FROM attributions a {joined if claims_where is None else claims_where}",
                      params, stream)
    return Columns(((_column(b, 0), _column(b, 1), np.array([r[2:] for r in b], dtype=float).reshape(len(b), 9))
                    for b in incidents), ((_column(b, 0), _column(b, 1)) for b in claims))


def _batches(conn: Connection, sql: str, params: dict, stream: bool) -> Iterator[list]:
    """The rows of `sql`, BATCH at a time, the query run when the first batch is asked for."""
    result = (conn.execution_options(stream_results=True, yield_per=BATCH) if stream else conn).execute(text(sql), params)
    try:
        yield from result.partitions(BATCH)
    finally:
        result.close()


def _column(batch: list, k: int) -> list:
    return [r[k] for r in batch]
