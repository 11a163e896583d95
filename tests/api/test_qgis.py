"""QGIS, headless (Debian's python3-qgis, installed by scripts/install-system-deps.sh test), against
a real geomap server on loopback: the OAPIF layer, its count, a full read, a rectangle and an
expression filter evaluated by the server (seen in the server's request log), and whether the
packaged QGIS can edit OAPIF layers.

QGIS's Python bindings belong to Debian's python3, not to the venv, so QGIS runs in a
subprocess of /usr/bin/python3 (tests/clients/qgis_probe.py), which prints what it saw as JSON.
"""
from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ROOT, fresh_database, loopback, serving, url_of

from geomap import create_app
from geomap.ingest import load

PYTHON = Path("/usr/bin/python3")
PROBE = ROOT / "tests" / "clients" / "qgis_probe.py"
SEED = json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]
BBOX = (44.0, 35.0, 44.5, 35.6)
SINCE = "2019-12-27"


def probe(*args: str) -> dict:
    result = subprocess.run([PYTHON, PROBE, *args], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def qgis(cluster):
    """What QGIS saw of a server with the seed data, and the paths the server was asked for: the
    count alone first (its requests apart, in `counting`), then every other question."""
    assert PYTHON.exists() and subprocess.run([PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0, \
        "QGIS's Python bindings (python3-qgis) must be installed by scripts/install-system-deps.sh test"
    with fresh_database(cluster) as url, loopback() as listener:
        app = create_app({"DATABASE_URL": url, "GEOMAP_PUBLIC_URL": url_of(listener)})
        seen: list[str] = []
        from flask import request

        app.before_request(lambda: seen.append(request.full_path))
        load(app.extensions["geomap.engine"])
        try:
            with serving(app, listener) as url:
                counted = probe("--count", url, "incidents")
                counting = seen[:]
                seen.clear()
                report = probe(url, "incidents", ",".join(map(str, BBOX)), f"\"date_start\" >= '{SINCE}'")
        finally:
            app.extensions["geomap.engine"].dispose()
    return {**report, "count_alone": counted["count"], "counting": counting}, seen


def test_the_layer_is_valid_and_a_full_read_gives_every_feature(qgis):
    """QGIS reads in pages of 1,000: its rule is the larger of 1,000 and the `limit` default, up to
    its maximum, both from components.parameters.limit in /api (without that parameter it asks for
    pages of 100)."""
    report, seen = qgis
    assert report["valid"], report
    assert report["ids"] == sorted(f["id"] for f in SEED)
    assert any("/collections/incidents/items?limit=1000" in path for path in seen), seen
    assert {"title", "date_start", "precision_m", "attributions"} <= set(report["fields"])


def test_a_rectangle_is_evaluated_by_the_server(qgis):
    report, seen = qgis
    inside = sorted(f["id"] for f in SEED if BBOX[0] <= f["geometry"]["coordinates"][0] <= BBOX[2]
                    and BBOX[1] <= f["geometry"]["coordinates"][1] <= BBOX[3])
    assert report["rect_ids"] == inside and inside
    assert any("bbox=44,35,44.5,35.6" in path for path in seen), seen


def test_a_date_expression_is_evaluated_by_the_server(qgis):
    """QGIS 3.22 turns a comparison of a date field into `datetime` (and leaves nothing to
    evaluate itself), which geomap matches as interval overlap: incidents not over by then."""
    report, seen = qgis
    assert report["expression_ids"] == sorted(f["id"] for f in SEED
                                              if date.fromisoformat(f["properties"]["date_end"]) >= date(2019, 12, 27))
    assert any(f"datetime={SINCE}%2F" in path for path in seen), seen


def test_the_packaged_qgis_cannot_edit_oapif_layers(qgis):
    """Debian 12's QGIS 3.22 has no OAPIF editing (Part 4 came with QGIS 3.32): this states the
    fact the README gives QGIS users, and fails when the packaged QGIS gains it, so that the
    write test (a feature written from QGIS lands with history) is written then."""
    report, _ = qgis
    assert report["qgis"].startswith("3.22"), report["qgis"]
    assert (report["can_add"], report["can_change"]) == (False, False)


def test_qgis_shows_the_exact_count_without_a_full_read(qgis):
    """The count of a layer only made (no feature asked for) is exact, and QGIS read fewer
    features than the collection holds to get it: every items request it made had a `limit`
    below the count (the first page it reads for the fields), so numberMatched gave the count."""
    report, _ = qgis
    assert report["count"] == report["count_alone"] == len(SEED)
    items = [parse_qs(urlsplit(path).query) for path in report["counting"] if "/collections/incidents/items" in path]
    assert items and all(int(q.get("limit", ["100"])[0]) < len(SEED) or q.get("resultType") == ["hits"]
                         for q in items), report["counting"]
