"""Relations on a real database: the seed's K-1 constraint answers "at most 305 m" whatever points
the two incidents carry; the context report says where a location was derived from; every bad
relation file is refused by `geomap load` with nothing written."""
from __future__ import annotations

import json

import pytest
from builders import SOURCE
from conftest import snapshot
from sqlalchemy import text

from geomap import inquiry
from geomap.db import write
from geomap.errors import InvalidInput
from geomap.ingest import load
from geomap.io.geojson import to_feature, validate_feature
from geomap.io.load import SEED_FILES

K1 = "incidents/k1-rocket-attack-2019-12-27"
HERDERS = "incidents/nabtaz-herders-execution-2019"
PS752 = "incidents/ps752-shootdown-2020-01-08"


@pytest.fixture
def seeded(app):
    engine = app.extensions["geomap.engine"]
    load(engine)
    return engine


def _move(engine, ref: str, lon: float, lat: float) -> None:
    """Move a seed incident's point through the one write path."""
    collection, _, fid = ref.partition("/")
    with engine.begin() as conn:
        row = write.current_row(conn, collection, fid)
        feature = {**to_feature(collection, row), "geometry": {"type": "Point", "coordinates": [lon, lat]}}
        write.replace(conn, validate_feature(feature, collection, "test"), write.ANY, "test")


def test_the_seed_answers_at_most_305_m_whatever_points_the_sites_carry(seeded):
    first = inquiry.distance(seeded, K1, HERDERS, 305)
    assert first.distance.max == pytest.approx(304.8) and first.distance.min == 0.0
    assert first.basis == "feasible regions" and first.within.answer == "yes"
    assert any("derived from incidents/k1-rocket-attack-2019-12-27" in d for d in first.derived)
    _move(seeded, HERDERS, 44.25, 35.49)  # about 3.8 km east: the discs still overlap
    moved = inquiry.distance(seeded, K1, HERDERS)
    assert moved.distance.max == pytest.approx(304.8) and moved.distance.min == 0.0
    # Without the constraint the points would say 0 to 20 km.
    with seeded.connect() as conn:
        points = [inquiry.resolve(conn, r) for r in (K1, HERDERS)]
    assert inquiry.measure(*points).distance.max > 16000


def test_moving_a_point_so_far_that_the_constraint_cannot_hold_is_an_error_naming_it(seeded):
    _move(seeded, HERDERS, 44.60, 35.48)  # 35 km away: 8 km + 8.3 km discs cannot come within 305 m
    with pytest.raises(InvalidInput, match="k1-launch-site-within-305m-of-herders-execution cannot all hold"):
        inquiry.distance(seeded, K1, HERDERS)


def test_the_context_report_says_where_the_locations_come_from(seeded):
    report = inquiry.context_report(seeded, "k1-rocket-attack-2019-12-27")
    facts = " ".join(report.location_facts)
    assert "at most 305 m from incidents/nabtaz-herders-execution-2019" in facts
    assert "the location of incidents/nabtaz-herders-execution-2019 is derived from" in facts
    storming = inquiry.context_report(seeded, "us-embassy-storming-2019-12-31")
    assert any("derived from sites/us-embassy-baghdad" in f for f in storming.location_facts)


def _relations_file(tmp_path, *features) -> str:
    path = tmp_path / "relations.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


def _relation(rid, kind, subject, obj, **fields):
    return {"type": "Feature", "id": rid, "geometry": None,
            "properties": {"kind": kind, "subject": subject, "object": obj, **fields, "sources": [SOURCE]}}


@pytest.mark.parametrize("features, field, words", [
    ([_relation("r", "within", K1, K1, distance_max_m=10)], "properties.object", "cannot be related to itself"),
    ([_relation("r", "within", K1, "incidents/nowhere", distance_max_m=10)], "properties.object",
     "unknown incident 'nowhere'"),
    ([_relation("r", "beyond", K1, HERDERS, distance_min_m=-1)], "properties.distance_min_m", "greater than or equal"),
    ([_relation("r", "within", K1, HERDERS, distance_max_m=float("1e12"))], "properties.distance_max_m",
     "less than or equal"),
    ([_relation("r", "inside", K1, None)], "geometry", "needs the polygon"),
    ([_relation("a", "precedes", K1, HERDERS), _relation("b", "precedes", HERDERS, K1)], "properties.kind",
     "a -> b form a cycle"),
    ([_relation("a", "precedes", K1, HERDERS), _relation("b", "response_to", K1, HERDERS)], "properties.kind",
     "a -> b form a cycle: an event cannot come before itself"),
    ([_relation("a", "part_of", K1, HERDERS), _relation("b", "part_of", HERDERS, K1)], "properties.kind",
     "a -> b form a cycle: an event cannot be part of itself"),
    # against the stored chain: the shoot-down of 8 January cannot precede the attack of 27 December
    ([_relation("c", "precedes", PS752, K1)], "properties.kind", "ain-al-asad-missile-strike-precedes-ps752"),
])
def test_geomap_load_refuses_a_bad_relations_file_and_changes_nothing(seeded, tmp_path, features, field, words):
    before = snapshot(seeded)
    with pytest.raises(InvalidInput) as refused:
        load(seeded, [*SEED_FILES[:4], _relations_file(tmp_path, *features)])
    assert any(p.field == field and words in p.reason for p in refused.value.problems), refused.value.problems
    assert snapshot(seeded) == before


def test_the_database_itself_refuses_a_relation_to_a_missing_feature(seeded):
    with pytest.raises(Exception, match="does not exist"), seeded.begin() as conn:
        conn.execute(text("INSERT INTO relations (id, kind, subject, object, sources) VALUES "
                          "('x', 'part_of', 'incidents/nowhere', :o, '[{\"title\": \"t\", \"url\": \"https://e.org\"}]')"),
                     {"o": K1})
    with pytest.raises(Exception, match="named by a relation"), seeded.begin() as conn:
        conn.execute(text("DELETE FROM incidents WHERE id = 'nabtaz-herders-execution-2019'"))


def test_map_popups_say_where_a_location_was_derived_from(seeded):
    from geomap.layers.text import incident_popup
    from geomap.maps.focus import focus_scene

    scene = focus_scene(seeded, "k1-rocket-attack-2019-12-27")
    herders = next(i for i in scene.incidents if i.id == "nabtaz-herders-execution-2019")
    assert herders.derived_from == (K1,)
    popup = incident_popup(herders, lambda g: g)
    assert "Location derived from" in popup and K1 in popup
    focus = next(i for i in scene.incidents if i.id == "k1-rocket-attack-2019-12-27")
    assert focus.derived_from == () and "derived" not in incident_popup(focus, lambda g: g)


def test_event_links_are_read_for_a_story(seeded):
    from geomap.db import relations as db_relations

    with seeded.connect() as conn:
        links = db_relations.event_links(conn, ["ps752-shootdown-2020-01-08"])
        assert [(r["id"], r["kind"], r["subject"]) for r in links] == [
            ("ain-al-asad-missile-strike-precedes-ps752", "precedes", "incidents/iran-missile-strike-ain-al-asad-2020-01-08")]
        to_k1 = db_relations.event_links(conn, ["k1-rocket-attack-2019-12-27"])
        assert {r["kind"] for r in to_k1} == {"response_to"} and len(to_k1) == 5
        assert db_relations.event_links(conn, ["nabtaz-herders-execution-2019"]) == []
