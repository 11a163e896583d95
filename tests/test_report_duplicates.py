"""The context report's duplicates on a hand-built world (issue 12): likely ones, including records
that meet the focus only through a target site (theirs or the focus's), wherever their own point
is, are listed; possible ones (meeting only through a disc wider than 5 km) are counted by
precision class, not listed. The expected grades come from GeographicLib and the rule's text,
pair by pair."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from builders import FOCUS, ON, group, incident, load_features, offset, site
from geographiclib.geodesic import Geodesic

from geomap import inquiry
from geomap.analysis.duplicates import BASES
from geomap.analysis.markdown import render
from geomap.db.engine import make_engine

ATTACK, METRES, DAYS, PRECISE_M = "Explosions/Remote violence", 1000.0, 1, 5000.0
BASE = offset(*FOCUS, 90, 30_000)  # the focus's target, beyond the report's widest radius (25 km)
SITES = {"base": (*BASE, 300.0), "post": (*offset(*FOCUS, 200, 600), 0.0),
         "elsewhere": (*offset(*FOCUS, 0, 150_000), 0.0)}


def day(shift: int) -> str:
    return (ON + timedelta(days=shift)).isoformat()


def world() -> list[dict]:
    at = incident  # (id, lon, lat, day, end, precision, claims, event type, source, target)
    return [
        at("focus", *FOCUS, day(0), precision=0, claims=(("alpha", "accused"),), event_type=ATTACK, target="base"),
        at("at-base", *offset(*BASE, 45, 800), day(1), precision=2000, event_type=ATTACK),  # coded at the base
        at("same-target", *offset(*FOCUS, 270, 60_000), day(0), claims=(("alpha", "claimed"),), event_type=ATTACK,
           target="base"),
        at("by-post", *offset(*FOCUS, 180, 70_000), day(-1), event_type=ATTACK, target="post"),
        at("near-neighbour", *offset(*FOCUS, 10, 700), day(0), event_type=ATTACK),
        at("late-target", *offset(*FOCUS, 270, 60_000), day(3), event_type=ATTACK, target="base"),
        at("other-group", *offset(*FOCUS, 270, 60_000), day(0), claims=(("beta", "claimed"),), event_type=ATTACK,
           target="base"),
        at("other-type", *offset(*FOCUS, 270, 60_000), day(0), target="base"),
        at("far-target", *offset(*FOCUS, 270, 60_000), day(0), event_type=ATTACK, target="elsewhere"),
        at("far-away", *offset(*FOCUS, 270, 40_000), day(0), precision=5000, event_type=ATTACK),
        # possible: a district-level disc near the focus, a province-level one reaching its target
        at("coarse-neighbour", *offset(*FOCUS, 135, 8000), day(1), precision=10_000, event_type=ATTACK),
        at("coarse-at-base", *offset(*BASE, 0, 40_000), day(0), precision=50_000, event_type=ATTACK),
        at("fine-neighbour", *offset(*FOCUS, 300, 5500), day(0), precision=5000, event_type=ATTACK),  # likely
    ]


def spots(feature: dict) -> list[tuple[int, float, float, float]]:
    """(kind: 0 location, 1 target site; lon, lat, radius) of a feature, from the features themselves."""
    p = feature["properties"]
    found = [(0, *feature["geometry"]["coordinates"], p["precision_m"])]
    if p.get("target_site"):
        found.append((1, *SITES[p["target_site"]]))
    return found


def expected(features: list[dict]) -> dict[str, tuple[str, str, float]]:
    """The rule by brute force: each other incident that meets the focus, with its grade, basis and
    wider disc: likely through the first basis whose discs are both within 5 km, else possible
    through the one whose wider disc is narrowest."""
    focus = next(f for f in features if f["id"] == "focus")
    found = {}
    for other in features:
        if other is focus:
            continue
        p, q = other["properties"], focus["properties"]
        if p["event_type"] != q["event_type"]:
            continue
        if date.fromisoformat(p["date_start"]) > date.fromisoformat(q["date_end"]) + timedelta(days=DAYS) or \
                date.fromisoformat(q["date_start"]) > date.fromisoformat(p["date_end"]) + timedelta(days=DAYS):
            continue
        mine, theirs = ({a["group"] for a in x["attributions"]} for x in (q, p))
        if mine and theirs and not mine & theirs:
            continue
        a, b = sorted([focus, other], key=lambda f: f["id"])
        met = sorted((2 * ka + kb, max(r1, r2)) for ka, x1, y1, r1 in spots(a) for kb, x2, y2, r2 in spots(b)
                     if Geodesic.WGS84.Inverse(y1, x1, y2, x2)["s12"] <= METRES + r1 + r2)
        precise = [m for m in met if m[1] <= PRECISE_M]
        if precise:
            found[other["id"]] = ("likely", BASES[precise[0][0]], precise[0][1])
        elif met:
            basis, wider = min(met, key=lambda m: (m[1], m[0]))
            found[other["id"]] = ("possible", BASES[basis], wider)
    return found


@pytest.fixture(scope="module")
def report(cluster, tmp_path_factory):
    from conftest import fresh_database

    features = world()
    with fresh_database(cluster) as url:
        engine = make_engine(url)
        try:
            load_features(engine, tmp_path_factory.mktemp("dups"), groups=[group("alpha"), group("beta")],
                          sites=[site(s, lon, lat, r) for s, (lon, lat, r) in SITES.items()], incidents=features)
            yield inquiry.context_report(engine, "focus"), features
        finally:
            engine.dispose()


def test_records_meeting_the_focus_through_a_target_site_are_listed(report):
    found, features = report
    want = expected(features)
    likely = {other: (basis, wider) for other, (grade, basis, wider) in want.items() if grade == "likely"}
    # the world exercises every way in: the focus's target, the other's target, both, the locations
    assert {basis for basis, _ in likely.values()} == set(BASES) and len(likely) == 5
    listed = {(d["b"] if d["a"] == "focus" else d["a"]): (d["basis"], d["wider_m"]) for d in found.duplicates}
    assert listed == likely and found.duplicates_total == len(likely)
    assert all(d["grade"] == "likely" for d in found.duplicates)


def test_possible_duplicates_are_counted_by_precision_class_not_listed(report):
    found, features = report
    possible = {other: wider for other, (grade, _, wider) in expected(features).items() if grade == "possible"}
    assert possible == {"coarse-neighbour": 10_000.0, "coarse-at-base": 50_000.0}
    assert found.possible_duplicates.total == 2
    assert [(c.up_to_m, c.pairs) for c in found.possible_duplicates.by_precision] == [(10_000.0, 1), (50_000.0, 1)]
    text = render(found)
    assert "Possible duplicates (their discs meet only through one wider than 5 km, too coarse to tell by place): " \
           "2 pair(s); the wider disc up to 10 km: 1, up to 50 km: 1; not listed." in text
    assert "coarse-neighbour" not in text.split("## Likely duplicates")[1].split("## Nearby sites")[0]


def test_the_markdown_says_how_each_met(report):
    found, _ = report
    text = render(found)
    for other, met in (("same-target", "target sites"), ("at-base", "the other at the target of this one"),
                       ("by-post", "this one at the target of the other"), ("near-neighbour", "locations")):
        assert re.search(rf"- {other} \([0-9-]+\): [0-9.]+ k?m from this one; met: {met} \(wider disc ± [0-9.]+ k?m\);",
                         text), other
