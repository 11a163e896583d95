"""Contested attribution drawn: who blames whom for the focus incident.

When the focus incident is attributed to two or more groups, its marker is split into the
claimed groups' colours (drawn over every other incident), a callout names who claims what
("US officials: Kata'ib Hezbollah; Iraqi officials: Islamic State", from the claims themselves),
and the legend gives the nearest zone of each claimed group with its distance; the static
graphic draws those zones in its inset when they lie outside the map.
"""
from __future__ import annotations

import textwrap

import folium
import numpy as np
from markupsafe import Markup
from matplotlib.patches import Wedge

from geomap.layers.base import Frame, JsCall, Layer, collection, feature, overlay
from geomap.layers.scene import MapIncident, Scene
from geomap.layers.style import FOCUS_OUTLINE, LegendEntry, Mark, category_color
from geomap.layers.text import distance_text, mpl_text
from geomap.vocabulary import AFFIRMATIVE_STANCES

FOCUS_RADIUS_PT = 10.0 * 0.75  # as the focus marker of geomap.layers.incidents (markersize / 2)


def claimant_name(claimant: str) -> str:
    """The claimant as a callout names it: "US officials (Pentagon)" -> "US officials"."""
    return claimant.split(" (")[0].split(",")[0].strip() or claimant


def who_claims_what(scene: Scene, incident: MapIncident) -> str:
    """`US officials: Kata'ib Hezbollah; Iraqi military and intelligence officials: Kata'ib Hezbollah
    (disputed)`: each claimant's groups in the claims' order, a stance that does not attribute
    (disputed, denied) said beside its group."""
    by_claimant: dict[str, list[str]] = {}
    for claim in incident.claims:
        name = scene.group_name(claim.group)
        said = name if claim.stance in AFFIRMATIVE_STANCES else f"{name} ({claim.stance})"
        names = by_claimant.setdefault(claimant_name(claim.claimant), [])
        if said not in names:
            names.append(said)
    return "; ".join(f"{who}: {' and '.join(groups)}" for who, groups in by_claimant.items())


def contested_focus(scene: Scene) -> bool:
    """Whether the map's focus incident is contested (and coloured by group): attributed to two or
    more groups, or attributed by some and disputed or denied by others."""
    focus = scene.focus
    if focus is None or scene.color_by != "group" or not focus.groups:
        return False
    return len(focus.groups) >= 2 or any(c.stance not in AFFIRMATIVE_STANCES for c in focus.claims)


def reach_text(scene: Scene, reach, in_view: bool) -> str:
    """`Kata'ib Hezbollah: Jurf al-Sakhar, 290 km (inset)`: a claimed group's nearest zone and its distance."""
    where = "on the map" if in_view else "inset"
    return f"{scene.group_name(reach.group)}: {reach.zone.name.split(' (')[0]}, {distance_text(reach.distance)} ({where})"


class Claims(Layer):
    """The focus incident's contested attribution: split marker, callout, nearest zone of each claimed group."""

    name = "claims"
    title = "Who claims what"

    def applies(self, scene: Scene) -> bool:
        return contested_focus(scene)

    def to_folium(self, fmap: folium.Map, scene: Scene) -> None:
        focus = scene.focus
        html = Markup('<span role="note">{}</span>').format(who_claims_what(scene, focus))
        group = overlay(fmap, "Who claims what (focus incident)")
        group.add_child(JsCall("labels", collection([feature(focus.lon, focus.lat, cls="gm-callout", html=str(html),
                                                             pane="gmLabels")])))

    def to_axes(self, ax, scene: Scene, frame: Frame) -> None:
        focus = scene.focus
        x, y = frame.projection.xy([focus.lon], [focus.lat])
        metres_per_pt = (frame.view[1] - frame.view[0]) / frame.width_px * frame.dpi / 72
        radius = FOCUS_RADIUS_PT * metres_per_pt
        colors = [category_color(scene, g) for g in focus.groups]
        step = 360 / len(colors)
        for i, color in enumerate(colors):
            ax.add_patch(Wedge((x[0], y[0]), radius, 90 + i * step, 90 + (i + 1) * step, facecolor=color,
                               edgecolor=FOCUS_OUTLINE, linewidth=1.6, zorder=6.6))
        text = mpl_text("Claimed by \u2014 " + who_claims_what(scene, focus))
        frame.label(1.5, x[0], y[0], _wrapped(text, 46), xytext=(14, -14), ha="left", va="top", zorder=8.5,
                    fontsize=frame.font_size * 0.8, color="#111111", linespacing=1.25, multialignment="left",
                    bbox={"boxstyle": "round,pad=0.35", "facecolor": "white", "edgecolor": "#333333",
                          "linewidth": 0.7, "alpha": 0.95}, leader=True)

    def legend(self, scene: Scene) -> list[LegendEntry]:
        focus = scene.focus
        section = "Who claims the focus incident"
        marks = [Mark(color=FOCUS_OUTLINE, fill=category_color(scene, g), fill_opacity=0.95, weight=2.0, radius=7.0)
                 for g in focus.groups]
        split = " (marker split in their colours)" if len(marks) > 1 else ""
        entries = [LegendEntry(f"{who_claims_what(scene, focus)}{split}", "point", marks[0], section)]
        view = scene.extent
        for reach in scene.claimed_zones:
            bounds = reach.zone.geometry.bounds
            in_view = bounds[0] < view[2] and bounds[2] > view[0] and bounds[1] < view[3] and bounds[3] > view[1]
            entries.append(LegendEntry(reach_text(scene, reach, in_view), "area",
                                       Mark(color=category_color(scene, reach.group),
                                            fill=category_color(scene, reach.group), fill_opacity=0.3, weight=1.5),
                                       "Nearest zone of each claimed group"))
        return entries


def _wrapped(text: str, width: int) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def displaced(points: np.ndarray, centre: tuple[float, float], clearance: float) -> np.ndarray:
    """Points closer than `clearance` to `centre` moved out to `clearance`, spread evenly around it
    (so that markers coincident with the focus show beside it, not under or over it)."""
    out = points.astype(float).copy()
    near = np.flatnonzero(np.hypot(out[:, 0] - centre[0], out[:, 1] - centre[1]) < clearance)
    for k, i in enumerate(near):
        angle = np.radians(210 + k * 360 / max(len(near), 1))
        out[i] = (centre[0] + clearance * np.cos(angle), centre[1] + clearance * np.sin(angle))
    return out
