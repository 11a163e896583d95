"""Base rates on a hand-built world, against a direct count: every incident placed by
GeographicLib at a chosen distance (some just inside or outside each radius) and date (some on
each period's edges), and counted here from the features themselves."""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest
from builders import FOCUS, ON, incident, loaded_world, near_focus
from geographiclib.geodesic import Geodesic

from geomap import inquiry
from geomap.analysis.baserate import Comparison, rate_ratio_interval
from geomap.vocabulary import AFFIRMATIVE_STANCES, STANCES

LOCAL, REGION, WINDOW = 25000.0, 100000.0, 90
DISTANCES = (0, 10, 24990, 25010, 60000, 99990, 100010, 140000)
# days before the focus: the window is 0..90, the baseline 91..455
DAYS = (-1, 0, 1, 90, 91, 92, 300, 455, 456)


def hand_built() -> list[dict]:
    rng = np.random.default_rng(12)
    features = [incident("focus", *FOCUS, ON.isoformat(), precision=8000, claims=(("alpha", "accused"),))]
    for i, (metres, days) in enumerate((m, d) for m in DISTANCES for d in DAYS for _ in range(3)):
        bearing = float(rng.uniform(0, 360))
        start = ON - timedelta(days=days)
        claims = tuple((g, STANCES[int(rng.integers(0, 5))]) for g in ("alpha", "beta") if rng.uniform() < 0.7)
        end = start + timedelta(days=int(rng.choice([0, 0, 5])))
        precision = float(rng.choice([0, 2000, 45000]))
        features.append(near_focus(f"h-{i:03d}", bearing, float(metres), start, end, precision, claims))
    return features


@pytest.fixture(scope="module")
def world(cluster, tmp_path_factory):
    features = hand_built()
    with loaded_world(cluster, tmp_path_factory.mktemp("rates"), ("alpha", "beta", "gamma"), features) as engine:
        yield engine, features


def direct_count(features: list[dict], gid: str) -> tuple[int, int]:
    observed = baseline = 0
    for f in features:
        p = f["properties"]
        if f["id"] == "focus" or not any(a["group"] == gid and a["stance"] in AFFIRMATIVE_STANCES
                                         for a in p["attributions"]):
            continue
        lon, lat = f["geometry"]["coordinates"]
        metres = Geodesic.WGS84.Inverse(FOCUS[1], FOCUS[0], lat, lon)["s12"]
        before = (ON - date.fromisoformat(p["date_start"])).days
        observed += metres <= LOCAL and 0 <= before <= WINDOW
        baseline += metres <= REGION and WINDOW < before <= WINDOW + 365
    return observed, baseline


@pytest.mark.parametrize("gid", ["alpha", "beta", "gamma"])
def test_base_rates_match_a_direct_count(world, gid):
    engine, features = world
    observed, baseline = direct_count(features, gid)
    rate = inquiry.group_base_rate(engine, "focus", gid, LOCAL, WINDOW)
    assert (rate.observed, rate.baseline) == (observed, baseline)
    exposure = (1 - np.cos(LOCAL / 6371008.8)) / (1 - np.cos(REGION / 6371008.8)) * (WINDOW + 1) / 365
    if baseline:
        assert rate.expected == pytest.approx(baseline * exposure, rel=1e-9)
        assert rate.ratio == pytest.approx(observed / (baseline * exposure), rel=1e-9)
    else:
        assert rate.expected is None and rate.ratio is None
    assert (rate.low, rate.high) == pytest.approx(rate_ratio_interval(observed, baseline, exposure))
    if gid != "gamma":
        assert observed and baseline  # the world exercises both counts


def test_the_report_carries_the_same_base_rates(world):
    engine, features = world
    report = inquiry.context_report(engine, "focus", (5000.0, LOCAL), (10, WINDOW))
    assert report.comparison == Comparison.before(ON, LOCAL, REGION, WINDOW)
    for g in report.groups:
        assert (g.base_rate.observed, g.base_rate.baseline) == direct_count(features, g.id)
