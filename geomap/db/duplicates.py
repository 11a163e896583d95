"""Likely duplicate incidents among an import and the stored ones (`geomap import`'s report).

The rule and its search are `geomap.analysis.duplicates` (pure: numpy); this module reads the
incidents it needs. During an import it runs inside the import's transaction, after the upsert:
`bulk.IMPORT.seen` holds the imported ids (unless the import was a first one, which imported
every incident there is). Only the stored incidents whose dates come within the rule's days of
the imported ones' are read.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Connection, text

from geomap.analysis.duplicates import BASES, DuplicateRule, Incidents, Pairs, find, groups_of
from geomap.db.bulk import IMPORT

__all__ = ["BASES", "DuplicateRule", "likely_duplicates"]
EPOCH = date(1970, 1, 1)

_COLUMNS = (
    "i.id, i.event_type, i.date_start - DATE '1970-01-01', i.date_end - DATE '1970-01-01', "
    "ST_X(i.geom), ST_Y(i.geom), i.precision_m, coalesce(ST_X(s.geom), 'NaN'), coalesce(ST_Y(s.geom), 'NaN'), "
    "coalesce(s.precision_m, 'NaN'), {mine} "
    "FROM incidents i LEFT JOIN sites s ON s.id = i.target_site{seen}"
)


@dataclass(frozen=True)
class _Read:
    """The incidents read for a search: their ids (sorted, so that index order is id order),
    event types, the arrays the search takes, and which are mine."""

    ids: np.ndarray
    types: np.ndarray
    incidents: Incidents
    mine: np.ndarray
    group_ids: list[str]


def likely_duplicates(conn: Connection, rule: DuplicateRule, everything_imported: bool = False) -> Iterator[dict]:
    """Pairs of likely duplicate incidents with at least one of them in this import; each pair
    once (a < b), with a group both name (None when one names none), the event type, the
    distance between their locations, their start dates and the basis of the match (`BASES`:
    which spots met). `everything_imported`: every stored incident came with this import (a
    first one), so there is no `bulk.IMPORT.seen` to look in."""
    if everything_imported:
        read = _read(conn, "true", "", "", {})
    else:
        span = conn.execute(text(f"SELECT min(i.date_start), max(i.date_end) FROM {IMPORT.seen} m "
                                 "JOIN incidents i ON i.id = m.id")).one()
        if span[0] is None:
            return
        window = " WHERE daterange(i.date_start, i.date_end, '[]') && daterange(:first, :last, '[]')"
        read = _read(conn, "m.id IS NOT NULL", f" LEFT JOIN {IMPORT.seen} m ON m.id = i.id", window,
                     {"first": span[0] - timedelta(days=rule.days), "last": span[1] + timedelta(days=rule.days)})
    if len(read.ids):
        yield from _rows(read, find(read.incidents, rule, None if everything_imported else read.mine))


def _read(conn: Connection, mine: str, seen: str, where: str, params: dict) -> _Read:
    """The incidents (with their target sites) that `where` keeps, and the groups any of their
    claims names, as arrays sorted by id."""
    rows = conn.execute(text(f"SELECT {_COLUMNS.format(mine=mine, seen=seen)}{where}"), params).all()
    ids = np.array([r[0] for r in rows], dtype=object)
    order = np.argsort(ids.astype(str), kind="stable") if len(rows) else np.zeros(0, int)
    rows = [rows[i] for i in order]
    ids = ids[order]
    types, type_code = np.unique(np.array([r[1] for r in rows], dtype=object).astype(str), return_inverse=True)
    numbers = np.array([r[2:] for r in rows], dtype=float).reshape(len(rows), 9)
    index = {fid: i for i, fid in enumerate(ids.tolist())}
    claims = conn.execute(text("SELECT a.incident_id, a.group_id FROM attributions a JOIN incidents i ON i.id = a.incident_id "
                               f"{seen}{where}"), params).all() if len(ids) else []
    group_ids = sorted({g for _, g in claims})
    code = {g: i for i, g in enumerate(group_ids)}
    groups = groups_of(len(ids), np.array([index[i] for i, _ in claims], dtype=np.int64),
                       np.array([code[g] for _, g in claims], dtype=np.int64))
    incidents = Incidents(numbers[:, 0].astype(np.int64), numbers[:, 1].astype(np.int64), type_code.astype(np.int64),
                          *(numbers[:, k] for k in range(2, 8)), groups)
    return _Read(ids, types, incidents, numbers[:, 8].astype(bool), group_ids)


def _rows(read: _Read, pairs: Pairs) -> Iterator[dict]:
    """The pairs as the import reports them."""
    x = read.incidents
    metres = _metres(x, pairs)
    for k in range(len(pairs)):
        a, b = int(pairs.a[k]), int(pairs.b[k])
        yield {"a": read.ids[a], "b": read.ids[b],
               "group": read.group_ids[pairs.group[k]] if pairs.group[k] >= 0 else None,
               "event_type": str(read.types[x.event_type[a]]), "metres": float(metres[k]),
               "a_date": (EPOCH + timedelta(days=int(x.day_start[a]))).isoformat(),
               "b_date": (EPOCH + timedelta(days=int(x.day_start[b]))).isoformat(), "basis": BASES[pairs.basis[k]]}


def _metres(x: Incidents, pairs: Pairs) -> np.ndarray:
    from geomap.analysis.duplicates import GEOD

    if not len(pairs):
        return np.zeros(0)
    return np.round(GEOD.inv(x.lon[pairs.a], x.lat[pairs.a], x.lon[pairs.b], x.lat[pairs.b])[2], 1)
