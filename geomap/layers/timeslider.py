"""The time slider: one date for incidents and zones together.

Zones show while in force on the slider's date; incidents by a window up to it (all dates, up
to the date, or the last 90, 30 or 7 days). A static graphic is the slider's starting state,
so it draws nothing of its own: the other layers draw what that state shows.
"""
from __future__ import annotations

import folium

from geomap.layers.base import Frame, JsCall, Layer
from geomap.layers.scene import Scene


class TimeSlider(Layer):
    """A slider that picks the day the interactive map shows incidents and zones for (nothing on static maps)."""

    name = "time"
    title = "Time slider"

    def applies(self, scene: Scene) -> bool:
        return scene.time_range is not None

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        start, end = scene.time_range
        fmap.add_child(JsCall("time", {"start": start.isoformat(), "end": end.isoformat(),
                                       "day": scene.on.isoformat(), "window": scene.window}))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        return None
