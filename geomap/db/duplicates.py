"""Likely duplicate incidents among an import and the stored ones (`geomap import`'s report).

Runs inside the import's transaction, after the upsert: `staging.IMPORT.seen` holds the imported ids
(unless the import was a first one, which imported every incident there is).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geomap.db.staging import IMPORT
from geomap.model.attribution import AFFIRMATIVE_STANCES

# The neighbouring keys: (cell x, cell y, time bucket) offsets. A pair of imported incidents is
# found once, from the one whose neighbour the other is in the "forward" half (offsets after
# (0, 0, 0), and (0, 0, 0) itself with the smaller id first); a stored incident is also looked
# for in the backward half. Half the probes of looking all around every imported incident.
_OFFSETS = [(x, y, t) for x in (-1, 0, 1) for y in (-1, 0, 1) for t in (-1, 0, 1)]
FORWARD = [o for o in _OFFSETS if o >= (0, 0, 0)]
BACKWARD = [o for o in _OFFSETS if o < (0, 0, 0)]


def _probe(offsets: list[tuple[int, int, int]], others: str) -> str:
    """Candidate pairs (imported incident, neighbour in `others` at one of `offsets`) that meet
    the rule exactly. OFFSET 0 keeps the probes a separate subquery, streamed into one hash join
    on all five keys rather than stored."""
    values = ", ".join(f"({x}, {y}, {t})" for x, y, t in offsets)
    return (
        "SELECT a.id AS a, b.id AS b, a.group_id, a.event_type, a.date_start::text AS a_date, "
        "b.date_start::text AS b_date, ST_Distance(a.geom::geography, b.geom::geography) AS metres "
        "FROM (SELECT k.*, k.cx + d.x AS px, k.cy + d.y AS py, k.ct + d.t AS pt, d.x = 0 AND d.y = 0 AND d.t = 0 AS own "
        f"FROM keyed k CROSS JOIN (VALUES {values}) d(x, y, t) WHERE k.mine OFFSET 0) a "
        f"JOIN {others} b ON b.event_type = a.event_type AND b.group_id = a.group_id "
        "AND b.cx = a.px AND b.cy = a.py AND b.ct = a.pt "
        "WHERE b.id <> a.id AND (NOT a.own OR NOT b.mine OR a.id < b.id) "
        "AND b.date_start <= a.date_end + :days AND a.date_start <= b.date_end + :days "
        "AND ST_DWithin(a.geom::geography, b.geom::geography, :metres)"
    )


@dataclass(frozen=True)
class DuplicateRule:
    """Two incidents are likely duplicates when they share an attributed group and the event
    type, lie within `metres` of each other, and their date intervals are at most `days` apart."""

    metres: float = 1000.0
    days: int = 1


def likely_duplicates(conn: Connection, rule: DuplicateRule, everything_imported: bool = False) -> Iterator[dict]:
    """Pairs of likely duplicate incidents with at least one of them in this import; each pair
    once, with one group they share. `everything_imported`: every stored incident came with
    this import (a first one), so there is no `staging.IMPORT.seen` to look in.

    An index probe per incident would visit every incident within the distance, whatever its
    date and type: hundreds in a dense city over ten years. Instead every attributed incident
    gets a key (event type, group, grid cell, time bucket) and a hash join matches each imported
    incident with the neighbouring cells and buckets. Cells are at least `metres` wide on the
    ground (up to the data's highest latitude) and buckets at least the longest date interval
    plus `days` long, so any pair within the rule shares a key or a neighbouring one; the exact
    test (geodesic distance, date gap) follows. Cells do not wrap around the antimeridian.
    """
    highest, longest = conn.execute(text(
        "SELECT coalesce(max(abs(ST_Y(geom))), 0), coalesce(max(date_end - date_start), 0) FROM incidents")).one()
    cell_lat = rule.metres / 110_000.0  # a degree of latitude is at least 110.57 km
    widest = min(highest + cell_lat, 89.9)
    cell_lon = min(cell_lat / math.cos(math.radians(widest)), 360.0)
    # Which incidents are this import's: all of them after a first import, else those seen.
    mine, seen = ("true", "") if everything_imported else \
        ("m.id IS NOT NULL", f" LEFT JOIN {IMPORT.seen} m ON m.id = i.id")
    keyed = (
        f"SELECT i.id, i.event_type, x.group_id, i.geom, i.date_start, i.date_end, {mine} AS mine, "
        "floor(ST_X(i.geom) / :cell_lon)::bigint AS cx, floor(ST_Y(i.geom) / :cell_lat)::bigint AS cy, "
        "floor((i.date_start - DATE '1900-01-01') / :cell_days)::bigint AS ct "
        f"FROM incidents i JOIN attributions x ON x.incident_id = i.id AND x.stance = ANY(:stances){seen}"
    )
    pairs = _probe(FORWARD, "keyed") + ("" if everything_imported else  # else stored ones to look back for
                                        f" UNION ALL {_probe(BACKWARD, '(SELECT * FROM keyed WHERE NOT mine)')}")
    sql = (
        f"WITH keyed AS MATERIALIZED ({keyed}), "
        f"pairs AS ({pairs}) "
        "SELECT DISTINCT ON (least(a, b), greatest(a, b)) least(a, b) AS a, greatest(a, b) AS b, "
        "group_id AS group, event_type, round(metres::numeric, 1)::float AS metres, "
        "CASE WHEN a < b THEN a_date ELSE b_date END AS a_date, "
        "CASE WHEN a < b THEN b_date ELSE a_date END AS b_date "
        "FROM pairs ORDER BY least(a, b), greatest(a, b), group_id"
    )
    params = {"metres": rule.metres, "days": rule.days, "cell_lat": cell_lat, "cell_lon": cell_lon,
              "cell_days": longest + rule.days + 1, "stances": list(AFFIRMATIVE_STANCES)}
    # One hash join on all five keys, its tables in memory: a merge join would sort millions of
    # probes to disk. This is the import's last statement, so the settings end with it.
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SET LOCAL enable_mergejoin = off"))
    yield from (dict(row) for row in conn.execute(text(sql), params).mappings())
