"""GeoPackage (OGC GeoPackage 1.3) writing with the standard library's sqlite3.

A GeoPackage is an SQLite database with a few required tables (gpkg_spatial_ref_sys,
gpkg_contents, gpkg_geometry_columns) and geometries stored as "GeoPackageBinary": a small
header (magic "GP", version, flags, SRS id, envelope) followed by standard WKB. Writing it
directly needs no GDAL at run time; the tests read the files back with GDAL's ogrinfo.

One feature table per file, named after the collection, with an R-tree spatial index
(gpkg_rtree_index extension) so that QGIS and GDAL filter by extent without a full scan. Dates
are DATE columns; lists and objects (sources, attributions, tags) are JSON text.

Why not GDAL (bench/io_libraries.py, 200,000 synthetic incidents, 2 shared cores, 2026-12-06,
medians of 3 runs; bench/README.md): this module wrote them in 22.5 s and 68 MB peak RSS;
pyogrio 0.13 (GDAL 3.12.4's GPKG driver, in batches of 5,000 appended) in 29.9 s and 134 MB.
GDAL would also be a run-time dependency (a 100 MB wheel with its own GDAL) where the Debian
gdal-bin that geomap installs serves only the tests, which read these files back with ogrinfo.
"""
from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

import msgspec
import shapely
from pyproj import CRS
from shapely.geometry import shape

from geomap.model.records import fields_of_kind

APPLICATION_ID = 0x47504B47  # "GPKG"
USER_VERSION = 10300  # GeoPackage 1.3.0
SRS_ID = 4326
# Column types from the record definitions, and for the two properties an export adds.
DATES = fields_of_kind("date")
INTEGERS = fields_of_kind("integer") | {"version"}
REALS = fields_of_kind("number") | {"distance_m"}
BATCH = 5000

SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
CREATE TABLE gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name));
"""
# The GeoPackage 1.3 R-tree triggers (spec annex F.3) keep the index right when another program
# edits the file; ST_IsEmpty and ST_MinX... are the functions GeoPackage readers provide.
RTREE_TRIGGERS = """
CREATE TRIGGER "rtree_{t}_geom_insert" AFTER INSERT ON "{t}" WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
ST_MinY(NEW.geom), ST_MaxY(NEW.geom)); END;
CREATE TRIGGER "rtree_{t}_geom_update1" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND
(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (NEW.fid,
ST_MinX(NEW.geom), ST_MaxX(NEW.geom), ST_MinY(NEW.geom), ST_MaxY(NEW.geom)); END;
CREATE TRIGGER "rtree_{t}_geom_update2" AFTER UPDATE OF geom ON "{t}" WHEN OLD.fid = NEW.fid AND
(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid; END;
CREATE TRIGGER "rtree_{t}_geom_update3" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND
(NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid;
INSERT OR REPLACE INTO "rtree_{t}_geom" VALUES (NEW.fid, ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
ST_MinY(NEW.geom), ST_MaxY(NEW.geom)); END;
CREATE TRIGGER "rtree_{t}_geom_update4" AFTER UPDATE ON "{t}" WHEN OLD.fid != NEW.fid AND
(NEW.geom ISNULL OR ST_IsEmpty(NEW.geom)) BEGIN DELETE FROM "rtree_{t}_geom" WHERE id IN (OLD.fid, NEW.fid); END;
CREATE TRIGGER "rtree_{t}_geom_delete" AFTER DELETE ON "{t}" WHEN old.geom NOT NULL
BEGIN DELETE FROM "rtree_{t}_geom" WHERE id = OLD.fid; END;
"""


def geometry_blob(geometry: dict) -> tuple[bytes, tuple[float, float, float, float]]:
    """GeoPackageBinary of a GeoJSON geometry, and its bounds (minx, miny, maxx, maxy)."""
    geom = shape(geometry)
    bounds = geom.bounds
    wkb = shapely.to_wkb(geom, byte_order=1, output_dimension=2)
    if geometry["type"] == "Point":  # flags: little-endian, no envelope (a point is its own)
        return b"GP\x00\x01" + struct.pack("<i", SRS_ID) + wkb, bounds
    envelope = struct.pack("<4d", bounds[0], bounds[2], bounds[1], bounds[3])  # minx, maxx, miny, maxy
    return b"GP\x00\x03" + struct.pack("<i", SRS_ID) + envelope + wkb, bounds


def _column_type(name: str) -> str:
    if name in DATES:
        return "DATE"
    if name in INTEGERS:
        return "INTEGER"
    return "REAL" if name in REALS else "TEXT"


def _value(value: Any) -> Any:
    return msgspec.json.encode(value).decode() if isinstance(value, (list, dict)) else value


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_gpkg(features: Iterable[dict], path: Path, collection: str, geometry_type: str | None = None) -> int:
    """Write the features to a new GeoPackage at `path` (replacing any file there), in one
    table named after the collection. The columns come from the first feature; an empty
    export still makes a valid GeoPackage with an `id` column. Returns the feature count."""
    path = Path(path)
    path.unlink(missing_ok=True)
    iterator = iter(features)
    first = next(iterator, None)
    names = list(first["properties"]) if first else []
    kind = (geometry_type or (first["geometry"]["type"] if first and first["geometry"] else "Geometry")).upper()
    conn = sqlite3.connect(path)
    try:
        _create(conn, collection, names, kind)
        count, bounds = _insert(conn, collection, names, chain([first], iterator) if first else [])
        _finish(conn, collection, bounds)
        conn.commit()
    finally:
        conn.close()
    return count


def _create(conn: sqlite3.Connection, table: str, names: list[str], kind: str) -> None:
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {USER_VERSION}")
    conn.executescript(SCHEMA)
    conn.executemany("INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)", [
        ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
        ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
        ("WGS 84 geodetic", SRS_ID, "EPSG", SRS_ID, CRS.from_epsg(SRS_ID).to_wkt("WKT1_GDAL"),
         "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
    ])
    columns = ", ".join(f"{_quoted(n)} {_column_type(n)}" for n in names)
    conn.execute(f"CREATE TABLE {_quoted(table)} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "
                 f"geom {kind}, id TEXT NOT NULL UNIQUE" + (f", {columns}" if columns else "") + ")")
    conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, srs_id) VALUES (?, 'features', ?, ?)",
                 (table, table, SRS_ID))
    conn.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, kind, SRS_ID))
    conn.execute(f'CREATE VIRTUAL TABLE "rtree_{table}_geom" USING rtree(id, minx, maxx, miny, maxy)')
    conn.execute("INSERT INTO gpkg_extensions VALUES (?, 'geom', 'gpkg_rtree_index', "
                 "'http://www.geopackage.org/spec120/#extension_rtree', 'write-only')", (table,))


def _insert(conn: sqlite3.Connection, table: str, names: list[str], features) -> tuple[int, list[float] | None]:
    placeholders = ", ".join("?" * (len(names) + 2))
    insert = f"INSERT INTO {_quoted(table)} (geom, id{''.join(', ' + _quoted(n) for n in names)}) VALUES ({placeholders})"
    count, bounds, rows, boxes = 0, None, [], []
    for feature in features:
        count += 1
        values = (feature["id"], *(_value(feature["properties"].get(n)) for n in names))
        if feature["geometry"] is None:  # a relation: a row without geometry (allowed by the GeoPackage spec)
            rows.append((None, *values))
            continue
        blob, box = geometry_blob(feature["geometry"])
        bounds = list(box) if bounds is None else [min(bounds[0], box[0]), min(bounds[1], box[1]),
                                                   max(bounds[2], box[2]), max(bounds[3], box[3])]
        rows.append((blob, *values))
        boxes.append((count, box[0], box[2], box[1], box[3]))
        if len(rows) >= BATCH:
            _flush(conn, table, insert, rows, boxes)
    _flush(conn, table, insert, rows, boxes)
    return count, bounds


def _flush(conn: sqlite3.Connection, table: str, insert: str, rows: list, boxes: list) -> None:
    conn.executemany(insert, rows)
    conn.executemany(f'INSERT INTO "rtree_{table}_geom" VALUES (?, ?, ?, ?, ?)', boxes)
    rows.clear()
    boxes.clear()


def _finish(conn: sqlite3.Connection, table: str, bounds: list[float] | None) -> None:
    changed = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    conn.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, last_change = ? "
                 "WHERE table_name = ?", (*(bounds or (None,) * 4), changed, table))
    conn.executescript(RTREE_TRIGGERS.format(t=table))
