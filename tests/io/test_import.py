"""geomap import: every format into every collection, idempotent, history like `geomap load`,
all or nothing with a report of every bad feature, chunked and bulk paths alike."""
from __future__ import annotations

import copy
import csv
import io
import json

import pytest
from conftest import snapshot
from io_helpers import (
    contents,
    drop_database,
    empty_database,
    history,
    incident,
    load_references,
    site,
    write_collection,
    write_sequence,
    zone,
)
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from geomap.db import rebuild
from geomap.errors import InvalidInput
from geomap.importer import import_file
from geomap.ingest import load
from geomap.io import chunks
from geomap.vocabulary import AFFIRMATIVE_STANCES


@pytest.fixture
def refs(engine, tmp_path):
    load_references(engine, tmp_path)
    return engine


def test_geojson_sequence_creates_incidents_with_claims_and_history(refs, tmp_path):
    path = write_sequence(tmp_path / "incidents.geojsonseq", [incident(), incident("attack-2", group=None)])
    result = import_file(refs, path)
    assert (result.collection, result.created, result.updated, result.unchanged) == ("incidents", 2, 0, 0)
    stored = contents(refs, "incidents")
    assert stored["attack-1"]["attributions"] == [{"group_id": "alpha", "claimant": "Officials", "stance": "accused",
                                                    "sources": [{**incident()["properties"]["sources"][0], "primary": False,
                                                                 "copy_of": None}],
                                                    "notes": None}]
    assert stored["attack-2"]["attributions"] == [] and stored["attack-1"]["tags"] == ["rockets"]
    with refs.connect() as conn:
        rows = conn.execute(text("SELECT feature_id, action, version, actor FROM history "
                                 "WHERE collection = 'incidents' ORDER BY feature_id")).all()
    assert [tuple(r) for r in rows] == [("attack-1", "create", 1, f"geomap import {path}"),
                                        ("attack-2", "create", 1, f"geomap import {path}")]


@pytest.mark.parametrize("fmt, name", [("geojson", "sites.geojson"), ("geojsonseq", "sites.geojsonseq")])
def test_sites_and_zones_import_from_both_geojson_forms(engine, tmp_path, fmt, name):
    (tmp_path / "groups.json").write_text(json.dumps({"collection": "groups", "groups": [
        {"id": "alpha", "name": "Alpha", "kind": "militia", "color": "#0072b2"}]}))
    load(engine, [tmp_path / "groups.json"])
    write = write_collection if fmt == "geojson" else (lambda p, c, f: write_sequence(p, f))
    sites_path = write(tmp_path / name, "sites", [site(), site("base-2", lon=44.0)])
    zones_path = write(tmp_path / name.replace("sites", "control_zones"), "control_zones", [zone()])
    assert import_file(engine, sites_path).created == 2
    assert import_file(engine, zones_path).created == 1
    with engine.connect() as conn:
        kind = conn.execute(text("SELECT GeometryType(geom) FROM control_zones")).scalar_one()
    assert kind == "MULTIPOLYGON"


def test_import_and_load_leave_the_same_rows_and_history(engine, database_url, tmp_path, cluster):
    """The set-based path and the row-by-row loader agree on content, versions and history."""
    from geomap.db.engine import make_engine

    load_references(engine, tmp_path)
    first = [incident(), incident("attack-2", lon=44.3, group="beta", target_site=None)]
    changed = copy.deepcopy(first)
    changed[0]["properties"]["fatalities_high"] = 3
    changed[1]["properties"]["attributions"] = []
    assert import_file(engine, write_sequence(tmp_path / "a.geojsonseq", first), collection="incidents").direct
    assert not import_file(engine, write_sequence(tmp_path / "b.geojsonseq", changed), collection="incidents").direct

    other_url = empty_database(cluster, database_url)
    other = make_engine(other_url)
    try:
        load_references(other, tmp_path / "")
        load(other, [write_collection(tmp_path / "incidents-a.geojson", "incidents", first)])
        load(other, [write_collection(tmp_path / "incidents-b.geojson", "incidents", changed)])
        assert contents(engine, "incidents") == contents(other, "incidents")
        assert history(engine) == history(other)
    finally:
        other.dispose()
        drop_database(cluster, other_url)


def test_reimporting_the_same_file_changes_nothing(refs, tmp_path):
    path = write_sequence(tmp_path / "incidents.geojsonseq", [incident(), incident("attack-2")])
    import_file(refs, path)
    before = snapshot(refs)
    result = import_file(refs, path)
    assert (result.created, result.updated, result.unchanged) == (0, 0, 2)
    assert snapshot(refs) == before


def test_a_changed_feature_gets_a_new_version_and_its_previous_one_in_history(refs, tmp_path):
    import_file(refs, write_sequence(tmp_path / "incidents.geojsonseq", [incident()]))
    changed = incident(fatalities_high=4, tags=["rockets", "k1"])
    result = import_file(refs, write_sequence(tmp_path / "incidents.geojsonseq", [changed]))
    assert result.updated == 1
    with refs.connect() as conn:
        version = conn.execute(text("SELECT version FROM incidents")).scalar_one()
        changes, previous = conn.execute(text(
            "SELECT changes, previous FROM history WHERE action = 'update'")).one()
    assert version == 2 and changes == ["fatalities_high", "tags"]
    assert previous["properties"]["fatalities_high"] == 1 and previous["properties"]["tags"] == ["rockets"]
    assert previous["geometry"] == {"type": "Point", "coordinates": [44.21, 35.48]}
    assert previous["properties"]["attributions"][0]["group"] == "alpha"


def _bad(**props):
    return incident("attack-9", **props)


REJECTIONS = {
    "invalid property": ([_bad(status="rumour")], "line 2 (id 'attack-9')", "properties.status", "Input should be"),
    "reversed dates": ([_bad(date_end="2019-12-01")], "line 2", "properties.date_end", "must not be before"),
    "latitude out of range": ([{**_bad(), "geometry": {"type": "Point", "coordinates": [44.0, 95.0]}}],
                              "line 2", "geometry.coordinates", "latitude 95.0 is outside"),
    "not a point": ([{**_bad(), "geometry": {"type": "LineString", "coordinates": [[44, 35], [45, 36]]}}],
                    "line 2", "geometry.type", "must be Point"),
    "unknown group": ([_bad(attributions=[{"group": "nobody", "claimant": "X", "stance": "claimed",
                                            "sources": [incident()["properties"]["sources"][0]]}])],
                      "line 2", "properties.attributions[0].group", "unknown group 'nobody'"),
    "unknown site": ([_bad(target_site="nowhere")], "line 2", "properties.target_site", "unknown site 'nowhere'"),
    "duplicate id": ([incident()], "line 2 (id 'attack-1')", "id", "duplicate id, already used at"),
    "NUL character": ([_bad(notes="a\u0000b")], "line 2", "properties", "NUL character"),
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_any_invalid_feature_refuses_the_whole_import_and_changes_nothing(refs, tmp_path, case):
    bad, where, field, reason = REJECTIONS[case]
    import_file(refs, write_sequence(tmp_path / "incidents.geojsonseq", [incident(notes="first")]))
    before = snapshot(refs)
    path = write_sequence(tmp_path / "incidents.geojsonseq", [incident(notes="changed"), *bad])
    with pytest.raises(InvalidInput) as caught:
        import_file(refs, path)
    assert where in str(caught.value) and field in str(caught.value) and reason in str(caught.value), str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert snapshot(refs) == before


def test_a_line_that_is_not_json_is_one_bad_feature_among_the_others(refs, tmp_path):
    path = tmp_path / "incidents.geojsonseq"
    path.write_text("\x1e" + json.dumps(incident()) + "\n\x1e{not json\n\x1e" + json.dumps(_bad(status="x")) + "\n")
    with pytest.raises(InvalidInput) as caught:
        import_file(refs, path)
    found = [(p.where.split(": ")[-1], p.field) for p in caught.value.problems]
    assert found == [("line 2", "feature"), ("line 3 (id 'attack-9')", "properties.status")]
    assert set(snapshot(refs)["incidents"]) == set()


def test_a_malformed_feature_collection_is_refused_with_its_line(refs, tmp_path):
    path = tmp_path / "incidents.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n' + json.dumps(incident()) + ",\n {oops}]}")
    with pytest.raises(InvalidInput, match=r"not valid JSON.*\(line 4\)"):
        import_file(refs, path)
    assert snapshot(refs)["incidents"] == []


@pytest.mark.parametrize("name, message", [
    ("data.geojsonseq", "cannot tell which collection"),
    ("groups.geojsonseq", "cannot tell which collection"),
    ("incidents.txt", "cannot tell the format"),
])
def test_unknown_collection_or_format_says_which_option_to_pass(refs, tmp_path, name, message):
    path = write_sequence(tmp_path / name, [incident()])
    with pytest.raises(InvalidInput, match=message):
        import_file(refs, path)


def test_every_problem_goes_to_the_report_and_skip_invalid_keeps_the_valid_features(refs, tmp_path):
    features = [incident(), _bad(status="rumour", precision_m=-1), incident("attack-3"), incident("attack-3")]
    path = write_sequence(tmp_path / "incidents.geojsonseq", features)
    report = tmp_path / "report.csv"
    with pytest.raises(InvalidInput):
        import_file(refs, path, report=report)
    refused = list(csv.DictReader(io.StringIO(report.read_text())))
    assert [(r["field"]) for r in refused] == ["properties.precision_m", "properties.status", "id"]

    result = import_file(refs, path, skip_invalid=True, report=report)
    assert (result.created, result.invalid, result.problem_count) == (2, 2, 3)
    assert set(contents(refs, "incidents")) == {"attack-1", "attack-3"}
    assert len(list(csv.DictReader(io.StringIO(report.read_text())))) == 3
    assert any("skipped 2 invalid feature(s)" in line for line in result.lines())


@pytest.mark.parametrize("exclusive", [False, True])
def test_readers_wait_during_a_large_import_only_when_it_is_exclusive(refs, tmp_path, monkeypatch, exclusive):
    """Issue 14 item 7: between two chunks of a large import, another session reads the
    collection without waiting, unless the import is exclusive (its DROP INDEX locks readers out)."""
    from geomap.db import importing

    monkeypatch.setattr(rebuild, "BULK_MIN", 3)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    waited, written = [], importing.copy

    def copy_then_read(conn, sql, lines):
        written(conn, sql, lines)
        with refs.connect() as reader:
            reader.execute(text("SET lock_timeout = '300ms'"))
            try:
                reader.execute(text("SELECT count(*) FROM incidents")).scalar_one()
                waited.append(False)
            except OperationalError:
                waited.append(True)

    monkeypatch.setattr(importing, "copy", copy_then_read)
    result = import_file(refs, write_sequence(tmp_path / "incidents.geojsonseq",
                                              [incident(f"attack-{i}", lon=44 + i / 100) for i in range(7)]),
                         exclusive=exclusive)
    assert result.direct and result.created == 7 and result.rebuilt_indexes == exclusive
    assert any(waited) == exclusive, waited


def test_chunks_and_bulk_rebuild_give_the_same_result(refs, tmp_path, monkeypatch):
    """Small chunks (an id repeated across chunks is still caught) and the index rebuild of a
    large import leave the same rows, and the schema as the migrations made it."""
    features = [incident(f"attack-{i}", lon=44 + i / 100) for i in range(7)]
    features[1]["properties"]["attributions"][0]["stance"] = "denied"  # no attributed group
    path = write_sequence(tmp_path / "incidents.geojsonseq", features + [incident("attack-0")])
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    with pytest.raises(InvalidInput, match="line 8 .*duplicate id, already used at .*line 1"):
        import_file(refs, path)

    monkeypatch.setattr(rebuild, "BULK_MIN", 3)
    schema = _schema(refs)
    result = import_file(refs, write_sequence(path, features), exclusive=True)
    assert result.direct and result.rebuilt_indexes and result.created == 7
    assert _schema(refs) == schema  # the triggers that keep attributed_groups enabled again, too
    assert len(contents(refs, "incidents")) == 7
    with refs.connect() as conn:  # written by the import itself while those triggers paused
        groups = dict(conn.execute(text("SELECT id, attributed_groups FROM incidents")).all())
    assert groups == {f["id"]: sorted({c["group"] for c in f["properties"]["attributions"]
                                       if c["stance"] in AFFIRMATIVE_STANCES}) for f in features}


def test_a_large_exclusive_import_keeps_only_the_space_time_index_while_it_writes(refs, tmp_path, monkeypatch):
    """While a large exclusive import writes, the collection's secondary indexes are gone but the
    space-time GiST, which the rows go into as they are written (rebuild.KEPT_INDEXES), and
    which then finds every row."""
    from geomap.db import importing

    monkeypatch.setattr(rebuild, "BULK_MIN", 3)
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    with refs.connect() as conn:
        before = _incident_indexes(conn)
    seen, written = [], importing.copy

    def copy_then_look(conn, sql, lines):
        written(conn, sql, lines)
        seen.append(_incident_indexes(conn))

    monkeypatch.setattr(importing, "copy", copy_then_look)
    features = [incident(f"attack-{i}", lon=44 + i / 100) for i in range(7)]
    result = import_file(refs, write_sequence(tmp_path / "incidents.geojsonseq", features), exclusive=True)
    assert result.direct and result.rebuilt_indexes
    assert "incidents_geom_dates_gist" in before and "incidents_geom_gist" in before
    assert seen[-1] == {"incidents_pkey", "incidents_geom_dates_gist"}, seen[-1]  # a key's index stays
    with refs.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        conn.execute(text("SET enable_indexscan = off"))  # only the space-time index can serve the range
        plan = "\n".join(conn.execute(text("EXPLAIN " + _IN_DECEMBER_2019_SQL)).scalars())
        by_index = set(conn.execute(text(_IN_DECEMBER_2019_SQL)).scalars())
    assert "incidents_geom_dates_gist" in plan, plan
    assert by_index == {f["id"] for f in features}


def _incident_indexes(conn) -> set[str]:
    return set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'")).scalars())


_IN_DECEMBER_2019_SQL = "SELECT id FROM incidents WHERE daterange(date_start, date_end, '[]') && daterange('2019-12-01', '2020-01-01')"


@pytest.mark.parametrize("rows_per_chunk", [2, 25_000])
def test_a_first_import_with_a_repeated_id_is_read_again_staged(refs, tmp_path, monkeypatch, rows_per_chunk):
    """A first import COPYs straight into the tables; an id the file repeats makes it start
    over, staged, so that the repeat is reported with the line of its first use and skipped."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", rows_per_chunk)
    features = [incident(f"attack-{i}", lon=44 + i / 100) for i in range(5)]
    path = write_sequence(tmp_path / "incidents.geojsonseq", features + [incident("attack-3", notes="again")])
    result = import_file(refs, path, skip_invalid=True)
    assert not result.direct and (result.created, result.invalid) == (5, 1)
    assert "line 6 (id 'attack-3')" in result.problems[0].where
    assert result.problems[0].reason == f"duplicate id, already used at {path}: line 4 (id 'attack-3')"
    assert contents(refs, "incidents")["attack-3"]["notes"] is None  # the first use is kept
    assert [row[:3] for row in history(refs) if row[0] == "incidents"] == [
        ("incidents", f"attack-{i}", "create") for i in range(5)]


def _schema(engine) -> set[tuple]:
    with engine.connect() as conn:
        indexes = conn.execute(text("SELECT tablename, indexname, indexdef FROM pg_indexes "
                                    "WHERE schemaname = 'public'")).all()
        keys = conn.execute(text("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                                 "FROM pg_constraint WHERE connamespace = 'public'::regnamespace")).all()
        triggers = conn.execute(text("SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
                                     "WHERE NOT tgisinternal")).all()
    return {tuple(r) for r in indexes} | {tuple(r) for r in keys} | {tuple(r) for r in triggers}


def test_the_database_refusing_a_row_rolls_everything_back(refs, tmp_path):
    """A value only the database checks (an integer beyond its range) refuses the import."""
    path = write_sequence(tmp_path / "incidents.geojsonseq", [incident(), _bad(injured=2**40)])
    with pytest.raises(InvalidInput, match="the database refused the import"):
        import_file(refs, path)
    assert snapshot(refs)["incidents"] == []
