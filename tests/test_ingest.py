"""geomap load: validation with precise messages, one transaction, idempotent upserts."""
from __future__ import annotations

import copy
import json

import pytest
from conftest import snapshot
from sqlalchemy import text

from geomap.errors import InvalidInput
from geomap.ingest import load

SOURCE = {"title": "A report", "publisher": "A publisher", "url": "https://example.org/r", "date": "2019-12-28"}
GROUPS = {"collection": "groups", "groups": [
    {"id": "alpha", "name": "Alpha Front", "aliases": ["AF"], "kind": "insurgent", "color": "#0072b2"},
]}
SITES = {"type": "FeatureCollection", "collection": "sites", "features": [
    {"type": "Feature", "id": "base-1", "geometry": {"type": "Point", "coordinates": [44.28417, 35.5125]},
     "properties": {"name": "Base One", "kind": "air_base", "precision_m": 1000, "status": "confirmed",
                    "country": "Iraq", "sources": [SOURCE]}},
]}
ZONES = {"type": "FeatureCollection", "collection": "control_zones", "features": [
    {"type": "Feature", "id": "zone-1",
     "geometry": {"type": "Polygon", "coordinates": [[[43.3, 35.05], [44.1, 35.05], [44.1, 35.75], [43.3, 35.75], [43.3, 35.05]]]},
     "properties": {"name": "Pocket", "group": "alpha", "kind": "activity", "valid_from": "2018-01-01",
                    "valid_to": "2020-03-29", "confidence": "low", "status": "estimate", "precision_m": 10000,
                    "sources": [SOURCE]}},
]}
INCIDENTS = {"type": "FeatureCollection", "collection": "incidents", "features": [
    {"type": "Feature", "id": "attack-1", "geometry": {"type": "Point", "coordinates": [44.21, 35.48]},
     "properties": {"title": "Rocket attack", "date_start": "2019-12-27", "date_end": "2019-12-27",
                    "event_type": "Explosions/Remote violence", "sub_event_type": "Shelling/artillery/missile attack",
                    "precision_m": 8000, "status": "estimate", "target_site": "base-1",
                    "fatalities_low": 1, "fatalities_best": 1, "fatalities_high": 1,
                    "attributions": [{"group": "alpha", "claimant": "Officials", "stance": "accused",
                                      "sources": [SOURCE]}],
                    "sources": [SOURCE], "tags": ["rockets"]}},
]}


@pytest.fixture
def files(tmp_path):
    """Writes the four valid documents (optionally altered) and returns their paths."""
    def write(**changed):
        docs = {"groups.json": GROUPS, "sites.geojson": SITES, "control_zones.geojson": ZONES,
                "incidents.geojson": INCIDENTS}
        paths = []
        for name, doc in docs.items():
            path = tmp_path / name
            content = changed.get(name.split(".")[0], doc)
            path.write_text(content if isinstance(content, str) else json.dumps(content))
            paths.append(path)
        return paths
    return write


def counts(engine):
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("groups", "sites", "control_zones", "incidents", "attributions", "history")}


def test_load_creates_every_feature_with_history(engine, files):
    report = load(engine, files())
    assert counts(engine) == {"groups": 1, "sites": 1, "control_zones": 1, "incidents": 1,
                              "attributions": 1, "history": 4}
    assert report.created == {"groups": 1, "sites": 1, "control_zones": 1, "incidents": 1}
    with engine.connect() as conn:
        row = conn.execute(text("SELECT ST_X(geom), ST_Y(geom), target_site, date_start::text FROM incidents")).one()
        zone = conn.execute(text("SELECT GeometryType(geom), group_id FROM control_zones")).one()
    assert tuple(row) == (44.21, 35.48, "base-1", "2019-12-27")
    assert tuple(zone) == ("MULTIPOLYGON", "alpha")


def test_loading_twice_changes_nothing(engine, files):
    paths = files()
    load(engine, paths)
    before = snapshot(engine)
    report = load(engine, paths)
    assert snapshot(engine) == before
    assert sum(report.created.values()) == sum(report.updated.values()) == 0
    assert report.unchanged["incidents"] == 1


def test_changed_feature_is_updated_with_its_previous_version_in_history(engine, files):
    load(engine, files())
    changed = copy.deepcopy(INCIDENTS)
    changed["features"][0]["properties"]["fatalities_high"] = 3
    report = load(engine, files(incidents=changed))
    assert report.updated == {"incidents": 1}
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM incidents")).scalar_one()
        action, changes, previous = conn.execute(text(
            "SELECT action, changes, previous FROM history WHERE feature_id = 'attack-1' ORDER BY id DESC LIMIT 1")).one()
    assert version == 2
    assert (action, changes) == ("update", ["fatalities_high"])
    assert previous["properties"]["fatalities_high"] == 1
    assert previous["geometry"] == {"type": "Point", "coordinates": [44.21, 35.48]}


def _feature(doc, **properties):
    doc = copy.deepcopy(doc)
    doc["features"][0]["properties"].update(properties)
    return doc


def _with(doc, **members):
    doc = copy.deepcopy(doc)
    doc["features"][0].update(members)
    return doc


REJECTIONS = {
    "bad JSON": (dict(incidents='{"type": "FeatureCollection", "features": [}'),
                 "incidents.geojson", "not valid JSON", "line 1"),
    "wrong geometry type": (dict(incidents=_with(INCIDENTS, geometry={"type": "LineString", "coordinates": [[44, 35], [45, 36]]})),
                            "features[0] (id 'attack-1')", "geometry.type", "must be Point"),
    "latitude out of range": (dict(sites=_with(SITES, geometry={"type": "Point", "coordinates": [44.2, 95.0]})),
                              "features[0] (id 'base-1')", "geometry.coordinates", "latitude 95.0 is outside"),
    "longitude out of range": (dict(sites=_with(SITES, geometry={"type": "Point", "coordinates": [190.0, 35.0]})),
                               "(id 'base-1')", "geometry.coordinates", "longitude 190.0 is outside"),
    "invalid polygon": (dict(control_zones=_with(ZONES, geometry={"type": "Polygon", "coordinates": [
                            [[43.0, 35.0], [44.0, 36.0], [44.0, 35.0], [43.0, 36.0], [43.0, 35.0]]]})),
                        "(id 'zone-1')", "geometry", "Self-intersection"),
    "missing id": (dict(sites=_with(SITES, id=None)), "features[0]", "id", "missing"),
    "unknown group": (dict(incidents=_feature(INCIDENTS, attributions=[
                          {"group": "nobody", "claimant": "X", "stance": "claimed", "sources": [SOURCE]}])),
                      "(id 'attack-1')", "properties.attributions[0].group", "unknown group 'nobody'"),
    "unknown target site": (dict(incidents=_feature(INCIDENTS, target_site="nowhere")),
                            "(id 'attack-1')", "properties.target_site", "unknown site 'nowhere'"),
    "reversed dates": (dict(incidents=_feature(INCIDENTS, date_start="2019-12-28", date_end="2019-12-27")),
                       "(id 'attack-1')", "properties.date_end", "must not be before date_start"),
    "reversed validity": (dict(control_zones=_feature(ZONES, valid_from="2021-01-01")),
                          "(id 'zone-1')", "properties.valid_to", "must not be before valid_from"),
    "negative precision": (dict(sites=_feature(SITES, precision_m=-5)),
                           "(id 'base-1')", "properties.precision_m", "greater than or equal to 0"),
    "no sources": (dict(sites=_feature(SITES, sources=[])), "(id 'base-1')", "properties.sources", "at least 1"),
    "sub-event of another type": (dict(incidents=_feature(INCIDENTS, sub_event_type="Mob violence")),
                                  "(id 'attack-1')", "properties.sub_event_type", "not a sub-event type"),
    "unknown property": (dict(incidents=_feature(INCIDENTS, perpetrator="alpha")),
                         "(id 'attack-1')", "properties.perpetrator", "unknown field"),
    "string where a number belongs": (dict(incidents=_feature(INCIDENTS, fatalities_best="1")),
                                      "(id 'attack-1')", "properties.fatalities_best", "valid integer"),
    "fatalities out of order": (dict(incidents=_feature(INCIDENTS, fatalities_low=5)),
                                "(id 'attack-1')", "properties.fatalities_high", "fatalities_low <= fatalities_best"),
    "bad date": (dict(incidents=_feature(INCIDENTS, date_start="27/12/2019")),
                 "(id 'attack-1')", "properties.date_start", "YYYY-MM-DD"),
    "duplicate id": (dict(sites={**SITES, "features": SITES["features"] * 2}), "features[1]", "id", "duplicate id"),
    "not a collection": (dict(sites={"type": "Feature"}), "sites.geojson", "type", "FeatureCollection"),
    # Refused by the database mid-transaction, after alpha's update was written: rolled back.
    "group name taken": (dict(groups={"collection": "groups", "groups": [
                             GROUPS["groups"][0] | {"notes": "an update that must be rolled back"},
                             {"id": "beta", "name": "Alpha Front", "kind": "militia", "color": "#e69f00"}]}),
                         "groups[1] (id 'beta')", "feature", "duplicate key value"),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_invalid_input_is_refused_naming_file_feature_field_and_reason(engine, files, case):
    changed, where, field, reason = REJECTIONS[case]
    load(engine, files())  # a loaded database, which the failed load must leave exactly as it was
    before = snapshot(engine)
    with pytest.raises(InvalidInput) as caught:
        load(engine, files(**{k: (v if isinstance(v, str) else _bump(v)) for k, v in changed.items()}))
    message = str(caught.value)
    assert where in message and field in message and reason in message, message
    assert snapshot(engine) == before


def test_invalid_input_into_an_empty_database_leaves_it_empty(engine, files):
    with pytest.raises(InvalidInput):
        load(engine, files(incidents=_feature(INCIDENTS, date_end="2019-12-01")))
    assert set(counts(engine).values()) == {0}


def test_every_problem_is_reported_not_only_the_first(engine, files):
    doc = copy.deepcopy(INCIDENTS)
    doc["features"].append(copy.deepcopy(doc["features"][0]) | {"id": "attack-2"})
    doc["features"][0]["properties"]["status"] = "rumour"
    doc["features"][1]["properties"]["precision_m"] = -1
    with pytest.raises(InvalidInput) as caught:
        load(engine, files(incidents=doc))
    fields = [(p.where.split(": ")[-1], p.field) for p in caught.value.problems]
    assert fields == [("features[0] (id 'attack-1')", "properties.status"),
                      ("features[1] (id 'attack-2')", "properties.precision_m")]


def _bump(doc):
    """Valid changes elsewhere in the document, so that a refused load would have written something."""
    doc = copy.deepcopy(doc)
    if doc.get("collection") == "groups" or doc.get("type") != "FeatureCollection":
        return doc
    for feature in doc["features"]:
        if isinstance(feature.get("properties"), dict):
            feature["properties"]["notes"] = "changed by a load that must not land"
    return doc
