"""Label placement on a static map: each label the layers ask for (`Frame.labels`) goes to the first
of its candidate places that overlaps no placed label, symbol or piece of map furniture and stays
inside the map; a label with no such place is left out.
"""
from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from geomap.layers.base import Frame
from geomap.layers.furniture import children_ids, group_new


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


def place_labels(figure: Figure, ax, frame: Frame, furniture: list) -> list:
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
