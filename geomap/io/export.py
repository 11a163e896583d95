"""`geomap export`: a collection's features, filtered like the HTTP items endpoint, to a file.

The features come from `geomap.db.features` (the queries behind `/collections/{c}/items`),
streamed from the database in batches, and go to one of the writers in `geomap.io.writers`,
so memory stays flat however many features match.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from geomap.db import features as queries
from geomap.errors import InvalidInput
from geomap.io import writers


@dataclass(frozen=True)
class Filters:
    """The items endpoint's filters: bbox (minx, miny, maxx, maxy), an interval of dates (either
    end open), attributed groups (incidents) or owning groups (zones), ACLED event types."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[date | None, date | None] | None = None
    groups: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()


def query(collection: str, filters: Filters) -> queries.FeatureQuery:
    if collection not in queries.COLLECTIONS:
        raise InvalidInput(f"unknown collection {collection!r}; export one of {', '.join(queries.COLLECTIONS)}")
    equals = {}
    if filters.groups:
        if collection == "sites":
            raise InvalidInput("sites belong to no group: drop --group")
        equals["group"] = filters.groups
    if filters.event_types:
        if collection != "incidents":
            raise InvalidInput("only incidents have an event type: drop --event-type")
        equals["event_type"] = filters.event_types
    return queries.FeatureQuery(queries.COLLECTIONS[collection], bbox=filters.bbox, interval=filters.interval,
                                equals=equals, limit=None)


def export(engine: Engine, collection: str, fmt: str, path: Path, filters: Filters = Filters()) -> int:
    """Write the matching features of `collection` to `path` in `fmt`; returns their number."""
    if fmt not in writers.FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(writers.FORMATS)}")
    q = query(collection, filters)
    with engine.connect() as conn:
        features = writers.decoded(queries.stream(conn, q))
        return writers.write(fmt, features, Path(path), collection)
