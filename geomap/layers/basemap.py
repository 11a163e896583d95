"""The basemap: Natural Earth boundaries, rivers, lakes and places, offline and always there.

Online tiles (OpenStreetMap, satellite imagery) are offered as alternative base layers in the
interactive map; they are off at start and only fetched when a viewer picks one, so a map
never needs the network. See `geomap/basemap/SOURCES.md` for the data and its licence.
"""
from __future__ import annotations

from functools import cache
from importlib import resources

import folium
import msgspec
import numpy as np
import shapely
import xyzservices
from markupsafe import escape
from matplotlib.patches import PathPatch
from shapely.geometry import box, shape

from geomap.layers import basemap_paths
from geomap.layers.assets import BASEMAP_JS, RUNTIME_CSS, RUNTIME_JS
from geomap.layers.base import Frame, JsCall, Layer, collection, feature, polygon_path
from geomap.layers.scene import Scene
from geomap.layers.style import Mark
from geomap.layers.text import mpl_text, script_json

ATTRIBUTION = "Made with Natural Earth. Some populated places \u00a9 GeoNames (CC BY 4.0)."
LAND, LAND_EDGE, WATER, RIVER, ADMIN1 = "#f4f1ea", "#8c8c8c", "#dfe9f0", "#7fa7c9", "#b9b2a6"
TILES = (
    ("OpenStreetMap (online)", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
     "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors"),
    ("Satellite, Esri World Imagery (online)",
     "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",
     "Tiles &copy; Esri &mdash; Source: Esri, Maxar, Earthstar Geographics, and the GIS User Community"),
)


@cache
def _provider(name: str, url: str, attribution: str) -> xyzservices.TileProvider:
    """An online tile layer as xyzservices' provider object: given a URL string, folium.TileLayer
    first looks it up by name in xyzservices' whole catalogue (3.7 ms a layer, every map), given
    the object it does not; the layer's script is the same."""
    return xyzservices.TileProvider(name=name, url=url, attribution=attribution)


def layer_data(name: str) -> tuple[dict, ...]:
    """The features of one basemap file (countries, iraq_admin1, rivers, places).

    Not cached: the parsed JSON is a million small lists that every garbage collection would
    walk; what is kept are the Shapely shapes and the serialised payloads built from it."""
    text = resources.files("geomap").joinpath("basemap", f"{name}.geojson").read_text(encoding="utf-8")
    return tuple(msgspec.json.decode(text)["features"])


@cache
def shapes(name: str) -> tuple[tuple[dict, object], ...]:
    """The basemap layer's features as (properties, Shapely geometry) pairs, parsed once per process."""
    return tuple((f["properties"], shape(f["geometry"])) for f in layer_data(name))


def place_rank(props: dict) -> int:
    """1: capitals and the largest cities, 2: regional centres, 3: the rest (shown zoomed in)."""
    scalerank = props.get("scalerank")
    population = props.get("pop_max") or 0
    if (scalerank is not None and scalerank <= 3) or population >= 2_000_000:
        return 1
    if (scalerank is not None and scalerank <= 6) or population >= 250_000:
        return 2
    return 3


# The web map's basemap is generalised to about its source's own scale: Natural Earth 1:10m
# places its lines to a kilometre or so. Borders are simplified together (coverage
# simplification: neighbours keep one shared edge, no gap or overlap), rivers and lakes each by
# Douglas-Peucker. Print graphics (`to_axes`) draw the full data.
WEB_TOLERANCE = 0.01  # degrees: ~1 km; the coverage's removed triangles have sqrt(area) below it


@cache
def web_geometries(name: str) -> tuple[dict, ...]:
    """The GeoJSON geometries of one basemap file, generalised for the web map."""
    geometries = [geom for _, geom in shapes(name)]
    if name in ("countries", "iraq_admin1"):
        simplified = shapely.coverage_simplify(geometries, WEB_TOLERANCE)
    else:
        simplified = [shapely.simplify(g, WEB_TOLERANCE / 2.5, preserve_topology=True) for g in geometries]
    return tuple(shapely.geometry.mapping(g) for g in simplified)


@cache
def _folium_payloads() -> tuple[str, str, str]:
    land = Mark(color=LAND_EDGE, fill=LAND, fill_opacity=1.0, weight=0.8).leaflet()
    lake = Mark(color=RIVER, fill=WATER, fill_opacity=1.0, weight=0.6).leaflet()
    border = Mark(color=LAND_EDGE, weight=1.0).leaflet()
    admin = Mark(color=ADMIN1, weight=0.8, dash=(3, 2)).leaflet()
    river = Mark(color=RIVER, weight=1.2).leaflet()
    rivers = list(zip((props["kind"] for props, _ in shapes("rivers")), web_geometries("rivers"), strict=True))
    countries, admin1 = web_geometries("countries"), web_geometries("iraq_admin1")
    fill = [(land, g) for g in countries] + [(lake, g) for kind, g in rivers if kind == "lake"]
    lines = [({**border, "fill": False}, g) for g in countries] + [({**admin, "fill": False}, g) for g in admin1]
    lines += [(river, g) for kind, g in rivers if kind == "river"]
    places = [feature(*f["geometry"]["coordinates"], pane="gmBasemapLabels",
                      cls=f"gm-place gm-rank-{place_rank(f['properties'])}"
                          + (" gm-place-major" if place_rank(f["properties"]) == 1 else ""),
                      html=str(escape(f["properties"]["name"])).join(("<span>\u2022 ", "</span>")),
                      anchor=[4, 0])
              for f in layer_data("places")]
    # Serialised once per process: the same half megabyte for every page.
    outlines = [script_json(basemap_paths.groups([(style, shape(g)) for style, g in part])) for part in (fill, lines)]
    return (*outlines, script_json(collection(places)))


BASEMAP_PARTS = ("fill", "lines", "places")


def basemap_script() -> str:
    """The offline basemap as a script of its own (the asset `BASEMAP_JS`): its data, handed to
    geomap's runtime, which builds the Leaflet layers as soon as both are loaded. Pages link it
    in their head (the browser fetches it, once, while the server is still counting), and the
    map then adds the layers ready made (`geomap.basemap(parent, "fill")`)."""
    data = ",".join(f'"{name}":{payload}' for name, payload in zip(BASEMAP_PARTS, _folium_payloads(), strict=True))
    return ("(function () {\n  var G = window.geomap = window.geomap || {};\n"
            f"  G.basemapData = {{{data}}};\n"
            "  if (G.prepareBasemap) G.prepareBasemap();\n})();\n")


class BasemapCall(JsCall):
    """`geomap.basemap(parent, "<part>")`, with the basemap's data linked as an asset."""

    default_js = [("geomap_runtime_js", RUNTIME_JS), ("geomap_basemap_js", BASEMAP_JS)]
    default_css = [("geomap_runtime_css", RUNTIME_CSS)]

    def __init__(self, part: str) -> None:
        super().__init__("basemap", part)


class Basemap(Layer):
    """Natural Earth land, boundaries, rivers, lakes and places, drawn from geomap's own files (offline)."""

    name = "basemap"
    title = "Basemap"

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        # A base layer: picking online tiles instead swaps this land fill out, never the boundaries.
        base = folium.FeatureGroup(name="Offline basemap (Natural Earth)", overlay=False, show=True)
        base.add_child(BasemapCall("fill"))
        base.add_to(fmap)
        for name, url, attribution in TILES:
            folium.TileLayer(_provider(name, url, attribution), name=name, attr=attribution, overlay=False, show=False,
                             min_zoom=0, max_zoom=18).add_to(fmap)
        overlay = folium.FeatureGroup(name="Boundaries, rivers and places (offline)", show=True)
        overlay.add_child(BasemapCall("lines"))
        overlay.add_child(BasemapCall("places"))
        overlay.add_to(fmap)

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        ax.set_facecolor(WATER)
        clip = _clip_box(frame)
        for _, geom in shapes("countries"):
            _fill(ax, frame, geom, clip, facecolor=LAND, edgecolor=LAND_EDGE, linewidth=0.7, zorder=1)
        for props, geom in shapes("rivers"):
            if props["kind"] == "lake":
                _fill(ax, frame, geom, clip, facecolor=WATER, edgecolor=RIVER, linewidth=0.4, zorder=1.2)
            else:
                _lines(ax, frame, geom, clip, color=RIVER, linewidth=0.8, zorder=1.2)
        for _, geom in shapes("iraq_admin1"):
            _lines(ax, frame, geom.boundary, clip, color=ADMIN1, linewidth=0.5, linestyle=(0, (4, 2)), zorder=1.1)
        _places(ax, frame)


def _clip_box(frame: Frame):
    """The view in lon/lat, generously padded (the local projection bends the edges)."""
    xmin, xmax, ymin, ymax = frame.view
    xs = np.linspace(xmin, xmax, 9)
    ys = np.linspace(ymin, ymax, 9)
    gx, gy = np.meshgrid(xs, ys)
    lons, lats = frame.projection.transformer.transform(gx.ravel(), gy.ravel(), direction="INVERSE")
    pad = 0.5
    return box(np.min(lons) - pad, np.min(lats) - pad, np.max(lons) + pad, np.max(lats) + pad)


def _projected_parts(frame: Frame, geom, clip, kind: str) -> list:
    """The parts of `geom` inside `clip` of one geometry type, in the graphic's projection."""
    part = geom.intersection(clip) if geom.intersects(clip) else None
    if part is None or part.is_empty:
        return []
    return [p for p in shapely.get_parts(frame.projection.geometry(part)) if p.geom_type == kind]


def _fill(ax, frame: Frame, geom, clip, **style) -> None:
    for polygon in _projected_parts(frame, geom, clip, "Polygon"):
        ax.add_patch(PathPatch(polygon_path(polygon), **style))


def _lines(ax, frame: Frame, geom, clip, **style) -> None:
    for line in _projected_parts(frame, geom, clip, "LineString"):
        coords = np.asarray(line.coords)
        ax.plot(coords[:, 0], coords[:, 1], **style)


def _places(ax, frame: Frame, limit: int = 24) -> None:
    """Names of the largest places in view, as low-priority labels (with their dot)."""
    xmin, xmax, ymin, ymax = frame.view
    candidates = []
    for props, geom in shapes("places"):
        x, y = frame.projection.xy([geom.x], [geom.y])
        if xmin < x[0] < xmax and ymin < y[0] < ymax:
            candidates.append((place_rank(props), -(props.get("pop_max") or 0), props["name"], x[0], y[0]))
    for order, (rank, _, name, x, y) in enumerate(sorted(candidates)[:limit]):
        frame.label((2.5 if rank == 1 else 10 + rank) + order / 100, x, y, mpl_text(name), xytext=(3, 2), zorder=2.6, color="#444444",
                    fontsize=frame.font_size * (0.95 if rank == 1 else 0.82),
                    fontweight="bold" if rank == 1 else "normal",
                    dot={"marker": "o", "markersize": 2.6, "color": "#555555", "zorder": 2.6})
