"""What a printed map has besides its layers: named groups for the SVG, the scale bar, the north
arrow and the inset locator map (with the nearest zone of each claimed group when it lies off the map).
"""
from __future__ import annotations

import numpy as np
from matplotlib.artist import Artist, allow_rasterization
from matplotlib.collections import PatchCollection
from matplotlib.patches import PathPatch, Rectangle
from shapely.geometry import Point, box
from shapely.ops import nearest_points

from geomap.layers.base import Frame, polygon_path
from geomap.layers.basemap import LAND, LAND_EDGE, WATER, shapes
from geomap.layers.geo import nice_length
from geomap.layers.scene import Scene
from geomap.layers.style import category_color
from geomap.layers.text import mpl_text


class LayerGroup(Artist):
    """Artists drawn as one named group (`<g id="...">` in SVG), in their own z-order, so that a
    graphic opens in Illustrator or Inkscape with one group per map layer."""

    def __init__(self, gid: str, children: list[Artist], zorder: float) -> None:
        super().__init__()
        self.set_gid(gid)
        self.set_zorder(zorder)
        self.children = children

    def get_children(self) -> list[Artist]:
        return list(self.children)

    @allow_rasterization
    def draw(self, renderer) -> None:
        if not self.get_visible():
            return
        renderer.open_group("layer", gid=self.get_gid())
        for child in sorted(self.children, key=lambda a: a.get_zorder()):
            child.draw(renderer)
        renderer.close_group("layer")
        self.stale = False


def group_new(ax, before: set[int], gid: str, zorder: float) -> LayerGroup:
    """Move the artists added to `ax` since `before` (ids of its children then) into one named group."""
    new = [a for a in ax._children if id(a) not in before]
    ax._children = [a for a in ax._children if id(a) in before]  # the group draws them now
    group = LayerGroup(gid, new, zorder)
    ax.add_artist(group)
    return group


def children_ids(ax) -> set[int]:
    """The ids of the artists `ax` holds now (see `group_new`)."""
    return {id(a) for a in ax._children}


def scale_bar(ax, frame: Frame, font: float) -> list:
    """A four-part scale bar in km, bottom left, on a white backdrop; returns its texts (end label first)."""
    xmin, xmax, ymin, ymax = frame.view
    length = nice_length((xmax - xmin) / 5)
    height = (ymax - ymin) * 0.012
    x0, y0 = xmin + (xmax - xmin) * 0.04, ymin + (ymax - ymin) * 0.05
    pad = (xmax - xmin) * 0.012
    before = children_ids(ax)
    ax.add_patch(Rectangle((x0 - pad, y0 - pad), length + 2 * pad + (xmax - xmin) * 0.05,
                           height * 3.6 + 2 * pad, facecolor="white", edgecolor="none", alpha=0.85, zorder=9))
    for i in range(4):
        ax.add_patch(Rectangle((x0 + i * length / 4, y0), length / 4, height, facecolor="#111111" if i % 2 == 0
                               else "white", edgecolor="#111111", linewidth=0.6, zorder=10))
    texts = []
    for value, x in ((length, x0 + length), (0, x0), (length / 2, x0 + length / 2)):
        label = f"{value / 1000:g}" + (" km" if value == length else "")
        texts.append(ax.text(x, y0 + height * 1.6, label, ha="center", va="bottom", fontsize=font, zorder=10))
    group_new(ax, before, "scale-bar", 10)
    return texts


def north_arrow(ax, font: float):
    """North is straight up at the centre of this projection (and within a degree across a view)."""
    before = children_ids(ax)
    arrow = ax.annotate("N", xy=(0.955, 0.95), xytext=(0.955, 0.845), xycoords="axes fraction", ha="center",
                        va="center", fontsize=font, fontweight="bold", zorder=10,
                        bbox={"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "#333333",
                              "linewidth": 0.6},
                        arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7", "color": "#111111",
                                    "linewidth": 1.4})
    group_new(ax, before, "north-arrow", 10.1)
    return arrow


def inset(figure, rect, scene: Scene, frame: Frame, font: float):
    """Where the map is: the region's countries in plain lon/lat with the view as a red box, and
    the nearest zone of each claimed group with a line from the focus to it."""
    ax = figure.add_axes(rect)
    ax.set_gid("inset")
    xmin, xmax, ymin, ymax = frame.view
    xs, ys = np.array([xmin, xmax, xmax, xmin, xmin]), np.array([ymin, ymin, ymax, ymax, ymin])
    lons, lats = frame.projection.transformer.transform(xs, ys, direction="INVERSE")
    cx, cy, span = _inset_view(lons, lats, scene)
    aspect = rect[2] * figure.bbox.width / (rect[3] * figure.bbox.height)
    half_w = span / 2
    half_h = half_w * np.cos(np.radians(cy)) / aspect
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_facecolor(WATER)
    ax.set_xticks([])
    ax.set_yticks([])
    patches, faces, labels = [], [], []
    for props, geom in shapes("countries"):
        for polygon in getattr(geom, "geoms", [geom]):
            patches.append(PathPatch(polygon_path(polygon)))
            faces.append("#ebe5d8" if props.get("focus") else LAND)
        seen = geom.intersection(box(cx - half_w * 0.85, cy - half_h * 0.8, cx + half_w * 0.85, cy + half_h * 0.8))
        if props.get("focus") and not seen.is_empty and seen.area > half_w * half_h * 0.04:
            labels.append((seen.representative_point(), props["name"]))
    ax.add_collection(PatchCollection(patches, facecolors=faces, edgecolors=LAND_EDGE, linewidths=0.4),
                      autolim=False)
    _claimed_zones(ax, scene)
    ax.plot(lons, lats, color="#d62728", linewidth=1.4)
    for point, name in labels:
        ax.text(point.x, point.y, mpl_text(name), ha="center", va="center", fontsize=font, color="#666666")
    for spine in ax.spines.values():
        spine.set_edgecolor("#555555")
        spine.set_linewidth(0.6)
    return ax


def _inset_view(lons, lats, scene: Scene) -> tuple[float, float, float]:
    """The inset's centre and span in degrees: the map's box, widened to the claimed groups' zones."""
    west, east, south, north = np.min(lons), np.max(lons), np.min(lats), np.max(lats)
    for reach in scene.claimed_zones:
        zw, zs, ze, zn = reach.zone.geometry.bounds
        west, east, south, north = min(west, zw), max(east, ze), min(south, zs), max(north, zn)
    cx, cy = (west + east) / 2, (south + north) / 2
    span = float(np.clip(max(east - west, north - south) * 1.35, 9.0, 24.0))
    if not scene.claimed_zones:
        cx, cy = float(np.mean(lons[:4])), float(np.mean(lats[:4]))
        span = float(np.clip(max(np.ptp(lons), np.ptp(lats)) * 3, 9.0, 24.0))
    return float(cx), float(cy), span


def _claimed_zones(ax, scene: Scene) -> None:
    if scene.focus is None:
        return
    focus = Point(scene.focus.lon, scene.focus.lat)
    for reach in scene.claimed_zones:
        color = category_color(scene, reach.group)
        for polygon in getattr(reach.zone.geometry, "geoms", [reach.zone.geometry]):
            ax.add_patch(PathPatch(polygon_path(polygon), facecolor=color, alpha=0.55, edgecolor=color, linewidth=1.0,
                                   zorder=3))
        near = nearest_points(focus, reach.zone.geometry)[1]
        ax.plot([focus.x, near.x], [focus.y, near.y], color=color, linewidth=1.2, linestyle=(0, (3, 2)), zorder=4)
    ax.plot([focus.x], [focus.y], marker="o", markersize=4, color="#000000", zorder=5)
