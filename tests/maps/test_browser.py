"""The maps in a real headless Chromium (Debian's, driven by Playwright) with the network off.

Every request that does not go to the loopback test server is aborted and recorded: a test
fails if the page tried one, if any request failed, or if the console shows an error.
"""
from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from builders import SOURCE, group, incident, load_features, site, zone
from cachetools import LRUCache
from conftest import ROOT, fresh_database, serving
from geographiclib.geodesic import Geodesic
from shapely import Point, unary_union
from shapely.geometry import shape

from geomap import create_app, maps
from geomap.layers import basemap

K1 = "k1-rocket-attack-2019-12-27"
XSS = '<img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def seeded_url(seeded_app):
    with serving(seeded_app) as url:
        yield url


@pytest.fixture(scope="module")
def xss_app(cluster, tmp_path_factory):
    """Seed-like data whose every user string is an XSS payload."""
    with fresh_database(cluster) as url:
        app = create_app({"DATABASE_URL": url})
        evil = dict(group("evil-group"), name=f"Evil {XSS}")
        bad_source = dict(SOURCE, title=f"Source {XSS}", publisher=f"Pub {XSS}", url='https://example.org/x"onmouseover="window.__xss=3"><script>window.__xss=4</script>')
        attack = incident("xss-attack", 44.21, 35.48, "2019-12-27", precision=5000, claims=(("evil-group", "claimed"),))
        attack["properties"].update(title=XSS, description="</script><script>window.__xss=2</script>",
                                    sources=[bad_source], target_site="xss-site")
        before = incident("xss-before", 44.25, 35.45, "2019-12-20", claims=(("evil-group", "claimed"),))
        the_site = site("xss-site", 44.28, 35.51)
        the_site["properties"]["name"] = f"Site {XSS}"
        the_zone = zone("xss-zone", "evil-group", [(44.0, 35.3), (44.4, 35.3), (44.4, 35.6), (44.0, 35.6)],
                        "2019-01-01", None)
        the_zone["properties"].update(name=f"Zone {XSS}", notes=XSS)
        load_features(app.extensions["geomap.engine"], tmp_path_factory.mktemp("xss"), groups=[evil],
                      sites=[the_site], zones=[the_zone], incidents=[attack, before])
        with serving(app) as base:
            yield app, base
        app.extensions["geomap.engine"].dispose()


class Watched:
    """A page with the network off beyond loopback, recording what went wrong."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 860})
        self.blocked, self.failed, self.errors, self.dialogs = [], [], [], []
        self.page.route("**/*", self._route)
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _route(self, route):
        url = route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "file:")) or host in ("127.0.0.1", "localhost"):
            return route.continue_()
        self.blocked.append(url)
        return route.abort()

    def open(self, url: str):
        self.page.goto(url)
        self.page.wait_for_function("window.geomap && window.geomap.ready === true", timeout=30_000)
        return self.page

    def assert_clean(self):
        assert self.blocked == [] and self.failed == [] and self.errors == [] and self.dialogs == []

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def incidents_shown(self) -> int:
        """Incident markers in the DOM plus those counted inside cluster icons."""
        clustered = self.page.eval_on_selector_all(".gm-cluster span", "els => els.map(e => +e.textContent)")
        return self.count("path.gm-incident") + sum(clustered)


@pytest.fixture
def watched(browser):
    watched = Watched(browser)
    yield watched
    watched.page.close()


def test_incident_map_loads_offline_with_its_markers_and_zones(watched, seeded_url, seeded_app):
    scene = maps.focus_scene(seeded_app.extensions["geomap.engine"], K1)
    watched.open(f"{seeded_url}/maps/incidents/{K1}")
    watched.assert_clean()
    assert watched.incidents_shown() == len(scene.shown_incidents())
    assert watched.count("path.gm-zone") == len(scene.shown_zones()) == 4
    assert watched.count("path.gm-focus-incident") == 1
    assert watched.count("path.gm-distance-line") == len(scene.distances)
    assert watched.count("path.gm-ring") == 4 and watched.count(".gm-site") == len(scene.sites)
    for control in (".leaflet-control-scale", ".leaflet-control-measure", ".leaflet-control-zoom-fullscreen",
                    ".leaflet-control-layers", ".gm-legend", ".gm-time"):
        assert watched.count(control) == 1, control


# Every element that shows text (or is a form control), with its computed family, but code.
FAMILIES = """() => [...document.querySelectorAll('body *:not(script):not(style):not(.gm-embed-code)')]
  .filter(e => ['INPUT', 'SELECT', 'BUTTON', 'TEXTAREA'].includes(e.tagName) ||
               [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => [e.tagName + '.' + e.getAttribute('class'), getComputedStyle(e).fontFamily])"""


@pytest.mark.parametrize("query", ["", "?embed=1"])
def test_every_text_of_a_map_is_set_in_the_root_family(watched, seeded_url, query):
    """Each family a page names costs a font match before the first paint (maps/geomap.css):
    the browser's own for form controls, Leaflet's for its zoom buttons are not used."""
    page = watched.open(f"{seeded_url}/maps/incidents/{K1}{query}")
    root = page.evaluate("() => getComputedStyle(document.documentElement).fontFamily")
    assert root.startswith("system-ui")
    shown = page.evaluate(FAMILIES)
    assert len(shown) > 50 and {tag for tag, _ in shown} >= {"INPUT.leaflet-control-layers-selector",
                                                               "BUTTON.gm-legend-toggle"}
    assert [(tag, family) for tag, family in shown if family != root] == []


def test_time_slider_moves_incidents_and_zones_together(watched, seeded_url, seeded_app):
    scene = maps.focus_scene(seeded_app.extensions["geomap.engine"], K1)
    first, last = scene.time_range
    page = watched.open(f"{seeded_url}/maps/incidents/{K1}")
    page.locator(".gm-time-range").fill(str(page.eval_on_selector(".gm-time-range", "e => e.max")))
    assert page.inner_text(".gm-time-day") == last.isoformat()
    # Hamrin, and the Hawija pocket and Wadi al-Shay, whose end no source gives (left open)
    assert watched.count("path.gm-zone") == sum(z.in_force(last) for z in scene.zones) == 3
    assert watched.incidents_shown() == len(scene.incidents)  # "up to this date": all of them by the end
    page.select_option(".gm-time-window", "7")
    recent = [i for i in scene.incidents if (last - i.date_end).days <= 7]
    assert watched.incidents_shown() == len(recent) == 1  # the K-1 attack itself
    page.select_option(".gm-time-window", "all")
    page.locator(".gm-time-range").fill("0")
    assert page.inner_text(".gm-time-day") == first.isoformat()
    assert watched.count("path.gm-zone") == sum(z.in_force(first) for z in scene.zones) == 3  # not Qarachogh yet
    assert watched.incidents_shown() == len(scene.incidents)
    watched.assert_clean()


def test_selection_map_and_its_embed_load_offline(watched, seeded_url, seeded_app):
    query = "bbox=40,32,46,37&datetime=2019-12-01/2020-01-31"
    selection = maps.Selection(bbox=(40, 32, 46, 37), interval=(date(2019, 12, 1), date(2020, 1, 31)))
    scene = maps.selection_scene(seeded_app.extensions["geomap.engine"], selection)
    watched.open(f"{seeded_url}/maps?{query}")
    assert watched.incidents_shown() == len(scene.incidents) == 16
    assert watched.count("path.gm-zone") == len(scene.shown_zones())
    watched.open(f"{seeded_url}/maps?{query}&embed=1")
    assert watched.page.inner_text(".gm-title").startswith("Incidents")
    watched.assert_clean()


def test_counted_selection_map_draws_its_cells_on_a_canvas_that_answers_as_circles_would(
        watched, seeded_url, seeded_app, monkeypatch):
    """Counted cells are circles on one canvas (geomap.CellCanvas), not SVG paths: one marker for
    each grid cell with incidents (grouped here from the scene's cells), a click at a cell's pixel
    opens its popup with its count, the pointer over it is a hand, and a zone with no cell over
    it still answers its own clicks and hovers (the canvas lets those events through)."""
    monkeypatch.setattr(maps.selection, "SERVER_AGGREGATION_ABOVE", 5)
    scene = maps.selection_scene(seeded_app.extensions["geomap.engine"], maps.Selection())
    totals: dict[tuple, int] = {}
    for cell in scene.cells:
        totals[cell.bbox] = totals.get(cell.bbox, 0) + cell.count
    assert scene.aggregated and len(totals) > 1
    page = watched.open(f"{seeded_url}/maps")
    assert watched.count(".leaflet-gmIncidents-pane canvas") == 1
    assert watched.count(".leaflet-gmIncidents-pane path") == 0 and watched.count("path.gm-incident") == 0
    assert page.evaluate("geomap.cellMarkers.filter(m => geomap.map.hasLayer(m)).length") == len(totals)
    assert page.evaluate("geomap.cellCanvas._counts.length") == sum(n >= 25 for n in totals.values())
    # The largest cell whose centre nothing above the cells covers (a site, a control).
    x, y = page.evaluate("""() => {
      const map = geomap.map, box = map.getContainer().getBoundingClientRect(), found = [];
      geomap.cellMarkers.filter(m => map.hasLayer(m)).forEach(m => {
        const p = map.latLngToContainerPoint(m.getLatLng()), x = box.left + p.x, y = box.top + p.y;
        const el = document.elementFromPoint(x, y);
        if (el && !el.closest(".leaflet-control-container, .leaflet-gmSites-pane, .leaflet-gmLabels-pane"))
          found.push([m.getRadius(), x, y]);
      });
      found.sort((a, b) => b[0] - a[0]);
      return found[0].slice(1);
    }""")
    assert page.evaluate("getComputedStyle(geomap.map.getContainer()).cursor") != "pointer"
    page.mouse.move(x, y)
    page.wait_for_timeout(50)
    assert page.evaluate("getComputedStyle(geomap.map.getContainer()).cursor") == "pointer"
    page.mouse.click(x, y)
    popup = page.inner_text(".leaflet-popup-content")
    bbox = tuple(float(v) for v in page.get_attribute(".leaflet-popup-content a", "href").split("bbox=")[1].split(","))
    (expected,) = [n for b, n in totals.items() if all(abs(u - v) < 1e-5 for u, v in zip(b, bbox, strict=True))]
    assert popup.startswith(f"{expected:,} incidents"), popup
    page.evaluate("geomap.map.closePopup() && 0")
    page.mouse.move(5, 5)
    page.wait_for_timeout(500)  # the popup's pan has ended
    # A point inside a zone that no cell covers: the zone's tooltip on hover, its popup on click.
    point = page.evaluate("""() => {
      const map = geomap.map, cells = geomap.cellMarkers.filter(m => map.hasLayer(m));
      for (const path of document.querySelectorAll(".leaflet-gmZones-pane path")) {
        const b = path.getBoundingClientRect();
        for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++) {
          const x = b.left + b.width * i / 20, y = b.top + b.height * j / 20;
          const lp = map.mouseEventToLayerPoint({clientX: x, clientY: y});
          if (document.elementFromPoint(x, y) === path && !cells.some(m => m._containsPoint(lp))) return [x, y];
        }
      }
      return null;
    }""")
    assert point is not None
    names = [z.name for z in scene.shown_zones()]
    page.mouse.move(point[0] + 1, point[1] + 1)
    page.mouse.move(*point)
    assert page.inner_text(".leaflet-tooltip").split("\n")[0] in names
    page.mouse.click(*point)
    assert page.inner_text(".leaflet-popup-content h3") in names
    watched.assert_clean()


def test_a_counted_map_draws_its_cells_last_and_they_follow_the_time_slider(watched, seeded_url, seeded_app,
                                                                            monkeypatch):
    """The page draws the map while the server counts (maps.selection_steps): the cells, their
    legend and the data version come last, and the time slider, drawn before them, still moves them."""
    monkeypatch.setattr(maps.selection, "SERVER_AGGREGATION_ABOVE", 5)
    monkeypatch.setattr(maps.cache, "SCENES", LRUCache(16))  # counted for this page, not recalled
    page = watched.open(f"{seeded_url}/maps")
    scene = maps.selection_scene(seeded_app.extensions["geomap.engine"], maps.Selection())
    calls = [name for name, _ in page.evaluate("geomap.timings")]
    assert calls.index("time") < calls.index("cells") < calls.index("legend")
    assert scene.data_version in page.inner_text(".gm-legend .gm-note")
    drawn = "geomap.cellMarkers.filter(m => geomap.map.hasLayer(m)).length"
    assert page.evaluate(drawn) == len({c.bbox for c in scene.cells})
    page.select_option(".gm-time-window", "7")
    since = scene.on - timedelta(days=7)
    recent = {c.bbox for c in scene.cells if c.period_start <= scene.on and c.period_end >= since}
    assert 0 < page.evaluate(drawn) == len(recent) < len({c.bbox for c in scene.cells})
    watched.assert_clean()


# Place names: [in the view, written, all], and whether one a whole view or more beyond the view's
# edge is written before and after the map pans to it.
PLACES = """() => {
  const map = geomap.map, features = geomap.basemapData.places.features;
  map.setZoom(map.getZoom() + 2, {animate: false});
  const view = map.getBounds();
  const at = f => L.latLng(f.geometry.coordinates[1], f.geometry.coordinates[0]);
  const far = features.find(f => !view.pad(1).contains(at(f)));
  const written = () => document.querySelector(".leaflet-gmBasemapLabels-pane .gm-labels").innerHTML;
  const counts = [features.filter(f => view.contains(at(f))).length,
                  document.querySelectorAll(".gm-labels .gm-place").length, features.length];
  const before = written().includes(far.properties.html);
  map.panTo(at(far), {animate: false});
  return [counts, before, written().includes(far.properties.html)];
}"""


def test_labels_drawn_as_one_layer_follow_the_view_and_stay_on_their_points(watched, seeded_url):
    """Place names are written into one element per layer (geomap.Labels), not one marker
    each, and only those in or near the view: every place in view is there, one far
    off is not until the map moves to it, and a label sits on its point at every zoom."""
    page = watched.open(f"{seeded_url}/maps")
    (in_view, written, places), far_before, far_after = page.evaluate(PLACES)
    assert places > 100 and 0 < in_view <= written < places
    assert (far_before, far_after) == (False, True)
    offsets = page.evaluate("""() => {
      const map = geomap.map, at = [35.4681, 44.3922];
      map.setView(at, map.getZoom(), {animate: false});
      new geomap.Labels("gmSites", [{at: at, cls: "gm-probe", html: "<span>12</span>"}]).addTo(map);
      const offset = () => {
        const box = document.querySelector(".gm-labels .gm-probe").getBoundingClientRect();
        const origin = map.getContainer().getBoundingClientRect(), point = map.latLngToContainerPoint(at);
        return [Math.round(box.left - origin.left - point.x), Math.round(box.top - origin.top - point.y)];
      };
      const found = [offset()];
      map.setZoom(map.getZoom() + 3, {animate: false});
      found.push(offset());
      return found;
    }""")
    assert watched.page.inner_text(".gm-labels .gm-probe") == "12"
    assert offsets[0] == offsets[1] == [0, 0], offsets  # the label's corner on its point, zoomed or not
    watched.assert_clean()


def test_xss_payloads_render_as_text_and_never_run(watched, xss_app):
    _, base = xss_app
    for url in (f"{base}/maps/incidents/xss-attack", f"{base}/maps/incidents/xss-attack?embed=1",
                f"{base}/maps?layers=incidents,zones,sites,time"):
        page = watched.open(url)
        page.evaluate("""() => { const layers = [];
            geomap.map.eachLayer(l => { if (l.getPopup && l.getPopup()) layers.push(l); });
            layers.forEach(l => { l.openPopup(); l.closePopup(); });
            geomap.map.eachLayer(l => { if (l.getTooltip && l.getTooltip()) { l.openTooltip(); } }); }""")
        page.wait_for_timeout(200)
        assert page.evaluate("window.__xss") is None, url
        assert page.locator("img[src='x']").count() == 0
        assert "Evil <img src=x" in page.inner_text("body")  # shown as text
    page = watched.open(f"{base}/maps/incidents/xss-attack")
    page.evaluate("""() => { geomap.map.eachLayer(l => {
        if (l.options && /gm-focus-incident/.test(l.options.className || '')) l.openPopup(); }); }""")
    popup = page.inner_text(".leaflet-popup-content")
    assert XSS in popup and "</script><script>window.__xss=2</script>" in popup
    assert page.locator(".leaflet-popup-content a[onmouseover]").count() == 0
    page.hover(".leaflet-popup-content a")
    assert page.evaluate("window.__xss") is None
    assert XSS in page.inner_text("h1")
    watched.assert_clean()


def test_cli_html_opens_offline_from_a_file(watched, seeded_app, tmp_path):
    scene = maps.focus_scene(seeded_app.extensions["geomap.engine"], K1)
    path = tmp_path / "k1.html"
    path.write_text(maps.interactive(scene, embed=True).document(scene.title), encoding="utf-8")
    page = watched.open(path.as_uri())
    assert watched.incidents_shown() == len(scene.shown_incidents())
    # the measure plugin, not run at load, runs from the file itself when the tool is first used
    assert page.evaluate("typeof L.Control.Measure") == "undefined"
    hover(page, ".leaflet-control-measure-toggle")
    page.wait_for_function("window.geomap.measureControl !== undefined")
    assert page.is_visible(".leaflet-control-measure .js-start")
    watched.assert_clean()


def hover(page, selector: str) -> None:
    """The mouse onto the element's centre (Playwright's `hover` retries while the element it
    hovered is replaced, as the measure tool's button is once its plugin has loaded)."""
    box = page.locator(selector).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_measure_tool_loads_its_plugin_on_first_use_and_measures_the_geodesic_distance(watched, seeded_url):
    """The page does not run leaflet-measure at load; hovering the tool's button loads it (from
    the app), puts its control where the button was, opened, and a two-click measurement reads
    the distance GeographicLib gives between the two clicked points (within 0.5 %)."""
    page = watched.open(f"{seeded_url}/maps/incidents/{K1}")
    corner = "Array.from(document.querySelector('.leaflet-top.leaflet-left').children).map(e => e.className)"
    before = page.evaluate(corner)
    assert page.evaluate("typeof L.Control.Measure") == "undefined" and watched.count(".leaflet-control-measure") == 1
    assert not page.is_visible(".leaflet-control-measure .js-start")
    hover(page, ".leaflet-control-measure-toggle")
    page.wait_for_function("window.geomap.measureControl !== undefined")
    assert page.evaluate(corner) == before and watched.count(".leaflet-control-measure") == 1
    assert page.is_visible(".leaflet-control-measure .js-start")  # opened, as the plugin opens on hover
    page.click(".leaflet-control-measure .js-start")
    clicks = page.evaluate("""() => {
      const map = geomap.map, box = map.getContainer().getBoundingClientRect(), size = map.getSize();
      return [[0.3, 0.35], [0.7, 0.75]].map(([fx, fy]) => [box.left + Math.round(size.x * fx), box.top + Math.round(size.y * fy)]);
    }""")
    for x, y in clicks:
        page.mouse.click(x, y)
        page.wait_for_timeout(100)
    (a, b) = page.evaluate("""(clicks) => clicks.map(([x, y]) => {
      const box = geomap.map.getContainer().getBoundingClientRect();
      const at = geomap.map.containerPointToLatLng([x - box.left, y - box.top]); return [at.lat, at.lng]; })""", clicks)
    text = page.inner_text(".leaflet-control-measure .js-results")
    km = float(re.search(r"Path distance ([0-9.,]+) Kilometers", text).group(1).replace(",", ""))
    expected = Geodesic.WGS84.Inverse(a[0], a[1], b[0], b[1])["s12"] / 1000
    assert abs(km - expected) < 0.005 * expected, (km, expected, text)
    page.click(".leaflet-control-measure .js-finish")
    watched.assert_clean()


def test_the_items_page_filter_form_answers_with_empty_fields_left_empty(watched, seeded_url, seeded_app):
    """A browser submits every field of a form, empty ones too: the page leaves those out, so
    filling one field filters by it instead of failing on the others (an empty value is a 400)."""
    page = watched.page
    page.goto(f"{seeded_url}/collections/incidents/items?f=html")
    page.fill("input[name=event_type]", "Battles")
    with page.expect_navigation() as navigation:
        page.click("form.filters button[type=submit]")
    assert navigation.value.status == 200, page.content()[:500]
    assert "event_type=Battles" in page.url and "bbox=" not in page.url
    seed = json.loads((ROOT / "data" / "incidents.geojson").read_text())["features"]
    expected = sum(f["properties"]["event_type"] == "Battles" for f in seed)
    assert watched.count("table.results tr") - 1 == expected > 0
    watched.assert_clean()


def test_the_projected_basemap_fills_land_lakes_and_sea_where_shapely_puts_them(watched, seeded_url):
    """The basemap canvas (drawn from outlines projected on the server) has the land colour at a
    point that Shapely puts deep inside a country, the water colour inside a lake, and nothing
    out at sea, where Leaflet puts those points: at the first view, zoomed in and after a pan."""
    countries = [shape(g) for g in basemap.web_geometries("countries")]
    lakes = [shape(g) for (p, _), g in zip(basemap.shapes("rivers"), basemap.web_geometries("rivers"), strict=True)
             if p["kind"] == "lake"]
    land = max(countries, key=lambda g: g.area).buffer(-0.5).representative_point()
    lake = max(lakes, key=lambda g: g.area).buffer(-0.03).representative_point()
    sea = Point(32.0, 33.0)  # the Mediterranean, west of Haifa
    assert not unary_union(countries + lakes).buffer(0.3).contains(sea) and not any(g.contains(land) for g in lakes)
    page = watched.open(f"{seeded_url}/maps")
    probe = """([points, zoom]) => {
      const map = geomap.map, canvas = document.querySelector(".leaflet-gmBasemap-pane canvas");
      map.setView(points[0], zoom, {animate: false});
      const box = canvas.getBoundingClientRect(), origin = map.getContainer().getBoundingClientRect();
      const k = canvas.width / box.width, ctx = canvas.getContext("2d");
      return points.map((at) => {
        const p = map.latLngToContainerPoint(at);
        const x = Math.round((p.x + origin.left - box.left) * k), y = Math.round((p.y + origin.top - box.top) * k);
        return Array.from(ctx.getImageData(x, y, 1, 1).data);
      });
    }"""
    colours = {"land": [0xf4, 0xf1, 0xea, 255], "water": [0xdf, 0xe9, 0xf0, 255], "none": [0, 0, 0, 0]}
    for target, expected in ((land, "land"), (lake, "water"), (sea, "none")):
        for zoom in (5, 8):
            (found,) = page.evaluate(probe, [[[target.y, target.x]], zoom])
            assert found == colours[expected], (expected, zoom, found)
    # Online tiles picked in the layer control take the fill off (the lines stay), and back.
    toggled = [page.evaluate(f"() => {{ geomap.map.{verb}(geomap.basemapLayers.fill[0]); return 0; }}")
               or page.evaluate(probe, [[[land.y, land.x]], 8])[0] for verb in ("removeLayer", "addLayer")]
    assert toggled == [colours["none"], colours["land"]], toggled
    watched.assert_clean()
