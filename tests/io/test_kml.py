"""KML: Placemarks with ExtendedData read as features (Point, Polygon, MultiGeometry), names and
time spans filling the gaps, DTDs refused, and the writer's output read back the same."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import snapshot
from io_helpers import SOURCE, contents, incident, load_references, zone

from geomap.errors import InvalidInput
from geomap.importer import import_file
from geomap.io.kml import KMLReader, write_kml

SOURCES = json.dumps([SOURCE]).replace('"', "&quot;")
HAND_WRITTEN = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>incidents</name>
<Folder><name>Kirkuk</name>
<Placemark id="attack-1">
  <name>Rocket attack</name><description>Rockets on the base.</description>
  <TimeSpan><begin>2019-12-27</begin><end>2019-12-28T06:00:00Z</end></TimeSpan>
  <ExtendedData>
    <Data name="event_type"><value>Explosions/Remote violence</value></Data>
    <Data name="precision_m"><value>8000</value></Data>
    <Data name="status"><value>estimate</value></Data>
    <Data name="fatalities_best"><value>1</value></Data>
    <Data name="sources"><value>{SOURCES}</value></Data>
  </ExtendedData>
  <Point><coordinates>44.21,35.48,0</coordinates></Point>
</Placemark>
<Placemark>
  <name>Second</name><TimeStamp><when>2019-12-29</when></TimeStamp>
  <ExtendedData><SchemaData schemaUrl="#s">
    <SimpleData name="id">attack-2</SimpleData>
    <SimpleData name="event_type">Battles</SimpleData>
    <SimpleData name="precision_m">500.5</SimpleData>
    <SimpleData name="status">reported</SimpleData>
    <SimpleData name="tags">["a", "b"]</SimpleData>
    <SimpleData name="sources">{SOURCES}</SimpleData>
  </SchemaData></ExtendedData>
  <MultiGeometry><Point><coordinates>44.0,35.0</coordinates></Point></MultiGeometry>
</Placemark>
</Folder></Document></kml>
"""


def read(text: str, collection=None, name="file.kml"):
    return list(KMLReader(io.BytesIO(text.encode()), Path(name), collection).items())


def test_placemarks_become_features_with_extended_data_name_and_time():
    first, second = read(HAND_WRITTEN)
    assert first.record is not None and second.record is not None, (first.problems, second.problems)
    one, two = first.record.properties, second.record.properties
    assert (first.record.id, one.title, one.description, one.precision_m) == ("attack-1", "Rocket attack",
                                                                              "Rockets on the base.", 8000.0)
    assert (str(one.date_start), str(one.date_end), one.fatalities_best) == ("2019-12-27", "2019-12-28", 1)
    assert (second.record.id, str(two.date_start), str(two.date_end), two.tags) == ("attack-2", "2019-12-29",
                                                                                     "2019-12-29", ["a", "b"])
    assert (first.record.geometry.x, first.record.geometry.y) == (44.21, 35.48)  # altitude dropped
    assert (second.record.geometry.x, second.record.geometry.y) == (44.0, 35.0)


def test_polygons_and_multigeometry_read_as_zones():
    ring = "43.3,35.05 44.1,35.05 44.1,35.75 43.3,35.75 43.3,35.05"
    hole = "43.5,35.2 43.6,35.2 43.6,35.3 43.5,35.2"
    polygon = (f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates></LinearRing>"
               f"</outerBoundaryIs><innerBoundaryIs><LinearRing><coordinates>{hole}</coordinates></LinearRing>"
               "</innerBoundaryIs></Polygon>")
    data = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in {
        "group": "alpha", "kind": "control", "valid_from": "2018-01-01", "confidence": "low", "status": "estimate",
        "precision_m": "0", "sources": SOURCES}.items())
    text = (f'<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f'<Placemark id="z1"><name>Z1</name><ExtendedData>{data}</ExtendedData>{polygon}</Placemark>'
            f'<Placemark id="z2"><name>Z2</name><ExtendedData>{data}</ExtendedData>'
            f"<MultiGeometry>{polygon}{polygon.replace('35.', '37.')}</MultiGeometry></Placemark>"
            "</Document></kml>")
    z1, z2 = read(text, name="control_zones.kml")
    assert z1.record.geometry.geom_type == "MultiPolygon" and len(z1.record.geometry.geoms[0].interiors) == 1
    assert len(z2.record.geometry.geoms) == 2 and z2.record.properties.valid_to is None


@pytest.mark.parametrize("geometry, field, reason", [
    ("<LineString><coordinates>44,35 45,36</coordinates></LineString>", "geometry.type", "must be Point"),
    ("<Point><coordinates>44;35</coordinates></Point>", "geometry.coordinates", "must be longitude,latitude"),
    ("", "geometry", "must be a GeoJSON geometry object"),
])
def test_bad_geometry_is_a_problem_of_that_placemark(geometry, field, reason):
    text = HAND_WRITTEN.replace("<Point><coordinates>44.21,35.48,0</coordinates></Point>", geometry)
    first, second = read(text)
    assert second.record is not None
    assert [(p.field, reason in p.reason) for p in first.problems] == [(field, True)], first.problems
    assert "Placemark 1 (id 'attack-1')" in first.where


def test_numbers_that_are_not_numbers_are_reported():
    (item, _) = read(HAND_WRITTEN.replace("<value>8000</value>", "<value>eight km</value>"))
    assert [(p.field, p.reason) for p in item.problems] == [("properties.precision_m", "must be a number; got 'eight km'")]


def test_a_dtd_with_entities_is_refused_before_anything_is_read(refs_engine, tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>&b;</name></Placemark>'
            "</Document></kml>")
    path = tmp_path / "incidents.kml"
    path.write_text(bomb)
    with pytest.raises(InvalidInput, match="DTD or entities"):
        import_file(refs_engine, path)


def test_malformed_xml_is_refused_with_its_position(refs_engine, tmp_path):
    path = tmp_path / "incidents.kml"
    path.write_text(HAND_WRITTEN.replace("</Folder>", "</Fold>"))
    before = snapshot(refs_engine)
    with pytest.raises(InvalidInput, match=r"not well-formed XML at line \d+, column \d+"):
        import_file(refs_engine, path)
    assert snapshot(refs_engine) == before


@pytest.fixture
def refs_engine(engine, tmp_path):
    load_references(engine, tmp_path)
    return engine


def test_the_document_name_names_the_collection_and_import_stores_the_features(refs_engine, tmp_path):
    path = tmp_path / "from-google-earth.kml"
    path.write_text(HAND_WRITTEN)
    result = import_file(refs_engine, path)
    assert (result.collection, result.created) == ("incidents", 2)
    assert contents(refs_engine, "incidents")["attack-1"]["date_end"].isoformat() == "2019-12-28"


def test_written_kml_reads_back_as_the_same_features():
    features = [incident(description="Tabs\tand <angle> & \"quotes\"", notes="line one\nline two"),
                incident("2nd-attack", group=None, description="")]
    out = io.StringIO()
    assert write_kml(features, out, "incidents") == 2
    text = out.getvalue()
    assert '<Placemark id="attack-1">' in text and "<Placemark>" in text  # "2nd-attack" is not an XML id
    assert "<TimeSpan><begin>2019-12-27</begin><end>2019-12-27</end></TimeSpan>" in text
    items = read(text)
    for item, feature in zip(items, features, strict=True):
        assert item.record is not None, item.problems
        dumped = item.record.properties.model_dump(mode="json", exclude_unset=True)
        expected = {k: v for k, v in feature["properties"].items()}
        assert {k: dumped[k] for k in expected} == expected
    zones = io.StringIO()
    write_kml([zone()], zones, "control_zones")
    (item,) = read(zones.getvalue())
    assert item.record.properties.valid_to.isoformat() == "2020-03-29"
