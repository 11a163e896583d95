"""Streaming JSON: FeatureCollections split feature by feature across chunk boundaries, and
GeoJSON text sequences with and without record separators."""
from __future__ import annotations

import io
import json

import pytest

from geomap.io import streams
from geomap.io.streams import JSONTextError, Members, feature_collection, text_sequence


def split(text: str) -> tuple[list, Members]:
    members = Members()
    found = [(index, line, feature) for index, line, feature in feature_collection(io.StringIO(text), members)]
    return found, members


def test_features_come_one_by_one_with_their_line_and_the_other_members(monkeypatch):
    monkeypatch.setattr(streams, "CHUNK", 7)  # every value straddles chunk boundaries
    features = [{"type": "Feature", "id": f"f{i}", "n": 12345678901234567890 + i, "s": "é \" ] }"} for i in range(3)]
    text = ('{"type": "FeatureCollection", "name": {"nested": [1, 2]},\n"features": [\n'
            + ",\n".join(json.dumps(f) for f in features) + '\n], "collection": "sites"}\n')
    found, members = split(text)
    assert [f for _, _, f in found] == features
    assert [line for _, line, _ in found] == [3, 4, 5]
    assert members.values == {"type": "FeatureCollection", "name": {"nested": [1, 2]}, "collection": "sites"}
    assert members.features_seen


@pytest.mark.parametrize("text, reason, line", [
    ('[1, 2]', "expected the '{' that opens", 1),
    ('{"features": [1,\n 2 3]}', "expected ',' or ']'", 2),
    ('{"features": [{"a": }]}', "not valid JSON", 1),
    ('{"features": [] } extra', "extra data", 1),
    ('{"features": [', "not valid JSON", 1),
])
def test_broken_json_says_where(text, reason, line):
    with pytest.raises(JSONTextError) as caught:
        split(text)
    assert reason in caught.value.reason and caught.value.line == line


def test_text_sequences_with_record_separators_may_span_lines():
    data = b'\x1e{"a": 1}\n\x1e{\n  "b": 2\n}\n\x1e\n\x1e{"c": 3}'
    assert [(line, json.loads(text)) for line, text in text_sequence(io.BytesIO(data))] == \
        [(1, {"a": 1}), (2, {"b": 2}), (6, {"c": 3})]


def test_a_text_sequence_without_separators_where_it_needs_them_is_refused(monkeypatch):
    monkeypatch.setattr(streams, "MAX_TEXT", 100)
    data = b'\x1e{"a": 1}\n\x1e{"b": [\n' + b'"x",\n' * 40 + b'"y"]}\n{"c": 3}\n'
    with pytest.raises(JSONTextError) as caught:
        list(text_sequence(io.BytesIO(data)))
    assert "longer than 256 MiB" in caught.value.reason and caught.value.line == 2


def test_newline_delimited_geojson_is_a_sequence_too():
    data = b'{"a": 1}\n\n{"b": 2}\n'
    assert [(line, json.loads(text)) for line, text in text_sequence(io.BytesIO(data))] == [(1, {"a": 1}), (3, {"b": 2})]
