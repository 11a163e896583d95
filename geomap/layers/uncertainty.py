"""Uncertainty: each incident's precision circle, the area its true location may be anywhere in.

Circles are geodesic (a radius in metres on WGS84), faint and dashed, in the incident's colour,
so a guessed location reads as a wide soft area and a known one as a point.
"""
from __future__ import annotations

import folium
import numpy as np
from matplotlib.patches import Polygon as MplPolygon

from geomap.layers.base import Frame, JsCall, Layer, collection, feature, mpl_patch_style, overlay
from geomap.layers.geo import circle
from geomap.layers.scene import Scene
from geomap.layers.style import LegendEntry, Mark, uncertainty_mark
from geomap.layers.text import precision_text


class Uncertainty(Layer):
    """Each incident's precision circle: its true location may be anywhere inside."""

    name = "uncertainty"
    title = "Location uncertainty"

    def applies(self, scene: Scene) -> bool:
        return any(i.precision_m > 0 for i in scene.incidents)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        features = []
        for incident in scene.incidents:
            if incident.precision_m > 0:
                style = {**uncertainty_mark(scene, incident).leaflet(), "className": "gm-uncertainty",
                         "interactive": False}
                features.append(feature(incident.lon, incident.lat, radius=incident.precision_m, style=style,
                                        t0=incident.date_start.isoformat(), t1=incident.date_end.isoformat(),
                                        tk="event", pane="gmUncertainty"))
        group = overlay(fmap, "Location uncertainty (precision circles)")
        group.add_child(JsCall("circles", collection(features)))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        for incident in sorted(scene.incidents, key=lambda i: -i.precision_m):
            if incident.precision_m <= 0:
                continue
            mark = uncertainty_mark(scene, incident)
            lons, lats = circle(incident.lon, incident.lat, incident.precision_m)
            x, y = frame.projection.xy(lons, lats)
            ax.add_patch(MplPolygon(np.column_stack([x, y]), closed=True, zorder=3, **mpl_patch_style(mark)))

    def legend(self, scene: Scene) -> list[LegendEntry]:
        radii = [i.precision_m for i in scene.incidents if i.precision_m > 0]
        span = f"{precision_text(min(radii))} to {precision_text(max(radii))}" if radii else ""
        mark = Mark(color="#555555", fill="#555555", fill_opacity=0.08, weight=1.0, dash=(3, 3))
        return [LegendEntry(f"Where the incident may have happened ({span})", "circle", mark, "Uncertainty")]
