"""The plain feature query: which collection, and the bbox, interval, equality filters, CQL2
filter, proximity, sort keys and page that narrow it.

Values only: no SQL, no HTTP. `geomap.api.params` (an items request) and `geomap.io.export`
(`geomap export`) build them; `geomap.db.features` translates one into SQL. A query names
collections and their queryables by the names below; how those map to tables and columns is the
database's business, and their titles and JSON Schema are the API's (`geomap.api.catalogue`).

The CQL2 filter is the abstract syntax tree pygeofilter parses (`pygeofilter.ast`: frozen
dataclasses, compared by value); whether it names only queryables is checked where it is
translated, against the collection below.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING

from geomap.model.crs import Crs
from geomap.model.records import PROPERTIES, kinds

if TYPE_CHECKING:
    from pygeofilter.ast import Node

# The kinds a queryable can be; the API publishes each as a JSON Schema type.
QUERYABLE_KINDS = ("string", "number", "integer", "date")


@dataclass(frozen=True)
class Collection:
    """A collection of features as a query sees it.

    `queryables` maps each property a query may filter on to its kind; `temporal` names the two
    properties whose interval `datetime` is matched against (None: the collection is timeless);
    `order` the queryables its features are listed by, ascending and before the id, when a query
    asks no other order (`FeatureQuery.order`).
    """

    id: str
    geometry_type: str  # GeoJSON: Point or MultiPolygon (relations: mostly null)
    queryables: Mapping[str, str]
    temporal: tuple[str, str] | None = None
    order: tuple[str, ...] = ()


# The JSON Schema kind of each record field kind (`geomap.model.records.kinds`) a query can filter.
_QUERYABLE_KIND = {"text": "string", "date": "date", "integer": "integer", "number": "number"}


def _collection(cid: str, geometry_type: str, names: tuple[str, ...],
                temporal: tuple[str, str] | None = None, order: tuple[str, ...] = ()) -> Collection:
    """The collection whose queryables are the named fields of its record, each of the kind the
    record gives it; an incident's `group` (the groups it is attributed to) is text, no field."""
    fields = kinds(PROPERTIES[cid]) | {"group": "text"}
    return Collection(cid, geometry_type, MappingProxyType({n: _QUERYABLE_KIND[fields[n]] for n in names}), temporal,
                      order)


COLLECTIONS: Mapping[str, Collection] = MappingProxyType({c.id: c for c in (
    _collection("incidents", "Point", (
        "title", "event_type", "sub_event_type", "status", "country", "admin1", "admin2", "location_name",
        "target_site", "group", "precision_m", "fatalities_best", "date_start", "date_end"), ("date_start", "date_end"),
        # Listed in date order, as incident lists are (ACLED's by event date): the order the start-date
        # B-tree gives, so that a page of a dated window stops after its features (issue 16).
        ("date_start",)),
    _collection("sites", "Point", ("name", "kind", "status", "country", "admin1", "precision_m")),
    _collection("control_zones", "MultiPolygon", (
        "name", "group", "kind", "confidence", "status", "precision_m", "valid_from", "valid_to"),
        ("valid_from", "valid_to")),
    # Relations between features: no geometry, but for an `inside` relation's own polygon.
    _collection("relations", "MultiPolygon", ("kind", "subject", "object", "distance_min_m", "distance_max_m")),
)})


@dataclass(frozen=True)
class Near:
    """Features within `radius_m` metres (geodesic) of a WGS84 point, nearest first."""

    lon: float
    lat: float
    radius_m: float


@dataclass(frozen=True)
class SortKey:
    """Order by a queryable, ascending unless told otherwise."""

    queryable: str
    ascending: bool = True


@dataclass(frozen=True)
class Page:
    """Which features of the ordered result: `limit` (None: all) after skipping `offset`.

    With `after` (a keyset cursor: the sort values of the last feature of the previous page, then
    its id, as `geomap.db.features` orders them), the page starts right after that feature and
    `offset` only says how many features came before it (for the previous-page link and the count).
    """

    limit: int | None = 100
    offset: int = 0
    after: tuple | None = None


@dataclass(frozen=True)
class FeatureQuery:
    """A request for features of one collection; every criterion given must hold.

    `equals` maps a queryable to the values it may take (any of them); for `group` on incidents
    that means a group the incident is attributed to. Features come in the order of `sortby`,
    else (with `near`) by distance, else in the collection's own order, then by id, so that
    pages never overlap or skip (`order`).
    """

    collection: Collection
    bbox: tuple[float, float, float, float] | None = None  # minlon, minlat, maxlon, maxlat
    interval: tuple[date | None, date | None] | None = None  # either end open
    equals: Mapping[str, tuple[str | float | int | date, ...]] = field(default_factory=dict)
    filter: Node | None = None  # CQL2, as pygeofilter parses it
    near: Near | None = None
    sortby: tuple[SortKey, ...] = ()
    page: Page = Page()
    properties: tuple[str, ...] | None = None  # the feature properties to return (None: all)
    skip_geometry: bool = False  # features without their geometry (null)
    crs: Crs | None = None  # the response's coordinates (Part 2); None: CRS84, as stored
    bbox_crs: Crs | None = None  # the CRS `bbox` is in, when not CRS84 (its values then in that CRS's axis order)

    @property
    def order(self) -> tuple[SortKey, ...]:
        """The sort keys features come in before the distance (with `near`) and the id: `sortby`,
        else, without `near`, the collection's own order (`Collection.order`)."""
        if self.sortby or self.near is not None:
            return self.sortby
        return tuple(SortKey(name) for name in self.collection.order)


def order_kinds(q: FeatureQuery) -> tuple[str, ...]:
    """The kinds of the values features are ordered by (a keyset cursor holds one of each): the
    sort keys (`FeatureQuery.order`), then the distance (with `near` and no `sortby`), then the id."""
    kinds = [q.collection.queryables[key.queryable] for key in q.order]
    if q.near is not None and not q.sortby:
        kinds.append("number")
    return (*kinds, "string")


def sortables(collection: Collection) -> dict[str, str]:
    """The queryables `sortby` accepts, with their kinds: all but `group` (a set of groups has no order)."""
    return {name: kind for name, kind in collection.queryables.items() if name != "group"}
