"""Likely duplicates: same attributed group and event type, within the distance and the days;
the grid-and-bucket join finds exactly the pairs a brute-force comparison finds."""
from __future__ import annotations

import itertools
import random

from builders import offset
from io_helpers import incident, load_references, write_sequence
from pyproj import Geod

from geomap.db.duplicates import DuplicateRule
from geomap.importer import import_file

LON, LAT = 44.21, 35.48


def pairs(result) -> set[tuple[str, str]]:
    return {(d["a"], d["b"]) for d in result.duplicates}


def test_the_rule_is_group_type_distance_and_days(engine, tmp_path):
    load_references(engine, tmp_path)
    near = offset(LON, LAT, 45, 900)
    far = offset(LON, LAT, 225, 1100)
    features = [
        incident("a"), incident("near", *near, day="2019-12-28"),      # 900 m, a day later: a pair
        incident("far", *far),                                           # 1.1 km: no
        incident("late", *near, day="2019-12-30"),                       # three days later: no
        incident("other-group", *near, group="beta"),                    # another group: no
        incident("other-type", *near, event_type="Battles", sub_event_type=None),  # another type: no
        incident("no-claim", *near, group=None),                         # attributed to no one: no
    ]
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features),
                         duplicates_report=tmp_path / "dups.csv")
    assert pairs(result) == {("a", "near")}
    (pair,) = result.duplicates
    assert (pair["group"], pair["event_type"], round(pair["metres"])) == ("alpha", "Explosions/Remote violence", 900)
    assert (tmp_path / "dups.csv").read_text().splitlines()[1].startswith("a,near,alpha,")
    wider = import_file(engine, tmp_path / "incidents.geojsonseq", duplicates=DuplicateRule(metres=1200, days=3))
    assert pairs(wider) == {("a", "near"), ("a", "far"), ("a", "late"), ("late", "near")}


def test_pairs_with_incidents_already_stored_are_found_once(engine, tmp_path):
    load_references(engine, tmp_path)
    import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", [incident("stored")]))
    result = import_file(engine, write_sequence(tmp_path / "more.geojsonseq", [incident("new", *offset(LON, LAT, 0, 10))]),
                         collection="incidents")
    assert pairs(result) == {("new", "stored")}


def test_the_grid_finds_what_brute_force_finds(engine, tmp_path):
    """Random incidents packed into a few km and a few weeks, with long date intervals too."""
    load_references(engine, tmp_path)
    rng = random.Random(5)
    features = []
    for i in range(150):
        lon, lat = offset(LON, LAT, rng.uniform(0, 360), rng.uniform(0, 4000))
        start = f"2019-12-{rng.randint(1, 20):02d}"
        end = f"2019-12-{int(start[-2:]) + rng.choice([0, 0, 0, 1, 6]):02d}"
        features.append(incident(f"i{i}", lon, lat, day=start, date_end=end, group=rng.choice(["alpha", "beta"])))
    rule = DuplicateRule(metres=700, days=1)
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features), duplicates=rule)
    assert result.duplicate_count == len(_brute_force(features, rule)) > 20
    assert pairs(result) <= _brute_force(features, rule)


def _brute_force(features: list[dict], rule: DuplicateRule) -> set[tuple[str, str]]:
    geod = Geod(ellps="WGS84")
    found = set()
    for a, b in itertools.combinations(features, 2):
        pa, pb = a["properties"], b["properties"]
        groups = {c["group"] for c in pa["attributions"]} & {c["group"] for c in pb["attributions"]}
        close_in_time = (_day(pb["date_start"]) <= _day(pa["date_end"]) + rule.days
                         and _day(pa["date_start"]) <= _day(pb["date_end"]) + rule.days)
        (lon1, lat1), (lon2, lat2) = a["geometry"]["coordinates"], b["geometry"]["coordinates"]
        if groups and close_in_time and geod.inv(lon1, lat1, lon2, lat2)[2] <= rule.metres:
            found.add(tuple(sorted((a["id"], b["id"]))))
    return found


def _day(text: str) -> int:
    return int(text[-2:])
