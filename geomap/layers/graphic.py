"""Static graphics for print and social media: PNG, SVG or PDF, drawn by matplotlib (Agg) alone.

The same layers as the interactive map draw into a local azimuthal equidistant projection; this
module adds what a printed map needs: title, legend (`geomap.layers.legend`), a scale bar in km,
a north arrow, an inset locator map and a credit line (`geomap.layers.credit`), with the labels
placed by `geomap.layers.labels` at a size from `geomap.layers.size`. Text is measured as it will
be drawn: the title wraps (two lines at most, smaller before it is shortened), no text is smaller
than 9 pt on paper or 14 px on a screen, and a last pass (`geomap.layers.textfit.settle`) keeps
every text inside the canvas and off every other. SVG keeps text as text and has one named group
per part and per map layer; the PDF is vector. No browser and no network are involved.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geomap.errors import BadRequest
from geomap.layers.base import Frame, Layer
from geomap.layers.credit import fitted_credit
from geomap.layers.furniture import children_ids, group_new, inset, north_arrow, scale_bar
from geomap.layers.geo import padded, projected_view
from geomap.layers.labels import place_labels
from geomap.layers.legend import draw_legend, legend_entries
from geomap.layers.scene import Scene
from geomap.layers.size import Size
from geomap.layers.text import mpl_text
from geomap.layers.textfit import Measure, settle

FORMATS = ("png", "svg", "pdf")
RC = {"svg.fonttype": "none", "svg.hashsalt": "geomap", "font.family": "DejaVu Sans", "text.usetex": False,
      "hatch.linewidth": 0.6, "pdf.fonttype": 42}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
            "pdf": {"Creator": None, "Producer": None, "CreationDate": None}}
SAVE_OPTIONS = {"png": {"pil_kwargs": {"compress_level": 2}}}  # zlib level 2: a third of level 6's time


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
    return svg_pixels(data, size) if fmt == "svg" else data


def draw(scene: Scene, layers: Sequence[Layer], size: Size) -> Figure:
    """The figure of a graphic, drawn and settled: every text inside the canvas, none over another.
    Each part is a named group in SVG: title, subtitle, legend, inset, map (with one group per
    layer, the labels, the scale bar and the north arrow) and credit."""
    figure = Figure(figsize=(size.width / size.dpi, size.height / size.dpi), dpi=size.dpi, facecolor="white")
    renderer = FigureCanvasAgg(figure).get_renderer()
    measure = Measure(renderer)
    drawn = [layer for layer in layers if layer.applies(scene)]
    texts = fitted_texts(scene, size, measure)
    layout = _layout(size, texts)
    ax, frame = _map_axes(figure, scene, size, layout)
    for index, layer in enumerate(drawn):
        before = children_ids(ax)
        layer.to_axes(ax, scene, frame)
        group_new(ax, before, f"layer-{layer.name}", 1 + index * 0.5)
    small = max(size.min_text, size.font * 0.78)
    furniture = [*scale_bar(ax, frame, small), north_arrow(ax, size.font)]
    labels = place_labels(figure, ax, frame, furniture)
    header = draw_header(figure, texts, size)
    credit = draw_credit(figure, texts, size)
    legend = draw_legend(figure, legend_entries(scene, drawn), size, layout.legend, measure)
    inset_ax = inset(figure, layout.inset, scene, frame, small)
    settle(figure, renderer, [*header, credit, *legend, *furniture, *labels, *inset_ax.texts])
    return figure


def svg_pixels(data: bytes, size: Size) -> bytes:
    """Give the SVG its size in pixels (matplotlib writes points; the viewBox keeps the drawing)."""
    text = data.decode("utf-8")
    text = re.sub(r'<svg([^>]*?) width="[\d.]+pt" height="[\d.]+pt"',
                  lambda m: f'<svg{m.group(1)} width="{size.width}px" height="{size.height}px"', text, count=1)
    return text.encode("utf-8")


def fitted_texts(scene: Scene, size: Size, measure: Measure) -> Texts:
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


def draw_header(figure: Figure, texts: Texts, size: Size) -> list:
    """Draw the fitted title and subtitle at the figure's top left margin; the texts drawn."""
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


def draw_credit(figure: Figure, texts: Texts, size: Size):
    """Draw the fitted credit line at the figure's bottom left margin; the text drawn."""
    return figure.text(texts.margin_px / size.width, texts.margin_px / size.height, "\n".join(texts.credit),
                       ha="left", va="bottom", fontsize=texts.credit_pt, color="#444444", linespacing=1.25,
                       gid="credit")
