"""How many features match a query (`numberMatched`), exact where that is cheap and bounded in
time where it is not.

In order:

1. Free: a page that ends the result (no next page) counts its position + its features.
2. Remembered: an exact count made before for the same filters, while the collection's change
   stamp (migration 0007: it moves with every committed write to the table) is the same, so a
   client walking the pages of one filter pays for one count, on its first page.
3. Estimated: the planner's estimate for the filters (`EXPLAIN`, no rows read, well under a
   millisecond). Above `EXACT_UP_TO` it is the answer, flagged as not exact.
4. Counted: otherwise `SELECT count(*)` over at most `COUNT_CAP` matching rows under a
   `statement_timeout` of `COUNT_TIMEOUT_MS` (in a savepoint, so a cancelled count leaves the
   request's transaction usable). Within both it is exact; else the estimate, flagged.

So a count costs at most COUNT_TIMEOUT_MS, whatever the collection's size and filter; on one
core a count of 100,000 matching rows takes about 10 ms.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import msgspec
from cachetools import LRUCache
from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, Select, func, literal_column, select, text
from sqlalchemy.exc import OperationalError

from geomap.db.features import STORED, FeaturePage, where
from geomap.db.map_queries import change_stamps
from geomap.model.query import FeatureQuery

EXACT_UP_TO = 200_000  # an estimate above this is the answer; at or below it, the rows are counted
COUNT_CAP = 1_000_000  # rows counted at most (an estimate far too low still ends here)
COUNT_TIMEOUT_MS = 150  # the longest a count may run before the estimate is used instead
_REMEMBERED: LRUCache = LRUCache(256)  # exact counts, keyed by the filters' SQL and the table's stamp
_lock = threading.Lock()


@dataclass(frozen=True)
class Count:
    """A number of matching features, and whether it is exact (else the planner's estimate)."""

    value: int
    exact: bool


def matched(conn: Connection, q: FeatureQuery, page: FeaturePage) -> Count:
    """The number of features matching `q` (whatever its page), given the page it produced."""
    if not page.more:
        return Count(q.page.offset + len(page.features), True)
    at_least = q.page.offset + len(page.features) + 1
    matching = _matching(q)
    compiled = matching.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    key = (compiled.string, repr(sorted(compiled.params.items())),
           change_stamps(conn, [STORED[q.collection.id].table.name]))
    with _lock:
        remembered = _REMEMBERED.get(key)
    if remembered is not None:
        return Count(remembered, True)
    estimate = _estimate(conn, compiled)
    if estimate <= EXACT_UP_TO:
        counted = _counted(conn, matching)
        if counted is not None and counted < COUNT_CAP:
            with _lock:
                _REMEMBERED[key] = counted
            return Count(counted, True)
        estimate = max(estimate, counted or 0)
    return Count(max(estimate, at_least), False)


def _matching(q: FeatureQuery) -> Select:
    stored = STORED[q.collection.id]
    return select(literal_column("1")).select_from(stored.table).where(*where(stored, q))


def _counted(conn: Connection, matching: Select) -> int | None:
    """The exact count up to COUNT_CAP, or None when it takes longer than COUNT_TIMEOUT_MS."""
    capped = matching.limit(COUNT_CAP).subquery()
    savepoint = conn.begin_nested()
    try:
        conn.execute(text(f"SET LOCAL statement_timeout = {int(COUNT_TIMEOUT_MS)}"))
        return conn.execute(select(func.count()).select_from(capped)).scalar_one()
    except OperationalError as exc:
        if not isinstance(exc.orig, QueryCanceled):
            raise
        return None
    finally:
        savepoint.rollback()  # also undoes the SET LOCAL


def _estimate(conn: Connection, compiled) -> int:
    """The planner's estimate of the matching rows (EXPLAIN: nothing is read)."""
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params).scalar_one()
    if isinstance(plan, str | bytes):
        plan = msgspec.json.decode(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def forget() -> None:
    """Drop the remembered counts (for benchmarks that time a count, and tests)."""
    with _lock:
        _REMEMBERED.clear()
