"""A large first import read by worker processes (geomap.io.parallel): the file cut into parts
at text boundaries, read in the file's order, with the same rows, history and problems as one
reader."""
from __future__ import annotations

import json

import pytest
from io_helpers import contents, drop_database, empty_database, history, incident, load_references, write_sequence
from sqlalchemy import text

from geomap import importer
from geomap.db.engine import make_engine
from geomap.errors import InvalidInput
from geomap.importer import import_file
from geomap.io import parallel
from geomap.io.streams import is_separated, text_sequence


@pytest.mark.parametrize("separator", ["\x1e", ""], ids=["RS", "newline-delimited"])
def test_parts_begin_with_whole_texts_and_know_their_first_line(tmp_path, separator):
    features = [incident(f"attack-{i}", notes="x" * (i * 37 % 300)) for i in range(40)]
    path = tmp_path / "incidents.geojsonseq"
    if separator:  # texts spread over several lines, as RFC 8142 allows
        path.write_text("".join(separator + json.dumps(f, indent=1) + "\n" for f in features))
    else:
        write_sequence(path, features, separator="")
    data = path.read_bytes()
    separated = is_separated(data)
    assert separated == bool(separator)
    cut = list(parallel.parts(path, separated, part_bytes=900))
    assert len(cut) > 5 and [p.index for p in cut] == list(range(len(cut)))
    assert b"".join(data[p.offset:p.offset + p.length] for p in cut) == data
    with path.open("rb") as stream:
        whole = [(line, json.loads(t)) for line, t in text_sequence(stream)]
    pieces = [(line, json.loads(t)) for p in cut for line, t in text_sequence(_bytes(data, p), separated, p.first_line)]
    assert len(whole) == 40 and pieces == whole  # the same texts on the same lines


def _bytes(data: bytes, part):
    import io

    return io.BytesIO(data[part.offset:part.offset + part.length])


@pytest.fixture
def in_parts(monkeypatch):
    """Every first import of a text sequence read by two workers, in parts of a few features."""
    monkeypatch.setattr(importer, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "PART_BYTES", 2_000)
    monkeypatch.setattr(parallel, "workers", lambda: 2)


def _features(n: int) -> list[dict]:
    features = [incident(f"attack-{i:03d}", lon=44 + i / 1000, group="beta" if i % 3 else "alpha") for i in range(n)]
    for f in features[::4]:
        f["properties"]["attributions"] = []
    return features


def test_workers_write_what_one_reader_writes(engine, database_url, cluster, tmp_path, monkeypatch, in_parts):
    load_references(engine, tmp_path)
    path = write_sequence(tmp_path / "incidents.geojsonseq", _features(120))
    assert path.stat().st_size > 20 * parallel.PART_BYTES
    result = import_file(engine, path)
    assert result.direct and result.readers == 2 and (result.read, result.created) == (120, 120)

    monkeypatch.setattr(importer, "PARALLEL_MIN_BYTES", 1 << 62)  # one reader thread
    other_url = empty_database(cluster, database_url)
    other = make_engine(other_url)
    try:
        load_references(other, tmp_path)
        alone = import_file(other, path)
        assert alone.readers == 0 and alone.created == 120
        assert contents(engine, "incidents") == contents(other, "incidents")
        assert history(engine) == history(other)
        with engine.connect() as a, other.connect() as b:
            claims = "SELECT incident_id, position, group_id, stance FROM attributions ORDER BY 1, 2"
            assert a.execute(text(claims)).all() == b.execute(text(claims)).all()
    finally:
        other.dispose()
        drop_database(cluster, other_url)


def test_problems_come_in_file_order_with_their_lines(engine, tmp_path, in_parts):
    load_references(engine, tmp_path)
    features = _features(100)
    features[7]["properties"]["status"] = "rumour"
    features[93]["properties"]["precision_m"] = -1
    features[50]["properties"]["attributions"][0]["group"] = "nobody"
    path = write_sequence(tmp_path / "incidents.geojsonseq", features)
    with pytest.raises(InvalidInput) as caught:
        import_file(engine, path)
    found = [(p.where.split(": ")[-1], p.field) for p in caught.value.problems]
    assert found == [("line 8 (id 'attack-007')", "properties.status"),
                     ("line 51 (id 'attack-050')", "properties.attributions[0].group"),
                     ("line 94 (id 'attack-093')", "properties.precision_m")]
    assert contents(engine, "incidents") == {}

    result = import_file(engine, path, skip_invalid=True)
    assert result.direct and result.readers == 2 and (result.created, result.invalid) == (97, 3)


def test_a_repeated_id_read_in_parts_is_reported_where_it_was_first_used(engine, tmp_path, in_parts):
    load_references(engine, tmp_path)
    features = _features(80) + [incident("attack-005", notes="again")]
    path = write_sequence(tmp_path / "incidents.geojsonseq", features)
    result = import_file(engine, path, skip_invalid=True)
    assert not result.direct and (result.created, result.invalid) == (80, 1)
    assert result.problems[0].reason == f"duplicate id, already used at {path}: line 6 (id 'attack-005')"
