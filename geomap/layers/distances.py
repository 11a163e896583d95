"""Distances from the focus incident: to its target, the nearest prior incidents, nearby sites.

Each line is a geodesic labelled with the best distance and, in brackets, the range its
precision radii allow (`7.6 km (0.0-18.6 km)`): an 8 km uncertainty is part of the answer.
"""
from __future__ import annotations

import folium
import numpy as np
from markupsafe import Markup

from geomap.layers.base import Frame, JsCall, Layer, backdrop, collection, feature, mpl_line_style, overlay
from geomap.layers.geo import line
from geomap.layers.scene import DistanceLine, Scene
from geomap.layers.style import DISTANCE_MARK, LegendEntry, Mark
from geomap.layers.text import distance_text, km, mpl_text

KIND_LABELS = {"target": "target", "prior": "nearest prior incident", "site": "nearby site"}
KIND_DASH = {"target": (), "prior": (6, 3), "site": (2, 3)}
LABEL_AT = 0.55  # labels sit a little past the middle, so that lines from one point spread them
MIN_LABELLED_M = 500.0  # shorter lines (e.g. two events at one place) are explained in the legend only


def _mark(kind: str) -> Mark:
    return Mark(color=DISTANCE_MARK.color, weight=DISTANCE_MARK.weight if kind == "target" else 1.5,
                dash=KIND_DASH.get(kind, ()))


def describe(d: DistanceLine) -> str:
    """`K-1 Air Base: 7.6 km (0.0-18.6 km), target`: what the line measures, for legends and tooltips."""
    return f"{d.name}: {distance_text(d.distance)}, {d.note or KIND_LABELS.get(d.kind, d.kind)}"


def _features(scene: Scene, d: DistanceLine) -> list[dict]:
    focus = scene.focus
    path = line(focus.lon, focus.lat, d.lon, d.lat)
    tooltip = str(Markup("<b>{}</b>").format(describe(d)))
    style = {**_mark(d.kind).leaflet(), "className": f"gm-distance-line gm-distance-{d.kind}"}
    shape = {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [list(p) for p in path]},
             "properties": {"style": style, "tooltip": tooltip, "pane": "gmLines"}}
    if d.distance.best < MIN_LABELLED_M:
        return [shape]
    at = path[int(len(path) * LABEL_AT)]
    label = feature(at[0], at[1], cls="gm-distance", pane="gmLabels",  # no tooltip: a label takes no clicks
                    html=str(Markup("<span>{}</span>").format(distance_text(d.distance))))
    return [shape, label]


class Distances(Layer):
    """Geodesic lines, labelled in km, from the focus incident to its target, nearest prior incidents, nearby sites."""

    name = "distances"
    title = "Distances"

    def applies(self, scene: Scene) -> bool:
        return scene.focus is not None and bool(scene.distances)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        features = [f for d in scene.distances for f in _features(scene, d)]
        group = overlay(fmap, "Distances from the focus incident")
        group.add_child(JsCall("shapes", collection([f for f in features if f["geometry"]["type"] != "Point"])))
        group.add_child(JsCall("labels", collection([f for f in features if f["geometry"]["type"] == "Point"])))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        focus = scene.focus
        for d in scene.distances:
            path = np.asarray(line(focus.lon, focus.lat, d.lon, d.lat))
            x, y = frame.projection.xy(path[:, 0], path[:, 1])
            ax.plot(x, y, zorder=4, **mpl_line_style(_mark(d.kind)))
            if d.distance.best >= MIN_LABELLED_M:
                i = int(len(x) * LABEL_AT)
                others = [(x[j], y[j]) for j in (int(len(x) * 0.8), len(x) - 1, int(len(x) * 0.3))]
                frame.label(1, x[i], y[i], mpl_text(distance_text(d.distance)), xytext=(0, 3), ha="center",
                            anchors=others, short=f"{km(d.distance.best)} km",
                            fontsize=frame.font_size * 0.8, color="#111111", zorder=8, fontweight="bold",
                            bbox=backdrop())

    def legend(self, scene: Scene) -> list[LegendEntry]:
        """One entry per line: distances read as best estimate (smallest to largest possible)."""
        return [LegendEntry(describe(d), "line", _mark(d.kind), "Distances from the focus: best (min\u2013max)")
                for d in scene.distances]
