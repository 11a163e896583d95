"""Static graphics for print and social media: PNG, SVG or PDF, drawn by matplotlib (Agg) alone.

The same layers as the interactive map draw into a local azimuthal equidistant projection; this
module adds what a printed map needs: title, legend, a scale bar in km, a north arrow, an inset
locator map and a credit line (`geomap.layers.credit`). Text is measured as it will be drawn:
the title wraps (two lines at most, smaller before it is shortened), no text is smaller than
9 pt on paper or 14 px on a screen, and a last pass (`geomap.layers.textfit.settle`) keeps every
text inside the canvas and off every other. SVG keeps text as text and has one named group per
part and per map layer; the PDF is vector. No browser and no network are involved.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle
from matplotlib.transforms import Bbox

from geomap.errors import BadRequest
from geomap.layers.base import Frame, Layer, mpl_line_style, mpl_patch_style
from geomap.layers.credit import fitted_credit
from geomap.layers.furniture import children_ids, group_new, inset, north_arrow, scale_bar
from geomap.layers.geo import padded, projected_view
from geomap.layers.scene import Scene
from geomap.layers.style import LegendEntry
from geomap.layers.text import mpl_text
from geomap.layers.textfit import Measure, settle

FORMATS = ("png", "svg", "pdf")
MAX_DPI, MIN_DPI = 300, 50
MIN_SIDE, MAX_SIDE, MAX_PIXELS = 300, 10_000, 40_000_000
MM_PER_INCH = 25.4
MIN_PRINT_PT, MIN_SCREEN_PX = 9.0, 14.0  # the smallest text: 9 pt on paper, 14 px on a screen
# name: (width, height, unit, default dpi, font scale, credit lines); A4 in millimetres, social cards in pixels
PRESETS = {
    "a4": (297, 210, "mm", 150, 1.0, 2),
    "a4-portrait": (210, 297, "mm", 150, 1.0, 2),
    "social": (1200, 630, "px", 100, 1.45, 1),
    "social-square": (1080, 1080, "px", 100, 1.45, 1),
}
DEFAULT_SIZE = (1600, 1000, 150)
RC = {"svg.fonttype": "none", "svg.hashsalt": "geomap", "font.family": "DejaVu Sans", "text.usetex": False,
      "hatch.linewidth": 0.6, "pdf.fonttype": 42}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
            "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}
LEGEND_ORDER = ("claims", "incidents", "zones", "distances", "sites", "uncertainty", "rings")
SAVE_OPTIONS = {"png": {"pil_kwargs": {"compress_level": 2}}}  # zlib level 2: a third of level 6's time


@dataclass(frozen=True)
class Size:
    """Pixel size, resolution and type scale of a graphic."""

    width: int
    height: int
    dpi: float
    font_scale: float = 1.0
    credit_lines: int = 2  # one at social sizes, two at A4

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
        w, h, unit, default_dpi, scale, lines = PRESETS[preset]
        dpi = dpi or default_dpi
        if unit == "mm":
            size = cls(round(w / MM_PER_INCH * dpi), round(h / MM_PER_INCH * dpi), dpi, scale, lines)
        else:
            size = cls(w, h, dpi, scale, lines)
        size.check()
        return size

    def check(self) -> None:
        for name, value in (("width", self.width), ("height", self.height)):
            if not MIN_SIDE <= value <= MAX_SIDE:
                raise BadRequest(f"{name}: must be between {MIN_SIDE} and {MAX_SIDE} pixels; got {value}")
        if self.width * self.height > MAX_PIXELS:
            raise BadRequest(f"width x height: at most {MAX_PIXELS:,} pixels; lower the size or the dpi")

    @property
    def min_text(self) -> float:
        """The smallest text in points: 9 pt printed, and never under 14 px on a screen."""
        return max(MIN_PRINT_PT, MIN_SCREEN_PX * 72 / self.dpi)

    @property
    def font(self) -> float:
        """Base font size in points: about 1/90 of the short side, and large enough that the
        smallest text drawn from it (3/4 of it) is `min_text`."""
        short_in = min(self.width, self.height) / self.dpi
        return max(float(np.clip(short_in * 1.05 * self.font_scale, 6.5, 18)), self.min_text / 0.75)

    def px(self, points: float) -> float:
        """Points as pixels at this size's resolution."""
        return points * self.dpi / 72


@dataclass(frozen=True)
class Layout:
    """Figure-fraction rectangles (left, bottom, width, height) of the map, the inset and the legend."""

    map: tuple[float, float, float, float]
    inset: tuple[float, float, float, float]
    legend: tuple[float, float, float, float]


@dataclass(frozen=True)
class Texts:
    """The lines of the title, subtitle and credit, fitted to the width, and their sizes in points."""

    title: list[str]
    title_pt: float
    subtitle: list[str]
    subtitle_pt: float
    credit: list[str]
    credit_pt: float
    margin_px: float

    def header_px(self, size: Size) -> float:
        return size.px(self.title_pt) * 1.22 * len(self.title) + size.px(self.subtitle_pt) * (
            0.45 + 1.3 * len(self.subtitle))

    def credit_px(self, size: Size) -> float:
        return size.px(self.credit_pt) * 1.35 * len(self.credit)


def render(scene: Scene, layers: Sequence[Layer], fmt: str, size: Size) -> bytes:
    """The graphic as PNG, SVG or PDF bytes (one figure, drawn once per format), exactly
    `size.width` x `size.height` pixels (PDF: the same size in points at `size.dpi`)."""
    if fmt not in FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
    with rc_context(RC), warnings.catch_warnings():
        # A title or label may hold characters no installed font has: they are drawn as boxes,
        # and matplotlib's warning about each must not fail the request (schemathesis found it).
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure = draw(scene, layers, size)
        out = BytesIO()
        figure.savefig(out, format=fmt, dpi=size.dpi, facecolor="white", metadata=METADATA[fmt],
                       **SAVE_OPTIONS.get(fmt, {}))
    data = out.getvalue()
    return _svg_pixels(data, size) if fmt == "svg" else data


def draw(scene: Scene, layers: Sequence[Layer], size: Size) -> Figure:
    """The figure of a graphic, drawn and settled: every text inside the canvas, none over another.
    Each part is a named group in SVG: title, subtitle, legend, inset, map (with one group per
    layer, the labels, the scale bar and the north arrow) and credit."""
    figure = Figure(figsize=(size.width / size.dpi, size.height / size.dpi), dpi=size.dpi, facecolor="white")
    renderer = FigureCanvasAgg(figure).get_renderer()
    measure = Measure(renderer)
    drawn = [layer for layer in layers if layer.applies(scene)]
    texts = _texts(scene, size, measure)
    layout = _layout(size, texts)
    ax, frame = _map_axes(figure, scene, size, layout)
    for index, layer in enumerate(drawn):
        before = children_ids(ax)
        layer.to_axes(ax, scene, frame)
        group_new(ax, before, f"layer-{layer.name}", 1 + index * 0.5)
    small = max(size.min_text, size.font * 0.78)
    furniture = [*scale_bar(ax, frame, small), north_arrow(ax, size.font)]
    labels = _place_labels(figure, ax, frame, furniture)
    header = _header(figure, texts, size)
    credit = _credit(figure, texts, size)
    legend = _legend(figure, legend_entries(scene, drawn), size, layout, measure)
    inset_ax = inset(figure, layout.inset, scene, frame, small)
    settle(figure, renderer, [*header, credit, *legend, *furniture, *labels, *inset_ax.texts])
    return figure


def legend_entries(scene: Scene, drawn: Sequence[Layer]) -> list[LegendEntry]:
    """The legend's entries, most needed first (who is claimed, the incidents' colours, the zones),
    so that a small graphic that cannot show them all leaves out the least needed."""
    order = {name: i for i, name in enumerate(LEGEND_ORDER)}
    ranked = sorted(drawn, key=lambda layer: order.get(layer.name, len(order)))
    return [entry for layer in ranked for entry in layer.legend(scene)]


def _svg_pixels(data: bytes, size: Size) -> bytes:
    """Give the SVG its size in pixels (matplotlib writes points; the viewBox keeps the drawing)."""
    text = data.decode("utf-8")
    text = re.sub(r'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"',
                  lambda m: f'<svg{m.group(1)} width="{size.width}px" height="{size.height}px"', text, count=1)
    return text.encode("utf-8")


def _texts(scene: Scene, size: Size, measure: Measure) -> Texts:
    """The title (at most two lines, smaller before it is shortened), subtitle and credit, fitted."""
    margin = size.px(size.font * 1.0)
    width = size.width - 2 * margin
    title_pt = max(size.font * 1.6, size.min_text)
    title = measure.wrap(mpl_text(scene.title), title_pt, width, "bold")
    while len(title) > 2 and title_pt > size.min_text:
        title_pt = max(size.min_text, title_pt * 0.9)
        title = measure.wrap(mpl_text(scene.title), title_pt, width, "bold")
    title = measure.fit_lines(mpl_text(scene.title), title_pt, width, 2, "bold")
    subtitle_pt = max(size.font * 0.85, size.min_text)
    subtitle = measure.fit_lines(mpl_text(scene.subtitle), subtitle_pt, width, 2) if scene.subtitle else []
    credit_pt = size.min_text
    line = fitted_credit(scene, lambda text: len(measure.wrap(mpl_text(text), credit_pt, width)) <= size.credit_lines)
    credit = measure.fit_lines(mpl_text(line), credit_pt, width, size.credit_lines)
    return Texts(title, title_pt, subtitle, subtitle_pt, credit, credit_pt, margin)


def _layout(size: Size, texts: Texts) -> Layout:
    W, H, margin = size.width, size.height, texts.margin_px
    top = margin + texts.header_px(size) + size.px(size.font * 0.5)
    bottom = margin + texts.credit_px(size) + size.px(size.font * 0.4)
    gap = size.px(size.font * 0.8)
    if W / H >= 1.15:  # landscape: inset and legend in a panel on the right
        panel = min(max(W * 0.27, size.px(size.font * 17)), W * 0.42)
        map_box = (margin, bottom, W - panel - gap - 2 * margin, H - top - bottom)
        inset_h = min(panel * 0.62, map_box[3] * 0.34)
        inset_box = (W - margin - panel, H - top - inset_h, panel, inset_h)
        legend = (W - margin - panel, bottom, panel, H - top - inset_h - gap - bottom)
    else:  # portrait: inset and legend under the map
        panel_h = (H - top - bottom) * 0.36
        map_box = (margin, bottom + panel_h + gap, W - 2 * margin, H - top - bottom - panel_h - gap)
        inset_w = min((W - 2 * margin) * 0.3, panel_h * 1.3)
        inset_box = (margin, bottom + panel_h * 0.05, inset_w, panel_h * 0.95)
        legend = (margin + inset_w + gap, bottom, W - 2 * margin - inset_w - gap, panel_h)
    frac = lambda b: (b[0] / W, b[1] / H, max(b[2], 1) / W, max(b[3], 1) / H)  # noqa: E731
    return Layout(frac(map_box), frac(inset_box), frac(legend))


def _map_axes(figure: Figure, scene: Scene, size: Size, layout: Layout):
    ax = figure.add_axes(layout.map)
    ax.set_gid("map")
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


def _offsets(style: dict) -> list[tuple[tuple[float, float], str, str]]:
    """Where a label may go around its point (offset in points, ha, va): the asked-for place first,
    then the other sides, then a little further out."""
    dx, dy = style.pop("xytext", (0, 0))
    ha, va = style.pop("ha", "left"), style.pop("va", "baseline")
    if ha == "center":
        h = max(abs(dy), 3)
        near = [((dx, dy), ha, va), ((dx, -h), "center", "top"), ((h + 4, 0), "left", "center"),
                ((-h - 4, 0), "right", "center")]
        return near + [((x * 2.5, y * 2.5), a, b) for (x, y), a, b in near[:2]]
    flip = {"left": "right", "right": "left"}.get(ha, ha)
    below = "top" if va in ("bottom", "baseline") else va
    near = [((dx, dy), ha, va), ((-dx, dy), flip, va), ((dx, -dy), ha, below), ((-dx, -dy), flip, below)]
    return near + [((x, y * 3), a, b) for (x, y), a, b in near]


def _place_labels(figure: Figure, ax, frame: Frame, furniture: list) -> list:
    """Place the labels the layers asked for, most important first, each at the first of its
    candidate places where it overlaps no placed label, the scale bar or the north arrow, and stays
    inside the map; a label with no such place is left out. Returns the placed labels, in order."""
    renderer = figure.canvas.get_renderer()
    limits = ax.get_window_extent(renderer)
    placed = [artist.get_window_extent(renderer) for artist in furniture] + _obstacles(ax, frame)
    before, kept = children_ids(ax), []
    for _, _, x, y, text, style in sorted(frame.labels, key=lambda item: item[:2]):
        style = dict(style)
        dot = style.pop("dot", None)
        leader = style.pop("leader", False)  # a thin line from the point to the label (a callout)
        anchors = [(x, y), *style.pop("anchors", ())]  # other points the label may name (along a line)
        wordings = [text, *([style.pop("short")] if "short" in style else [])]  # a shorter one, last
        offsets = _offsets(style)
        for words, (ax_, ay), (offset, ha, va) in ((w, a, o) for w in wordings for a in anchors for o in offsets):
            artist = ax.annotate(words, (ax_, ay), xytext=offset, textcoords="offset points", annotation_clip=True,
                                 ha=ha, va=va, **style)
            box = artist.get_window_extent(renderer).expanded(1.06, 1.15)
            inside = limits.x0 <= box.x0 and box.x1 <= limits.x1 and limits.y0 <= box.y0 and box.y1 <= limits.y1
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                kept.append(artist)
                if dot:
                    ax.plot([x], [y], linestyle="none", **dot)
                if leader:
                    _leader(ax, (ax_, ay), box)
                break
            artist.remove()
    group_new(ax, before, "labels", 8)
    return kept


def _leader(ax, point: tuple[float, float], box: Bbox) -> None:
    """A line from `point` (map metres) to the nearest point of the label's box (display pixels)."""
    px, py = ax.transData.transform(point)
    near = (min(max(px, box.x0), box.x1), min(max(py, box.y0), box.y1))
    end = ax.transData.inverted().transform(near)
    ax.plot([point[0], end[0]], [point[1], end[1]], color="#333333", linewidth=0.8, zorder=8.4)


def _obstacles(ax, frame: Frame) -> list[Bbox]:
    """The symbols labels must leave free, as display boxes."""
    boxes = []
    for x, y, radius_pt in frame.obstacles:
        cx, cy = ax.transData.transform((x, y))
        r = radius_pt * frame.dpi / 72
        boxes.append(Bbox.from_extents(cx - r, cy - r, cx + r, cy + r))
    return boxes


def _header(figure: Figure, texts: Texts, size: Size) -> list:
    x, top = texts.margin_px / size.width, 1 - texts.margin_px / size.height
    title = figure.text(x, top, "\n".join(texts.title), ha="left", va="top", fontsize=texts.title_pt,
                        fontweight="bold", color="#111111", linespacing=1.1, gid="title")
    out = [title]
    if texts.subtitle:
        y = top - size.px(texts.title_pt) * 1.22 * len(texts.title) / size.height - size.px(
            texts.subtitle_pt) * 0.45 / size.height
        out.append(figure.text(x, y, "\n".join(texts.subtitle), ha="left", va="top", fontsize=texts.subtitle_pt,
                               color="#444444", linespacing=1.15, gid="subtitle"))
    return out


def _credit(figure: Figure, texts: Texts, size: Size):
    return figure.text(texts.margin_px / size.width, texts.margin_px / size.height, "\n".join(texts.credit),
                       ha="left", va="bottom", fontsize=texts.credit_pt, color="#444444", linespacing=1.25,
                       gid="credit")


def _legend(figure: Figure, entries: list[LegendEntry], size: Size, layout: Layout, measure: Measure) -> list:
    """The legend, row by row in its own axes (units: points from the top left), at the smallest
    text size or larger; rows that do not fit are counted in a last line instead. Returns its texts."""
    if not entries:
        return []
    ax = figure.add_axes(layout.legend)
    ax.set_gid("legend")
    ax.set_axis_off()
    width = layout.legend[2] * size.width / size.dpi * 72
    height = layout.legend[3] * size.height / size.dpi * 72
    ax.set_xlim(0, width)
    ax.set_ylim(-height, 0)
    font = max(size.min_text, size.font * 0.8)
    text_px = size.px(width - font * 2.6)
    rows = _legend_rows(entries, font, text_px, measure)
    texts, y, shown = [], 0.0, 0
    for kind, entry, lines in rows:
        need = font * 1.25 * len(lines) + font * (0.5 if kind == "section" else 0.3)
        if y - need - font * 1.6 < -height and shown < len(rows) - 1:  # keep room for the "more" line
            break
        if kind == "section":
            texts.append(ax.text(0, y, "\n".join(lines), va="top", fontsize=font, fontweight="bold", color="#333333"))
        else:
            _symbol(ax, entry, font * 1.1, y - font * 0.62, font)
            texts.append(ax.text(font * 2.6, y, "\n".join(lines), va="top", fontsize=font, color="#222222",
                                 linespacing=1.15))
        y -= need
        shown += 1
    left = sum(1 for kind, _, _ in rows[shown:] if kind == "entry")
    if left:
        texts.append(ax.text(0, y, measure.shorten(f"\u2026 and {left} more in the web map's legend", font,
                                                   size.px(width)), va="top", fontsize=font, color="#555555"))
    return texts


def _legend_rows(entries: list[LegendEntry], font: float, text_px: float, measure: Measure) -> list[tuple]:
    rows, section = [], None
    for entry in entries:
        if entry.section != section:
            section = entry.section
            rows.append(("section", None, measure.fit_lines(mpl_text(section), font, text_px, 2, "bold")))
        rows.append(("entry", entry, measure.fit_lines(mpl_text(entry.label), font, text_px, 4)))
    return rows


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
