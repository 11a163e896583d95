"""Control zones in force on the scene's date, in their group's colour, styled by kind.

Control is drawn firmly; presence and activity fainter and dashed (hatched in print). The
tooltip gives the validity, the confidence and how uncertain the boundary is. In the
interactive map every zone of the time range is present, and the time slider shows those in
force on its date.
"""
from __future__ import annotations

from functools import partial

import folium
import numpy as np
import shapely
from matplotlib.patches import PathPatch
from shapely.geometry import mapping

from geomap.analysis.model import ControlZone
from geomap.layers.base import Frame, JsCall, Layer, backdrop, collection, mpl_patch_style, overlay, polygon_path
from geomap.layers.scene import Scene
from geomap.layers.style import ZONE_KINDS, LegendEntry, zone_mark
from geomap.layers.text import mpl_text, zone_popup, zone_tooltip


def zone_feature(scene: Scene, zone: ControlZone, outline) -> dict:
    """The zone as a GeoJSON Feature for geomap.shapes; `outline` is its geometry rounded."""
    style = {**zone_mark(scene, zone).leaflet(), "className": f"gm-zone gm-zone-{zone.kind}"}
    return {"type": "Feature", "geometry": mapping(outline), "properties": {
        "style": style, "tooltip": zone_tooltip(zone, scene.group_name(zone.group)),
        "popup": zone_popup(zone, scene.group_name(zone.group)), "t0": zone.valid_from.isoformat(),
        "t1": zone.valid_to.isoformat() if zone.valid_to else None, "tk": "state", "pane": "gmZones"}}


class Zones(Layer):
    """The control zones in force, in their group's colour, styled by kind."""

    name = "zones"
    title = "Control zones"

    def applies(self, scene: Scene) -> bool:
        return bool(scene.zones)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        group = overlay(fmap, "Control zones (in force on the slider's date)")
        # Coordinates rounded to 5 decimals (about 1 m) for the page, in one call for all zones, as
        # stored (right-hand rule): `shapely.set_precision` also re-noded and re-oriented them, 3.5 ms
        # for the 100,000-incident map's 90 zones against 0.1 (bench/README.md, maps "Session 18").
        outlines = shapely.transform([z.geometry for z in scene.zones], partial(np.round, decimals=5))
        features = [zone_feature(scene, zone, outline) for zone, outline in zip(scene.zones, outlines, strict=True)]
        group.add_child(JsCall("shapes", collection(features)))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        for zone in sorted(scene.zones, key=lambda z: list(ZONE_KINDS).index(z.kind) if z.kind in ZONE_KINDS else 9):
            style = mpl_patch_style(zone_mark(scene, zone))
            projected = frame.projection.geometry(zone.geometry)
            for polygon in shapely.get_parts(projected):
                ax.add_patch(PathPatch(polygon_path(polygon), zorder=2, **style))
            _label(ax, frame, zone, projected, scene.group_name(zone.group))

    def legend(self, scene: Scene) -> list[LegendEntry]:
        kinds = list(ZONE_KINDS)
        seen = sorted({(z.group, z.kind) for z in scene.zones},
                      key=lambda gk: (scene.group_name(gk[0]), kinds.index(gk[1]) if gk[1] in kinds else 9))
        section = "Control zones"
        return [LegendEntry(f"{scene.group_name(g)}: {k}", "area", zone_mark(scene, _Probe(g, k)), section)
                for g, k in seen]


class _Probe:
    """Enough of a zone for `zone_mark` (its group and kind)."""

    def __init__(self, group: str, kind: str) -> None:
        self.group, self.kind = group, kind


def _label(ax, frame: Frame, zone: ControlZone, projected, group_name: str) -> None:
    """The zone's name at a point inside it, when that point is in view."""
    point = projected.representative_point()
    xmin, xmax, ymin, ymax = frame.view
    if not (xmin < point.x < xmax and ymin < point.y < ymax):
        return
    frame.label(3, point.x, point.y, mpl_text(_short(zone.name)), ha="center", va="center", zorder=2.7,
                fontsize=frame.font_size * 0.78, fontstyle="italic", color="#333333", bbox=backdrop())


def _short(text: str, limit: int = 34) -> str:
    text = text.split(" (")[0]
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"

