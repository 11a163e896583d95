"""Export: the writers on small hand-checkable input, GeoPackages that GDAL reads and validates,
filters like the items endpoint, and round trips (export, import into an empty database, the
same records)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from io_helpers import contents, drop_database, empty_database, export, incident, zone

from geomap.cli import main
from geomap.db.engine import make_engine
from geomap.errors import BadRequest, InvalidInput
from geomap.importer import import_file
from geomap.ingest import load
from geomap.io import params
from geomap.io.export import Filters
from geomap.io.gpkg import geometry_blob, write_gpkg
from geomap.io.load import SEED_DIR
from geomap.io.writers import write_csv, write_geojson, write_geojsonseq

OGRINFO = shutil.which("ogrinfo")
VALIDATE_GPKG = Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py")


def require_ogrinfo() -> str:
    """Never a skip: `make test` installs gdal-bin, and a missing client must fail the run."""
    assert OGRINFO, "GDAL's ogrinfo is missing: run scripts/install-system-deps.sh (Debian gdal-bin)"
    return OGRINFO


def test_geojson_and_sequence_writers():
    features = [incident(), incident("attack-2")]
    out = io.StringIO()
    assert write_geojson(features, out, "incidents") == 2
    document = json.loads(out.getvalue())
    assert document["collection"] == "incidents" and document["features"] == features
    out = io.StringIO()
    assert write_geojsonseq(features, out) == 2
    texts = out.getvalue().split("\x1e")
    assert texts[0] == "" and [json.loads(t) for t in texts[1:]] == features and out.getvalue().endswith("}\n")


def test_csv_writer_puts_points_in_columns_and_polygons_in_wkt():
    out = io.StringIO()
    write_csv([incident(notes="a, \"quoted\"\nnote", description=None)], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert list(row)[:4] == ["id", "longitude", "latitude", "title"]
    assert (row["id"], row["longitude"], row["latitude"], row["notes"]) == ("attack-1", "44.21", "35.48",
                                                                           'a, "quoted"\nnote')
    assert row["description"] == "" and json.loads(row["attributions"])[0]["group"] == "alpha"
    assert json.loads(row["tags"]) == ["rockets"]
    out = io.StringIO()
    write_csv([zone()], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["wkt"].startswith("POLYGON ((43.3 35.05, 44.1 35.05") and row["group"] == "alpha"


@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil.example","click")', "@SUM(1+1)*cmd|' /C calc'!A0",
                                   "+1+1", "-2+3", "\t=1+1", "\r=1+1"])
def test_csv_text_never_starts_a_spreadsheet_formula(title):
    out = io.StringIO()
    feature = incident(title=title)
    feature["geometry"]["coordinates"] = [-73.9, -40.5]
    write_csv([feature], out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert row["title"] == "'" + title  # shown as text; the apostrophe is not part of the value
    assert (row["longitude"], row["latitude"]) == ("-73.9", "-40.5")  # numbers stay numbers


def test_geopackage_geometry_blob_has_the_standard_header():
    blob, bounds = geometry_blob({"type": "Point", "coordinates": [44.21, 35.48]})
    assert blob[:4] == b"GP\x00\x01" and int.from_bytes(blob[4:8], "little") == 4326 and bounds == (44.21, 35.48, 44.21, 35.48)
    blob, _ = geometry_blob(zone()["geometry"])
    assert blob[:4] == b"GP\x00\x03" and len(blob) == 8 + 32 + 93  # header, envelope, WKB of a 5-point ring


def test_gdal_reads_and_validates_the_geopackage(tmp_path):
    path = tmp_path / "out.gpkg"
    assert write_gpkg([incident(), incident("attack-2", lon=45.0)], path, "incidents") == 2
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert conn.execute("SELECT min_x, max_x FROM gpkg_contents").fetchone() == (44.21, 45.0)
    info = subprocess.run([require_ogrinfo(), "-ro", "-al", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Feature Count: 2" in info and "POINT (44.21 35.48)" in info
    assert "date_start: Date" in info and "fatalities_best: Integer" in info and "precision_m: Real" in info
    assert 'tags (String) = ["rockets"]' in info
    spatial = subprocess.run([require_ogrinfo(), "-ro", "-al", "-so", "-spat", "44.9", "35", "45.1", "36", str(path)],
                             capture_output=True, text=True, check=True).stdout
    assert "Feature Count: 1" in spatial
    if VALIDATE_GPKG.exists():
        subprocess.run(["python3", str(VALIDATE_GPKG), str(path)], check=True)


def test_an_empty_export_is_still_a_geopackage(tmp_path):
    path = tmp_path / "empty.gpkg"
    assert write_gpkg([], path, "sites", geometry_type="Point") == 0
    info = subprocess.run([require_ogrinfo(), "-ro", "-so", "-al", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Feature Count: 0" in info and "Geometry: Point" in info


def test_filters_select_like_the_items_endpoint(seeded, tmp_path):
    out = tmp_path / "out.geojson"
    everything = export(seeded, "incidents", "geojson", out)
    k1 = export(seeded, "incidents", "geojson", out, Filters(interval=(params.interval("2019-12-27"))))
    ids = [f["id"] for f in json.loads(out.read_text())["features"]]
    assert everything > k1 >= 1 and "k1-rocket-attack-2019-12-27" in ids
    assert export(seeded, "incidents", "geojson", out, Filters(bbox=params.bbox("0,0,1,1"))) == 0
    export(seeded, "incidents", "geojson", out, Filters(groups=("islamic-state",), event_types=("Battles",)))
    for feature in json.loads(out.read_text())["features"]:
        assert feature["properties"]["event_type"] == "Battles"
        assert any(c["group"] == "islamic-state" for c in feature["properties"]["attributions"])
    with pytest.raises(InvalidInput, match="only incidents have an event type"):
        export(seeded, "sites", "csv", out, Filters(event_types=("Battles",)))
    with pytest.raises(BadRequest, match="bbox: give 4 numbers minlon,minlat,maxlon,maxlat; got 3"):
        params.bbox("1,2,3")


@pytest.mark.parametrize("fmt", ["geojson", "geojsonseq", "kml"])
def test_export_then_import_into_an_empty_database_gives_the_same_records(seeded, cluster, database_url, tmp_path, fmt):
    other_url = empty_database(cluster, database_url)
    other = make_engine(other_url)
    try:
        load(other, [SEED_DIR / "groups.json"])
        for collection in ("sites", "control_zones", "incidents"):
            path = tmp_path / f"{collection}.{fmt}"
            export(seeded, collection, fmt, path)
            import_file(other, path)
            assert contents(other, collection) == contents(seeded, collection), collection
    finally:
        other.dispose()
        drop_database(cluster, other_url)


def test_export_and_import_commands(seeded, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    out = tmp_path / "sites.gpkg"
    result = runner.invoke(main, ["export", "--collection", "sites", "-o", str(out)])
    assert result.exit_code == 0 and "wrote 7 feature(s) of sites" in result.output and out.exists()
    seq = tmp_path / "incidents.geojsonseq"
    assert runner.invoke(main, ["export", "--collection", "incidents", "-o", str(seq)]).exit_code == 0
    result = runner.invoke(main, ["import", str(seq), "--duplicate-distance", "10"])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 20 unchanged" in result.output and "within 10 m disc to disc, 1 day(s)" in result.output
    bad = tmp_path / "bad.geojsonseq"
    bad.write_text("\x1e{}\n")
    report = tmp_path / "report.csv"
    result = runner.invoke(main, ["import", str(bad), "--collection", "incidents", "--report", str(report)])
    assert result.exit_code == 1 and "nothing was imported; all of them are in" in result.output
    assert report.read_text().startswith("where,field,reason")


@pytest.mark.parametrize("option, value, message", [
    ("--bbox", "43,34,46", "bbox: give 4 numbers minlon,minlat,maxlon,maxlat; got 3"),
    ("--bbox", "46,34,43,37", "bbox: boxes crossing the antimeridian"),
    ("--datetime", "2019-12-31/2019-12-01", "datetime: the interval starts after it ends"),
    ("--datetime", "27/12/2019", "datetime: '27' is not an RFC 3339 date"),
])
def test_export_refuses_a_bad_filter_with_the_items_endpoint_words(seeded, database_url, tmp_path, monkeypatch,
                                                                 option, value, message):
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "out.geojson"
    result = CliRunner().invoke(main, ["export", "--collection", "incidents", "-o", str(out), option, value])
    assert result.exit_code == 1 and message in result.output, result.output
    assert not out.exists()
