"""How many features match a query (`numberMatched`), exact where that is cheap and bounded in
time where it is not.

`counted_page` gives a page and its count. In order:

1. Remembered: an exact count made before for the same filters, while the collection's change
   stamp (migration 0007: it moves with every committed write to the table) is the same, so a
   client walking the pages of one filter pays for one count, on its first page. The page's own
   statement reads the stamp (in its snapshot), so a remembered count costs no statement.
2. Together: when the page's plan reads and sorts every match anyway (`EXPLAIN` of its keys: a
   Sort under the Limit, as for a bbox + datetime page ordered by id), the count comes from the
   same scan (`count(*) OVER ()` beside the keys), nearly free.
3. Free: a page that ends the result (no next page) counts its position + its features.
4. Estimated: above `EXACT_UP_TO` rows, the planner's estimate from the same `EXPLAIN` (no rows
   read), flagged as not exact.
5. Counted: otherwise `SELECT count(*)` over at most `COUNT_CAP` matching rows under a
   `statement_timeout` of `COUNT_TIMEOUT_MS` (set and reset around it on the request's
   autocommit connection): exact, or past the time the estimate, flagged.

So numberMatched adds at most COUNT_TIMEOUT_MS (plus an EXPLAIN and a stamp lookup, each well
under a millisecond) to a page, whatever the collection's size and filter.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, fields

import msgspec
from cachetools import LRUCache
from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, Select, func, literal_column, select
from sqlalchemy.exc import OperationalError

from geomap.db import features
from geomap.db.features import FeaturePage
from geomap.db.map_queries import change_stamps
from geomap.db.stored import STORED, where
from geomap.model.query import FeatureQuery

EXACT_UP_TO = 200_000  # an estimate above this is the answer; at or below it, the rows are counted
COUNT_CAP = 1_000_000  # rows counted at most (an estimate far too low still ends here)
COUNT_TIMEOUT_MS = 150  # the longest a count may run before the estimate is used instead
_REMEMBERED: LRUCache = LRUCache(256)  # by the filters: the table's stamp, and the exact count as of it
_lock = threading.Lock()


@dataclass(frozen=True)
class Count:
    """A number of matching features, and whether it is exact (else the planner's estimate)."""

    value: int
    exact: bool


@dataclass(frozen=True)
class Shape:
    """What the planner expects of a page's keys: how many rows match (after the cursor, with
    one), and whether it reads and sorts them all (a Sort under the Limit) to pick the page."""

    estimate: int
    sorts_all: bool


def counted_page(conn: Connection, q: FeatureQuery) -> tuple[FeaturePage, Count]:
    """A page of `q` and the number of features matching `q` (whatever its page), on an
    autocommit connection (`geomap.db.engine.read`: no BEGIN and ROLLBACK round trips around
    the page, issue 16; READ COMMITTED gave each statement its own snapshot anyway). A count
    remembered for the same filters is checked against the change stamp the page itself reads
    (one statement); otherwise the stamp is read first, then the page and its count."""
    filters = _filters(q)
    table = STORED[q.collection.id].table.name
    with _lock:
        remembered = _REMEMBERED.get(filters)
    if remembered is not None:
        page = features.page(conn, q, stamped=True)
        if page.stamp is not None and page.stamp == remembered[0]:
            return page, Count(remembered[1], True)
    stamps = dict(change_stamps(conn, [table]))
    shape = _shape(conn, q)
    page = features.page(conn, q, counted=shape.sorts_all)
    count = _count(conn, q, page, shape)
    if count.exact and table in stamps:
        with _lock:
            _REMEMBERED[filters] = (stamps[table], count.value)
    return page, count


_NOT_FILTERS = frozenset({"page", "properties", "skip_geometry"})  # what a page or its form is, not which features


def _filters(q: FeatureQuery) -> tuple[str, ...]:
    """The filters of `q` alone, whatever its page or form: the repr of each other field (the
    values each names), as the repr of `q` with those fields reset named them, in a third of the
    time (a repr of the whole frozen dataclass and its copy were 1 % of an items request, issue 16)."""
    return tuple(repr(getattr(q, name)) for name in _FILTER_FIELDS)


_FILTER_FIELDS = tuple(f.name for f in fields(FeatureQuery) if f.name not in _NOT_FILTERS)


def _count(conn: Connection, q: FeatureQuery, page: FeaturePage, shape: Shape) -> Count:
    if page.matched is not None:
        return Count(page.matched, True)
    if not page.more and (page.features or not q.page.offset):
        return Count(q.page.offset + len(page.features), True)
    at_least = q.page.offset + len(page.features) + (1 if page.more else 0)
    estimate = shape.estimate + (q.page.offset if q.page.after is not None else 0)
    if estimate <= EXACT_UP_TO:
        counted = _counted(conn, _matching(q))
        if counted is not None and counted < COUNT_CAP:
            return Count(counted, True)
        estimate = max(estimate, counted or 0)
    return Count(max(estimate, at_least), False)


def _compiled(conn: Connection, statement: Select):
    return statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})


def _matching(q: FeatureQuery) -> Select:
    stored = STORED[q.collection.id]
    return select(literal_column("1")).select_from(stored.table).where(*where(stored, q))


def _counted(conn: Connection, matching: Select) -> int | None:
    """The exact count up to COUNT_CAP, or None when it takes longer than COUNT_TIMEOUT_MS. On an
    autocommit connection (`counted_page`): the session's timeout is set around the count, and
    reset whatever happens (a cancelled statement aborts no transaction there)."""
    capped = matching.limit(COUNT_CAP).subquery()
    conn.exec_driver_sql(f"SET statement_timeout = {int(COUNT_TIMEOUT_MS)}")
    try:
        return conn.execute(select(func.count()).select_from(capped)).scalar_one()
    except OperationalError as exc:
        if not isinstance(exc.orig, QueryCanceled):
            raise
        return None
    finally:
        conn.exec_driver_sql("RESET statement_timeout")


def _shape(conn: Connection, q: FeatureQuery) -> Shape:
    """The planner's view of the page's keys (EXPLAIN: nothing is read)."""
    compiled = _compiled(conn, features.keys(q))
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params).scalar_one()
    if isinstance(plan, str | bytes):
        plan = msgspec.json.decode(plan)
    node = plan[0]["Plan"]
    if node["Node Type"] == "Limit":
        node = node["Plans"][0]
    return Shape(int(node["Plan Rows"]), node["Node Type"] == "Sort")


def forget() -> None:
    """Drop the remembered counts (for benchmarks that time a count, and tests)."""
    with _lock:
        _REMEMBERED.clear()
