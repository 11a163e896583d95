"""Every second form of a record agrees with its one definition (`geomap.model.records`), and
every form of the "attributed to" rule with `geomap.model.attribution`.

The second forms kept for speed or storage are checked here field by field: the msgspec
decoder (names, order, required fields, kinds, vocabularies, bounds), the tables (columns,
order, types, nullability), the frozen stance list of the migration's trigger, and the rows of
the analysis and of the map (every field they share with the record has its kind and
nullability).
"""
from __future__ import annotations

import re
import typing
from datetime import date
from pathlib import Path

import msgspec
import pytest
from annotated_types import Ge, Le, MinLen
from geoalchemy2 import Geometry
from sqlalchemy import Date, Double, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from geomap.analysis import model as analysis
from geomap.db import schema
from geomap.db.store import BOOKKEEPING
from geomap.io import gpkg, json_features, kml
from geomap.layers import scene
from geomap.model import records
from geomap.model.attribution import AFFIRMATIVE_STANCES, STANCES, attributed_groups
from geomap.model.records import PROPERTIES, kinds

MIGRATION = Path(__file__).resolve().parents[2] / "geomap/db/migrations/versions/0005_attributed_groups.py"


# -- the pydantic definition and the msgspec decoder, reduced to the same terms -----------------

def _constraints(metadata) -> dict:
    found = {}
    for item in metadata:
        if isinstance(item, (Ge, Le, MinLen)):
            found |= {"ge": getattr(item, "ge", None)} if isinstance(item, Ge) else \
                     {"le": item.le} if isinstance(item, Le) else {"min_length": item.min_length}
        elif getattr(item, "pattern", None):
            found["pattern"] = True
        elif hasattr(item, "metadata"):  # a FieldInfo inside Annotated
            found |= _constraints(item.metadata)
    return found


def _pydantic_shape(annotation, metadata=()) -> dict:
    """kind, nullable, literal values, item shape and bounds of a pydantic field's type."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _pydantic_shape(args[0], (*metadata, *args[1:]))
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _pydantic_shape(inner, metadata) | {"nullable": True}
    shape = {"nullable": False, **_constraints(metadata)}
    if origin is typing.Literal:
        return shape | {"kind": "text", "values": set(args)}
    if origin is list:
        return shape | {"kind": "list", "item": _pydantic_shape(args[0])}
    if isinstance(annotation, type) and issubclass(annotation, records.Model):
        return shape | {"kind": annotation.__name__}
    return shape | {"kind": {str: "text", date: "date", int: "integer", float: "number", bool: "boolean"}[annotation]}


def _msgspec_shape(t) -> dict:
    if isinstance(t, msgspec.inspect.UnionType):
        (inner,) = [x for x in t.types if not isinstance(x, msgspec.inspect.NoneType)]
        return _msgspec_shape(inner) | {"nullable": True}
    bounds = {k: getattr(t, k) for k in ("ge", "le", "min_length") if getattr(t, k, None) is not None}
    shape = {"nullable": False, **bounds} | ({"pattern": True} if getattr(t, "pattern", None) else {})
    if isinstance(t, msgspec.inspect.LiteralType):
        return shape | {"kind": "text", "values": set(t.values)}
    if isinstance(t, msgspec.inspect.ListType):
        return shape | {"kind": "list", "item": _msgspec_shape(t.item_type)}
    if isinstance(t, msgspec.inspect.StructType):
        return shape | {"kind": t.cls.__name__}
    kinds_by_type = {msgspec.inspect.StrType: "text", msgspec.inspect.DateType: "date",
                     msgspec.inspect.IntType: "integer", msgspec.inspect.FloatType: "number",
                     msgspec.inspect.BoolType: "boolean"}
    return shape | {"kind": kinds_by_type[type(t)]}


STRUCTS = [(json_features.IncidentProperties, records.IncidentProperties),
           (json_features.SiteProperties, records.SiteProperties),
           (json_features.Source, records.Source), (json_features.Attribution, records.Attribution)]


@pytest.mark.parametrize(("struct", "model"), STRUCTS, ids=[m.__name__ for _, m in STRUCTS])
def test_the_fast_decoder_declares_the_definitions_fields_types_and_bounds(struct, model):
    fields = msgspec.inspect.type_info(struct).fields
    assert [f.name for f in fields] == list(model.model_fields)  # same order: both write the same JSON
    for field in fields:
        info = model.model_fields[field.name]
        assert field.required == info.is_required(), field.name
        if not field.required:
            default = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
            assert default == info.get_default(call_default_factory=True), field.name
        expected = _pydantic_shape(info.annotation, info.metadata)
        expected.pop("allow_inf_nan", None)
        assert _msgspec_shape(field.type) == expected, field.name


def test_the_shapes_compared_are_not_empty():
    """The comparison above sees the bounds and vocabularies, not only the kinds."""
    incident = records.IncidentProperties.model_fields
    assert _pydantic_shape(incident["precision_m"].annotation, incident["precision_m"].metadata) == \
        {"nullable": False, "kind": "number", "ge": 0, "le": 20_037_508.0}
    assert _pydantic_shape(incident["fatalities_best"].annotation)["ge"] == 0
    assert _pydantic_shape(incident["sources"].annotation, incident["sources"].metadata)["min_length"] == 1
    assert _pydantic_shape(records.Attribution.model_fields["stance"].annotation)["values"] == set(STANCES)


# -- the tables -----------------------------------------------------------------------------------

COLUMN_TYPES = {"text": Text, "date": Date, "integer": Integer, "number": Double, "sources": JSONB, "reports": JSONB,
                "texts": ARRAY, "geometry": Geometry}


def _columns(table, leave_out: tuple[str, ...]) -> list[tuple[str, type, bool]]:
    return [(c.name, type(c.type), c.nullable) for c in table.columns if c.name not in (*BOOKKEEPING, *leave_out)]


def _fields(model, rename: dict[str, str], leave_out: tuple[str, ...] = ()) -> list[tuple[str, type, bool]]:
    out = []
    for name, kind in kinds(model).items():
        if name not in leave_out:
            nullable = _pydantic_shape(model.model_fields[name].annotation)["nullable"]
            out.append((rename.get(name, name), COLUMN_TYPES[kind], nullable))
    return out


@pytest.mark.parametrize("collection", list(PROPERTIES))
def test_each_table_has_the_columns_of_its_record(collection):
    """Same names (`group` is stored as `group_id`), order, types and nullability; the claims
    are rows of their own table, the geometry a column the record keeps beside its properties."""
    table = schema.metadata.tables[collection]
    assert _columns(table, ("id", "geom")) == _fields(PROPERTIES[collection], {"group": "group_id"}, ("attributions",))
    # A relation's geometry is null but for an `inside` relation's own polygon.
    assert not table.c.id.nullable and table.c.geom.nullable == (collection == "relations")


def test_the_groups_and_attributions_tables_have_the_columns_of_their_records():
    assert _columns(schema.groups, ()) == _fields(records.GroupRecord, {})
    assert _columns(schema.attributions, ("id", "incident_id", "position")) == \
        _fields(records.Attribution, {"group": "group_id"})


# -- the rows of the analysis and of the map -------------------------------------------------------

def _row_kind(hint) -> tuple[str, bool]:
    args = typing.get_args(hint)
    if type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _row_kind(inner)[0], True
    if typing.get_origin(hint) is tuple:
        return {dict: "sources", scene.Claim: "claims", str: "texts"}[args[0]], False
    return {str: "text", date: "date", int: "integer", float: "number"}[hint], False


ROWS = [(analysis.Incident, records.IncidentProperties, {"id", "location", "groups"}),
        (analysis.Site, records.SiteProperties, {"id", "location"}),
        (analysis.ControlZone, records.ZoneProperties, {"id", "geometry"}),
        (scene.MapIncident, records.IncidentProperties, {"id", "lon", "lat", "claims", "derived_from"}),
        (scene.MapSite, records.SiteProperties, {"id", "lon", "lat"}),
        (scene.Claim, records.Attribution, set())]


@pytest.mark.parametrize(("row", "model", "own"), ROWS, ids=[r.__name__ for r, _, _ in ROWS])
def test_the_rows_of_the_analysis_and_the_map_are_projections_of_the_records(row, model, own):
    """Every field of the row that is not its own (id, location, geometry, claims) is a field
    of the record with the same kind; a field the record may leave empty is optional in the row
    (a row may require what the record requires, or leave it optional)."""
    hints = typing.get_type_hints(row, vars(scene) | vars(analysis))
    defined = kinds(model)
    shared = [name for name in hints if name not in own]
    assert set(shared) <= set(defined), set(shared) - set(defined)
    for name in shared:
        kind, nullable = _row_kind(hints[name])
        assert kind == defined[name], name
        if _pydantic_shape(model.model_fields[name].annotation)["nullable"]:
            assert nullable or row is analysis.ControlZone and name == "notes", name  # zones: "" for none
    if row is scene.Claim:
        assert list(hints) == list(defined)


# -- the file formats' type tables -------------------------------------------------------------------

def test_the_kml_and_geopackage_type_tables_come_from_the_records():
    assert kml.INTEGERS == gpkg.INTEGERS - {"version"} == {"fatalities_low", "fatalities_best", "fatalities_high",
                                                           "injured"}
    assert kml.NUMBERS == gpkg.REALS - {"distance_m"} == {"precision_m", "distance_min_m", "distance_max_m",
                                                          "bearing_from", "bearing_to"}
    assert gpkg.DATES == {"date_start", "date_end", "valid_from", "valid_to"}
    assert kml.JSON_FIELDS == {"sources", "attributions", "tags", "reported_events"}


# -- the "attributed to" rule -----------------------------------------------------------------------

def test_the_rule_keeps_the_affirmative_stances_and_orders_groups_by_bytes():
    claims = [scene.Claim("b", "x", "claimed"), scene.Claim("a", "x", "denied"), scene.Claim("B", "x", "assessed"),
              scene.Claim("b", "x", "accused"), scene.Claim("c", "x", "disputed")]
    assert attributed_groups(claims) == ("B", "b")
    assert set(AFFIRMATIVE_STANCES) == {"claimed", "accused", "assessed"} < set(STANCES)


def test_the_migrations_trigger_uses_the_models_stances(engine):
    """The migration is history, frozen: its stance list, as written and as installed, is the
    rule's (a change to the rule needs a new migration)."""
    frozen = re.search(r'^AFFIRMATIVE = "\((.*)\)"$', MIGRATION.read_text(), re.M).group(1)
    assert re.findall(r"'([a-z]+)'", frozen) == list(AFFIRMATIVE_STANCES)
    with engine.connect() as conn:
        body = conn.execute(text("SELECT pg_get_functiondef('incidents_refresh_attributed_groups(text[])'::regprocedure)"
                                 )).scalar_one()
    installed = re.search(r"a\.stance IN \(([^)]*)\)", body).group(1)
    assert re.findall(r"'([a-z]+)'", installed) == list(AFFIRMATIVE_STANCES)


def test_the_map_uses_the_rule():
    incident = scene.MapIncident("i", "t", 0, 0, 1, date(2020, 1, 1), date(2020, 1, 1), "Battles", "reported",
                                 claims=(scene.Claim("z", "x", "denied"), scene.Claim("y", "x", "claimed")))
    assert incident.groups == ("y",) and incident.group_category == "y"
