"""Likely duplicate incidents among an import and the stored ones (`geomap import`'s report).

Runs inside the import's transaction, after the upsert: `bulk.IMPORT.seen` holds the imported ids
(unless the import was a first one, which imported every incident there is).

Two sources often code one event at different points: ACLED puts a rocket attack at the base it
hit, another source at the launch site kilometres away, each with its own precision. So the rule
compares *spots*, not points: every incident has the disc of its own location (its point and
precision radius) and, when it names a target site, the disc of that site. Two incidents are
likely duplicates when (`DuplicateRule`):

- they have the same event type;
- their date intervals are at most `days` apart;
- their claims do not tell them apart: a group is named by claims of both (whatever the stance:
  a source that disputes a group's part still speaks of the same event), or one of them names none;
- a spot of one comes within `metres` of a spot of the other, disc to disc: their own locations,
  one's location and the other's target, or their two targets (`basis` says which).
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, text

from geomap.db.bulk import IMPORT

BASES = ("locations", "a at the target of b", "b at the target of a", "targets")


@dataclass(frozen=True)
class DuplicateRule:
    """Two incidents are likely duplicates when they have the same event type, their date
    intervals are at most `days` apart, their claims name a common group (any stance) or one
    names none, and a spot of each (its location's precision disc, or its target site's) comes
    within `metres` of the other's."""

    metres: float = 1000.0
    days: int = 1


# Spots live in grids of several levels: a spot of radius r (its precision + metres / 2) belongs
# to the smallest level whose half cell, HALF * 2**level, holds r. A pair of spots within reach
# (distance <= metres + both precisions = r_a + r_b) lies in the same or neighbouring cells of the
# grid of the higher of their two levels, in which every spot of a lower level is also entered:
# so an imported spot probes its neighbourhood in each grid from its own level up, and each pair
# is kept at the higher of its two levels only.
_SPOTS = (
    # every incident's own location, and the location of its target site
    "SELECT i.id, i.event_type, i.date_start, i.date_end, i.geom, i.precision_m AS radius, 0 AS kind, "
    "{mine} AS mine FROM incidents i{seen} "
    "UNION ALL SELECT i.id, i.event_type, i.date_start, i.date_end, s.geom, s.precision_m, 1, {mine} "
    "FROM incidents i JOIN sites s ON s.id = i.target_site{seen}"
)
_LEVEL = "greatest(0, ceil(ln((radius + :metres / 2) / :half) / ln(2.0)))::int"
_KEYED = (
    "SELECT p.*, g.level, floor(ST_X(p.geom) / g.cell_lon)::bigint AS cx, "
    "floor(ST_Y(p.geom) / g.cell_lat)::bigint AS cy, "
    "floor((p.date_start - DATE '1900-01-01') / :cell_days)::bigint AS ct "
    "FROM (SELECT s.*, {level} AS own FROM spots s) p JOIN grids g ON g.level >= p.own"
)
_PAIRS = (
    "SELECT a.id AS a, b.id AS b, a.event_type, a.kind AS a_kind, b.kind AS b_kind "
    "FROM (SELECT k.*, k.cx + d.x AS px, k.cy + d.y AS py, k.ct + d.t AS pt FROM keyed k "
    "CROSS JOIN (VALUES {offsets}) d(x, y, t) WHERE k.mine OFFSET 0) a "
    "JOIN keyed b ON b.event_type = a.event_type AND b.level = a.level "
    "AND b.cx = a.px AND b.cy = a.py AND b.ct = a.pt "
    "WHERE b.id <> a.id AND a.level = greatest(a.own, b.own) "
    "AND b.date_start <= a.date_end + :days AND a.date_start <= b.date_end + :days "
    "AND ST_DWithin(a.geom::geography, b.geom::geography, :metres + a.radius + b.radius)"
)
_NAMED = "(SELECT array_agg(DISTINCT group_id ORDER BY group_id) FROM attributions WHERE incident_id = {})"


def likely_duplicates(conn: Connection, rule: DuplicateRule, everything_imported: bool = False) -> Iterator[dict]:
    """Pairs of likely duplicate incidents with at least one of them in this import; each pair
    once (a < b), with a group both name (or None when one names none), the event type, the
    distance between their locations, their start dates and the basis of the match (`BASES`:
    which spots met). `everything_imported`: every stored incident came with this import (a
    first one), so there is no `bulk.IMPORT.seen` to look in.

    An index probe per incident would visit every incident within reach, whatever its date and
    type: hundreds in a dense city over ten years. Instead every spot gets keys (event type,
    grid level, cell, time bucket) and a hash join matches each imported spot with the
    neighbouring cells and buckets; the exact tests (geodesic distance between the discs, date
    gap, claims) follow. Cells do not wrap around the antimeridian.
    """
    params = _parameters(conn, rule)
    mine, seen = ("true", "") if everything_imported else \
        ("m.id IS NOT NULL", f" LEFT JOIN {IMPORT.seen} m ON m.id = i.id")
    levels = sorted(_levels(conn, params, _SPOTS.format(mine="true", seen="")))
    if not levels:
        return
    grids = ", ".join(f"({level}, {cell_lat}, {cell_lon})" for level, cell_lat, cell_lon in
                      (_cell(level, params["half"], params["highest"]) for level in levels))
    offsets = ", ".join(f"({x}, {y}, {t})" for x in (-1, 0, 1) for y in (-1, 0, 1) for t in (-1, 0, 1))
    sql = (
        f"WITH spots AS MATERIALIZED ({_SPOTS.format(mine=mine, seen=seen)}), "
        f"grids(level, cell_lat, cell_lon) AS (VALUES {grids}), "
        f"keyed AS MATERIALIZED ({_KEYED.format(level=_LEVEL)}), "
        f"pairs AS ({_PAIRS.format(offsets=offsets)}), "
        "found AS (SELECT least(a, b) AS a, greatest(a, b) AS b, event_type, "
        "CASE WHEN a < b THEN a_kind ELSE b_kind END AS a_kind, CASE WHEN a < b THEN b_kind ELSE a_kind END AS b_kind "
        "FROM pairs) "
        "SELECT DISTINCT ON (f.a, f.b) f.a, f.b, f.event_type, f.a_kind, f.b_kind, "
        "ia.date_start::text AS a_date, ib.date_start::text AS b_date, "
        "round(ST_Distance(ia.geom::geography, ib.geom::geography)::numeric, 1)::float AS metres, "
        f"{_NAMED.format('f.a')} AS a_groups, {_NAMED.format('f.b')} AS b_groups "
        "FROM found f JOIN incidents ia ON ia.id = f.a JOIN incidents ib ON ib.id = f.b "
        "ORDER BY f.a, f.b, f.a_kind + f.b_kind, f.a_kind"
    )
    # One hash join on all five keys, its tables in memory: a merge join would sort millions of
    # probes to disk. This is the import's last statement, so the settings end with it.
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SET LOCAL enable_mergejoin = off"))
    for row in conn.execute(text(sql), params).mappings():
        if (pair := _pair(row)) is not None:
            yield pair


def _parameters(conn: Connection, rule: DuplicateRule) -> dict:
    highest, longest = conn.execute(text(
        "SELECT greatest(coalesce((SELECT max(abs(ST_Y(geom))) FROM incidents), 0), "
        "coalesce((SELECT max(abs(ST_Y(geom))) FROM sites), 0)), "
        "coalesce((SELECT max(date_end - date_start) FROM incidents), 0)")).one()
    return {"metres": float(rule.metres), "days": rule.days, "half": max(rule.metres / 2, 1.0), "highest": highest,
            "cell_days": longest + rule.days + 1}


def _levels(conn: Connection, params: dict, spots: str) -> list[int]:
    """The grid levels some spot belongs to."""
    query = f"SELECT DISTINCT {_LEVEL} FROM ({spots}) s"
    return [row[0] for row in conn.execute(text(query), params)]


def _cell(level: int, half: float, highest: float) -> tuple[int, float, float]:
    """(level, cell height, cell width) in degrees: at least 2 * half * 2**level metres on the
    ground up to the data's highest latitude (a degree of latitude is at least 110.57 km)."""
    cell_lat = 2 * half * 2 ** level / 110_000.0
    widest = min(highest + cell_lat, 89.9)
    return level, cell_lat, min(cell_lat / math.cos(math.radians(widest)), 360.0)


def _pair(row) -> dict | None:
    """The pair as reported, or None when the claims tell the two apart."""
    a_groups, b_groups = row["a_groups"] or [], row["b_groups"] or []
    shared = sorted(set(a_groups) & set(b_groups))
    if a_groups and b_groups and not shared:
        return None
    basis = BASES[2 * row["a_kind"] + row["b_kind"]] if row["a_kind"] + row["b_kind"] < 2 else BASES[3]
    return {"a": row["a"], "b": row["b"], "group": shared[0] if shared else None, "event_type": row["event_type"],
            "metres": row["metres"], "a_date": row["a_date"], "b_date": row["b_date"], "basis": basis}
