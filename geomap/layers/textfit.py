"""Text that fits: widths measured by the renderer that draws them, lines wrapped to a width in
pixels, long text shortened with an ellipsis, and a last pass that keeps every text inside the
canvas and off every other text (the static graphic's promise: nothing cut, nothing overprinted).
"""
from __future__ import annotations

import threading
from collections.abc import Iterable

from cachetools import LRUCache
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text

ELLIPSIS = "\u2026"
# Widths measured so far, shared by every graphic this process draws: a warm server draws the same
# titles, credits and legend rows again, and each measure at 300 dpi costs about a millisecond.
# A width depends on the text, its size and weight and the resolution (the font is always
# DejaVu Sans, the hinting matplotlib's default), so that is the key.
WIDTHS: LRUCache = LRUCache(20_000)
_widths_lock = threading.Lock()


class Measure:
    """Text widths in pixels at a figure's resolution, from its Agg renderer (DejaVu Sans)."""

    def __init__(self, renderer) -> None:
        self.renderer = renderer

    def width(self, text: str, points: float, weight: str = "normal") -> float:
        key = (text, points, weight, self.renderer.dpi)
        with _widths_lock:
            found = WIDTHS.get(key)
        if found is None:
            prop = FontProperties(family="DejaVu Sans", size=points, weight=weight)
            found = self.renderer.get_text_width_height_descent(text, prop, ismath=False)[0]
            with _widths_lock:
                WIDTHS[key] = found
        return found

    def wrap(self, text: str, points: float, width_px: float, weight: str = "normal") -> list[str]:
        """Greedy word wrap to `width_px`; a word longer than a line is cut with an ellipsis."""
        lines: list[str] = []
        for word in text.split():
            trial = f"{lines[-1]} {word}" if lines else word
            if lines and self.width(trial, points, weight) <= width_px:
                lines[-1] = trial
            else:
                lines.append(self.shorten(word, points, width_px, weight))
        return lines or [""]

    def shorten(self, text: str, points: float, width_px: float, weight: str = "normal") -> str:
        """`text`, or as much of it as fits in `width_px` followed by an ellipsis."""
        if self.width(text, points, weight) <= width_px:
            return text
        low, high = 0, len(text)
        while low < high:  # the longest prefix that fits with the ellipsis
            mid = (low + high + 1) // 2
            if self.width(text[:mid].rstrip() + ELLIPSIS, points, weight) <= width_px:
                low = mid
            else:
                high = mid - 1
        return text[:low].rstrip() + ELLIPSIS

    def fit_lines(self, text: str, points: float, width_px: float, max_lines: int, weight: str = "normal"
                  ) -> list[str]:
        """At most `max_lines` wrapped lines; the last shortened with an ellipsis if text is left over."""
        lines = self.wrap(text, points, width_px, weight)
        if len(lines) <= max_lines:
            return lines
        kept = lines[:max_lines]
        kept[-1] = self.shorten(" ".join(lines[max_lines - 1:]), points, width_px, weight)
        return kept


def visible_texts(figure) -> list[Text]:
    """Every text artist of the figure that draws something."""
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def settle(figure, renderer, ranked: Iterable[Text]) -> list[Text]:
    """Keep texts in the order given (most important first) while each lies inside the canvas and
    overlaps no text kept before it; hide the others. Returns the hidden ones."""
    canvas = figure.bbox
    kept, hidden = [], []
    for text in ranked:
        if not (text.get_visible() and text.get_text().strip()):
            continue
        box = text.get_window_extent(renderer)
        inside = canvas.x0 - 0.5 <= box.x0 and box.x1 <= canvas.x1 + 0.5 and canvas.y0 - 0.5 <= box.y0 \
            and box.y1 <= canvas.y1 + 0.5
        if inside and not any(box.overlaps(other) for other in kept):
            kept.append(box)
        else:
            text.set_visible(False)
            hidden.append(text)
    return hidden
