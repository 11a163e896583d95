"""Duplicates: same event type, close dates, claims that do not tell them apart, and a spot of
each (its location's precision disc, or its target site's) within the distance of the other's;
likely when the discs that meet are precise (radius at most 5 x the distance), else possible:
counted by precision class, listed only when asked. The multi-level grid join finds exactly the
pairs, grades and bases a brute-force comparison finds."""
from __future__ import annotations

import csv
import itertools
import random

from builders import offset
from io_helpers import incident, load_references, site, write_collection, write_sequence
from pyproj import Geod

from geomap.analysis.duplicate_rows import FIELDS
from geomap.analysis.duplicates import BASES, DuplicateRule
from geomap.importer import import_file
from geomap.ingest import load

LON, LAT = 44.21, 35.48
BASE = (44.28417, 35.5125, 1000.0)  # io_helpers.site(): base-1 and its precision
GEOD = Geod(ellps="WGS84")


def pairs(result) -> set[tuple[str, str]]:
    return {(d["a"], d["b"]) for d in result.duplicates}


def point(iid, lon=LON, lat=LAT, **props):
    """An incident located exactly (precision 0) and targeting nothing, unless told otherwise."""
    return incident(iid, lon, lat, **({"precision_m": 0.0, "target_site": None} | props))


def test_the_rule_is_type_days_claims_and_distance(engine, tmp_path):
    load_references(engine, tmp_path)
    near = offset(LON, LAT, 45, 900)
    far = offset(LON, LAT, 225, 1100)
    features = [
        point("a"), point("near", *near, day="2019-12-28"),              # 900 m, a day later: a pair
        point("far", *far),                                                # 1.1 km: no
        point("late", *near, day="2019-12-30"),                            # three days later: no
        point("other-group", *near, group="beta"),                         # claims name another group only: no
        point("other-type", *near, event_type="Battles", sub_event_type=None),  # another type: no
    ]
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features),
                         duplicates_report=tmp_path / "dups.csv")
    assert pairs(result) == {("a", "near")}
    (pair,) = result.duplicates
    assert (pair["group"], pair["event_type"], round(pair["metres"]), pair["basis"]) == (
        "alpha", "Explosions/Remote violence", 900, "locations")
    lines = (tmp_path / "dups.csv").read_text().splitlines()
    assert lines[0] == ",".join(FIELDS) and lines[1].startswith("a,near,alpha,") and lines[1].endswith(",likely,0.0")
    wider = import_file(engine, tmp_path / "incidents.geojsonseq", duplicates=DuplicateRule(metres=1200, days=3))
    assert pairs(wider) == {("a", "near"), ("a", "far"), ("a", "late"), ("late", "near")}


def test_an_incident_naming_no_group_may_duplicate_any(engine, tmp_path):
    load_references(engine, tmp_path)
    features = [point("a"), point("no-claim", *offset(LON, LAT, 0, 300), group=None),
                point("disputed", *offset(LON, LAT, 90, 300), group=None,
                      attributions=[{"group": "alpha", "claimant": "Officials", "stance": "disputed",
                                     "sources": incident()["properties"]["sources"]}])]
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features))
    # a claim of any stance names its group: the disputed one still speaks of alpha's event
    assert pairs(result) == {("a", "no-claim"), ("a", "disputed"), ("disputed", "no-claim")}


def test_precision_discs_and_the_target_site_count(engine, tmp_path):
    """The K-1 case: one source codes the attack at its launch site, another, as ACLED does, at the
    base it hit (±1 km): a likely pair. Precision discs that meet make a pair too: likely when
    both are within 5 km (the bound at 1 km), possible when one is wider (8 km)."""
    load_references(engine, tmp_path)
    launch = offset(BASE[0], BASE[1], 242, 7600)
    features = [
        point("launch", *launch, precision_m=500.0, target_site="base-1"),   # 7.6 km from the base
        point("at-base", *offset(BASE[0], BASE[1], 10, 800), group=None),    # coded at the base: likely (target)
        point("fine", *offset(*launch, 270, 6000), precision_m=5000.0, day="2019-12-26"),  # 6 km, ±5 km: likely
        point("discs", *offset(*launch, 180, 9000), precision_m=8000.0, day="2019-12-28"),  # 9 km, ±8 km: possible
        point("beyond", *offset(*launch, 0, 20000), precision_m=8000.0),     # discs 10.5 km apart: no
    ]
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features),
                         duplicates_report=tmp_path / "dups.csv", possible_duplicates=True)
    found = {(d["a"], d["b"]): d for d in result.duplicates}
    assert set(found) == {("at-base", "launch"), ("fine", "launch")} and result.duplicate_count == 2
    assert (found["at-base", "launch"]["basis"], found["at-base", "launch"]["wider_m"]) == ("a at the target of b", 1000.0)
    assert found["fine", "launch"]["basis"] == "locations"
    assert [(c.up_to_m, c.pairs) for c in result.possible_duplicates.by_precision] == [(10000.0, 1)]
    with open(tmp_path / "dups.csv", newline="") as f:
        written = [(row["a"], row["b"], row["grade"], float(row["wider_m"])) for row in csv.DictReader(f)]
    assert written == [("at-base", "launch", "likely", 1000.0), ("fine", "launch", "likely", 5000.0),
                       ("discs", "launch", "possible", 8000.0)]  # the likely ones first
    text = "\n".join(result.lines())
    assert "through discs of at most 5000 m): 2 pair(s)" in text
    assert "possible duplicates (their discs meet only through one wider than 5 km, too coarse to tell by place): " \
           "1 pair(s); the wider disc up to 10 km: 1" in text


def test_a_tighter_bound_makes_coarse_discs_possible(engine, tmp_path):
    """The bound scales with the rule: at 1 km x 1, a base of ±1 km is still precise, ±5 km is not;
    without --possible-duplicates the report's file holds the likely pairs only."""
    load_references(engine, tmp_path)
    launch = offset(BASE[0], BASE[1], 242, 7600)
    features = [point("launch", *launch, precision_m=500.0, target_site="base-1"),
                point("at-base", *offset(BASE[0], BASE[1], 10, 800), group=None),
                point("fine", *offset(*launch, 270, 6000), precision_m=5000.0, day="2019-12-26")]
    result = import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", features),
                         duplicates=DuplicateRule(precise=1.0), duplicates_report=tmp_path / "dups.csv")
    assert pairs(result) == {("at-base", "launch")}
    assert [(c.up_to_m, c.pairs) for c in result.possible_duplicates.by_precision] == [(5000.0, 1)]
    with open(tmp_path / "dups.csv", newline="") as f:
        assert [(row["a"], row["grade"]) for row in csv.DictReader(f)] == [("at-base", "likely")]


def test_pairs_with_incidents_already_stored_are_found_once(engine, tmp_path):
    load_references(engine, tmp_path)
    import_file(engine, write_sequence(tmp_path / "incidents.geojsonseq", [point("stored", precision_m=30000.0)]))
    more = [point("new", *offset(LON, LAT, 0, 10)), point("new-far", *offset(LON, LAT, 0, 30500))]
    result = import_file(engine, write_sequence(tmp_path / "more.geojsonseq", more), collection="incidents",
                         duplicates_report=tmp_path / "dups.csv", possible_duplicates=True)
    assert not result.duplicates and result.possible_duplicates.total == 2  # the stored disc, ±30 km, is coarse
    with open(tmp_path / "dups.csv", newline="") as f:  # found from the lower grid level up
        assert {(row["a"], row["b"]) for row in csv.DictReader(f)} == {("new", "stored"), ("new-far", "stored")}


def test_the_grid_finds_what_brute_force_finds(engine, tmp_path):
    """Random incidents packed into some km and a few weeks: long date intervals, precisions from
    0 to 20 km, some targeting one of two sites, claims of two groups, some naming none; with a
    bound of 2 x 700 m, so that the 2 km precisions and the 2.5 km site are coarse."""
    rng = random.Random(5)
    load_references(engine, tmp_path)
    sites = {"base-1": BASE, "base-2": (*offset(LON, LAT, 300, 6000), 2500.0)}
    load(engine, [write_collection(tmp_path / "more-sites.geojson", "sites", [
        site("base-2", *sites["base-2"][:2], precision_m=2500.0)])])
    features = []
    for i in range(160):
        lon, lat = offset(LON, LAT, rng.uniform(0, 360), rng.uniform(0, 12000))
        start = f"2019-12-{rng.randint(1, 20):02d}"
        end = f"2019-12-{int(start[-2:]) + rng.choice([0, 0, 0, 1, 6]):02d}"
        features.append(point(f"i{i}", lon, lat, day=start, date_end=end, group=rng.choice(["alpha", "beta", None]),
                              precision_m=rng.choice([0.0, 0.0, 300.0, 2000.0, 20000.0]),
                              target_site=rng.choice([None, None, None, "base-1", "base-2"]),
                              event_type=rng.choice(["Explosions/Remote violence", "Battles"]), sub_event_type=None))
    rule = DuplicateRule(metres=700, days=1, precise=2.0)
    path = write_sequence(tmp_path / "incidents.geojsonseq", features)
    result = import_file(engine, path, duplicates=rule, duplicates_report=tmp_path / "dups.csv", possible_duplicates=True)
    expected = _brute_force(features, rule, sites)
    grades = {grade for _, grade, _ in expected.values()}
    assert len(expected) > 50 and {basis for basis, _, _ in expected.values()} == set(BASES) and len(grades) == 2
    with open(tmp_path / "dups.csv", newline="") as f:
        reported = {(row["a"], row["b"]): (row["basis"], row["grade"], float(row["wider_m"]))
                    for row in csv.DictReader(f)}
    assert reported == expected
    likely = sum(grade == "likely" for _, grade, _ in expected.values())
    assert result.duplicate_count == likely and result.possible_duplicates.total == len(expected) - likely
    again = import_file(engine, path, duplicates=rule, duplicates_report=tmp_path / "likely.csv")
    with open(tmp_path / "likely.csv", newline="") as f:
        assert {(row["a"], row["b"]) for row in csv.DictReader(f)} == {k for k, v in expected.items() if v[1] == "likely"}
    assert again.possible_duplicates == result.possible_duplicates


def _brute_force(features: list[dict], rule: DuplicateRule, sites: dict) -> dict[tuple[str, str], tuple]:
    """{(a, b): (basis, grade, the wider disc's radius)} by the rule's text: likely through the first
    basis whose meeting discs are both within `precise` x `metres`; else possible, through the
    basis whose wider disc is narrowest (then the first)."""
    found = {}
    for a, b in itertools.combinations(sorted(features, key=lambda f: f["id"]), 2):
        pa, pb = a["properties"], b["properties"]
        ga, gb = ({c["group"] for c in p["attributions"]} for p in (pa, pb))
        same = pa["event_type"] == pb["event_type"]
        close_in_time = (_day(pb["date_start"]) <= _day(pa["date_end"]) + rule.days
                         and _day(pa["date_start"]) <= _day(pb["date_end"]) + rule.days)
        if not (same and close_in_time and (not ga or not gb or ga & gb)):
            continue
        met = [(basis, max(sa[2], sb[2])) for basis, (sa, sb) in zip(
            ("locations", "a at the target of b", "b at the target of a", "targets"),
            itertools.product((_spot(a), _target(pa, sites)), (_spot(b), _target(pb, sites))), strict=True)
            if sa and sb and GEOD.inv(sa[0], sa[1], sb[0], sb[1])[2] <= rule.metres + sa[2] + sb[2]]
        precise = [m for m in met if m[1] <= rule.precise * rule.metres]
        if precise:
            found[a["id"], b["id"]] = (precise[0][0], "likely", precise[0][1])
        elif met:
            basis, wider = min(met, key=lambda m: (m[1], BASES.index(m[0])))
            found[a["id"], b["id"]] = (basis, "possible", wider)
    return found


def _spot(feature):
    return (*feature["geometry"]["coordinates"], feature["properties"]["precision_m"])


def _target(p, sites):
    return sites[p["target_site"]] if p["target_site"] else None


def _day(text: str) -> int:
    return int(text[-2:])


def test_possible_duplicates_need_a_report_file(tmp_path):
    """`--possible-duplicates` lists pairs in the CSV file: without `--duplicates-report` it is refused
    before anything is read."""
    from click.testing import CliRunner

    from geomap.cli import main

    path = write_sequence(tmp_path / "incidents.geojsonseq", [point("a")])
    result = CliRunner().invoke(main, ["import", str(path), "--possible-duplicates"])
    assert result.exit_code == 2 and "--possible-duplicates lists pairs in the --duplicates-report FILE" in result.output
