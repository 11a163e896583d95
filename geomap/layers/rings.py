"""Rings around the focus point: geodesic circles at fixed distances (default 1, 5, 10, 25 km)."""
from __future__ import annotations

import folium

from geomap.layers.base import Frame, JsCall, Layer, backdrop, collection, feature, mpl_line_style, overlay
from geomap.layers.geo import circle
from geomap.layers.scene import Scene
from geomap.layers.style import RING_MARK, LegendEntry
from geomap.layers.text import km

DEFAULT_RINGS_M = (1000.0, 5000.0, 10000.0, 25000.0)


def ring_label(metres: float) -> str:
    """A ring's label in km, e.g. "5 km" or "2.5 km"."""
    return f"{km(metres).removesuffix('.0')} km"


class Rings(Layer):
    """Geodesic circles at fixed distances around the focus incident, each labelled in km."""

    name = "rings"
    title = "Distance rings"

    def applies(self, scene: Scene) -> bool:
        return scene.focus is not None and bool(scene.rings_m)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        focus = scene.focus
        style = {**RING_MARK.leaflet(), "fill": False, "interactive": False, "className": "gm-ring"}
        circles = [feature(focus.lon, focus.lat, radius=r, style=style, pane="gmLines") for r in scene.rings_m]
        labels = []
        for r in scene.rings_m:
            lons, lats = circle(focus.lon, focus.lat, r, 4)  # index 0 is due north
            labels.append(feature(float(lons[0]), float(lats[0]), cls="gm-ring", html=f"<span>{ring_label(r)}</span>",
                                  pane="gmLabels"))
        group = overlay(fmap, "Rings around the focus incident")
        group.add_child(JsCall("circles", collection(circles)))
        group.add_child(JsCall("labels", collection(labels)))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        focus = scene.focus
        for r in scene.rings_m:
            lons, lats = circle(focus.lon, focus.lat, r)
            x, y = frame.projection.xy(lons, lats)
            ax.plot(x, y, zorder=3.5, **mpl_line_style(RING_MARK))
            frame.label(4, x[0], y[0], ring_label(r), ha="center", va="bottom", fontsize=frame.font_size * 0.75,
                        color="#333333", zorder=8, bbox=backdrop())

    def legend(self, scene: Scene) -> list[LegendEntry]:
        text = ", ".join(ring_label(r).removesuffix(" km") for r in scene.rings_m)
        return [LegendEntry(f"Rings at {text} km from the focus", "line", RING_MARK, "Distances")]

