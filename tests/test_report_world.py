"""The context report on a crowded random world: its counts, its total of neighbours, its
capped list and each group's nearest prior incident, checked against a brute force over every
incident with GeographicLib (nothing from geomap's own measuring)."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from builders import FOCUS, ON, incident, loaded_world, near_focus
from geographiclib.geodesic import Geodesic

from geomap import inquiry
from geomap.analysis.report import NEARBY_LISTED
from geomap.vocabulary import AFFIRMATIVE_STANCES, STANCES

GROUPS = ("alpha", "beta", "gamma")
RADII = (5000.0, 10000.0, 25000.0)
WINDOWS = (10, 30, 90)


def random_world(seed: int = 7, count: int = 600) -> list[dict]:
    rng = np.random.default_rng(seed)
    features = [incident("focus", *FOCUS, ON.isoformat(), precision=500, claims=(("alpha", "accused"),))]
    for i in range(count):
        bearing, metres = float(rng.uniform(0, 360)), float(rng.uniform(0, 1) ** 0.7 * 45000)
        length = int(rng.choice([0, 0, 0, 3, 9, 30]))
        # a third end or start exactly on a window's edge, so that the edges are tested
        edge = int(rng.choice([0, 10, 30, 90, -90])) - (length if rng.uniform() < 0.5 else 0)
        start = ON - timedelta(days=edge if rng.uniform() < 0.3 else int(rng.integers(-120, 400)))
        end = start + timedelta(days=length)
        picks = rng.choice(len(GROUPS), size=int(rng.integers(0, 3)), replace=False)
        claims = tuple((GROUPS[g], STANCES[int(rng.integers(0, len(STANCES)))]) for g in picks)
        features.append(near_focus(f"w-{i:03d}", bearing, metres, start, end, float(rng.choice([0, 500, 2000, 10000])),
                               claims))
    return features


@pytest.fixture(scope="module")
def world(cluster, tmp_path_factory):
    features = random_world()
    with loaded_world(cluster, tmp_path_factory.mktemp("world"), GROUPS, features) as engine:
        yield engine, {f["id"]: f for f in features}


def facts(feature: dict) -> dict:
    p = feature["properties"]
    lon, lat = feature["geometry"]["coordinates"]
    best = Geodesic.WGS84.Inverse(FOCUS[1], FOCUS[0], lat, lon)["s12"]
    reach = 500 + p["precision_m"]
    first, last = date.fromisoformat(p["date_start"]), date.fromisoformat(p["date_end"])
    return {"best": best, "min": max(0.0, best - reach), "max": best + reach, "precision": p["precision_m"],
            "days_min": (ON - last).days, "days_max": (ON - first).days, "first": first, "last": last,
            "groups": {a["group"] for a in p["attributions"] if a["stance"] in AFFIRMATIVE_STANCES}}


@pytest.fixture(scope="module")
def expected(world):
    return {fid: facts(f) for fid, f in world[1].items() if fid != "focus"}


@pytest.fixture(scope="module")
def report(world):
    return inquiry.context_report(world[0], "focus", RADII, WINDOWS)


def around(expected: dict) -> dict:
    """Neighbours: possibly within the widest radius, dates within the widest window either side."""
    lo, hi = ON - timedelta(days=max(WINDOWS)), ON + timedelta(days=max(WINDOWS))
    return {k: f for k, f in expected.items() if f["min"] <= max(RADII) and f["last"] >= lo and f["first"] <= hi}


def test_the_world_is_crowded_enough_to_cap_the_list(expected):
    assert len(around(expected)) > NEARBY_LISTED


def test_nearby_total_counts_every_neighbour(report, expected):
    assert report.nearby_total == len(around(expected))


def test_the_list_holds_the_nearest_neighbours_in_order(report, expected):
    nearest = sorted(around(expected).items(), key=lambda kv: (kv[1]["best"], kv[0]))[:NEARBY_LISTED]
    assert [n.incident.id for n in report.nearby_incidents] == [k for k, _ in nearest]
    for n, (_, f) in zip(report.nearby_incidents, nearest, strict=True):
        assert (n.distance.best, n.distance.min, n.distance.max) == pytest.approx(
            (f["best"], f["min"], f["max"]), abs=1e-3)
        assert (n.days_before.min, n.days_before.max) == (f["days_min"], f["days_max"])


@pytest.mark.parametrize("gid", GROUPS)
def test_counts_per_radius_and_window(report, expected, gid):
    own = [f for f in around(expected).values() if gid in f["groups"]]
    counts = {(c.radius_m, c.window_days): (c.yes, c.possibly, c.coarse) for c in next(g for g in report.groups
                                                                                         if g.id == gid).counts}
    assert sum(sum(c) for c in counts.values()) > 0
    assert sum(c[2] for c in counts.values()) > 0  # the world has incidents too coarse for the smaller radii
    for radius in RADII:
        for window in WINDOWS:
            certain = [f for f in own if f["max"] <= radius and f["days_min"] >= 0 and f["days_max"] <= window]
            possible = [f for f in own if f["min"] <= radius and f["days_max"] >= 0 and f["days_min"] <= window
                        and f not in certain]
            placeable = [f for f in possible if f["precision"] <= radius]
            assert counts[radius, window] == (len(certain), len(placeable), len(possible) - len(placeable)), \
                (radius, window)


@pytest.mark.parametrize("gid", GROUPS)
def test_nearest_prior_incident_of_each_group(report, expected, gid):
    prior = {k: f for k, f in expected.items() if gid in f["groups"] and f["last"] < ON
             and f["last"] >= ON - timedelta(days=365) and f["best"] <= 100_000}
    nearest = min(prior, key=lambda k: (prior[k]["best"], k))
    found = next(g for g in report.groups if g.id == gid).nearest_prior
    assert found.incident.id == nearest
    assert found.distance.best == pytest.approx(prior[nearest]["best"], abs=1e-3)
