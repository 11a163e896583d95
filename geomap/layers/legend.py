"""The legend of a static graphic: entries from the drawn layers, most needed first, drawn row by row
in an axes of its own; what does not fit is counted in a last line.
"""
from __future__ import annotations

from collections.abc import Sequence

from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from geomap.layers.base import Layer, mpl_line_style, mpl_patch_style
from geomap.layers.scene import Scene
from geomap.layers.size import Size
from geomap.layers.style import LegendEntry
from geomap.layers.text import mpl_text
from geomap.layers.textfit import Measure

LEGEND_ORDER = ("claims", "incidents", "zones", "distances", "sites", "uncertainty", "rings")


def legend_entries(scene: Scene, drawn: Sequence[Layer]) -> list[LegendEntry]:
    """The legend's entries, most needed first (who is claimed, the incidents' colours, the zones),
    so that a small graphic that cannot show them all leaves out the least needed."""
    order = {name: i for i, name in enumerate(LEGEND_ORDER)}
    ranked = sorted(drawn, key=lambda layer: order.get(layer.name, len(order)))
    return [entry for layer in ranked for entry in layer.legend(scene)]


def draw_legend(figure: Figure, entries: list[LegendEntry], size: Size, box: tuple[float, float, float, float],
                measure: Measure) -> list:
    """The legend, row by row in its own axes (units: points from the top left), at the smallest
    text size or larger; rows that do not fit are counted in a last line instead. Returns its texts."""
    if not entries:
        return []
    ax = figure.add_axes(box)
    ax.set_gid("legend")
    ax.set_axis_off()
    width = box[2] * size.width / size.dpi * 72
    height = box[3] * size.height / size.dpi * 72
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
