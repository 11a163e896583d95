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

from sqlalchemy import Connection, Date, Integer, Select, Text, bindparam, cast, func, literal_column, null, select

from geomap.db import prepared
from geomap.db.base_counts import count_params, counted, counts_by_group
from geomap.db.prior import by_group, ended_in_window, prior_params, ranked_prior, region, region_params
from geomap.db.schema import incidents


def prior_and_counts(conn: Connection, lon: float, lat: float, group_ids: Iterable[str], *, before: date,
                     within_m: float, days: int, local_m: float, region_m: float, window: tuple[date, date],
                     baseline: tuple[date, date], exclude: Iterable[str] = (), per_group: int = 5,
                     ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[int, int]]]:
    """`prior.nearest_prior(conn, lon, lat, before=, within_m=, days=, per_group=)` and
    `base_counts.base_counts(conn, lon, lat, group_ids, local_m=, region_m=, window=, baseline=,
    exclude=)` from one statement: the same answers, one scan."""
    wanted = list(group_ids)
    counts = count_params(lon, lat, wanted, local_m=local_m, region_m=region_m, window=window, baseline=baseline,
                          exclude=exclude)
    prior = prior_params(before=before, within_m=within_m, days=days, per_group=per_group)
    values = region_params(lon, lat, max(within_m, region_m)) | counts | prior | {
        "span_from": min(counts["first"], prior["since"]), "span_to": max(counts["last"], before)}
    rows = prepared.run(conn, _statement(), values)
    ranked = [r for r in rows if r.kind == "prior"]
    return by_group(conn, ranked), counts_by_group(wanted, ((r.group_id, r.observed, r.baseline) for r in rows
                                                             if r.kind == "count"))


@functools.cache
def _statement() -> Select:
    """(kind, group_id, id, rank, observed, baseline): 'prior' rows as `prior.ranked_prior`'s,
    nearest first in each group, then one 'count' row per group counted; built once."""
    c = incidents.c
    span = func.daterange(bindparam("span_from", type_=Date), bindparam("span_to", type_=Date), "[]")
    near = region(func.daterange(c.date_start, c.date_end, "[]").op("&&")(span))
    prior = ranked_prior(near, *ended_in_window(near.c.date_end)).subquery("prior")
    counts = counted(near, near.c.geom, near.c.date_start, near.c.groups, near.c.id, flat=near.c.flat).subquery("counts")
    text_null, int_null = cast(null(), Text), cast(null(), Integer)
    first = select(literal_column("'prior'").label("kind"), prior.c.group_id, prior.c.id, prior.c.rank,
                   int_null.label("observed"), int_null.label("baseline"))
    second = select(literal_column("'count'"), counts.c.g, text_null, int_null, *list(counts.c)[1:])
    both = first.union_all(second).subquery("both")
    return select(both).order_by(both.c.kind.desc(), both.c.group_id, both.c.rank)
