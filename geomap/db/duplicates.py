"""The incidents the likely-duplicate search needs (`geomap.analysis.duplicates`): those of an
import with the stored ones near them in time (`geomap import`'s report), or one incident with
some of its neighbours (the context report's), read as plain columns.

During an import it runs inside the import's transaction, after the upsert: `staging.IMPORT.seen`
holds the imported ids (unless the import was a first one, which imported every incident there
is). Only the stored incidents whose dates come within the rule's days of the imported ones' are
read.
"""
from __future__ import annotations

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
    """Incidents as the search takes them: ids, event types, one row of numbers each (start and
    end day since 1970, lon, lat, precision, the target site's lon, lat and precision or NaN,
    1 for the incidents of interest) and every (incident id, group id) a claim names."""

    ids: list[str]
    types: list[str]
    numbers: np.ndarray
    claims: list[tuple[str, str]]


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
    # one ANY (an OR with the focus's own id would not use the primary key: a scan of every incident)
    return read(conn, "i.id = :id", "", " WHERE i.id = ANY(:ids)", {"id": incident_id, "ids": [incident_id, *ids]},
                stream=False)  # a few rows, on the report's autocommit connection


def targeting(conn: Connection, site_ids: list[str], first: date, last: date) -> list[str]:
    """The incidents that target one of the sites and whose dates meet `first`..`last` (the
    target-site index, migration 0011): records coded at a site, wherever their own point is."""
    if not site_ids:
        return []
    return list(conn.execute(text("SELECT id FROM incidents WHERE target_site = ANY(:sites) AND date_end >= :first "
                                  "AND date_start <= :last"), {"sites": site_ids, "first": first, "last": last}
                             ).scalars())


def read(conn: Connection, mine: str, seen: str, where: str, params: dict, stream: bool = True) -> Columns:
    """The incidents (with their target sites) that `where` keeps and their claims' groups (with
    `stream`, in batches from a server-side cursor, which needs a transaction: no row objects kept)."""
    ids, types, numbers = [], [], []
    result = (conn.execution_options(stream_results=True, yield_per=BATCH) if stream else conn).execute(
        text(f"SELECT {_COLUMNS.format(mine=mine, seen=seen)}{where}"), params)
    for batch in result.partitions(BATCH):
        ids += [r[0] for r in batch]
        types += [r[1] for r in batch]
        numbers.append(np.array([r[2:] for r in batch], dtype=float).reshape(len(batch), 9))
    result.close()
    claims = conn.execute(text("SELECT a.incident_id, a.group_id FROM attributions a JOIN incidents i ON i.id = a.incident_id "
                               f"{seen}{where}"), params).all() if ids else []
    return Columns(ids, types, np.concatenate(numbers) if numbers else np.zeros((0, 9)), [tuple(c) for c in claims])
