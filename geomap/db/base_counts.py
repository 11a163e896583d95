"""Each group's base counts around a point: its incidents near the point in a window, and in
a wider region over a baseline period, counted in one scan (`geomap.analysis.baserate`).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, and_, cast, func, select, true

from geomap.db.candidates import attributed_to, incident_filters
from geomap.db.reach import Geography, in_envelope, point
from geomap.db.schema import incidents


def base_counts(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, local_m: float,
                region_m: float, window: tuple[date, date], baseline: tuple[date, date],
                exclude: Iterable[str] = ()) -> dict[str, tuple[int, int]]:
    """For each of the groups, (observed, baseline): its incidents whose point lies within
    `local_m` of the point and whose start date is in `window`, and those within `region_m` whose
    start date is in `baseline` (both date ranges inclusive; `geomap.analysis.baserate`).

    One scan of the (geom, daterange) GiST index over the region and both periods; the exact
    distance and date tests filter, and each incident counts once for each group it is
    attributed to.
    """
    wanted = list(group_ids)
    if not wanted:
        return {}
    geography = cast(incidents.c.geom, Geography)
    first, last = min(window[0], baseline[0]), max(window[1], baseline[1])
    group = func.unnest(incidents.c.attributed_groups).table_valued("g").render_derived()
    local = and_(incidents.c.date_start.between(*window), func.ST_DWithin(geography, point(lon, lat), float(local_m)))
    query = (select(group.c.g, func.count().filter(local), func.count().filter(incidents.c.date_start.between(*baseline)))
             .select_from(incidents).join(group, true())
             .where(in_envelope(incidents.c.geom, lon, lat, region_m),
                    func.daterange(incidents.c.date_start, incidents.c.date_end, "[]").op("&&")(
                        func.daterange(first, last, "[]")),
                    incidents.c.date_start.between(first, last), attributed_to(wanted),
                    func.ST_DWithin(geography, point(lon, lat), float(region_m)), group.c.g.in_(wanted),
                    *incident_filters(None, None, (), (), exclude))
             .group_by(group.c.g))
    found = {g: (0, 0) for g in wanted}
    found.update({g: (observed, base) for g, observed, base in conn.execute(query)})
    return found
