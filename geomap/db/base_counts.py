"""Each group's base counts around a point: its incidents near the point in a window, and in
a wider region over a baseline period, counted in one scan (`geomap.analysis.baserate`).
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    all_,
    and_,
    any_,
    bindparam,
    cast,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from geomap.db import prepared
from geomap.db.prior import flat_within
from geomap.db.reach import Geography, one_box
from geomap.db.schema import incidents


def base_counts(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, local_m: float,
                region_m: float, window: tuple[date, date], baseline: tuple[date, date],
                exclude: Iterable[str] = ()) -> dict[str, tuple[int, int]]:
    """For each of the groups, (observed, baseline): its incidents whose point lies within
    `local_m` of the point and whose start date is in `window`, and those within `region_m` whose
    start date is in `baseline` (both date ranges inclusive; `geomap.analysis.baserate`).

    One scan of the (geom, daterange) GiST index over the region and both periods; the exact
    distance and date tests filter, and each incident counts once for each group it is
    attributed to. (The context report counts in the same scan as its nearest prior incidents:
    `geomap.db.region`.)
    """
    wanted = list(group_ids)
    if not wanted:
        return {}
    values = count_params(lon, lat, wanted, local_m=local_m, region_m=region_m, window=window, baseline=baseline,
                          exclude=exclude)
    box = dict(zip(("west", "south", "east", "north"), one_box(lon, lat, region_m), strict=True))
    return counts_by_group(wanted, prepared.run(conn, _base_counts_statement(), values | box))


def count_params(lon: float, lat: float, group_ids: list[str], *, local_m: float, region_m: float,
                 window: tuple[date, date], baseline: tuple[date, date], exclude: Iterable[str]) -> dict[str, Any]:
    """`counted`'s values; `first`..`last` spans both periods."""
    return {"lon": float(lon), "lat": float(lat), "groups": group_ids, "exclude": list(exclude),
            "local_m": float(local_m), "region_m": float(region_m), "window_from": window[0], "window_to": window[1],
            "baseline_from": baseline[0], "baseline_to": baseline[1],
            "first": min(window[0], baseline[0]), "last": max(window[1], baseline[1])}


def counts_by_group(wanted: list[str], rows: Iterable) -> dict[str, tuple[int, int]]:
    """(observed, baseline) for each wanted group from `counted`'s rows, (0, 0) where none."""
    found = {g: (0, 0) for g in wanted}
    found.update({g: (observed, base) for g, observed, base in rows})
    return found


def in_count(geog: ColumnElement, date_start: ColumnElement, groups: ColumnElement, ident: ColumnElement,
             flat: ColumnElement | None = None) -> ColumnElement:
    """The rows the base counts count, in either period: a start date from `first` to `last`,
    within `region_m`, attributed to a wanted group (`groups`, bound), not excluded."""
    return and_(date_start.between(bindparam("first", type_=Date), bindparam("last", type_=Date)),
                _within(geog, "region_m", flat), groups.overlap(cast(bindparam("groups"), ARRAY(Text))),
                ident != all_(cast(bindparam("exclude"), ARRAY(Text))))


def counted(source: FromClause, geog: ColumnElement, date_start: ColumnElement, groups: ColumnElement,
            *where: ColumnElement, flat: ColumnElement | None = None) -> Select:
    """(group, observed, baseline) for each wanted group (`groups`, bound) over the rows of
    `source` that meet `where` (`in_count` among them): the one definition of the base counts,
    over the incidents table or over a region already read (`geomap.db.region`, whose `flat`
    distances decide most rows without a geodesic test). `geog`: each row's geography. Values
    bound: lon, lat, local_m, region_m, window_from/to, baseline_from/to, first/last, groups,
    exclude (and margin, with `flat`)."""
    wanted = cast(bindparam("groups"), ARRAY(Text))

    def days(name: str) -> ColumnElement:
        return date_start.between(bindparam(f"{name}_from", type_=Date), bindparam(f"{name}_to", type_=Date))

    local = and_(days("window"), _within(geog, "local_m", flat))
    # counted per distinct list of groups first (a few dozen lists for tens of thousands of rows),
    # then per group: unnesting every row's groups before counting cost more than the scan's filter
    by_list = (select(groups.label("groups"), func.count().filter(local).label("observed"),
                      func.count().filter(days("baseline")).label("baseline"))
               .select_from(source).where(*where).group_by(groups).subquery("by_list"))
    group = func.unnest(by_list.c.groups).table_valued("g").render_derived()
    return (select(group.c.g, func.sum(by_list.c.observed).cast(Integer), func.sum(by_list.c.baseline).cast(Integer))
            .select_from(by_list).join(group, true()).where(group.c.g == any_(wanted)).group_by(group.c.g))


def _within(geog: ColumnElement, name: str, flat: ColumnElement | None) -> ColumnElement:
    """Within the bound metres `name` of (`lon`, `lat`): the geodesic test, or with `flat`, that
    test only for rows in the band where the flat distance cannot decide (`geomap.db.prior`; the
    geodesic test of 23,000 rows took 30 ms)."""
    at = cast(func.ST_SetSRID(func.ST_MakePoint(bindparam("lon", type_=Float), bindparam("lat", type_=Float)), 4326),
              Geography)
    exact = func.ST_DWithin(geog, at, bindparam(name, type_=Float))
    return exact if flat is None else flat_within(flat, bindparam(name, type_=Float), exact)


@functools.cache
def _base_counts_statement() -> Select:
    """`counted` over the incidents in the region's box and both periods, by the (geom,
    daterange) GiST; built once."""
    c = incidents.c
    box = func.ST_MakeEnvelope(*(bindparam(k, type_=Float) for k in ("west", "south", "east", "north")), 4326)
    span = func.daterange(bindparam("first", type_=Date), bindparam("last", type_=Date), "[]")
    geog = cast(c.geom, Geography)
    return counted(incidents, geog, c.date_start, c.attributed_groups,
                   c.geom.op("&&")(box), func.daterange(c.date_start, c.date_end, "[]").op("&&")(span),
                   in_count(geog, c.date_start, c.attributed_groups, c.id))
