"""Keyset (cursor) paging over a total order of SQL terms: the order's `ORDER BY` and the
predicate for the rows after a given row's order values, in PostgreSQL's order (nulls last when
ascending, first when descending). `geomap.db.features` builds the terms of a query's order
(`features.order_terms`) and pages with them."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_


@dataclass(frozen=True)
class OrderTerm:
    """One value features are ordered by: ascending or not, and whether it can be null."""

    expression: ColumnElement
    ascending: bool = True
    nullable: bool = False


def sql_order(terms: list[OrderTerm]) -> list[ColumnElement]:
    """The terms as an `ORDER BY` list."""
    return [t.expression.asc() if t.ascending else t.expression.desc() for t in terms]


def after(terms: list[OrderTerm], values: tuple) -> ColumnElement:
    """The features after the one whose order values are `values`, in PostgreSQL's order (nulls
    last when ascending, first when descending): one of the terms later, all before it the same.
    Ordered by id alone this is `id > :last`, a walk of the primary key from where it left off;
    the first term's own bound (`date_start >= :last_date`) is stated too, where the index of
    that term starts its walk."""
    alternatives = []
    for i, (term, value) in enumerate(zip(terms, values, strict=True)):
        later = _later(term, value)
        if later is not None:
            same = [_same(t, v) for t, v in zip(terms[:i], values[:i], strict=True)]
            alternatives.append(and_(*same, later))
    if not alternatives:
        return false()
    first, value = terms[0], values[0]
    if len(terms) == 1 or first.nullable or value is None:
        return or_(*alternatives)
    return and_(first.expression >= value if first.ascending else first.expression <= value, or_(*alternatives))


def _same(term: OrderTerm, value) -> ColumnElement:
    return term.expression.is_(None) if value is None else term.expression == value


def _later(term: OrderTerm, value) -> ColumnElement | None:
    e = term.expression
    if term.ascending:
        if value is None:
            return None  # nulls come last: nothing after them but other nulls
        return or_(e > value, e.is_(None)) if term.nullable else e > value
    if value is None:
        return e.is_not(None)  # nulls come first
    return e < value
