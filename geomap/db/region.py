"""The context report's region around an incident, read once: each group's nearest incidents
before its date (`geomap.db.prior`) and each group's base counts (`geomap.db.base_counts`) come
from one scan of the (geom, daterange) GiST over the wider of the two regions and both periods.

Both read the incidents within 100 km of the focus, one over the year before it, the other over
the baseline year and the window (`geomap.analysis.report`): two statements read the same index
pages and rows twice (issue 16: 49 and 46 ms of a 155 ms median report at 1,000,000 incidents).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    Float,
    Integer,
    Select,
    Subquery,
    Text,
    all_,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY

from geomap.db import near, prepared
from geomap.db.base_counts import count_params, counted, counts_by_group, in_count
from geomap.db.prior import (
    by_group,
    ended_in_window,
    flat_within,
    prior_params,
    ranked_prior,
    region_params,
    region_rows,
)
from geomap.db.reach import located
from geomap.db.schema import incidents


def prior_and_counts(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, before: date,
                     within_m: float, days: int, local_m: float, region_m: float, window: tuple[date, date],
                     baseline: tuple[date, date], exclude: Iterable[str] = (), per_group: int = 5,
                     neighbours: tuple[float, date, date] | None = None,
                     ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[int, int]], dict[str, Any] | None]:
    """`prior.nearest_prior(conn, lon, lat, before=, within_m=, days=, per_group=)`,
    `base_counts.base_counts(conn, lon, lat, group_ids, local_m=, region_m=, window=, baseline=,
    exclude=)` and, given `neighbours` = (radius_m, date_from, date_to),
    `near.neighbour_columns(conn, lon, lat, radius_m, date_from=, date_to=, exclude=)` (else None)
    from one statement: the same answers, one scan of the region (widened, when the neighbours'
    reach with the largest precision radius in the table passes it, to hold that reach)."""
    ranked, counts, found = read(
        conn, lon, lat, group_ids, before=before, within_m=within_m, days=days, local_m=local_m, region_m=region_m,
        window=window, baseline=baseline, exclude=exclude, per_group=per_group, neighbours=neighbours)
    return by_group(conn, ranked), counts, found


def read(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, before: date, within_m: float,
         days: int, local_m: float, region_m: float, window: tuple[date, date], baseline: tuple[date, date],
         exclude: Iterable[str] = (), per_group: int = 5, neighbours: tuple[float, date, date] | None = None,
         ) -> tuple[list, dict[str, tuple[int, int]], dict[str, Any] | None]:
    """`prior_and_counts` with the nearest prior incidents as their ranked (group_id, id) rows,
    not yet read by id (`prior.grouped`): the context report reads them with its listed
    neighbours, in one statement."""
    wanted = list(group_ids)
    counts = count_params(lon, lat, wanted, local_m=local_m, region_m=region_m, window=window, baseline=baseline,
                          exclude=exclude)
    prior = prior_params(before=before, within_m=within_m, days=days, per_group=per_group)
    metres, first, last = max(within_m, region_m), min(counts["first"], prior["since"]), max(counts["last"], before)
    near_values = {}
    if neighbours is not None:
        radius, date_from, date_to = neighbours
        widest = near.kept_widest(conn)
        near_values = {"radius": float(radius), "date_from": date_from, "date_to": date_to, "widest": widest}
        metres, first, last = max(metres, radius + widest), min(first, date_from), max(last, date_to)
    values = region_params(lon, lat, metres) | counts | prior | near_values | {"span_from": first, "span_to": last}
    rows = prepared.run(conn, _statement(neighbours is not None), values)
    ranked = [r for r in rows if r.kind == "prior"]
    found = None
    if neighbours is not None:
        row = next(r for r in rows if r.kind == "near")
        found = near.as_columns(row[-9:-1]) if row.holds else near.neighbour_columns(
            conn, lon, lat, radius, date_from=date_from, date_to=date_to, exclude=exclude)  # a wider precision came
    return ranked, counts_by_group(wanted, ((r.group_id, r.observed, r.baseline) for r in rows
                                            if r.kind == "count")), found


NEIGHBOUR_TYPES = (ARRAY(Text), ARRAY(Float), ARRAY(Float), ARRAY(Float), ARRAY(Integer), ARRAY(Integer),
                   ARRAY(Integer), Text)


@functools.cache
def _statement(with_neighbours: bool) -> Select:
    """(kind, group_id, id, rank, observed, baseline[, the neighbours' 8 columns, holds]):
    'prior' rows as `prior.ranked_prior`'s, nearest first in each group, one 'count' row per
    group counted, and one 'near' row of the neighbours' columns (`near.neighbour_aggregates`;
    `holds`: the kept largest precision radius still holds); built once.

    Each row read is tested once for each use (`_uses`), and only the rows some use keeps are
    materialised: about half of a region's rows have no group and lie outside the neighbours'
    window, and the three readings of the materialised rows test a flag each."""
    c = incidents.c
    span = func.daterange(bindparam("span_from", type_=Date), bindparam("span_to", type_=Date), "[]")
    flagged = _uses(region_rows(func.daterange(c.date_start, c.date_end, "[]").op("&&")(span)), with_neighbours)
    f = flagged.c
    around = (select(flagged).where(or_(*(f[use] for use in USES if use in f.keys())))
              .cte("near").prefix_with("MATERIALIZED"))
    a = around.c
    prior = ranked_prior(around, a.prior).subquery("prior")
    counts = counted(around, located(a.lon, a.lat), a.date_start, a.groups, a.counted, flat=a.flat).subquery("counts")
    text_null, int_null = cast(null(), Text), cast(null(), Integer)
    names = [*(f"near_{k}" for k in range(len(NEIGHBOUR_TYPES))), "holds"]
    extra = [cast(null(), t).label(n) for t, n in zip((*NEIGHBOUR_TYPES, Boolean), names, strict=True)
             ] if with_neighbours else []
    parts = [select(literal_column("'prior'").label("kind"), prior.c.group_id, prior.c.id, prior.c.rank,
                    int_null.label("observed"), int_null.label("baseline"), *extra),
             select(literal_column("'count'"), counts.c.g, text_null, int_null, *list(counts.c)[1:], *extra)]
    if with_neighbours:
        parts.append(select(literal_column("'near'"), text_null, text_null, int_null, int_null, int_null,
                            *(column.label(n) for column, n in zip(
                                [*near.neighbour_aggregates(a.id, a.lon, a.lat, a.precision_m, a.date_start, a.date_end,
                                                            a.groups), near.widest_holds()], names, strict=True)))
                     .where(a.near))
    both = union_all(*parts).subquery("both")
    return select(both).order_by(both.c.kind.desc(), both.c.group_id, both.c.rank)


USES = ("prior", "counted", "near")


def _uses(rows: Subquery, with_neighbours: bool) -> Subquery:
    """`rows` (`prior.region_rows`) with a flag for each use that keeps the row: `prior`, a
    candidate for a group's nearest prior incidents (`prior.ranked_prior`'s own test and
    `ended_in_window`, with a group); `counted`, counted by the base counts
    (`base_counts.in_count`); `near`, a neighbour (`near.in_window_read`, its precision circle
    reaching within `radius`, not excluded). Fenced (OFFSET 0): each flag computed once a row."""
    r = rows.c
    geog = located(r.lon, r.lat)
    prior = and_(*ended_in_window(r.date_end), r.flat <= bindparam("within_m", type_=Float) * bindparam("margin", type_=Float),
                 func.cardinality(r.groups) > 0)
    flags = [prior.label("prior"), in_count(geog, r.date_start, r.groups, r.id, flat=r.flat).label("counted")]
    if with_neighbours:
        radius = bindparam("radius", type_=Float) + r.precision_m
        flags.append(and_(near.in_window_read(r.date_start, r.date_end),
                          flat_within(r.flat, radius, near.reaches(geog, r.precision_m)),
                          r.id != all_(cast(bindparam("exclude"), ARRAY(Text)))).label("near"))
    return select(rows, *flags).offset(0).subquery("uses")
