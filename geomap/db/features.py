"""Feature queries (`geomap.model.query.FeatureQuery`) translated into SQL statements from the
clauses of `geomap.db.stored`, every value bound. The HTTP API and `geomap export` run them.

PostgreSQL builds each Feature's GeoJSON (json_build_object + ST_AsGeoJSON), so a page of
features crosses into Python as text and leaves as bytes. The properties are exactly the data
model's (docs/data-model.md), so an exported feature loads back unchanged.

A page that skips rows by an offset (or counts its matches) selects its keys first (filters,
order, offset, limit: an index-only walk where the order allows), then builds the JSON (and the
claims subquery) for those rows alone, so a deep page costs what its key walk costs; a first
page, or one reached by its keyset cursor, is one ordered scan whose JSON PostgreSQL builds after
its limit, so it costs what the first page costs. Incidents come in date order (issue 16): a
dated window's page walks the start-date B-tree from the window's start less the longest span.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, replace

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

from geomap.db import crs as in_crs
from geomap.db import incarnation, keyset, prepared
from geomap.db.incarnation import Version
from geomap.db.kept import Kept
from geomap.db.keyset import OrderTerm
from geomap.db.map_queries import change_stamp
from geomap.db.reach import Geography, point
from geomap.db.schema import attributions, incidents
from geomap.db.stored import STORED, Stored, crosses, where
from geomap.model.crs import Crs
from geomap.model.query import Collection, FeatureQuery, Near, Page, order_kinds

COORDINATE_DIGITS = 9  # ~0.1 mm: stored doubles survive an export/import round trip at this precision


@dataclass(frozen=True)
class FeaturePage:
    """The features of one page, whether another follows, and the order values of its last feature
    (a keyset cursor for the next page: `geomap.model.query.Page.after`)."""

    features: list[str]  # each a GeoJSON Feature as JSON text
    more: bool  # another page follows
    last: tuple | None = None  # the sort values, then the id, of the last feature
    matched: int | None = None  # how many features match, when the page was asked to count them
    stamp: int | None = None  # the collection's change stamp as of the page, when asked and not empty


# -- the Feature as JSON --------------------------------------------------------------------

def _attributions_json() -> ColumnElement:
    a = attributions.c
    claim = func.json_build_object("group", a.group_id, "claimant", a.claimant, "stance", a.stance,
                                   "sources", a.sources, "notes", a.notes)
    return (select(func.coalesce(func.json_agg(aggregate_order_by(claim, a.position)), literal_column("'[]'::json")))
            .where(a.incident_id == incidents.c.id).scalar_subquery())


def _property(stored: Stored, name: str) -> ColumnElement:
    return _attributions_json() if name == "attributions" else stored.column(name)


def feature_json(stored: Stored, near: Near | None = None, properties: tuple[str, ...] | None = None,
                 skip_geometry: bool = False, crs: Crs | None = None) -> ColumnElement:
    """The Feature built by PostgreSQL; with `near`, `distance_m` joins its properties. Only the
    named `properties` when given (in the record's order), and a null geometry with `skip_geometry`;
    with `crs`, its coordinates are in that CRS (geomap.db.crs)."""
    t = stored.table
    names = stored.properties if properties is None else [n for n in stored.properties if n in properties]
    pairs = [part for name in names for part in (name, _property(stored, name))]
    if near is not None and (properties is None or "distance_m" in properties):
        pairs += ["distance_m", _distance(t, near)]
    geometry = null() if skip_geometry else cast(
        func.ST_AsGeoJSON(t.c.geom, COORDINATE_DIGITS) if crs is None else
        func.ST_AsGeoJSON(in_crs.geometry(t.c.geom, crs), in_crs.digits(crs)), JSON)
    return func.json_build_object("type", "Feature", "id", t.c.id, "geometry", geometry,
                                  "properties", func.json_build_object(*pairs))


def _geography(column) -> ColumnElement:
    return cast(column, Geography())


def _distance(table: Table, near: Near) -> ColumnElement:
    return func.ST_Distance(_geography(table.c.geom), point(near.lon, near.lat))


# -- order and keyset -------------------------------------------------------------------------

def order_terms(stored: Stored, q: FeatureQuery) -> list[OrderTerm]:
    """The order of a query's features (`geomap.model.query.order_kinds` gives their kinds): its
    sort keys (`FeatureQuery.order`), then (with `near` and no `sortby`) the distance, then the id,
    a total order so that pages never overlap or skip."""
    terms = [OrderTerm(stored.column(k.queryable), k.ascending, stored.column(k.queryable).nullable)
             for k in q.order]
    if q.near is not None and not q.sortby:
        terms.append(OrderTerm(_distance(stored.table, q.near)))
    return [*terms, OrderTerm(stored.table.c.id)]


# -- statements -------------------------------------------------------------------------------

def keys(q: FeatureQuery, counted: bool = False, longest: bool = False) -> Select:
    """The ids of the page's features (one more than its limit, to know whether another
    follows): filters, order, offset or cursor and limit, with no JSON built. With `counted`,
    each row also carries `matched`: how many features match (after the cursor, with one), counted
    in the same scan (`count(*) OVER ()`, evaluated before the offset and the limit). With
    `longest`, a date window bounds the start date below too (`geomap.db.stored._interval`)."""
    stored = STORED[q.collection.id]
    terms = order_terms(stored, q)
    values = [t.expression.label(f"order_{i}") for i, t in enumerate(terms[:-1])]  # the last is the id
    columns = [*values, stored.table.c.id] + ([func.count().over().label("matched")] if counted else [])
    query = select(*columns).where(*where(stored, q, longest)).order_by(*keyset.sql_order(terms))
    if q.page.after is not None:
        query = query.where(keyset.after(terms, q.page.after))
    elif _skips(q.page):
        query = query.offset(q.page.offset)
    return query.limit(q.page.limit + 1) if q.page.limit is not None else query


def _skips(page: Page) -> bool:
    """Whether a page skips rows by its offset (not after a cursor; a bound offset, `_bound`, is not 0)."""
    return page.after is None and (isinstance(page.offset, BindParameter) or bool(page.offset))


def statement(q: FeatureQuery, counted: bool = False, stamped: bool = False, longest: bool = False) -> Select:
    """The SQL for a feature query: its features as JSON text, then their order values (then, with
    `stamped`, the collection's change stamp, read in the statement's snapshot; and, for a page
    with `counted`, the number matched: see `keys`). A page (a limit) builds JSON for the rows
    `keys` selects (with `longest`: see `keys`), in the keys' own order, when it skips rows by an
    offset or counts (a first page or one after a cursor, uncounted, is one ordered scan: the
    JSON is built after its Limit, PostgreSQL's postponed target list, issue 16); a whole result
    (no limit) in one pass. A CQL2 filter that names no queryable is a BadRequest."""
    stored = STORED[q.collection.id]
    terms = order_terms(stored, q)
    feature = cast(feature_json(stored, q.near, q.properties, q.skip_geometry, q.crs), Text).label("feature")
    if q.page.limit is None and q.page.after is None:
        query = select(feature, *(t.expression for t in terms)).where(*where(stored, q)).offset(q.page.offset or None)
    elif not counted and not _skips(q.page):  # no row skipped: PostgreSQL builds the JSON after the
        query = select(feature, *(t.expression for t in terms)).where(*where(stored, q, longest))  # Limit
        query = query.where(keyset.after(terms, q.page.after)) if q.page.after is not None else query
        query = query.limit(q.page.limit + 1)
    else:  # joined (not `id IN`) and ordered by the keys' columns, so that a nested loop over the
        page_keys = keys(q, counted, longest).subquery()  # ordered keys keeps their order: no sort of the wide rows
        terms = [replace(t, expression=page_keys.c[f"order_{i}"]) for i, t in enumerate(terms[:-1])] + \
            [replace(terms[-1], expression=page_keys.c.id)]
        query = select(feature, *(t.expression for t in terms)).join_from(
            stored.table, page_keys, stored.table.c.id == page_keys.c.id)
    if stamped:
        query = query.add_columns(change_stamp(stored.table.name))
    if counted and (q.page.limit is not None or q.page.after is not None):
        query = query.add_columns(page_keys.c.matched)
    return query.order_by(*keyset.sql_order(terms))


# -- statements compiled once (geomap.db.prepared) ------------------------------------------

def _pattern(values: tuple | None) -> tuple | None:
    """What of a tuple of values shapes its SQL: each one's type (its bind parameter's), or None."""
    return None if values is None else tuple(None if v is None else type(v) for v in values)


def _bound(q: FeatureQuery) -> tuple[Hashable, dict[str, object], Callable[[], FeatureQuery]] | None:
    """The key of everything but its values that shapes `q`'s SQL, those values by name, and a
    function building `q` with named bind parameters in their place (called once per key, when its
    statement is compiled: `_execute`). None when a value shapes the SQL beyond its own place
    (`near`: boxes computed from the point; a CQL2 filter; a bbox in another CRS or across the
    antimeridian; incidents' `group`, an array) or for a whole result (`stream`): such a query
    is built for its own values."""
    if (q.near is not None or q.filter is not None or q.bbox_crs is not None or q.page.limit is None
            or (q.bbox is not None and crosses(q.bbox)) or (q.collection.id == "incidents" and "group" in q.equals)):
        return None
    values: dict[str, object] = {}
    _parameters(q, values.setdefault)
    key = (q.collection.id, _pattern(q.bbox), _pattern(_timed(q)), tuple((n, _pattern(v)) for n, v in q.equals.items()),
           q.sortby, bool(q.page.offset) and q.page.after is None, _pattern(q.page.after), q.properties, q.skip_geometry, q.crs)
    return key, values, lambda: replace(q, **_parameters(q, bindparam))


def _timed(q: FeatureQuery) -> tuple | None:
    """The query's date window as its SQL takes it: a timeless collection ignores it (`where`)."""
    return q.interval if q.collection.temporal is not None else None


def _parameters(q: FeatureQuery, bind: Callable[[str, object], object]) -> dict[str, object]:
    """The fields of `q` that hold a request's values (its bbox, interval, equality values and
    page), each value given by `bind(name, value)` (a bind parameter of that name: `_bound`); a
    None stays None (NULL in the text, as when built for the value)."""

    def each(prefix: str, items: tuple | None) -> tuple | None:
        return None if items is None else tuple(None if v is None else bind(f"{prefix}_{i}", v)
                                                for i, v in enumerate(items))

    offset = bind("offset", q.page.offset) if q.page.offset and q.page.after is None else 0  # after a cursor,
    return {"bbox": each("bbox", q.bbox), "interval": each("interval", _timed(q)),  # the offset is not in the SQL
            "equals": {name: each(f"equals_{k}", v) for k, (name, v) in enumerate(q.equals.items())},
            "page": Page(bind("limit", q.page.limit), offset, each("after", q.page.after))}


def _execute(conn: Connection, q: FeatureQuery, counted: bool, stamped: bool, longest: int | None) -> list:
    """The rows of `q`'s `statement` (with the `longest` span, when given: `_interval`): compiled
    once for every query of its shape (`_bound`) and run on the driver's cursor, its rows the
    driver's tuples (`prepared.Compiled.driver_rows`: a page's columns are read by position), else
    built for its own values."""
    extra = {} if longest is None else {"longest": longest}
    bound = _bound(q)
    if bound is None:
        return conn.execute(statement(q, counted, stamped, longest is not None), extra).all()
    key, values, template = bound
    values |= extra
    compiled = prepared.STATEMENTS.get(("features", counted, stamped, longest is not None, key), conn.dialect,
                                       lambda: statement(template(), counted, stamped, longest is not None),
                                       frozenset(values))
    return compiled.driver_rows(conn, values)


def longest_span(conn: Connection, stored: Stored) -> int:
    """The longest span of a collection that `walks_dates` (from migration 0013's index)."""
    first, last = (stored.column(c) for c in stored.collection.temporal)
    return conn.execute(select(func.coalesce(func.max(last - first), 0))).scalar_one()


# The longest span (date_end - date_start, in days) of each collection that `walks_dates`, kept
# per pooled connection (`geomap.db.kept`): each dated page checks in the same statement that it
# still holds (`geomap.db.stored._longest_holds`).
LONGEST: dict[str, Kept] = {s.collection.id: Kept(f"geomap.longest_span_days.{s.collection.id}",
                                                  functools.partial(longest_span, stored=s))
                            for s in STORED.values() if s.walks_dates}


def _walks(q: FeatureQuery) -> bool:
    """Whether `q`'s statement bounds the start date by the longest span: a date window with a start."""
    stored = STORED[q.collection.id]
    return stored.walks_dates and q.interval is not None and q.interval[0] is not None


def _rows(conn: Connection, q: FeatureQuery, counted: bool, stamped: bool) -> list:
    """The rows of `q`'s statement; with a dated window, with the longest span kept for the
    connection, and again with the one read now when it may have grown since (no rows)."""
    if not _walks(q):
        return _execute(conn, q, counted, stamped, None)
    return LONGEST[q.collection.id].rows(conn, lambda longest: _execute(conn, q, counted, stamped, longest))


# -- running --------------------------------------------------------------------------------

def page(conn: Connection, q: FeatureQuery, counted: bool = False, stamped: bool = False) -> FeaturePage:
    """One page (limit + 1 keys are read to know whether another follows); with `counted`, the
    number of features matched too, from the same scan (`FeaturePage.matched`); with `stamped`,
    the collection's change stamp as of the page's data (`FeaturePage.stamp`; None when the page
    is empty)."""
    rows = _rows(conn, q, counted, stamped)
    limit = q.page.limit
    more = limit is not None and len(rows) > limit
    matched = rows[0][-1] + (q.page.offset if q.page.after is not None else 0) if counted and rows else None
    rows = rows[:limit] if more else rows
    width = len(order_kinds(q))  # the order values (`order_terms`), without building their SQL
    stamp = rows[0][1 + width] if stamped and rows else None
    return FeaturePage([r[0] for r in rows], more, tuple(rows[-1][1:1 + width]) if rows else None, matched, stamp)


def stream(conn: Connection, q: FeatureQuery, batch: int = 1000) -> Iterator[str]:
    """Every matching feature as JSON text, in order, fetched in batches (for exports)."""
    rows = conn.execution_options(stream_results=True, yield_per=batch).execute(statement(q))
    yield from (row[0] for row in rows)


def one(conn: Connection, collection: Collection, feature_id: str,
        crs: Crs | None = None) -> tuple[str, Version] | None:
    """A feature's JSON text (in `crs`, else CRS84) and its version (for the ETag)."""
    stored = STORED[collection.id]
    t = stored.table
    row = conn.execute(select(cast(feature_json(stored, crs=crs), Text), t.c.version, incarnation.of(t))
                       .where(t.c.id == feature_id)).first()
    return (row[0], Version(row[1], row[2])) if row else None
