"""How many features match a query (`numberMatched`), exact where that is cheap and bounded in
time where it is not.

In order:

1. Free: a page that ends the result (no next page) at a known position counts
   position + features on the page.
2. Counted: `SELECT count(*)` over at most `COUNT_CAP` matching keys, under a `statement_timeout`
   of `COUNT_TIMEOUT_MS` (in a savepoint, so a cancelled count leaves the request's transaction
   usable). Below the cap and within the time it is exact.
3. Estimated: otherwise PostgreSQL's planner estimate for the same filter (`EXPLAIN`, no rows
   read), raised to the cap when the cap was reached; flagged as not exact.

So a count costs at most COUNT_TIMEOUT_MS (plus planning), whatever the collection's size.
"""
from __future__ import annotations

from dataclasses import dataclass

import msgspec
from psycopg.errors import QueryCanceled
from sqlalchemy import Connection, func, literal_column, select, text
from sqlalchemy.exc import OperationalError

from geomap.db.features import STORED, FeaturePage, where
from geomap.model.query import FeatureQuery

COUNT_CAP = 1_000_000  # keys counted at most; beyond, the estimate
COUNT_TIMEOUT_MS = 150  # the longest a count may run before the estimate is used instead


@dataclass(frozen=True)
class Count:
    """A number of matching features, and whether it is exact (else the planner's estimate)."""

    value: int
    exact: bool


def matched(conn: Connection, q: FeatureQuery, page: FeaturePage) -> Count:
    """The number of features matching `q` (whatever its page), given the page it produced."""
    if not page.more:
        return Count(q.page.offset + len(page.features), True)
    counted = _counted(conn, q)
    if counted is not None and counted < COUNT_CAP:
        return Count(counted, True)
    estimate = _estimate(conn, q)
    return Count(max(estimate, counted or 0, q.page.offset + len(page.features) + 1), False)


def _matching(q: FeatureQuery):
    stored = STORED[q.collection.id]
    return select(literal_column("1")).select_from(stored.table).where(*where(stored, q))


def _counted(conn: Connection, q: FeatureQuery) -> int | None:
    """The exact count up to COUNT_CAP, or None when it takes longer than COUNT_TIMEOUT_MS."""
    capped = _matching(q).limit(COUNT_CAP).subquery()
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


def _estimate(conn: Connection, q: FeatureQuery) -> int:
    """The planner's estimate of the matching rows (EXPLAIN: nothing is read)."""
    compiled = _matching(q).compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    plan = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled.string}", compiled.params).scalar_one()
    if isinstance(plan, str | bytes):
        plan = msgspec.json.decode(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
