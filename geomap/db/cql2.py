"""CQL2 filters (the pygeofilter syntax tree a `FeatureQuery` carries) translated into SQL
clauses over one stored collection.

Only queryables can be named (`/collections/{id}/queryables`), plus `geometry` in spatial
predicates; every literal is bound. Supported: basic CQL2 (comparisons, LIKE, IN, BETWEEN,
IS NULL, AND/OR/NOT, CASEI), the spatial functions S_INTERSECTS, S_DISJOINT, S_CONTAINS,
S_WITHIN, S_TOUCHES, S_CROSSES, S_OVERLAPS, S_EQUALS (on WGS84 lon/lat geometry), and
comparisons of date queryables with DATE('...') literals. What the tree names is checked
here, against the collection's queryables: an error is a BadRequest naming `filter`.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import msgspec
from pygeofilter import ast, values
from sqlalchemy import ColumnElement, and_, func, not_, or_

from geomap.db.candidates import attributed_to
from geomap.errors import BadRequest

if TYPE_CHECKING:
    from geomap.db.features import Stored

COMPARISONS = {
    ast.Equal: lambda a, b: a == b, ast.NotEqual: lambda a, b: a != b, ast.LessThan: lambda a, b: a < b,
    ast.LessEqual: lambda a, b: a <= b, ast.GreaterThan: lambda a, b: a > b, ast.GreaterEqual: lambda a, b: a >= b,
}
SPATIAL = {
    ast.GeometryIntersects: func.ST_Intersects, ast.GeometryDisjoint: func.ST_Disjoint,
    ast.GeometryContains: func.ST_Contains, ast.GeometryWithin: func.ST_Within, ast.GeometryTouches: func.ST_Touches,
    ast.GeometryCrosses: func.ST_Crosses, ast.GeometryOverlaps: func.ST_Overlaps, ast.GeometryEquals: func.ST_Equals,
}


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

    def _comparison(self, node) -> ColumnElement:
        if self._is_group(node.lhs) and type(node) in (ast.Equal, ast.NotEqual):
            clause = attributed_to((self.literal(node.rhs),))
            return clause if type(node) is ast.Equal else not_(clause)
        return COMPARISONS[type(node)](self.scalar(node.lhs), self.scalar(node.rhs))

    def _like(self, node) -> ColumnElement:
        pattern = self.scalar(node.pattern)
        clause = self.scalar(node.lhs).like(pattern, escape=node.escapechar)
        return not_(clause) if node.not_ else clause

    def _in(self, node) -> ColumnElement:
        items = tuple(self.literal(v) for v in node.sub_nodes)
        clause = attributed_to(items) if self._is_group(node.lhs) else self.scalar(node.lhs).in_(items)
        return not_(clause) if node.not_ else clause

    def _between(self, node) -> ColumnElement:
        clause = self.scalar(node.lhs).between(self.literal(node.low), self.literal(node.high))
        return not_(clause) if node.not_ else clause

    def _isnull(self, node) -> ColumnElement:
        column = self.scalar(node.lhs)
        return column.is_not(None) if node.not_ else column.is_(None)

    def _is_group(self, node) -> bool:
        return isinstance(node, ast.Attribute) and node.name == "group" and self.collection.id == "incidents"

    def scalar(self, node) -> ColumnElement:
        if isinstance(node, ast.Attribute):
            return self.attribute(node.name)
        if isinstance(node, ast.Function) and node.name == "lower" and len(node.arguments) == 1:
            return func.lower(self.scalar(node.arguments[0]))  # CASEI
        return self.literal(node)

    def attribute(self, name: str) -> ColumnElement:
        if self._is_group(ast.Attribute(name)):
            raise BadRequest("filter: group can only be compared with =, <> or IN")
        if name not in self.collection.queryables:
            raise BadRequest(f"filter: {name!r} is not a queryable of {self.collection.id}; "
                             f"see /collections/{self.collection.id}/queryables")
        return self.stored.column(name)

    @staticmethod
    def literal(node):
        if isinstance(node, datetime):
            return node.date()
        if isinstance(node, (str, int, float, date)) and not isinstance(node, bool):
            return node
        raise BadRequest(f"filter: expected a literal value, got {node!r}")

    def geometry(self, node) -> ColumnElement:
        if isinstance(node, ast.Attribute):
            if node.name not in ("geometry", "geom"):
                raise BadRequest(f"filter: spatial predicates apply to 'geometry', not {node.name!r}")
            return self.stored.table.c.geom
        if isinstance(node, values.Geometry):
            return func.ST_SetSRID(func.ST_GeomFromGeoJSON(msgspec.json.encode(node.geometry).decode()), 4326)
        if isinstance(node, values.Envelope):
            return func.ST_MakeEnvelope(node.x1, node.y1, node.x2, node.y2, 4326)
        if isinstance(node, ast.Function) and node.name.lower() == "bbox" and len(node.arguments) == 4:
            return func.ST_MakeEnvelope(*(float(v) for v in node.arguments), 4326)
        raise BadRequest(f"filter: expected a geometry, got {node!r}")


def translate(tree, stored: Stored) -> ColumnElement:
    """The SQL clause for a parsed CQL2 expression over a stored collection."""
    return _Translator(stored).clause(tree)
