"""CQL2 filters (the pygeofilter syntax tree a `FeatureQuery` carries) translated into SQL
clauses over one stored collection.

Only queryables can be named (`/collections/{id}/queryables`), plus `geometry` in spatial
predicates; every literal is bound. Supported: basic CQL2 (comparisons, IS NULL, AND/OR/NOT),
advanced comparisons (LIKE, IN, BETWEEN), CASEI, the spatial functions S_INTERSECTS,
S_DISJOINT, S_CONTAINS, S_WITHIN, S_TOUCHES, S_CROSSES, S_OVERLAPS, S_EQUALS (on WGS84 lon/lat
geometry).

Every literal is checked against the kind of the queryable it meets (`Collection.queryables`):
a string only against a string, a number against a number or an integer, and against a date a
DATE('...') or TIMESTAMP('...') literal or a string that is a date ('2019-12-01', compared as the
date, at day precision). Anything else, and anything PostgreSQL would refuse (a LIKE pattern
ending in its escape character, a geometry that is not one), is a BadRequest naming `filter`,
the property and the kind it expects, checked here, before any SQL runs.
"""
from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import shapely
from pygeofilter import ast, values
from shapely.geometry import shape
from sqlalchemy import BigInteger, ColumnElement, Date, Float, Numeric, String, and_, func, literal, not_, or_

from geomap.db.candidates import attributed_to
from geomap.errors import BadRequest

if TYPE_CHECKING:
    from geomap.db.stored import Stored

COMPARISONS = {
    ast.Equal: lambda a, b: a == b, ast.NotEqual: lambda a, b: a != b, ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b, ast.GreaterThan: lambda a, b: a > b, ast.GreaterEqual: lambda a, b: a >= b,
}
SPATIAL = {
    ast.GeometryIntersects: func.ST_Intersects, ast.GeometryDisjoint: func.ST_Disjoint,
    ast.GeometryContains: func.ST_Contains, ast.GeometryWithin: func.ST_Within, ast.GeometryTouches: func.ST_Touches,
    ast.GeometryCrosses: func.ST_Crosses, ast.GeometryOverlaps: func.ST_Overlaps, ast.GeometryEquals: func.ST_Equals,
}
# How each kind of queryable is named in messages, and an example of a literal it accepts.
EXPECTED = {"string": "a string, quoted: 'like this'", "number": "a number, unquoted: 12.5",
            "integer": "a number, unquoted: 12", "date": "a date: DATE('2019-12-27') or '2019-12-27'"}
INT64 = 2**63
NUMERIC = ("number", "integer")


class _Translator:
    def __init__(self, stored: Stored):
        self.stored = stored
        self.collection = stored.collection

    def clause(self, node) -> ColumnElement:
        kind = type(node)
        if kind in (ast.And, ast.Or):
            return (and_ if kind is ast.And else or_)(self.clause(node.lhs), self.clause(node.rhs))
        if kind is ast.Not:
            return not_(self.clause(node.sub_node))
        if kind in COMPARISONS:
            return self._comparison(node)
        if kind in SPATIAL:
            return SPATIAL[kind](self.geometry(node.lhs), self.geometry(node.rhs))
        handler = getattr(self, f"_{kind.__name__.lower()}", None)
        if handler is None:
            raise BadRequest(f"filter: {kind.__name__} is not supported; see /conformance for what is")
        return handler(node)

    # -- predicates ---------------------------------------------------------------------------

    def _comparison(self, node) -> ColumnElement:
        lhs, rhs = node.lhs, node.rhs
        if self._is_group(rhs) and not self._is_group(lhs):
            lhs, rhs = rhs, lhs
        if self._is_group(lhs):
            if type(node) not in (ast.Equal, ast.NotEqual):
                raise BadRequest("filter: group can only be compared with =, <> or IN")
            clause = attributed_to((literal_of(rhs, "group", "string"),))
            return clause if type(node) is ast.Equal else not_(clause)
        left, right = self.pair(lhs, rhs)
        return COMPARISONS[type(node)](left, right)

    def _like(self, node) -> ColumnElement:
        name, kind = self.typed(node.lhs)
        if kind != "string":
            raise BadRequest(f"filter: LIKE applies to strings; {name} is {_a(kind)}")
        casei = _is_casei(node.pattern)
        text = literal_of(node.pattern.arguments[0] if casei else node.pattern, name, "string")
        _check_pattern(text, node.escapechar)
        pattern = func.lower(literal(text, String())) if casei else literal(text, String())
        clause = self.scalar(node.lhs).like(pattern, escape=node.escapechar)
        return not_(clause) if node.not_ else clause

    def _in(self, node) -> ColumnElement:
        if self._is_group(node.lhs):
            clause = attributed_to(tuple(literal_of(v, "group", "string") for v in node.sub_nodes))
        else:
            name, kind = self.typed(node.lhs)
            clause = self.scalar(node.lhs).in_([self.value(v, name, kind) for v in node.sub_nodes])
        return not_(clause) if node.not_ else clause

    def _between(self, node) -> ColumnElement:
        name, kind = self.typed(node.lhs)
        clause = self.scalar(node.lhs).between(self.value(node.low, name, kind), self.value(node.high, name, kind))
        return not_(clause) if node.not_ else clause

    def _isnull(self, node) -> ColumnElement:
        self.typed(node.lhs)  # a queryable, or a refusal naming it
        column = self.scalar(node.lhs)
        return column.is_not(None) if node.not_ else column.is_(None)

    # -- operands -----------------------------------------------------------------------------

    def _is_group(self, node) -> bool:
        return isinstance(node, ast.Attribute) and node.name == "group" and self.collection.id == "incidents"

    def typed(self, node) -> tuple[str, str]:
        """The name and kind of a queryable operand (an attribute, or CASEI of one); a literal is a 400."""
        if isinstance(node, ast.Attribute):
            if self._is_group(node):
                raise BadRequest("filter: group can only be compared with =, <> or IN")
            if node.name not in self.collection.queryables:
                raise BadRequest(f"filter: {node.name!r} is not a queryable of {self.collection.id}; "
                                 f"see /collections/{self.collection.id}/queryables")
            return node.name, self.collection.queryables[node.name]
        if _is_casei(node) and isinstance(node.arguments[0], ast.Attribute):
            name, kind = self.typed(node.arguments[0])
            if kind != "string":
                raise BadRequest(f"filter: CASEI applies to strings; {name} is {_a(kind)}")
            return name, kind
        raise BadRequest(f"filter: expected a queryable here, got {_shown(node)}")

    def _kind_of(self, node) -> tuple[str, str] | None:
        """The queryable an operand names, or None for a literal."""
        if isinstance(node, ast.Attribute) or (_is_casei(node) and isinstance(node.arguments[0], ast.Attribute)):
            return self.typed(node)
        return None

    def pair(self, lhs, rhs) -> tuple[ColumnElement, ColumnElement]:
        """Both sides of a comparison, each literal checked against the queryable on the other side."""
        left, right = self._kind_of(lhs), self._kind_of(rhs)
        if left is None and right is None:
            raise BadRequest("filter: a comparison needs a queryable on one side; see "
                             f"/collections/{self.collection.id}/queryables")
        if left and right and not _comparable(left[1], right[1]):
            raise BadRequest(f"filter: {left[0]} is {_a(left[1])} and {right[0]} is {_a(right[1])}; "
                             "they cannot be compared")
        return self.operand(lhs, right), self.operand(rhs, left)

    def operand(self, node, other: tuple[str, str] | None) -> ColumnElement:
        if other is None:  # this side names the queryable
            return self.scalar(node)
        return self.value(node, *other)

    def scalar(self, node) -> ColumnElement:
        if isinstance(node, ast.Attribute):
            self.typed(node)
            return self.stored.column(node.name)
        if _is_casei(node):
            return func.lower(self.scalar(node.arguments[0]))
        raise BadRequest(f"filter: expected a queryable here, got {_shown(node)}")

    def value(self, node, name: str, kind: str) -> ColumnElement:
        """A literal as a bound value of `kind` (the kind of queryable `name`); a 400 if it is not one."""
        if _is_casei(node) and kind == "string" and len(node.arguments) == 1:
            return func.lower(self.value(node.arguments[0], name, kind))
        checked = literal_of(node, name, kind)
        return literal(checked, _SQL_TYPES[type(checked)]())

    def geometry(self, node) -> ColumnElement:
        if isinstance(node, ast.Attribute):
            if node.name not in ("geometry", "geom"):
                raise BadRequest(f"filter: spatial predicates apply to 'geometry', not {node.name!r}")
            return self.stored.table.c.geom
        if isinstance(node, values.Geometry):
            return func.ST_GeomFromText(_wkt(node.geometry), 4326)
        if isinstance(node, values.Envelope):
            return _envelope([node.x1, node.y1, node.x2, node.y2])
        if isinstance(node, ast.Function) and node.name.lower() == "bbox":
            return _envelope(node.arguments)
        raise BadRequest(f"filter: expected a geometry, got {_shown(node)}")


# -- literals -----------------------------------------------------------------------------------

_SQL_TYPES = {str: String, float: Float, int: BigInteger, Decimal: Numeric, date: Date}


def literal_of(node, name: str, kind: str):
    """The Python value of literal `node` for queryable `name` of `kind`; a 400 naming both if it
    does not fit. A date-kind string is read as a date; integers beyond 64 bits stay exact."""
    if kind == "date":
        return _date(node, name)
    if kind == "string":
        if isinstance(node, str):
            return node
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        if isinstance(node, float) and not math.isfinite(node):
            raise BadRequest(f"filter: {name} is {_a(kind)}; {node} is not a finite number")
        return Decimal(node) if isinstance(node, int) and not -INT64 <= node < INT64 else node
    raise BadRequest(f"filter: {name} is {_a(kind)}; give {EXPECTED[kind]}, not {_shown(node)}")


def _date(node, name: str) -> date:
    if isinstance(node, datetime):
        return node.date()
    if isinstance(node, date):
        return node
    if isinstance(node, str):
        day = _day(node)
        if day is not None:
            return day
    raise BadRequest(f"filter: {name} is a date; give {EXPECTED['date']}, not {_shown(node)}")


def _day(text: str) -> date | None:
    """The day of an RFC 3339 date or date-time string, None if it is neither."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        if len(text) > 10 and text[10] in "Tt":
            return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).date()
    except ValueError:
        pass
    return None


def _comparable(a: str, b: str) -> bool:
    return a == b or (a in NUMERIC and b in NUMERIC)


def _a(kind: str) -> str:
    return {"integer": "an integer", "date": "a date", "string": "a string", "number": "a number"}[kind]


def _is_casei(node) -> bool:
    return isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1


def _shown(node) -> str:
    text = repr(node) if isinstance(node, (str, int, float, bool, date)) else type(node).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _check_pattern(pattern: str, escape: str | None) -> None:
    """Refuse a LIKE pattern whose escape character escapes nothing (PostgreSQL refuses it)."""
    if not escape:
        return
    i = 0
    while i < len(pattern):
        if pattern[i] == escape:
            if i + 1 == len(pattern):
                raise BadRequest(f"filter: a LIKE pattern must not end with the escape character {escape}; "
                                 f"write {escape}{escape} for the character itself")
            i += 1
        i += 1


def _wkt(geometry: dict) -> str:
    try:
        made = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise BadRequest(f"filter: not a valid geometry: {exc}") from None
    if made.is_empty or not all(math.isfinite(c) for c in made.bounds):
        raise BadRequest("filter: the geometry is empty or has coordinates that are not finite numbers")
    return made.wkt


def _envelope(numbers: list) -> ColumnElement:
    if len(numbers) != 4 or not all(isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n)
                                    for n in numbers):
        raise BadRequest("filter: BBOX takes four finite numbers: minlon, minlat, maxlon, maxlat")
    return func.ST_MakeEnvelope(*(float(n) for n in numbers), 4326)


def translate(tree, stored: Stored) -> ColumnElement:
    """The SQL clause for a parsed CQL2 expression over a stored collection."""
    return _Translator(stored).clause(tree)
