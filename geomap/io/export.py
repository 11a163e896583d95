"""`geomap export`: a collection's features, filtered like the HTTP items endpoint, to a file.

`query` makes the filters a plain `FeatureQuery` (`geomap.model.query`); the caller runs it with
`geomap.db.features.stream` (the queries behind `/collections/{c}/items`, streamed in batches)
and hands the features to `write`, which passes them to one of the writers in
`geomap.io.writers`, so memory stays flat however many features match. No SQL here: io/ is file
formats only.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from geomap.errors import InvalidInput
from geomap.io import writers
from geomap.model.query import COLLECTIONS, FeatureQuery, Page


@dataclass(frozen=True)
class Filters:
    """The items endpoint's filters: bbox (minx, miny, maxx, maxy), an interval of dates (either
    end open), attributed groups (incidents) or owning groups (zones), ACLED event types."""

    bbox: tuple[float, float, float, float] | None = None
    interval: tuple[date | None, date | None] | None = None
    groups: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()


def query(collection: str, filters: Filters = Filters()) -> FeatureQuery:
    """The feature query of an export: every matching feature, in id order."""
    if collection not in COLLECTIONS:
        raise InvalidInput(f"unknown collection {collection!r}; export one of {', '.join(COLLECTIONS)}")
    equals = {}
    if filters.groups:
        if collection == "sites":
            raise InvalidInput("sites belong to no group: drop --group")
        equals["group"] = filters.groups
    if filters.event_types:
        if collection != "incidents":
            raise InvalidInput("only incidents have an event type: drop --event-type")
        equals["event_type"] = filters.event_types
    return FeatureQuery(COLLECTIONS[collection], bbox=filters.bbox, interval=filters.interval, equals=equals,
                        page=Page(limit=None))


def _format(fmt: str) -> str:
    if fmt not in writers.FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(writers.FORMATS)}")
    return fmt


def write(features: Iterable[str], collection: str, fmt: str, path: Path) -> int:
    """Write features (JSON texts, as `geomap.db.features.stream` yields them) of `collection`
    to `path` in `fmt`; returns their number."""
    return writers.write(_format(fmt), writers.decoded(features), Path(path), collection)
