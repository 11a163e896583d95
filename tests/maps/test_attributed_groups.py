"""incidents.attributed_groups (migration 0005) equals the truth from `attributions` after every
write path: seed load, API create / replace / patch / delete, `geomap import` (chunked and bulk),
plain SQL (update, delete, truncate) and the benchmark's COPY loader."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import psycopg
from builders import SOURCE, incident
from conftest import ROOT
from sqlalchemy import text

from geomap.db import rebuild
from geomap.importer import import_file
from geomap.ingest import load
from geomap.vocabulary import AFFIRMATIVE_STANCES

GEOJSON = "application/geo+json"


def truth(engine) -> dict[str, list[str]]:
    """Per incident, the distinct groups of its affirmative claims in byte order, from attributions."""
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id FROM incidents")).scalars().all()
        claims = conn.execute(text("SELECT incident_id, group_id, stance FROM attributions")).all()
    named: dict[str, set[str]] = {i: set() for i in ids}
    for incident_id, group_id, stance in claims:
        if stance in AFFIRMATIVE_STANCES:
            named[incident_id].add(group_id)
    return {i: sorted(groups, key=lambda g: g.encode()) for i, groups in named.items()}


def stored(engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, attributed_groups FROM incidents")).all())


def assert_right(engine) -> dict[str, list[str]]:
    columns = stored(engine)
    assert columns == truth(engine)
    return columns


def test_seed_load_fills_it(seeded):
    columns = assert_right(seeded)
    assert all(len(g) == 1 for g in columns.values())  # every seed incident: one attributed group
    # accused by one claimant, disputed by another: attributed once, to the accused group
    assert columns["k1-rocket-attack-2019-12-27"] == ["kataib-hezbollah"]


def _claims(*pairs: tuple[str, str]) -> list[dict]:
    return [{"group": g, "claimant": "someone", "stance": s, "sources": [SOURCE]} for g, s in pairs]


def _write(client, method, url, token, body, etag=None, patch=False):
    headers = {"Authorization": f"Bearer {token}"} | ({"If-Match": etag} if etag else {})
    response = client.open(url, method=method, data=json.dumps(body), headers=headers,
                           content_type="application/merge-patch+json" if patch else GEOJSON)
    assert response.status_code in (200, 201), response.get_json()
    return response.headers["ETag"]


def test_api_create_replace_patch_and_delete_keep_it(app, client, editor_token):
    engine = app.extensions["geomap.engine"]
    load(engine)
    url = "/collections/incidents/items/new-one"
    body = incident("new-one", 44.0, 35.0, "2020-01-05",
                    claims=(("kataib-hezbollah", "claimed"), ("islamic-state", "denied")))
    etag = _write(client, "POST", "/collections/incidents/items", editor_token, body)
    assert assert_right(engine)["new-one"] == ["kataib-hezbollah"]
    body["properties"]["attributions"] = _claims(("united-states", "assessed"), ("islamic-state", "accused"),
                                                 ("united-states", "claimed"))
    etag = _write(client, "PUT", url, editor_token, body, etag)
    assert assert_right(engine)["new-one"] == ["islamic-state", "united-states"]
    etag = _write(client, "PATCH", url, editor_token, {"properties": {"attributions": _claims(("iran", "disputed"))}},
                  etag, patch=True)
    assert assert_right(engine)["new-one"] == []
    response = client.delete(url, headers={"Authorization": f"Bearer {editor_token}", "If-Match": etag})
    assert response.status_code == 204 and "new-one" not in assert_right(engine)


def _sequence(path: Path, features: list[dict]) -> Path:
    path.write_text("".join("\x1e" + json.dumps(f) + "\n" for f in features))
    return path


def _features(stance: str, n: int = 6) -> list[dict]:
    groups = ("islamic-state", "kataib-hezbollah", "united-states")
    return [incident(f"imported-{i}", 44 + i / 100, 35.0, "2020-02-01",
                     claims=((groups[i % 3], stance), (groups[(i + 1) % 3], "claimed"))[: 1 + i % 2])
            for i in range(n)]


def test_geomap_import_chunked_and_bulk_keeps_it(engine, tmp_path, monkeypatch):
    load(engine, [ROOT / "data" / "groups.json"])
    assert import_file(engine, _sequence(tmp_path / "incidents-a.geojsonseq", _features("accused"))).created == 6
    assert assert_right(engine)["imported-1"] == ["kataib-hezbollah", "united-states"]
    monkeypatch.setattr(rebuild, "BULK_MIN", 3)  # the path that rebuilds indexes after writing
    result = import_file(engine, _sequence(tmp_path / "incidents-b.geojsonseq", _features("denied")), exclusive=True)
    assert result.updated == 6 and result.rebuilt_indexes
    assert assert_right(engine)["imported-1"] == ["united-states"]


def test_plain_sql_update_delete_and_truncate_keep_it(seeded):
    with seeded.begin() as conn:
        conn.execute(text("UPDATE attributions SET stance = 'disputed' WHERE stance = 'claimed'"))
    assert_right(seeded)
    with seeded.begin() as conn:
        conn.execute(text("UPDATE attributions SET group_id = 'iran', stance = 'assessed' "
                          "WHERE incident_id = (SELECT min(incident_id) FROM attributions)"))
        conn.execute(text("DELETE FROM attributions WHERE stance = 'accused'"))
    assert_right(seeded)
    with seeded.begin() as conn:
        conn.execute(text("TRUNCATE attributions"))
    assert set(map(tuple, assert_right(seeded).values())) == {()}


def test_the_benchmark_copy_loader_fills_it(engine):
    sys.path.insert(0, str(ROOT / "bench"))
    import synth

    data = synth.generate(3000, 5)
    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        synth.load(conn, data, 5)
    columns = assert_right(engine)
    assert sum(1 for g in columns.values() if g) > 1000 and sum(1 for g in columns.values() if len(g) > 1) > 10
