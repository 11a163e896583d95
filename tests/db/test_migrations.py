"""Alembic migrations: up, down, up again; the schema they build matches geomap.db.schema and
enforces the data model's rules itself (not only the loader)."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from geomap.db import migrate
from geomap.db.schema import metadata

TABLES = {"groups", "sites", "incidents", "attributions", "control_zones", "relations", "history", "api_tokens",
          "change_stamps"}


def tables(engine):
    return set(inspect(engine).get_table_names()) - {"alembic_version", "spatial_ref_sys"}


def test_upgrade_downgrade_upgrade(engine):
    assert migrate.current(engine) == migrate.head() and tables(engine) == TABLES
    migrate.downgrade(engine, "base")
    assert migrate.current(engine) is None and tables(engine) == set()
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head() and tables(engine) == TABLES


def test_migrated_schema_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if not _ignored(d)] == []


def _ignored(item) -> bool:
    # PostGIS's own table, which lives beside ours.
    return isinstance(item, tuple) and item[0] == "remove_table" and item[1].name == "spatial_ref_sys"


def test_spatial_indexes_on_every_geometry_and_space_time_on_incidents(engine):
    with engine.connect() as conn:
        indexes = dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%USING gist%'")).all())
    assert {"sites_geom_gist", "incidents_geom_gist", "incidents_geom_dates_gist", "control_zones_geom_gist"} <= set(indexes)
    assert "daterange" in indexes["incidents_geom_dates_gist"]
    assert "incidents_geog_gist" not in indexes  # dropped by 0006: boxes on the geometry index serve its queries


SOURCES = '[{"title": "t", "url": "https://example.org"}]'
POINT = "ST_SetSRID(ST_MakePoint({lon}, {lat}), 4326)"


def _site_sql(lon=44.0, lat=35.0, precision=10):
    return (f"INSERT INTO sites (id, name, kind, geom, precision_m, status, sources) VALUES "
            f"('s', 'S', 'city', {POINT.format(lon=lon, lat=lat)}, {precision}, 'confirmed', '{SOURCES}')")


def _incident_sql(start="2019-12-27", end="2019-12-27"):
    return (f"INSERT INTO incidents (id, title, date_start, date_end, event_type, geom, precision_m, status, sources) "
            f"VALUES ('i', 'I', '{start}', '{end}', 'Battles', {POINT.format(lon=44, lat=35)}, 0, 'reported', '{SOURCES}')")


def _zone_sql(polygon="POLYGON((43 35, 44 35, 44 36, 43 36, 43 35))", valid_to="2020-01-01"):
    return ("INSERT INTO groups (id, name, kind, color) VALUES ('g', 'G', 'militia', '#000000');"
            f"INSERT INTO control_zones (id, name, group_id, kind, valid_from, valid_to, geom, confidence, status, "
            f"precision_m, sources) VALUES ('z', 'Z', 'g', 'control', '2019-01-01', '{valid_to}', "
            f"ST_Multi(ST_GeomFromText('{polygon}', 4326)), 'low', 'estimate', 0, '{SOURCES}')")


@pytest.mark.parametrize("sql, constraint", [
    (_site_sql(lat=91), "sites_lat_range"),
    (_site_sql(lon=-181), "sites_lon_range"),
    (_site_sql(precision=-1), "sites_precision_nonnegative"),
    (_incident_sql(start="2019-12-28"), "incidents_dates_ordered"),
    (_zone_sql(valid_to="2018-12-31"), "control_zones_validity_ordered"),
    (_zone_sql(polygon="POLYGON((43 35, 44 36, 44 35, 43 36, 43 35))"), "control_zones_geom_valid"),
])
def test_check_constraints_refuse_bad_rows(engine, sql, constraint):
    with pytest.raises(IntegrityError, match=constraint), engine.begin() as conn:
        for statement in sql.split(";"):
            conn.execute(text(statement))


def test_constraints_accept_a_good_row(engine):
    with engine.begin() as conn:
        conn.execute(text(_site_sql()))
        conn.execute(text(_incident_sql()))
        for statement in _zone_sql().split(";"):
            conn.execute(text(statement))
        assert conn.execute(text("SELECT count(*) FROM control_zones")).scalar_one() == 1


def test_0008_gives_every_stored_source_its_roles_and_removes_them_going_down(seeded):
    def roles():
        with seeded.connect() as conn:
            return [set(s) & {"primary", "copy_of"} for table in ("sites", "incidents", "attributions", "control_zones")
                    for (sources,) in conn.execute(text(f"SELECT sources FROM {table}")) for s in sources]
    assert roles() and all(found == {"primary", "copy_of"} for found in roles())
    migrate.downgrade(seeded, "0007")
    assert all(found == set() for found in roles())
    migrate.upgrade(seeded)
    with seeded.connect() as conn:
        first = conn.execute(text("SELECT sources->0 FROM incidents ORDER BY id LIMIT 1")).scalar()
    assert all(found == {"primary", "copy_of"} for found in roles())
    assert first["primary"] is False and first["copy_of"] is None and first["url"].startswith("http")
