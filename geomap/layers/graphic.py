"""Static graphics for print and social media: PNG or SVG, drawn by matplotlib (Agg) alone.

The same layers as the interactive map draw into a local azimuthal equidistant projection; this
module adds what a printed map needs: title, legend, a scale bar in km, a north arrow, an inset
locator map and a credit line with the sources, the basemap attribution and the data version.
No browser and no network are involved.
"""
from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, PathPatch, Rectangle
from shapely.geometry import box

from geomap.errors import BadRequest
from geomap.layers.base import Frame, Layer, mpl_line_style, mpl_patch_style, polygon_path
from geomap.layers.basemap import ATTRIBUTION, LAND, LAND_EDGE, WATER, shapes
from geomap.layers.geo import nice_length, padded, projected_view
from geomap.layers.scene import Scene
from geomap.layers.style import LegendEntry
from geomap.layers.text import mpl_text

FORMATS = ("png", "svg")
MAX_DPI, MIN_DPI = 300, 50
MIN_SIDE, MAX_SIDE, MAX_PIXELS = 300, 10_000, 40_000_000
MM_PER_INCH = 25.4
# name: (width, height, unit, default dpi, font scale); A4 in millimetres, social cards in pixels
PRESETS = {
    "a4": (297, 210, "mm", 150, 1.0),
    "a4-portrait": (210, 297, "mm", 150, 1.0),
    "social": (1200, 630, "px", 100, 1.45),
    "social-square": (1080, 1080, "px", 100, 1.45),
}
DEFAULT_SIZE = (1600, 1000, 150)
RC = {"svg.fonttype": "none", "svg.hashsalt": "geomap", "font.family": "DejaVu Sans", "text.usetex": False,
      "hatch.linewidth": 0.6}


@dataclass(frozen=True)
class Size:
    """Pixel size, resolution and type scale of a graphic."""

    width: int
    height: int
    dpi: float
    font_scale: float = 1.0

    @classmethod
    def parse(cls, width: int | None = None, height: int | None = None, dpi: float | None = None,
              preset: str | None = None) -> Size:
        """Validate a size request; `preset` fixes the shape, `dpi` then sets the pixel count."""
        if dpi is not None and not MIN_DPI <= dpi <= MAX_DPI:
            raise BadRequest(f"dpi: must be between {MIN_DPI} and {MAX_DPI}; got {dpi:g}")
        if preset is not None:
            return cls._preset(preset, width, height, dpi)
        w, h, default_dpi = DEFAULT_SIZE
        size = cls(width or w, height or h, dpi or default_dpi)
        size.check()
        return size

    @classmethod
    def _preset(cls, preset: str, width, height, dpi) -> Size:
        if preset not in PRESETS:
            raise BadRequest(f"preset: must be one of {', '.join(PRESETS)}; got {preset!r}")
        if width is not None or height is not None:
            raise BadRequest("preset: give either a preset or width/height, not both")
        w, h, unit, default_dpi, scale = PRESETS[preset]
        dpi = dpi or default_dpi
        if unit == "mm":
            size = cls(round(w / MM_PER_INCH * dpi), round(h / MM_PER_INCH * dpi), dpi, scale)
        else:
            size = cls(w, h, dpi, scale)
        size.check()
        return size

    def check(self) -> None:
        for name, value in (("width", self.width), ("height", self.height)):
            if not MIN_SIDE <= value <= MAX_SIDE:
                raise BadRequest(f"{name}: must be between {MIN_SIDE} and {MAX_SIDE} pixels; got {value}")
        if self.width * self.height > MAX_PIXELS:
            raise BadRequest(f"width x height: at most {MAX_PIXELS:,} pixels; lower the size or the dpi")

    @property
    def font(self) -> float:
        """Base font size in points: about 1/90 of the short side, within print-legible bounds."""
        short_in = min(self.width, self.height) / self.dpi
        return float(np.clip(short_in * 1.05 * self.font_scale, 6.5, 18))


@dataclass(frozen=True)
class Layout:
    """Figure-fraction rectangles (left, bottom, width, height) of each part."""

    map: tuple[float, float, float, float]
    inset: tuple[float, float, float, float]
    legend_anchor: tuple[float, float]  # upper-left corner of the legend
    legend_width: float
    legend_bottom: float
    title_y: float
    credit_y: float
    margin: float


def render(scene: Scene, layers: Sequence[Layer], fmt: str, size: Size) -> bytes:
    """The graphic as PNG or SVG bytes, exactly `size.width` x `size.height` pixels."""
    if fmt not in FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
    with rc_context(RC), warnings.catch_warnings():
        # A title or label may hold characters no installed font has: they are drawn as boxes,
        # and matplotlib's warning about each must not fail the request (schemathesis found it).
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure = Figure(figsize=(size.width / size.dpi, size.height / size.dpi), dpi=size.dpi, facecolor="white")
        FigureCanvasAgg(figure)
        drawn = [layer for layer in layers if layer.applies(scene)]
        credit = credit_text(scene)
        layout = _layout(size, credit)
        ax, frame = _map_axes(figure, scene, size, layout)
        for layer in drawn:
            layer.to_axes(ax, scene, frame)
        furniture = [_scale_bar(ax, frame), _north_arrow(ax, frame)]
        _place_labels(figure, ax, frame, furniture)
        _titles(figure, scene, size, layout)
        _legend(figure, [e for layer in drawn for e in layer.legend(scene)], size, layout)
        _inset(figure, scene, frame, layout)
        _credit(figure, credit, size, layout)
        out = BytesIO()
        metadata = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
        figure.savefig(out, format=fmt, dpi=size.dpi, facecolor="white", metadata=metadata)
    data = out.getvalue()
    return _svg_pixels(data, size) if fmt == "svg" else data


def _svg_pixels(data: bytes, size: Size) -> bytes:
    """Give the SVG its size in pixels (matplotlib writes points; the viewBox keeps the drawing)."""
    text = data.decode("utf-8")
    text = re.sub(r'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"',
                  lambda m: f'<svg{m.group(1)} width="{size.width}px" height="{size.height}px"', text, count=1)
    return text.encode("utf-8")


def _px(size: Size, points: float) -> float:
    return points * size.dpi / 72


def _layout(size: Size, credit: str) -> Layout:
    W, H, font = size.width, size.height, size.font
    margin = _px(size, font * 1.2)
    top = margin + _px(size, font * 1.75) * 1.25 + _px(size, font) * 1.5
    credit_lines = len(_wrap(credit, size, font * 0.78))
    bottom = margin + credit_lines * _px(size, font * 0.78) * 1.35 + _px(size, font * 0.4)
    gap = _px(size, font * 1.0)
    if W / H >= 1.15:  # landscape: legend panel on the right
        panel = max(W * 0.27, _px(size, font * 19))
        map_box = (margin, bottom, W - panel - gap - 2 * margin, H - top - bottom)
        inset_h = min(panel * 0.62, map_box[3] * 0.36)
        inset = (W - margin - panel, H - top - inset_h, panel, inset_h)
        legend = (W - margin - panel, H - top - inset_h - gap)
        legend_w, legend_bottom = panel, bottom
    else:  # portrait: legend and inset under the map
        panel_h = (H - top - bottom) * 0.33
        map_box = (margin, bottom + panel_h + gap, W - 2 * margin, H - top - bottom - panel_h - gap)
        inset_w = min((W - 2 * margin) * 0.34, panel_h * 1.4)
        inset = (margin, bottom + panel_h - panel_h * 0.95, inset_w, panel_h * 0.95)
        legend = (margin + inset_w + gap, bottom + panel_h)
        legend_w, legend_bottom = W - 2 * margin - inset_w - gap, bottom
    frac = lambda box: (box[0] / W, box[1] / H, box[2] / W, box[3] / H)  # noqa: E731
    return Layout(frac(map_box), frac(inset), (legend[0] / W, legend[1] / H), legend_w / W, legend_bottom / H,
                  1 - margin / H, margin / H, margin / W)


def _map_axes(figure: Figure, scene: Scene, size: Size, layout: Layout):
    ax = figure.add_axes(layout.map)
    width_px, height_px = layout.map[2] * size.width, layout.map[3] * size.height
    projection, view = projected_view(padded(scene.extent, 0.03, 0.02), width_px / height_px)
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#555555")
        spine.set_linewidth(0.8)
    return ax, Frame(projection, view, int(width_px), int(height_px), size.dpi, size.font)


def _place_labels(figure: Figure, ax, frame: Frame, furniture: list) -> None:
    """Place the labels the layers asked for, most important first, leaving out any that would
    overlap one already placed, the scale bar or the north arrow, or stick out of the map."""
    renderer = figure.canvas.get_renderer()
    limits = ax.get_window_extent(renderer)
    placed = [artist.get_window_extent(renderer) for artist in furniture]
    for _, _, x, y, text, style in sorted(frame.labels, key=lambda item: item[:2]):
        style = dict(style)
        dot = style.pop("dot", None)
        offset = style.pop("xytext", (0, 0))
        artist = ax.annotate(text, (x, y), xytext=offset, textcoords="offset points", annotation_clip=True, **style)
        box = artist.get_window_extent(renderer).expanded(1.06, 1.15)
        inside = limits.x0 <= box.x0 and box.x1 <= limits.x1 and limits.y0 <= box.y0 and box.y1 <= limits.y1
        if not inside or any(box.overlaps(other) for other in placed):
            artist.remove()
            continue
        placed.append(box)
        if dot:
            ax.plot([x], [y], linestyle="none", **dot)


def _titles(figure: Figure, scene: Scene, size: Size, layout: Layout) -> None:
    figure.text(layout.margin, layout.title_y, mpl_text(scene.title), ha="left", va="top", fontsize=size.font * 1.75,
                fontweight="bold", color="#111111", wrap=False)
    figure.text(layout.margin, layout.title_y - (size.font * 1.75 * 1.35) / 72 * size.dpi / size.height,
                mpl_text(scene.subtitle), ha="left", va="top", fontsize=size.font, color="#444444")


def _legend(figure: Figure, entries: list[LegendEntry], size: Size, layout: Layout) -> None:
    """The legend, drawn row by row in its own axes (units: points from the top left)."""
    if not entries:
        return
    left, top = layout.legend_anchor
    rect = (left, layout.legend_bottom, layout.legend_width, top - layout.legend_bottom)
    ax = figure.add_axes(rect)
    ax.set_axis_off()
    width, height = rect[2] * size.width / size.dpi * 72, rect[3] * size.height / size.dpi * 72
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    font = size.font * 0.85
    while font > 5.5 and _legend_height(entries, width, font) > height:
        font *= 0.93
    y, section = 0.0, None
    for entry in entries:
        if entry.section != section:
            section = entry.section
            y -= font * 0.5 if y else 0
            ax.text(0, y, mpl_text(section), va="top", fontsize=font, fontweight="bold", color="#333333")
            y -= font * 1.45
        lines = _legend_lines(entry.label, width, font)
        _symbol(ax, entry, font * 1.1, y - font * 0.62, font)
        ax.text(font * 2.6, y, mpl_text("\n".join(lines)), va="top", fontsize=font, color="#222222", linespacing=1.2)
        y -= font * 1.2 * len(lines) + font * 0.32


def _legend_lines(label: str, width: float, font: float) -> list[str]:
    return textwrap.wrap(label, max(int((width - font * 2.6) / (font * 0.56)), 12))


def _legend_height(entries: list[LegendEntry], width: float, font: float) -> float:
    sections = len({e.section for e in entries})
    rows = sum(font * 1.2 * len(_legend_lines(e.label, width, font)) + font * 0.32 for e in entries)
    return rows + sections * font * 1.95


def _symbol(ax, entry: LegendEntry, x: float, y: float, font: float) -> None:
    m = entry.mark
    if entry.symbol == "line":
        ax.plot([x - font * 0.9, x + font * 0.9], [y, y], **mpl_line_style(m))
    elif entry.symbol == "area":
        ax.add_patch(Rectangle((x - font * 0.85, y - font * 0.48), font * 1.7, font * 0.96, **mpl_patch_style(m)))
    elif entry.symbol == "circle":
        ax.add_patch(Circle((x, y), font * 0.6, **mpl_patch_style(m)))
    else:
        marker = "^" if entry.symbol == "site" else "o"
        ax.plot([x], [y], marker=marker, linestyle="none", markersize=min(m.radius * 1.5, font * 1.25),
                markerfacecolor=to_rgba(m.fill or m.color, m.fill_opacity if m.fill else 1), markeredgecolor=m.color,
                markeredgewidth=min(m.weight * 0.8, 1.6))


def _scale_bar(ax, frame: Frame):
    xmin, xmax, ymin, ymax = frame.view
    length = nice_length((xmax - xmin) / 5)
    height = (ymax - ymin) * 0.012
    x0, y0 = xmin + (xmax - xmin) * 0.04, ymin + (ymax - ymin) * 0.05
    pad = (xmax - xmin) * 0.012
    backdrop = ax.add_patch(Rectangle((x0 - pad, y0 - pad), length + 2 * pad + (xmax - xmin) * 0.05,
                                      height * 3.6 + 2 * pad, facecolor="white", edgecolor="none", alpha=0.85,
                                      zorder=9))
    for i in range(4):
        ax.add_patch(Rectangle((x0 + i * length / 4, y0), length / 4, height, facecolor="#111111" if i % 2 == 0
                               else "white", edgecolor="#111111", linewidth=0.6, zorder=10))
    for value, x in ((0, x0), (length / 2, x0 + length / 2), (length, x0 + length)):
        label = f"{value / 1000:g}" + (" km" if value == length else "")
        ax.text(x, y0 + height * 1.6, label, ha="center", va="bottom", fontsize=frame.font_size * 0.78, zorder=10)
    return backdrop


def _north_arrow(ax, frame: Frame):
    """North is straight up at the centre of this projection (and within a degree across a view)."""
    return ax.annotate("N", xy=(0.955, 0.95), xytext=(0.955, 0.845), xycoords="axes fraction", ha="center", va="center",
                fontsize=frame.font_size * 1.05, fontweight="bold", zorder=10,
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": "white", "edgecolor": "#333333", "linewidth": 0.6},
                arrowprops={"arrowstyle": "-|>,head_width=0.35,head_length=0.7", "color": "#111111", "linewidth": 1.4})


def _inset(figure: Figure, scene: Scene, frame: Frame, layout: Layout) -> None:
    """Where the map is: the region's countries in plain lon/lat with the view as a red box."""
    ax = figure.add_axes(layout.inset)
    xmin, xmax, ymin, ymax = frame.view
    xs, ys = np.array([xmin, xmax, xmax, xmin, xmin]), np.array([ymin, ymin, ymax, ymax, ymin])
    lons, lats = frame.projection.transformer.transform(xs, ys, direction="INVERSE")
    cx, cy = float(np.mean(lons[:4])), float(np.mean(lats[:4]))
    span = float(np.clip(max(np.ptp(lons), np.ptp(lats)) * 3, 9.0, 24.0))
    aspect = layout.inset[2] * figure.bbox.width / (layout.inset[3] * figure.bbox.height)
    kx = np.cos(np.radians(cy))
    half_w = span / 2
    half_h = half_w * kx / aspect
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_facecolor(WATER)
    ax.set_xticks([])
    ax.set_yticks([])
    for props, geom in shapes("countries"):
        for polygon in getattr(geom, "geoms", [geom]):
            ax.add_patch(PathPatch(polygon_path(polygon), facecolor=LAND if not props.get("focus") else "#ebe5d8",
                                   edgecolor=LAND_EDGE, linewidth=0.4))
        seen = geom.intersection(box(cx - half_w * 0.85, cy - half_h * 0.8, cx + half_w * 0.85, cy + half_h * 0.8))
        if props.get("focus") and not seen.is_empty and seen.area > half_w * half_h * 0.04:
            point = seen.representative_point()
            ax.text(point.x, point.y, mpl_text(props["name"]), ha="center", va="center", fontsize=frame.font_size * 0.7,
                    color="#666666")
    ax.plot(lons, lats, color="#d62728", linewidth=1.4)
    for spine in ax.spines.values():
        spine.set_edgecolor("#555555")
        spine.set_linewidth(0.6)


def credit_text(scene: Scene, limit: int = 14) -> str:
    """The credit line under a static map: the sources' publishers (at most `limit` named), the basemap's
    attribution, the data version, and how estimated locations are drawn.
    """
    names = scene.publishers()
    documents = len(scene.sources())
    shown = "; ".join(names[:limit]) + (f"; and {len(names) - limit} more" if len(names) > limit else "")
    where = f" (full list: {scene.links['page']})" if scene.links.get("page") else ""
    sources = f"Sources: {shown} \u2014 {documents} documents{where}." if names else "Sources: none recorded."
    return (f"{sources} Basemap: {ATTRIBUTION} Data version {scene.data_version}. Dashed, hollow markers and "
            f"circles show estimated locations and their uncertainty.")


def _wrap(text: str, size: Size, font: float) -> list[str]:
    chars = max(int((size.width * 0.96) / _px(size, font * 0.55)), 30)
    return textwrap.wrap(text, chars)


def _credit(figure: Figure, credit: str, size: Size, layout: Layout) -> None:
    font = size.font * 0.78
    figure.text(layout.margin, layout.credit_y, mpl_text("\n".join(_wrap(credit, size, font))), ha="left",
                va="bottom", fontsize=font, color="#444444", linespacing=1.35)
