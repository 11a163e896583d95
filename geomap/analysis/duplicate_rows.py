"""Likely duplicates as the import and the context report give them: the incidents read from the
database in batches of plain columns (`geomap.db.duplicates.Columns`) made into the search's
arrays (`prepare`), searched and graded (`geomap.analysis.duplicates.graded`), and the pairs
turned into rows a batch of columns at a time (`rows`). Pure: numpy and pyproj.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from geomap.analysis.duplicates import BASES, GEOD, GRADES, DuplicateRule, Incidents, Pairs, Possible, graded, groups_of

FIELDS = ("a", "b", "group", "event_type", "metres", "a_date", "b_date", "basis", "grade", "wider_m")
ROWS = 1 << 16  # pairs turned into rows at a time


@dataclass(frozen=True)
class Read:
    """Incidents prepared for a search: ids sorted (a 'U' array: index order is id order), event
    types, the arrays the search takes, which are of interest, and the group ids the groups' codes
    stand for."""

    ids: np.ndarray
    types: np.ndarray
    incidents: Incidents
    mine: np.ndarray
    group_ids: list[str]


@dataclass(frozen=True)
class Found:
    """The duplicate pairs a search found, with the incidents they index: the likely ones as rows,
    the possible ones counted by precision class (and as rows when the search listed them)."""

    read: Read
    pairs: Pairs  # the likely pairs, and the possible ones when listed
    counts: Possible  # the possible pairs by precision class

    def likely(self) -> Iterator[dict]:
        return rows(self.read, self.pairs.where(self.pairs.likely))

    def possible(self) -> Iterator[dict]:
        return rows(self.read, self.pairs.where(~self.pairs.likely))


def search(columns, rule: DuplicateRule, all_mine: bool = False, list_possible: bool = False) -> Found:
    """The duplicate pairs among `columns` (`geomap.db.duplicates.Columns`, or None: no incidents)
    with at least one incident of interest (every one when `all_mine`), the possible ones listed
    only when `list_possible` (else only counted). As rows (`rows`), each pair
    is once (a < b), with a group both name (None when one names none), the event type, the
    distance between their locations, their start dates, the basis of the match (`BASES`: which
    spots met), its grade (`GRADES`) and the radius of the wider of the two discs that met."""
    read = prepare((), ()) if columns is None else prepare(columns.incidents, columns.claims)
    return Found(read, *graded(read.incidents, rule, None if all_mine else read.mine, list_possible))


def prepare(incidents: Iterable[tuple], claims: Iterable[tuple]) -> Read:
    """The search's arrays, sorted by id, from batches of plain columns (`geomap.db.duplicates.Columns`):
    incident batches (ids, event types, an (n, 9) array of numbers, see `search`), then claim
    batches (incident ids, group ids). Each batch becomes arrays as it comes (types and groups coded
    through a dict of their few values, claims' incidents found by binary search in the sorted ids):
    a million incidents' ids and 900,000 claims as Python objects took a gigabyte."""
    ids, type_codes, numbers, type_code = [], [], [], {}
    for batch_ids, batch_types, batch_numbers in incidents:
        ids.append(np.array(batch_ids, dtype=str))
        type_codes.append(_coded(batch_types, type_code))
        numbers.append(batch_numbers)
    ids = np.concatenate(ids) if ids else np.zeros(0, dtype=str)
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    numbers = (np.concatenate(numbers) if numbers else np.zeros((0, 9)))[order]
    types, type_rank = _ranked(type_code)
    event_type = type_rank[np.concatenate(type_codes)[order]] if type_codes else np.zeros(0, np.int64)
    del order, type_codes
    rows, group_codes, group_code = [], [], {}
    for incident_ids, group_ids in claims:
        rows.append(np.searchsorted(ids, np.array(incident_ids, dtype=ids.dtype)))
        group_codes.append(_coded(group_ids, group_code))
    group_ids, group_rank = _ranked(group_code)
    groups = groups_of(len(ids), np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64),
                       group_rank[np.concatenate(group_codes)] if group_codes else np.zeros(0, np.int64))
    incidents = Incidents(numbers[:, 0].astype(np.int64), numbers[:, 1].astype(np.int64), event_type,
                          *(numbers[:, k] for k in range(2, 8)), groups)
    return Read(ids, np.array(types, dtype=object), incidents, numbers[:, 8].astype(bool), list(group_ids))


def _coded(values: list[str], code: dict[str, int]) -> np.ndarray:
    """The values' codes in `code` (new values get the next codes: order of first appearance)."""
    return np.array([code.setdefault(v, len(code)) for v in values], dtype=np.int64)


def _ranked(code: dict[str, int]) -> tuple[list[str], np.ndarray]:
    """The coded values sorted, and each code's index among them."""
    values = sorted(code)
    rank = np.zeros(len(code), dtype=np.int64)
    rank[[code[v] for v in values]] = np.arange(len(values))
    return values, rank


def rows(read: Read, pairs: Pairs) -> Iterator[dict]:
    """The pairs as the import reports them, built a batch of columns at a time."""
    x = read.incidents
    groups = np.array([*read.group_ids, None], dtype=object)  # -1: the last, None
    bases = np.array(BASES, dtype=object)
    grades = np.array(GRADES, dtype=object)
    for start in range(0, len(pairs), ROWS):
        batch = pairs.where(slice(start, start + ROWS))
        a, b = batch.a, batch.b
        columns = (read.ids[a], read.ids[b], groups[batch.group], read.types[x.event_type[a]],
                   np.round(GEOD.inv(x.lon[a], x.lat[a], x.lon[b], x.lat[b])[2], 1), _iso(x.day_start[a]),
                   _iso(x.day_start[b]), bases[batch.basis], grades[(~batch.likely).astype(int)],
                   np.round(batch.wider.astype(float), 1))
        for values in zip(*(c.tolist() for c in columns), strict=True):
            yield dict(zip(FIELDS, values, strict=True))


def _iso(days: np.ndarray) -> np.ndarray:
    return (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype(str)
