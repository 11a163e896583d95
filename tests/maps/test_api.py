"""The /maps routes on the seed data: pages, embeds, graphics, assets and every error as 400/404."""
from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import threading

import pytest
from builders import group, incident, load_features
from cachetools import LRUCache
from click.testing import CliRunner

from geomap import maps
from geomap.cli import main
from geomap.layers.webmap import common_assets

K1 = "k1-rocket-attack-2019-12-27"


@pytest.fixture(scope="module")
def client(seeded_app):
    return seeded_app.test_client()


def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_incident_map_page_has_map_sources_downloads_and_embed_snippet(client):
    response = client.get(f"/maps/incidents/{K1}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<h1>Rocket attack on K-1 Air Base" in page
    assert '&lt;iframe src="/maps/incidents/' + K1 + "?embed=1" in page  # no public URL set: no address
    assert f'href="/maps/incidents/{K1}.png"' in page and f'href="/maps/incidents/{K1}.svg"' in page
    assert "https://www.blog.talos-iraq.com/" in page  # the sources list
    assert "geomap.distances" not in page and "geomap.done(" in page


def test_pages_load_only_assets_the_app_serves(client):
    page = client.get(f"/maps/incidents/{K1}").get_data(as_text=True)
    urls = set(re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page))
    urls = {u for u in urls if not u.startswith("data:")}  # inline (e.g. the empty favicon): no request
    assert {u for u in urls if not u.startswith("/maps/assets/")} == {"/static/geomap.css"}
    for url in urls - {"/static/geomap.css"}:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype in ("text/javascript", "text/css")
        assert "immutable" in response.headers["Cache-Control"]
    assert not re.search(r'(src|href)="https?://(cdn|unpkg|code\.jquery|cdnjs|netdna)', page)


@pytest.mark.parametrize("url", ["/maps", "/maps?embed=1", f"/maps/incidents/{K1}"])
def test_a_map_page_fetches_its_common_assets_as_one_style_sheet_and_one_script(client, url):
    """Every file the map runtime needs, in its order, joined into two content-addressed files
    (a browser fetched nine in two rounds). Checked against each file served on its own."""
    page = client.get(url).get_data(as_text=True)
    head = page[:page.index("</head>")] if "</head>" in page else page
    linked = re.findall(r'<(?:link rel="stylesheet" href|script src)="/maps/assets/([^"]+)"', head)
    for kind in ("css", "js"):
        parts = [item for k, item in common_assets() if k == kind]
        (bundle,) = [name for name in linked if parts[0].name in name]
        assert not {item.name for item in parts} & set(linked)  # not linked one by one
        response = client.get(f"/maps/assets/{bundle}")
        text = response.get_data(as_text=True)
        assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
        position = 0
        for item in parts:  # each file, served alone under its own name, is in the bundle, in order
            alone = client.get(f"/maps/assets/{item.name}").get_data(as_text=True)
            body = re.sub(r"(?m)^\s*//# sourceMappingURL=\S*\s*$", "", alone)
            found = text.find(body, position)
            assert found >= position, item.name
            position = found + len(body)
    assert len(linked) <= 4, linked  # the page's own (e.g. marker clusters) are bundled too: a style sheet, a script


def test_a_bundle_of_unknown_or_mixed_files_is_a_404_problem(client):
    (css, *_), (js, *_) = ([item.name for k, item in common_assets() if k == kind] for kind in ("css", "js"))
    for name in (f"{js}+leaflet.0000000000.js", f"{css}+{js}", js, "+".join([js] * 13)):
        response = client.get(f"/maps/assets/{name}")
        expected = 200 if name == js else 404
        assert response.status_code == expected, name
        assert expected == 200 or response.mimetype == "application/problem+json"


def test_embed_gives_the_bare_map_with_title_and_credit(client):
    page = client.get(f"/maps/incidents/{K1}?embed=1").get_data(as_text=True)
    assert "<header>" not in page and "gm-page-info" not in page
    assert '"title":"Rocket attack on K-1 Air Base' in page and "Sources: The New York Times" in page
    assert "full list" not in page  # no public URL set: an embed links to no page (it lives on another site)


def test_selection_map_uses_the_items_filters(client):
    response = client.get("/maps?bbox=40,32,46,37&datetime=2019-12-01/2020-01-31&group=islamic-state")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Incidents attributed to Islamic State" in page and "zones in force on 2020-01-31" in page


def test_selection_graphics_have_the_requested_size(client):
    response = client.get("/maps.png?width=640&height=480&dpi=80&datetime=2019-12-27")
    assert response.mimetype == "image/png" and png_size(response.data) == (640, 480)
    response = client.get(f"/maps/incidents/{K1}.svg?preset=social")
    assert response.mimetype == "image/svg+xml" and b'width="1200px" height="630px"' in response.data
    assert b">7.6 km" in response.data  # the distance to K-1, labelled on the map (the range too, where it fits)


def test_big_selections_are_counted_per_area_on_the_server(client, monkeypatch):
    monkeypatch.setattr(maps.selection, "SERVER_AGGREGATION_ABOVE", 5)
    page = client.get("/maps").get_data(as_text=True)
    assert "geomap.cells(" in page and "counted per area" in page and '"drill":"/maps?"' in page
    assert client.get("/maps.png?width=400&height=300&dpi=60").status_code == 200


@pytest.mark.parametrize("url, parameter", [
    ("/maps?bbox=1,2,3", "bbox"), ("/maps?datetime=yesterday", "datetime"), ("/maps?date=2019-13-01", "date"),
    ("/maps?layers=heatmap", "layers"), ("/maps?color_by=mood", "color_by"), ("/maps?zoom=3", "unknown parameter"),
    ("/maps?layers=rings", "layers"), ("/maps?embed=maybe", "embed"), ("/maps?title=" + "x" * 201, "title"),
    ("/maps?group=", "group"), ("/maps.png?dpi=301", "dpi"), ("/maps.png?width=abc", "width"),
    ("/maps.png?preset=a3", "preset"), ("/maps.svg?width=20000", "width"), ("/maps?width=800", "unknown parameter"),
    (f"/maps/incidents/{K1}?rings=0", "rings"), (f"/maps/incidents/{K1}?bbox=40,32,46,37", "unknown parameter"),
    (f"/maps/incidents/{K1}.png?preset=a4&width=10", "preset"),
])
def test_bad_parameters_are_400_problems_naming_the_parameter(client, url, parameter):
    response = client.get(url)
    assert response.status_code == 400 and response.mimetype == "application/problem+json", url
    assert parameter in response.get_json()["detail"]


@pytest.mark.parametrize("url", ["/maps/incidents/no-such-incident", "/maps/incidents/no-such-incident.png",
                                 "/maps/assets/leaflet.0000000000.js"])
def test_unknown_things_are_404_problems(client, url):
    response = client.get(url)
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_cli_writes_offline_html_png_and_svg(seeded_app, tmp_path):
    env = {"DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url}
    runner = CliRunner()
    for name in ("k1.html", "k1.png", "k1.svg"):
        result = runner.invoke(main, ["map", "--incident", K1, "--width", "500", "--height", "400", "--dpi", "72",
                                      "-o", str(tmp_path / name)] if not name.endswith("html")
                               else ["map", "--incident", K1, "-o", str(tmp_path / name)], env=env)
        assert result.exit_code == 0, result.output
        assert "data version" in result.output
    html = (tmp_path / "k1.html").read_text()
    assert "<script src=" not in html and "<link rel=\"stylesheet\"" not in html  # everything inline
    assert "L.map(" in html and "Leaflet" in html
    assert png_size((tmp_path / "k1.png").read_bytes()) == (500, 400)
    assert (tmp_path / "k1.svg").read_text().startswith("<?xml")


def test_cli_selection_and_its_errors(seeded_app, tmp_path):
    env = {"DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url}
    runner = CliRunner()
    ok = runner.invoke(main, ["map", "--bbox", "40,32,46,37", "--datetime", "2019-12-01/2020-01-31", "--preset",
                              "social", "-o", str(tmp_path / "sel.png")], env=env)
    assert ok.exit_code == 0 and png_size((tmp_path / "sel.png").read_bytes()) == (1200, 630)
    bad = runner.invoke(main, ["map", "--bbox", "1,2", "-o", str(tmp_path / "x.png")], env=env)
    assert bad.exit_code == 1 and "bbox" in bad.output
    suffix = runner.invoke(main, ["map", "--incident", K1, "-o", str(tmp_path / "x.gif")], env=env)
    assert suffix.exit_code == 2 and "--output must end in" in suffix.output


def test_cli_map_runs_without_flask_or_the_http_api(seeded_app, tmp_path):
    """`geomap map` shares its parameter parsing with GET /maps through geomap.maps.request, not
    through geomap.api: a map written from the command line loads neither Flask nor the API."""
    script = ("import sys\nfrom geomap.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] == 'flask' or m.startswith('geomap.api')))")
    env = {**os.environ, "DATABASE_URL": seeded_app.extensions["geomap.settings"].database_url}
    out = subprocess.run([sys.executable, "-c", script, "map", "--bbox", "40,32,46,37", "--width", "400",
                          "--height", "300", "-o", str(tmp_path / "sel.png")], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]" and png_size((tmp_path / "sel.png").read_bytes()) == (400, 300)


def test_selection_scenes_are_cached_until_the_data_changes(engine, tmp_path):
    one = incident("one", 44.0, 35.0, "2019-12-01")
    load_features(engine, tmp_path, groups=[group("g")], incidents=[one])
    first = maps.selection_scene(engine, maps.Selection())
    assert maps.selection_scene(engine, maps.Selection()) is first and first.total_incidents == 1
    load_features(engine, tmp_path, groups=[group("g")], incidents=[one, incident("two", 44.1, 35.1, "2019-12-02")])
    assert maps.selection_scene(engine, maps.Selection()).total_incidents == 2


def test_a_failure_after_the_streamed_head_ends_the_page_with_a_message(client, monkeypatch, caplog):
    """The head (and the 200) went out before the selection was gathered: a failure then cannot
    become a problem document, so the page closes with an alert and the failure is logged."""
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("geomap.maps.selection_steps", fail)
    with caplog.at_level("ERROR", logger="geomap.api.maps"):
        page = client.get("/maps?bbox=43,34,46,37&datetime=1999-01-01/1999-01-31").get_data(as_text=True)
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert 'role="alert"' in page and "the database went away" not in page
    assert page.count("<body>") == 1 and page.index("</head>") < page.index('role="alert"')
    assert "the database went away" in caplog.text


def test_a_counted_map_is_sent_while_its_cells_are_counted(client, monkeypatch):
    """Above SERVER_AGGREGATION_ABOVE the page sends the map without its cells (its group awaiting
    them) while the cells are being counted, on a connection of their own: the counting has begun
    when that part arrives and ends after it; the last part draws the cells, the legend, and ends
    the map. The counting here waits until the map's part has been read, and the reader until the
    counting has begun: a page that counted before sending the map, or only after, would wait
    (10 s, then "timed out")."""
    events = []
    counted = maps.cells.counted
    begun, release = threading.Event(), threading.Event()

    def counting(*args, **kwargs):
        begun.set()
        events.append("counted" if release.wait(timeout=10) else "timed out")
        return counted(*args, **kwargs)

    monkeypatch.setattr(maps.selection, "SERVER_AGGREGATION_ABOVE", 5)
    monkeypatch.setattr(maps.cache, "SCENES", LRUCache(16))  # counted afresh, whatever ran before
    monkeypatch.setattr(maps.cells, "counted", counting)
    response = client.get("/maps")
    parts = []
    for chunk in response.response:  # the streamed parts, pulled one at a time as the server sends them
        parts.append(chunk if isinstance(chunk, str) else chunk.decode())
        events.append(f"part {len(parts)}")
        if "geomap.awaiting(" in parts[-1]:
            events.append("counting begun" if begun.wait(timeout=10) else "timed out")
            release.set()
    framed = next(i for i, part in enumerate(parts) if "geomap.awaiting(" in part)
    assert "timed out" not in events and events.index(f"part {framed + 1}") < events.index("counted")
    assert "geomap.cells(" not in "".join(parts[:framed + 1]) and "geomap.done(" not in "".join(parts[:framed + 1])
    rest = "".join(parts[framed + 1:])
    assert rest.index("geomap.cells(geomap.awaited.cells,") < rest.index("geomap.legend(") < rest.index("geomap.done(")
    assert rest.rstrip().endswith("</html>") and "Data version" in rest


def test_a_failure_while_counting_ends_the_drawn_map_with_a_message(client, monkeypatch, caplog):
    """The map without its cells has gone out when the counting fails: the page closes with an
    alert (no second body), and the map never says it is done."""
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(maps.selection, "SERVER_AGGREGATION_ABOVE", 5)
    monkeypatch.setattr(maps.cache, "SCENES", LRUCache(16))
    monkeypatch.setattr(maps.cells, "counted", fail)
    with caplog.at_level("ERROR", logger="geomap.api.maps"):
        page = client.get("/maps").get_data(as_text=True)
    assert "geomap.awaiting(" in page and page.index("geomap.awaiting(") < page.index('role="alert"')
    assert page.count("<body>") == 1 and page.rstrip().endswith("</html>") and "geomap.done(" not in page
    assert "the database went away" in caplog.text and "the database went away" not in page
