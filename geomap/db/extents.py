"""A collection's extent in space and time, for its OGC collection document."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, func, select

from geomap.db.stored import STORED
from geomap.model.query import Collection


@dataclass(frozen=True)
class Extent:
    """Where and when a collection's features are, as plain values (`geomap.api.documents`
    writes them as an OGC extent)."""

    bbox: tuple[float, float, float, float] | None  # minlon, minlat, maxlon, maxlat; None when empty
    interval: tuple[date | None, date | None] | None  # None for a timeless collection


def extent(conn: Connection, collection: Collection) -> Extent:
    """Spatial extent from the planner's statistics when it has them (no scan of a large
    table), else computed; temporal extent from the date indexes."""
    stored = STORED[collection.id]
    t = stored.table
    box = conn.execute(select(func.ST_EstimatedExtent("public", t.name, "geom"))).scalar() or \
        conn.execute(select(func.ST_Extent(t.c.geom))).scalar()
    interval = None
    if collection.temporal:
        first, last = (stored.column(name) for name in collection.temporal)
        interval = tuple(conn.execute(select(func.min(first), func.max(last))).one())
    return Extent(_box(box) if box else None, interval)


def _box(text: str) -> tuple[float, float, float, float]:
    """'BOX(x1 y1,x2 y2)' as (x1, y1, x2, y2)."""
    x1, y1, x2, y2 = (float(v) for v in text[4:-1].replace(",", " ").split())
    return x1, y1, x2, y2
