"""`Neighbours.nearest` against brute force: every candidate measured with GeographicLib, sorted
by (distance, id), the first `count` of those possibly within the radius."""
from __future__ import annotations

import numpy as np
import pytest
from geographiclib.geodesic import Geodesic

from geomap.analysis.geodesy import Location
from geomap.analysis.proximity import Neighbours


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("count", [0, 1, 5, 50, 400])
def test_nearest_is_the_brute_force_order(seed, count):
    rng = np.random.default_rng(seed)
    n = 300
    lon, lat = rng.uniform(43.5, 44.5, n), rng.uniform(35.0, 36.0, n)
    lon[:40], lat[:40] = lon[40:80], lat[40:80]  # ties: the same points under other ids
    precision = rng.choice([0.0, 250.0, 5_000.0, 30_000.0], n)
    ids = [f"i-{k:04d}" for k in rng.permutation(n)]
    columns = {"id": ids, "lon": lon.tolist(), "lat": lat.tolist(), "precision_m": precision.tolist(),
               "first": [1] * n, "last": [1] * n, "group_count": [0] * n, "groups": []}
    origin, radius = Location(44.0, 35.5, 1_000.0), 30_000.0
    found = Neighbours.from_columns(columns).nearest(origin, radius, count)
    measured = [(Geodesic.WGS84.Inverse(origin.lat, origin.lon, la, lo)["s12"], i, p)
                for lo, la, i, p in zip(lon, lat, ids, precision, strict=True)]
    possible = sorted((metres, i) for metres, i, p in measured if metres - origin.precision_m - p <= radius)
    assert found == [i for _, i in possible[:count]]
    assert len(possible) > 50  # the cut matters for the small counts
