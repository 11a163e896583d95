"""A validated Record as lines of PostgreSQL's COPY text format: its row, in the column order
`geomap.db.staging` gives (the staging table's, or the collection's own for a first import), an
incident's claims as lines of `attributions` (keyed by the row's place in the file when staged,
by the incident's id when written directly), and, written directly, its `create` history line.

Values are written as `geomap load` binds them: dates ISO, geometry as EWKB (SRID 4326) after
the geometry policy, sources as the JSON of their validated models (every field, nulls
included), tags as a text[] literal.
"""
from __future__ import annotations

import re
import struct
from collections.abc import Callable

import msgspec
import shapely
from pydantic import TypeAdapter
from shapely.geometry import Point

from geomap.model.attribution import attributed_groups
from geomap.model.records import Record, ReportedEvents, Source

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SOURCES = TypeAdapter(list[Source])
_REPORTED = TypeAdapter(list[ReportedEvents])
_POINT_EWKB = "0101000020E6100000"  # little-endian, Point, has SRID, SRID 4326
NULL = r"\N"
# In a COPY line a JSON escape \u0000 shows as 4k + 2 backslashes before "u0000".
_JSON_NUL = re.compile(r"(?<!\\)(\\\\\\\\)*\\\\u0000")


def array(values: list[str]) -> str:
    """A text[] literal as a COPY text field."""
    if not values:
        return "{}"
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return ("{" + ",".join(quoted) + "}").translate(_ESCAPES)


def ewkb(geom) -> str:
    """Hex EWKB with SRID 4326, as COPY reads a geometry (None: a null, a relation's usual geometry)."""
    if geom is None:
        return NULL
    if isinstance(geom, (Point, tuple)):  # a tuple: the fast reader's LonLat
        return _POINT_EWKB + struct.pack("<dd", geom.x, geom.y).hex()
    return shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, byte_order=1, include_srid=True)


def _json(values, adapter: TypeAdapter) -> str:
    """Validated sources or claims as JSON: every field, nulls included (msgspec structs from
    the fast path, pydantic models from the others; both write the same JSON). JSON text has
    no raw tab or newline, so only backslashes need escaping for COPY."""
    data = msgspec.json.encode(values) if values and isinstance(values[0], msgspec.Struct) else adapter.dump_json(values)
    text = data.decode()
    return text.replace("\\", "\\\\") if "\\" in text else text


def groups(claims) -> str:
    """`incidents.attributed_groups` (`geomap.model.attribution`) as a text[] COPY field."""
    return array(list(attributed_groups(claims))) if claims else "{}"


def claims(attributions, key: str) -> str:
    """An incident's claims as COPY lines of `attributions`' columns after the first, which is
    `key` (the incident's place in the file, or its id; none: empty)."""
    if not attributions:
        return ""
    return "".join(f"{key}\t{position}\t{text(c.group)}\t{text(c.claimant)}\t{c.stance}\t"
                   f"{_json(c.sources, _SOURCES)}\t{NULL if c.notes is None else text(c.notes)}\n"
                   for position, c in enumerate(attributions))


def text(value: str) -> str:
    """A string as a COPY text field (escaping only when needed: most strings need none)."""
    return value if value.isprintable() and "\\" not in value else value.translate(_ESCAPES)


def _expression(name: str, kind: str) -> str:
    """Python source of one column's COPY field, read from `r` (the record) and `p` (its
    properties)."""
    if name == "id":
        return "text(r.id)"
    if name == "geom":
        return "ewkb(r.geometry)"
    if name == "sources":
        return "json(p.sources, SOURCES)"
    if name == "reported_events":
        return "(json(v, REPORTED) if (v := p.reported_events) else '[]')"
    if name == "attributed_groups":
        return "groups(p.attributions)"
    if name == "src":
        return "text(where)"
    if name == "ord":
        return "str(ordinal)"
    if kind == "texts":  # tags, aliases
        return f"array(p.{name})"
    attribute = "p." + ("group" if name == "group_id" else name)
    if kind == "text":  # text() inlined: most fields of most rows are text, and need no escape
        return (f"(NULL if (v := {attribute}) is None else v if v.isprintable() and '\\\\' not in v "
                "else v.translate(ESCAPES))")
    if kind == "date":
        return f"(NULL if {attribute} is None else {attribute}.isoformat())"
    return f"(NULL if {attribute} is None else repr({attribute}))"  # numbers: repr is exact


def formatter(columns: list[tuple[str, str]], history: tuple[str, str] | None = None
              ) -> Callable[[Record, str, int], tuple[str, ...]]:
    """(record, where, ordinal) -> its COPY lines: the row (the columns, given as (name, kind)
    with kind text, date or number, or a column written specially, src and ord among them),
    its claims (when the columns include `attributed_groups`, incidents; else empty, keyed by
    `ord` when it is a column, else by id) and, when `history` is given as the text before and
    after the id, its history line.

    The line is one f-string compiled for the columns: a bulk import formats millions of rows,
    and a call per field would cost more than all the rest of the formatting.
    """
    fields = [_expression(name, kind) for name, kind in columns]
    key = "str(ordinal)" if any(n == "ord" for n, _ in columns) else "text(r.id)"
    with_claims = f"claims(p.attributions, {key})" if any(n == "attributed_groups" for n, _ in columns) else "''"
    texts = [" + '\\t' + ".join(fields) + " + '\\n'", with_claims] + (["BEFORE + text(r.id) + AFTER"] if history else [])
    source = f"lambda r, where, ordinal: (lambda p: ({', '.join(texts)}))(r.properties)"
    scope = {"text": text, "ESCAPES": _ESCAPES, "NULL": NULL, "ewkb": ewkb, "json": _json, "array": array, "groups": groups,
             "claims": claims, "SOURCES": _SOURCES, "REPORTED": _REPORTED, "BEFORE": history and history[0], "AFTER": history and history[1]}
    return eval(source, scope)  # noqa: S307 - the source is built above from column names only


def history_line(collection: str, actor: str, changes: str) -> tuple[str, str]:
    """A `create` history line (`geomap.db.staging.HISTORY_COLUMNS`) as the COPY text before and
    after the id; `changes` is JSON (no backslash, tab or newline)."""
    return f"{collection}\t", f"\tcreate\t1\t{text(actor)}\t{changes}\n"


_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
_ESCAPE = re.compile(r"\\(.)")


def values(line: str) -> list[str | None]:
    """A COPY text line's fields as the values COPY reads from them (None for a null): what a
    write of a few records binds instead, so that it stages them in one statement."""
    return [None if field == NULL else _ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], field) if "\\" in field
            else field for field in line.removesuffix("\n").split("\t")]


def has_nul(line: str) -> bool:
    """PostgreSQL stores no NUL character, in text or in jsonb (where JSON writes it \\u0000)."""
    return "\x00" in line or ("\\u0000" in line and _nul_in_json(line))


def _nul_in_json(line: str) -> bool:
    # Rare: a JSON escape \u0000 (not an escaped backslash followed by "u0000") in a JSON column.
    return _JSON_NUL.search(line) is not None
