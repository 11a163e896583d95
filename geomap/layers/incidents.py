"""Incidents: coloured by attributed group or event type, styled by status, clustered.

Up to a few thousand incidents are drawn one by one (clustered in the browser where they
crowd); above that the scene carries grid cells counted on the server (`Scene.cells`), drawn
as circles sized by count, each linking to a map of its own incidents.
"""
from __future__ import annotations

from datetime import date

import folium
import numpy as np
from folium.plugins import MarkerCluster
from markupsafe import escape
from matplotlib.colors import to_rgba

from geomap.layers.base import Frame, JsCall, Layer, collection, feature, js_call, overlay
from geomap.layers.claims import displaced
from geomap.layers.scene import Cell, MapIncident, Scene
from geomap.layers.style import (
    STATUS_MARKS,
    LegendEntry,
    Mark,
    category_color,
    category_label,
    cell_mark,
    incident_category,
    incident_mark,
    status_mark,
)
from geomap.layers.text import incident_popup, incident_tooltip, script_json

CLUSTER_OPTIONS = {"maxClusterRadius": 30, "showCoverageOnHover": False, "spiderfyOnMaxZoom": True,
                   "chunkedLoading": True}


def incident_feature(scene: Scene, incident: MapIncident, focus: bool = False) -> dict:
    """An incident as a point Feature of the interactive map: style, popup, tooltip, and dates for the time slider."""
    style = incident_mark(scene, incident, focus).leaflet()
    style["className"] = f"gm-incident gm-status-{incident.status}" + (" gm-focus-incident" if focus else "")
    return feature(incident.lon, incident.lat, style=style, popup=incident_popup(incident, scene.group_name, focus),
                   tooltip=incident_tooltip(incident), t0=incident.date_start.isoformat(),
                   t1=incident.date_end.isoformat(), tk="event", pane="gmIncidents")


def cells_payload(scene: Scene) -> dict:
    """Counted cells for geomap.cells: grid cells, categories (labels escaped) and per-period counts."""
    grids: dict[tuple, list] = {}
    categories: dict[str, int] = {}
    days: dict[date, str] = {}
    cells = []
    for cell in scene.cells:
        n = cell.count
        grid = grids.get(cell.bbox)
        if grid is None:
            grid = grids[cell.bbox] = [0.0, 0.0, 0, len(grids)]
        grid[0], grid[1], grid[2] = grid[0] + cell.lon * n, grid[1] + cell.lat * n, grid[2] + n
        start = days.get(cell.period_start) or days.setdefault(cell.period_start, cell.period_start.isoformat())
        end = days.get(cell.period_end) or days.setdefault(cell.period_end, cell.period_end.isoformat())
        cells.append([grid[3], start, end, [[categories.setdefault(c, len(categories)), k] for c, k in cell.counts]])
    drill = scene.links.get("drill")
    return {
        "grids": [[round(x / n, 5), round(y / n, 5), *(round(v, 5) for v in bbox)]
                  for bbox, (x, y, n, _) in grids.items()],
        "cats": [[str(escape(category_label(scene, c))), category_color(scene, c)] for c in categories],
        "cells": cells, "drill": str(escape(drill)) if drill else None,
        "timed": scene.timed,
    }


def totals(cells) -> list[Cell]:
    """One cell per grid cell, summing its periods (what a static graphic draws)."""
    merged: dict[tuple, list[Cell]] = {}
    for cell in cells:
        merged.setdefault(cell.bbox, []).append(cell)
    out = []
    for bbox, parts in merged.items():
        counts: dict[str, int] = {}
        for part in parts:
            for category, n in part.counts:
                counts[category] = counts.get(category, 0) + n
        total = sum(counts.values())
        out.append(Cell(sum(p.lon * p.count for p in parts) / total, sum(p.lat * p.count for p in parts) / total,
                        min(p.period_start for p in parts), max(p.period_end for p in parts),
                        min(p.first for p in parts), max(p.last for p in parts),
                        tuple(sorted(counts.items(), key=lambda c: (-c[1], c[0]))), bbox))
    return out


class Incidents(Layer):
    """The incidents, clustered on the interactive map; cells counted on the server when there are too many to send."""

    name = "incidents"
    title = "Incidents"

    def applies(self, scene: Scene) -> bool:
        return bool(scene.incidents) or scene.aggregated

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        if scene.aggregated:
            return self._cells_to_folium(fmap, scene)
        others = [incident_feature(scene, i) for i in scene.incidents if scene.focus is None or i.id != scene.focus.id]
        cluster = MarkerCluster(name=str(escape(f"Incidents ({len(others):,})")),
                                icon_create_function="geomap.clusterIcon", **CLUSTER_OPTIONS)
        cluster.add_child(JsCall("points", collection(others)))
        cluster.add_to(fmap)
        if scene.focus is not None:
            group = overlay(fmap, "Focus incident")
            group.add_child(JsCall("points", collection([incident_feature(scene, scene.focus, focus=True)])))

    def _cells_to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        group = overlay(fmap, f"Incidents ({scene.total_incidents:,}, counted per area on the server)")
        group.add_child(JsCall("awaiting", "cells") if scene.pending else JsCall("cells", cells_payload(scene)))

    def later(self, scene: Scene) -> list[str]:
        """The cells, drawn in the group that `_cells_to_folium` left awaiting them."""
        return [js_call("cells", "geomap.awaited.cells", script_json(cells_payload(scene)))] if scene.cells else []

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        if scene.aggregated:
            return _cells_to_axes(ax, scene, frame)
        others = [i for i in scene.incidents if scene.focus is None or i.id != scene.focus.id]
        if others:
            x, y = frame.projection.xy([i.lon for i in others], [i.lat for i in others])
            true = np.column_stack([x, y])
            shown = _clear_of_focus(scene, frame, true)
            for incident, (tx, ty), (sx, sy) in zip(others, true, shown, strict=True):
                if (tx, ty) != (sx, sy):  # moved off the focus: a thin leader to where it happened
                    ax.plot([tx, sx], [ty, sy], color="#333333", linewidth=0.6, zorder=4.9)
                _marker(ax, scene, incident, sx, sy, focus=False)
        if scene.focus is not None:
            x, y = frame.projection.xy([scene.focus.lon], [scene.focus.lat])
            _marker(ax, scene, scene.focus, x[0], y[0], focus=True)
            frame.obstacle(x[0], y[0], 10.0 * 0.75 + 2)

    def legend(self, scene: Scene) -> list[LegendEntry]:
        heading = "Incidents by attributed group" if scene.color_by == "group" else "Incidents by event type"
        items = scene.cells if scene.aggregated else scene.incidents
        categories = sorted({c.category if isinstance(c, Cell) else incident_category(scene, c) for c in items},
                            key=lambda c: (c in ("", "+"), category_label(scene, c)))
        entries = [LegendEntry(category_label(scene, c), "point", _swatch(category_color(scene, c)), heading)
                   for c in categories]
        if scene.aggregated:
            label = f"Circle area \u221d incidents in the area ({scene.total_incidents:,} in all)"
            return entries + [LegendEntry(label, "point", _swatch("#777777", 0.75), "Aggregated on the server")]
        statuses = sorted({i.status for i in scene.incidents}, key=list(STATUS_MARKS).index)
        entries += [LegendEntry(f"{s}" + (" (location estimated)" if s == "estimate" else ""), "point",
                                status_mark(s), "Status") for s in statuses]
        if scene.focus is not None:
            entries.append(LegendEntry("Focus incident", "point", incident_mark(scene, scene.focus, True), "Status"))
        return entries


def _swatch(color: str, opacity: float = 0.9) -> Mark:
    return Mark(color="#ffffff", fill=color, fill_opacity=opacity, weight=1.2, radius=6.0)


def _clear_of_focus(scene: Scene, frame: Frame, points: np.ndarray) -> np.ndarray:
    """Markers that would sit on the focus marker, moved beside it (the focus stays on top, visible)."""
    if scene.focus is None:
        return points
    fx, fy = frame.projection.xy([scene.focus.lon], [scene.focus.lat])
    metres_per_pt = (frame.view[1] - frame.view[0]) / frame.width_px * frame.dpi / 72
    clearance = (10.0 + 6.5) * 0.75 * 1.25 * metres_per_pt  # the two markers' radii, and a gap
    return displaced(points, (fx[0], fy[0]), clearance)


def _marker(ax, scene: Scene, incident: MapIncident, x: float, y: float, focus: bool) -> None:
    mark = incident_mark(scene, incident, focus)
    face = _rgba(mark.fill, mark.fill_opacity)
    ax.plot([x], [y], marker="o", linestyle="none", markersize=mark.radius * 1.5, markerfacecolor=face,
            markeredgecolor=mark.color, markeredgewidth=mark.weight * 0.8, zorder=6 if focus else 5)


def _cells_to_axes(ax, scene: Scene, frame: Frame) -> None:
    for cell in sorted(totals(scene.cells), key=lambda c: -c.count):
        mark = cell_mark(scene, cell)
        x, y = frame.projection.xy([cell.lon], [cell.lat])
        ax.plot(x, y, marker="o", linestyle="none", markersize=mark.radius * 1.5,
                markerfacecolor=_rgba(mark.fill, mark.fill_opacity), markeredgecolor="white", markeredgewidth=0.6,
                zorder=5)


def _rgba(color: str, alpha: float) -> tuple[float, float, float, float]:
    return to_rgba(color, alpha)
