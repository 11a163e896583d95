"""The fast path (msgspec structs) never accepts what the rule book (pydantic models, via
`read_feature`) refuses, and what both accept becomes the same COPY line."""
from __future__ import annotations

import copy
import json

import pytest
from io_helpers import incident, site

from geomap.db import rows, staging
from geomap.io.geojson import read_feature
from geomap.io.json_features import read_point_feature

MUTATIONS = [
    ("id", "Attack-1"), ("id", "attack-1\n"), ("id", ""), ("id", 7), ("type", "feature"),
    ("geometry.type", "MultiPoint"), ("geometry.coordinates", [44.0]), ("geometry.coordinates", [44, 35, 1, 2]),
    ("geometry.coordinates", [200.0, 35.0]), ("geometry.coordinates", [44.0, -91.0]), ("geometry.coordinates", [True, 35]),
    ("geometry.coordinates", ["44", 35]), ("geometry.coordinates", [44, 35, 100]), ("geometry.coordinates", [-180, 90]),
    ("properties.title", ""), ("properties.title", None), ("properties.date_start", "2019-12-27T00:00:00"),
    ("properties.date_start", "2019-02-30"), ("properties.date_end", "2019-12-26"), ("properties.date_end", 20191227),
    ("properties.event_type", "battles"), ("properties.sub_event_type", "Mob violence"), ("properties.sub_event_type", None),
    ("properties.precision_m", -1), ("properties.precision_m", "100"), ("properties.precision_m", True),
    ("properties.precision_m", 1e308), ("properties.precision_m", 0), ("properties.fatalities_best", 1.0),
    ("properties.fatalities_best", 0), ("properties.fatalities_low", 2), ("properties.fatalities_high", None),
    ("properties.injured", -1), ("properties.status", "rumour"), ("properties.target_site", "Base 1"),
    ("properties.tags", [""]), ("properties.tags", "rockets"), ("properties.tags", []), ("properties.extra", 1),
    ("properties.sources", []), ("properties.sources.0.url", "ftp://x"), ("properties.sources.0.url", "https://a b"),
    ("properties.sources.0.url", "https://ex.org/é"), ("properties.sources.0.url", "https://ex.org/\n"),
    ("properties.sources.0.date", "28/12/2019"), ("properties.sources.0.date", None), ("properties.sources.0.other", 1),
    ("properties.sources.0.publisher", None), ("properties.attributions.0.stance", "blamed"),
    ("properties.attributions.0.group", "Alpha"), ("properties.attributions.0.sources", []),
    ("properties.attributions.0.notes", "n"), ("properties.attributions", []), ("properties.notes", "a\tb\\c"),
    ("properties.description", "line\nbreak"), ("bbox", [1, 2, 3, 4]), ("properties", []),
]


def mutate(feature: dict, path: str, value) -> dict:
    feature = copy.deepcopy(feature)
    *parents, last = path.split(".")
    target = feature
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return feature


@pytest.mark.parametrize("path, value", MUTATIONS, ids=[f"{p}={v!r}" for p, v in MUTATIONS])
def test_fast_path_accepts_no_more_than_the_models_and_writes_the_same_line(path, value):
    for collection, base in (("incidents", incident()), ("sites", site())):
        if path.startswith("properties.") and path.split(".")[1] not in base["properties"] and "extra" not in path:
            continue
        feature = mutate(base, path, value)
        fast = read_point_feature(json.dumps(feature).encode(), collection, "here")
        slow = read_feature(feature, collection, "here", [])
        assert not (fast is not None and slow is None), f"the fast path accepted what the models refuse: {feature}"
        if fast is not None:
            line = rows.formatter(staging.staging_fields(collection))
            assert line(fast, "here", 1) == line(slow, "here", 1)
