"""Each layer's Folium output: its features, styles and escaped text (no database needed)."""
from __future__ import annotations

import json
import re

import pytest
import shapely
from scenes import XSS_SCRIPT, cells_scene, focus_scene
from shapely.geometry import shape

from geomap.layers import LAYERS, basemap, load, names, register
from geomap.layers.assets import BASEMAP_JS, asset, localise
from geomap.layers.base import JsCall, Layer
from geomap.layers.webmap import build, common_assets, render

ASSETS = "/maps/assets"


def page(scene, layer_names) -> str:
    rendered = render(build(scene, [load(n) for n in layer_names]), ASSETS)
    return rendered.head + rendered.body + rendered.script


def payloads(html: str, function: str) -> list[dict]:
    """The data the page hands to geomap.<function>(parent, JSON.parse('data'))."""
    return [json.loads(js_string(m)) for m in re.findall(rf"geomap\.{function}\([\w]+, JSON\.parse\('(.*)'\)\);", html)]


def js_string(body: str) -> str:
    """The value of a single-quoted JavaScript string literal's body (escapes: \\\\ and \\')."""
    return re.sub(r"\\(.)", r"\1", body)


def features(html: str, function: str) -> list[dict]:
    return [f for p in payloads(html, function) for f in p["features"]]


def assert_escaped(html: str) -> None:
    """No user string reaches the page unescaped: not as HTML, not as a way out of a script."""
    assert "<img" not in html and "onerror=\"window" not in html
    assert "</script><script>window.__xss" not in html
    assert html.count("<script") == html.count("</script>")


@pytest.fixture(scope="module")
def scene():
    return focus_scene()


def test_registry_lists_every_builtin_layer_in_drawing_order():
    assert names() == ("basemap", "zones", "uncertainty", "rings", "distances", "incidents", "claims", "sites",
                       "time")
    assert all(load(n).name == n for n in names())


def test_unknown_layer_names_the_known_ones():
    with pytest.raises(KeyError, match="known layers: basemap, zones"):
        load("heatmap")


class Grid(Layer):
    name, title = "grid", "A test grid"

    def to_folium(self, fmap, scene):
        fmap.add_child(JsCall("labels", {"features": []}))

    def to_axes(self, ax, scene, frame):
        ax.axhline(0, color="#123456")


def test_a_new_layer_registers_and_draws_like_a_builtin(scene):
    register("grid", f"{__name__}:Grid")
    try:
        assert "grid" in names() and isinstance(load("grid"), Grid)
        assert "geomap.labels(" in page(scene, ["grid"])
    finally:
        LAYERS.pop("grid")


def test_incidents_are_styled_by_status_coloured_by_group_and_clustered(scene):
    html = page(scene, ["incidents"])
    others = {f["properties"]["style"]["className"]: f["properties"]["style"] for f in features(html, "points")}
    assert "L.markerClusterGroup" in html and "geomap.clusterIcon" in html
    prior = others["gm-incident gm-status-confirmed"]
    assert prior["fillColor"] == "#d55e00" and prior["fillOpacity"] == 0.9 and "dashArray" not in prior
    estimate = others["gm-incident gm-status-estimate gm-focus-incident"]
    assert estimate["fillColor"] == "#222222" and estimate["dashArray"]  # contested, location estimated
    assert others["gm-incident gm-status-reported"]["fillColor"] in ("#9e9e9e", "#d55e00")
    assert len(features(html, "points")) == 4


def test_incident_popups_show_dates_precision_claims_and_linked_sources(scene):
    focus = next(f for f in features(page(scene, ["incidents"]), "points") if "gm-focus-incident" in
                 f["properties"]["style"]["className"])
    popup = focus["properties"]["popup"]
    assert "2019-12-27" in popup and "\u00b1 8.0 km" in popup and "estimate" in popup
    assert "<b>accused</b> KH &lt;img" in popup and "<b>assessed</b> Islamic State by Some officials" in popup
    assert '<a href="https://example.org/a?x=1&amp;y=2" target="_blank" rel="noopener noreferrer">' in popup
    assert "javascript:" not in popup and "Bad link" in popup  # a non-http URL stays text
    assert "Attack &lt;img src=x onerror=&#34;window.__xss=1&#34;&gt;" in popup
    assert "&lt;/script&gt;&lt;script&gt;" in popup


def test_incident_page_text_is_escaped(scene):
    assert_escaped(page(scene, names()))


def test_counted_cells_are_sent_compactly_with_escaped_labels():
    (cells,) = payloads(page(cells_scene(), ["incidents"]), "cells")
    assert cells["grids"] == [[44.1, 35.3, 44.0, 35.2, 44.2, 35.4], [44.5, 35.1, 44.4, 35.0, 44.6, 35.2]]
    assert cells["cats"] == [["Islamic State", "#d55e00"], ["Not attributed", "#9e9e9e"],
                             ["Contested: attributed to 2+ groups", "#222222"]]
    assert cells["cells"] == [[0, "2019-12-01", "2019-12-31", [[0, 120], [1, 30]]],
                              [1, "2020-01-01", "2020-01-31", [[2, 4]]]]
    assert cells["drill"] == "/maps?group=islamic-state"


def test_uncertainty_draws_one_geodesic_circle_per_uncertain_incident(scene):
    circles = features(page(scene, ["uncertainty"]), "circles")
    assert sorted(f["properties"]["radius"] for f in circles) == [2000.0, 8000.0]
    assert all(f["properties"]["style"]["className"] == "gm-uncertainty" for f in circles)
    assert all(f["properties"]["style"]["dashArray"] for f in circles)


def test_sites_have_a_symbol_a_name_and_an_escaped_popup(scene):
    labels = features(page(scene, ["sites"]), "labels")
    assert [f["properties"]["cls"] for f in labels] == ["gm-site", "gm-site-name"]
    assert "K-1 &lt;img" in labels[1]["properties"]["html"]
    assert "air base" in labels[0]["properties"]["popup"]


def test_zones_carry_their_validity_style_and_time(scene):
    html = page(scene, ["zones"])
    zones = {f["properties"]["style"]["className"]: f["properties"] for f in features(html, "shapes")}
    presence, control = zones["gm-zone gm-zone-presence"], zones["gm-zone gm-zone-control"]
    assert "valid 2019-01-01 \u2192 2019-12-31" in presence["tooltip"]
    assert "boundary \u00b1 10.0 km" in presence["tooltip"]
    assert "valid 2020-01-01 \u2192 open" in control["tooltip"]
    assert (presence["t0"], presence["t1"], presence["tk"]) == ("2019-01-01", "2019-12-31", "state")
    assert control["t1"] is None
    assert presence["style"]["color"] == "#d55e00" and presence["style"]["dashArray"]
    assert control["style"]["fillOpacity"] > presence["style"]["fillOpacity"]
    assert "IS zone &lt;img" in presence["tooltip"]


def test_zone_outlines_are_the_stored_ones_rounded_to_5_decimals_in_their_orientation(scene):
    drawn = [shape(f["geometry"]) for f in features(page(scene, ["zones"]), "shapes")]
    assert len(drawn) == len(scene.zones) > 0
    for outline, zone in zip(drawn, scene.zones, strict=True):
        scaled = shapely.get_coordinates(outline) * 1e5
        assert abs(scaled - scaled.round()).max() < 1e-6  # whole units of 1e-5 degrees
        assert shapely.hausdorff_distance(outline, zone.geometry) <= 0.5e-5 * 2 ** 0.5  # each vertex its own, rounded
        for part, stored in zip(shapely.get_parts(outline), shapely.get_parts(zone.geometry), strict=True):
            assert part.exterior.is_ccw == stored.exterior.is_ccw  # GeoJSON's right-hand rule, as stored


def test_distances_are_labelled_with_best_and_range(scene):
    html = page(scene, ["distances"])
    lines = features(html, "shapes")
    assert [f["properties"]["style"]["className"] for f in lines] == ["gm-distance-line gm-distance-target",
                                                                       "gm-distance-line gm-distance-prior"]
    assert len(lines[0]["geometry"]["coordinates"]) > 2  # a geodesic, not a straight segment
    labels = [f["properties"]["html"] for f in features(html, "labels")]
    assert labels == ["<span>7.6 km (0.0\u201318.6 km)</span>", "<span>12.0 km (0.0\u201320.0 km)</span>"]


def test_rings_default_to_1_5_10_25_km(scene):
    html = page(scene, ["rings"])
    assert [f["properties"]["radius"] for f in features(html, "circles")] == [1000.0, 5000.0, 10000.0, 25000.0]
    assert [f["properties"]["html"] for f in features(html, "labels")] == [
        "<span>1 km</span>", "<span>5 km</span>", "<span>10 km</span>", "<span>25 km</span>"]


def test_time_slider_covers_the_scene_and_starts_on_its_date(scene):
    (time,) = payloads(page(scene, ["time"]), "time")
    assert time == {"start": "2019-11-01", "end": "2020-01-10", "day": "2019-12-27", "window": "before"}


def test_basemap_is_offline_and_online_tiles_are_offered_but_off(scene):
    html = page(scene, ["basemap"])
    assert "tile.openstreetmap.org" in html and "World_Imagery" in html  # offered in the layer control
    tile_vars = re.findall(r"var (tile_layer_\w+) = L\.tileLayer", html)
    assert len(tile_vars) == 2 and not any(f"{v}.addTo(" in html for v in tile_vars)
    assert "Made with Natural Earth" in html
    assert payloads(html, "basemap") == ["fill", "lines", "places"]  # its data are an asset of their own
    assert BASEMAP_JS in [item.url for _, item in common_assets()]
    script = asset(BASEMAP_JS).text
    data = json.loads(re.search(r"G\.basemapData = (\{.*\});\n", script).group(1))
    assert sum(len(g["rings"]) for g in data["fill"] + data["lines"]) > 50
    assert any("Baghdad" in f["properties"]["html"] for f in data["places"]["features"])
    assert "http" not in script.replace("http://www.w3.org", "")  # offline: no URL to fetch


def test_every_layer_has_a_legend_with_escaped_names(scene):
    html = page(scene, names())
    (legend,) = payloads(html, "legend")
    for text in ("Islamic State", "KH &lt;img", "Contested: attributed to 2+ groups", "estimate", "Focus incident",
                 "Control zones", "Where the incident may have happened", "Rings at 1, 5, 10, 25 km",
                 "7.6 km (0.0\u201318.6 km)", "Site (target or reference place)", scene.data_version):
        assert text in legend["html"], text


def test_controls_are_all_there_and_assets_are_local(scene):
    html = page(scene, names())
    for control in ("L.control.scale", "geomap.measure(", "L.control.fullscreen", "L.control.layers",
                    "geomap.time(", "geomap.legend(", "geomap.done("):
        assert control in html, control
    # the measure plugin's script is not run by the page: a tag names it, for the runtime to load
    (lazy,) = re.findall(r'<script type="text/plain" id="gm-lazy-leaflet_measure_js" data-src="([^"]+)"></script>', html)
    assert lazy.startswith(ASSETS + "/leaflet-measure.") and "L.Control.Measure" not in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith(ASSETS + "/") for u in urls), urls
    assert "cdn" not in " ".join(urls) and "jquery" not in html.lower()
    assert XSS_SCRIPT not in html


def test_the_web_basemap_is_generalised_to_its_scale_and_keeps_its_coverage():
    """The web map's borders and rivers lose half their vertices yet stay within 2 km (0.02
    degrees) of Natural Earth's lines, and neighbouring countries and governorates still share
    their edges: no overlap, no gap (the union's area moves by under a thousandth)."""
    for name in ("countries", "iraq_admin1", "rivers"):
        full = [geometry for _, geometry in basemap.shapes(name)]
        web = [shape(g) for g in basemap.web_geometries(name)]
        assert len(web) == len(full) and all(g.is_valid and not g.is_empty for g in web)
        assert shapely.get_num_coordinates(web).sum() < 0.6 * shapely.get_num_coordinates(full).sum()
        assert max(shapely.hausdorff_distance(a, b) for a, b in zip(full, web, strict=True)) < 0.02
        if name != "rivers":
            union = shapely.union_all(web)
            assert abs(sum(g.area for g in web) - union.area) < 1e-9  # no overlap
            assert abs(union.area - shapely.union_all(full).area) < 1e-3 * union.area  # no gap
    assert len(basemap.basemap_script()) < 320_000  # was 505,000 bytes at full resolution


def test_assets_are_bundled_unless_asked_one_file_a_tag_as_folium_writes_them():
    """geomap's pages link one bundle per kind; a map localised with `bundle=False` (the
    benchmark's Folium peers, as their users get them) links each file in its own tag."""
    import folium
    from folium.plugins import FastMarkerCluster

    def linked(bundle: bool) -> list[str]:
        fmap = folium.Map(tiles=None)
        FastMarkerCluster([[33.0, 43.0]]).add_to(fmap)
        localise(fmap.get_root(), ASSETS, bundle=bundle)
        return re.findall(r'<(?:script src|link rel="stylesheet" href)="/maps/assets/([^"]+)"', fmap.get_root().render())

    alone, joined = linked(False), linked(True)
    assert len(alone) > 4 and not any("+" in name for name in alone)
    assert len(joined) == 2 and joined == ["+".join(n for n in alone if n.endswith(ext)) for ext in (".css", ".js")]
