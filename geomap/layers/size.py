"""The size of a static graphic: pixels, resolution and type scale, from a request or a preset.

Sizes are checked as they are made (a `BadRequest` names the field): A4 presets in millimetres
at a dpi, social cards in pixels, and a floor on text size (9 pt on paper, 14 px on a screen).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geomap.errors import BadRequest

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
