"""Likely duplicate incidents among an import and the stored ones (`geomap import`'s report),
and those of one incident among its neighbours (the context report's).

The rule and its search are `geomap.analysis.duplicates` (pure: numpy); this module reads the
incidents it needs. During an import it runs inside the import's transaction, after the upsert:
`staging.IMPORT.seen` holds the imported ids (unless the import was a first one, which imported
every incident there is). Only the stored incidents whose dates come within the rule's days of
the imported ones' are read.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import Connection, text

from geomap.analysis.duplicates import BASES, GEOD, DuplicateRule, Incidents, Pairs, find, groups_of
from geomap.db.staging import IMPORT

__all__ = ["BASES", "DuplicateRule", "duplicates_among", "likely_duplicates"]
BATCH = 1 << 16
FIELDS = ("a", "b", "group", "event_type", "metres", "a_date", "b_date", "basis")

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
    first one), so there is no `staging.IMPORT.seen` to look in."""
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


def duplicates_among(conn: Connection, incident_id: str, ids: list[str],
                     rule: DuplicateRule) -> list[dict]:
    """The likely duplicates of one incident among the incidents `ids` (the context report's
    neighbours: every incident whose location may be within the rule's distance is among them),
    as `likely_duplicates` gives them."""
    # one ANY (an OR with the focus's own id would not use the primary key: a scan of every incident)
    read = _read(conn, "i.id = :id", "", " WHERE i.id = ANY(:ids)", {"id": incident_id, "ids": [incident_id, *ids]},
                 stream=False)  # a few rows, on the report's autocommit connection
    return list(_rows(read, find(read.incidents, rule, read.mine)))


def _read(conn: Connection, mine: str, seen: str, where: str, params: dict, stream: bool = True) -> _Read:
    """The incidents (with their target sites) that `where` keeps, and the groups any of their
    claims names, as arrays sorted by id (with `stream`, in batches from a server-side cursor,
    which needs a transaction: no row objects kept)."""
    ids, types, numbers = [], [], []
    result = (conn.execution_options(stream_results=True, yield_per=BATCH) if stream else conn).execute(
        text(f"SELECT {_COLUMNS.format(mine=mine, seen=seen)}{where}"), params)
    for batch in result.partitions(BATCH):
        ids += [r[0] for r in batch]
        types += [r[1] for r in batch]
        numbers.append(np.array([r[2:] for r in batch], dtype=float).reshape(len(batch), 9))
    result.close()
    order = np.argsort(np.array(ids, dtype=str), kind="stable") if ids else np.zeros(0, int)
    ids = np.array(ids, dtype=object)[order]
    numbers = (np.concatenate(numbers) if numbers else np.zeros((0, 9)))[order]
    types, type_code = np.unique(np.array(types, dtype=str)[order], return_inverse=True)
    index = {fid: i for i, fid in enumerate(ids.tolist())}
    claims = conn.execute(text("SELECT a.incident_id, a.group_id FROM attributions a JOIN incidents i ON i.id = a.incident_id "
                               f"{seen}{where}"), params).all() if len(ids) else []
    group_ids = sorted({g for _, g in claims})
    code = {g: i for i, g in enumerate(group_ids)}
    groups = groups_of(len(ids), np.array([index[i] for i, _ in claims], dtype=np.int64),
                       np.array([code[g] for _, g in claims], dtype=np.int64))
    incidents = Incidents(numbers[:, 0].astype(np.int64), numbers[:, 1].astype(np.int64), type_code.astype(np.int64),
                          *(numbers[:, k] for k in range(2, 8)), groups)
    return _Read(ids, types.astype(object), incidents, numbers[:, 8].astype(bool), group_ids)


def _rows(read: _Read, pairs: Pairs) -> Iterator[dict]:
    """The pairs as the import reports them, built a batch of columns at a time."""
    x = read.incidents
    groups = np.array([*read.group_ids, None], dtype=object)  # -1: the last, None
    bases = np.array(BASES, dtype=object)
    for start in range(0, len(pairs), BATCH):
        a, b = pairs.a[start:start + BATCH], pairs.b[start:start + BATCH]
        columns = (read.ids[a], read.ids[b], groups[pairs.group[start:start + BATCH]], read.types[x.event_type[a]],
                   np.round(GEOD.inv(x.lon[a], x.lat[a], x.lon[b], x.lat[b])[2], 1), _iso(x.day_start[a]),
                   _iso(x.day_start[b]), bases[pairs.basis[start:start + BATCH]])
        for values in zip(*(c.tolist() for c in columns), strict=True):
            yield dict(zip(FIELDS, values, strict=True))


def _iso(days: np.ndarray) -> np.ndarray:
    return (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype(str)
