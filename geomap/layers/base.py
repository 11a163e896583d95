"""The layer contract (DESIGN.md decision 9: one layer, two renderers).

A layer draws one kind of thing from a `Scene`: `to_folium` adds it to an interactive Folium
map, `to_axes` to a matplotlib axes in the static graphic's projection, and `legend` says what
its symbols mean, for both. Folium layers send their features to geomap's map runtime as data
(`JsCall`), so that a thousand markers cost one JSON array, not a thousand JavaScript variables.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import folium
import numpy as np
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from markupsafe import escape
from matplotlib import patheffects
from matplotlib.colors import to_rgba
from matplotlib.path import Path as MplPath

from geomap.layers.assets import RUNTIME_CSS, RUNTIME_JS, Raw
from geomap.layers.geo import Projection
from geomap.layers.scene import Scene
from geomap.layers.style import LegendEntry, Mark
from geomap.layers.text import script_json, script_parse


@dataclass(frozen=True)
class Frame:
    """Where a static graphic draws: its projection, view (metres) and size."""

    projection: Projection
    view: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    width_px: int
    height_px: int
    dpi: float
    font_size: float  # base font size in points
    labels: list[tuple[float, int, float, float, str, dict]] = field(default_factory=list)
    obstacles: list[tuple[float, float, float]] = field(default_factory=list)  # x, y (metres), radius (points)

    def label(self, priority: float, x: float, y: float, text: str, **style) -> None:
        """Ask for a text label at (x, y) in map metres; after every layer has drawn, labels are
        placed most important first (lowest `priority`), and one that would overlap a placed
        label is left out, so that the graphic never prints text over text."""
        self.labels.append((priority, len(self.labels), x, y, text, style))

    def obstacle(self, x: float, y: float, radius_pt: float) -> None:
        """Keep labels off a symbol at (x, y) in map metres, `radius_pt` points around it (a marker
        that must stay readable, such as the focus incident)."""
        self.obstacles.append((x, y, radius_pt))


class Layer:
    """Base class of map layers; subclasses set `name` and `title` and draw themselves."""

    name = ""
    title = ""

    def applies(self, scene: Scene) -> bool:
        """Whether the scene has anything for this layer (rings need a focus, ...)."""
        return True

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        raise NotImplementedError

    def later(self, scene: Scene) -> list[str]:
        """The calls (`js_call`) that complete what `to_folium` drew from the scene while it was
        pending (`Scene.pending`), now that `scene` is whole; most layers draw everything at once."""
        return []

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        raise NotImplementedError

    def legend(self, scene: Scene) -> list[LegendEntry]:
        return []


class JsCall(JSCSSMixin, MacroElement):
    """`geomap.<function>(<parent layer>, <data>)` in the page's script, with the runtime loaded.

    It declares the runtime as its assets (`geomap.layers.assets.localise` links or inlines
    them) and adds its call to the page as `Raw` text, never through a template."""

    default_js = [("geomap_runtime_js", RUNTIME_JS)]
    default_css = [("geomap_runtime_css", RUNTIME_CSS)]

    def __init__(self, function: str, data=None, *, payload: str | None = None) -> None:
        """`data` is serialised here; `payload` is data already serialised by `script_json`."""
        super().__init__()
        self._name = "GeomapCall"
        self.function = function
        self.payload = payload if payload is not None else script_json(data)

    def render(self, **kwargs) -> None:
        self.get_root().script.add_child(Raw(js_call(self.function, self._parent.get_name(), self.payload)),
                                         name=self.get_name())


def js_call(function: str, parent: str, payload: str) -> str:
    """`geomap.<function>(<parent>, <payload>);`: the runtime's call on a parent (a JavaScript
    expression) with data serialised by `script_json`."""
    return f"geomap.{function}({parent}, {script_parse(payload)});"


def overlay(fmap: folium.Map, title: str, show: bool = True) -> folium.FeatureGroup:
    """A named overlay in the layer control (its name is escaped: Leaflet shows it as HTML)."""
    group = folium.FeatureGroup(name=str(escape(title)), show=show)
    group.add_to(fmap)
    return group


def feature(lon: float, lat: float, **properties) -> dict:
    """A GeoJSON point Feature for the map's runtime; coordinates rounded to 6 decimals (about 0.1 m)."""
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": properties}


def collection(features: list[dict]) -> dict:
    """The features as a GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}


def mpl_line_style(mark: Mark) -> dict:
    """matplotlib keyword arguments for a line drawn with `mark`."""
    style = {"color": mark.color, "linewidth": mark.weight * 0.75}
    if mark.dash:
        style["linestyle"] = (0, mark.dash)
    return style


def mpl_patch_style(mark: Mark) -> dict:
    """matplotlib keyword arguments for an area drawn with `mark` (the fill keeps its own opacity)."""
    line = mpl_line_style(mark)
    return {"edgecolor": line["color"], "linewidth": line["linewidth"], "linestyle": line.get("linestyle", "-"),
            "facecolor": to_rgba(mark.fill, mark.fill_opacity) if mark.fill else "none", "hatch": mark.hatch or None}


def polygon_path(polygon) -> MplPath:
    """A matplotlib path of a Shapely polygon, holes included."""
    vertices, codes = [], []
    for ring in (polygon.exterior, *polygon.interiors):
        coords = np.asarray(ring.coords)
        vertices.extend(coords)
        codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(coords) - 2) + [MplPath.CLOSEPOLY])
    return MplPath(np.asarray(vertices), codes)


def halo(width: float = 2.5) -> list:
    """A white outline around text, so labels read over any fill (SVG and PDF then draw the
    text as outlines: map labels use `backdrop` instead)."""
    return [patheffects.withStroke(linewidth=width, foreground="white")]


def backdrop(alpha: float = 0.72) -> dict:
    """A soft white box behind a map label, so it reads over any fill; unlike a stroked halo (a
    path effect, drawn as outlines) it keeps the label as text in SVG and PDF."""
    return {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": alpha}
