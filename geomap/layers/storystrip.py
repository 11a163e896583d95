"""A story's print strip: one numbered panel per step (a small map of the step, its dates and its
title) under the story's title, with the credit line, as PNG, SVG or PDF.

Drawn as the graphics are (`geomap.layers.graphic`): the same sizes and presets, type scale,
title fitting and credit line (original reporting first; an address only when public), the same
layers (basemap, uncertainty, incidents) in each panel, and the same last pass that keeps every
text inside the canvas and off every other (`geomap.layers.textfit.settle`). SVG has a named
group per panel; the PDF is vector.
"""
from __future__ import annotations

import math
import warnings
from io import BytesIO

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from geomap.errors import BadRequest
from geomap.layers import load
from geomap.layers.base import Frame
from geomap.layers.geo import projected_view
from geomap.layers.graphic import (
    FORMATS,
    METADATA,
    RC,
    SAVE_OPTIONS,
    draw_credit,
    draw_header,
    fitted_texts,
    svg_pixels,
)
from geomap.layers.scene import Scene
from geomap.layers.size import Size
from geomap.layers.story import Step, Story, short_date
from geomap.layers.text import mpl_text
from geomap.layers.textfit import Measure, settle

PANEL_LAYERS = ("basemap", "uncertainty", "incidents")
PANEL_ASPECT = 1.35  # the map's width / height a panel aims for
BADGE = "#c0392b"


def render_strip(story: Story, fmt: str, size: Size) -> bytes:
    """The strip as PNG, SVG or PDF bytes, exactly `size.width` x `size.height` pixels."""
    if fmt not in FORMATS:
        raise BadRequest(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
    with rc_context(RC), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure = draw_strip(story, size)
        out = BytesIO()
        figure.savefig(out, format=fmt, dpi=size.dpi, facecolor="white", metadata=METADATA[fmt],
                       **SAVE_OPTIONS.get(fmt, {}))
    data = out.getvalue()
    return svg_pixels(data, size) if fmt == "svg" else data


def grid(count: int, width: float, height: float) -> tuple[int, int]:
    """(columns, rows) of `count` panels in a width x height area: the panels closest to PANEL_ASPECT.

    >>> grid(6, 1600, 800), grid(6, 800, 1600), grid(1, 500, 500)
    ((3, 2), (2, 3), (1, 1))
    """
    def misfit(cols: int) -> float:
        rows = math.ceil(count / cols)
        return abs(math.log((width / cols) / (height / rows) / PANEL_ASPECT)) + 0.01 * (cols * rows - count)
    cols = min(range(1, count + 1), key=misfit)
    return cols, math.ceil(count / cols)


def draw_strip(story: Story, size: Size) -> Figure:
    """The strip's figure, drawn and settled."""
    figure = Figure(figsize=(size.width / size.dpi, size.height / size.dpi), dpi=size.dpi, facecolor="white")
    renderer = FigureCanvasAgg(figure).get_renderer()
    measure = Measure(renderer)
    scene = story.scene()
    texts = fitted_texts(scene, size, measure)
    header, credit = draw_header(figure, texts, size), draw_credit(figure, texts, size)
    margin, gap = texts.margin_px, size.px(size.font * 0.8)
    top = margin + texts.header_px(size) + size.px(size.font * 0.5)
    bottom = margin + texts.credit_px(size) + size.px(size.font * 0.5)
    area_w, area_h = size.width - 2 * margin, size.height - top - bottom
    cols, rows = grid(len(story.steps), area_w, area_h)
    cell_w, cell_h = (area_w - gap * (cols - 1)) / cols, (area_h - gap * (rows - 1)) / rows
    captions = []
    for index, step in enumerate(story.steps):
        row, col = divmod(index, cols)
        x0 = margin + col * (cell_w + gap)
        y1 = size.height - top - row * (cell_h + gap)  # the cell's top, in pixels from the bottom
        captions += _panel(figure, step, scene, size, measure, (x0, y1 - cell_h, cell_w, cell_h))
    settle(figure, renderer, [*header, credit, *captions])
    return figure


def _panel(figure: Figure, step: Step, scene: Scene, size: Size, measure: Measure, box) -> list:
    """One step: its caption (number, dates, title) at the top of `box` (pixels), its map below."""
    x0, y0, w, h = box
    W, H = size.width, size.height
    font = max(size.min_text, size.font * 0.8)
    line = size.px(font) * 1.25
    head = f"{step.number}  {short_date(step.start)}" + (f" \u2013 {short_date(step.end)}" if step.end != step.start
                                                          else "")
    title = measure.fit_lines(mpl_text(step.title), font, w, 2)
    caption_h = line * 3 + size.px(font) * 0.4  # two title lines kept for every panel: the maps line up
    texts = [figure.text(x0 / W, (y0 + h) / H, mpl_text(head), ha="left", va="top", fontsize=font,
                         fontweight="bold", color=BADGE, gid=f"step-{step.number}-date"),
             figure.text(x0 / W, (y0 + h - line) / H, "\n".join(title), ha="left", va="top", fontsize=font,
                         color="#222222", linespacing=1.1, gid=f"step-{step.number}-title")]
    map_h = h - caption_h
    if map_h < size.px(font) * 3:  # too small for a map: the caption alone
        return texts
    ax = figure.add_axes((x0 / W, y0 / H, w / W, map_h / H))
    ax.set_gid(f"step-{step.number}")
    projection, view = projected_view(step.extent, w / map_h)
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    ax.set_xticks([])
    ax.set_yticks([])
    frame = Frame(projection, view, int(w), int(map_h), size.dpi, size.font)
    panel = Scene(title=step.title, extent=step.extent, on=step.end, groups=scene.groups, incidents=step.incidents,
                  focus=step.incidents[0], data_version=scene.data_version)
    for name in PANEL_LAYERS:
        load(name).to_axes(ax, panel, frame)
    ax.set_xlim(view[0], view[1])
    ax.set_ylim(view[2], view[3])
    return texts
