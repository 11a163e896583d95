"""Selections counted on the server: incidents per grid cell and period (one query), coarsened
in Python until the browser gets at most `MAX_CELLS` of them."""
from __future__ import annotations

from datetime import date
from functools import cache

from sqlalchemy import Connection

from geomap.analysis.frozen import filler
from geomap.db import map_queries
from geomap.layers.scene import Bbox, Cell, period_end
from geomap.maps.request import Selection

MAX_CELLS = 20_000  # cells x periods sent to the browser at most (about 40 bytes each)
GRID_ACROSS = 32  # cells across the longer side of a counted selection, before coarsening
PERIODS = ("month", "quarter", "year")


def counted(conn: Connection, clauses, selection: Selection, bounds: dict, color_by: str) -> list[Cell]:
    """Incidents per grid cell and period (one query), coarsened in Python until at most
    MAX_CELLS remain: first to longer periods, then to cells twice as wide."""
    west, south, east, north = selection.bbox or bounds_box(bounds)
    size = max(east - west, north - south, 0.01) / GRID_ACROSS
    span_years = (bounds["last"] - bounds["first"]).days / 365.25
    period = "month" if span_years <= 2 else "quarter" if span_years <= 5 else "year"
    rows = [tuple(r) for r in map_queries.incident_cells(conn, clauses, (west, south), (size, size), period, color_by)]
    factor, queried = 1, period
    while True:
        cells = _merge_cells(rows, (west, south), size, factor, period, selection.interval, period == queried)
        if len(cells) <= MAX_CELLS or factor >= 16:
            return cells
        if period != "year":
            period = PERIODS[PERIODS.index(period) + 1]
        else:
            factor *= 2


def bounds_box(bounds: dict | None) -> Bbox | None:
    """The box of `map_queries.incident_bounds`, or None when nothing was selected."""
    return None if bounds is None else (bounds["west"], bounds["south"], bounds["east"], bounds["north"])


@cache
def _period_end(start: date, period: str) -> date:
    return period_end(start, period)


def _period_start(day: date, period: str) -> date:
    if period == "year":
        return date(day.year, 1, 1)
    return date(day.year, (day.month - 1) // 3 * 3 + 1 if period == "quarter" else day.month, 1)


def _merge_cells(rows, origin, size: float, factor: int, period: str, interval, as_queried: bool) -> list[Cell]:
    """Cells from `incident_cells` rows, merged `factor` x `factor` and into `period`s
    (`as_queried`: the rows' own period, so that a factor of 1 leaves one cell per row)."""
    low, high = interval or (None, None)
    width = size * factor
    if factor == 1 and as_queried:
        return [_cell(int(row[0]), int(row[1]), row[2], (row,), origin, width, period, low, high) for row in rows]
    merged: dict[tuple, list] = {}
    for row in rows:
        key = (int(row[0]) // factor, int(row[1]) // factor, _period_start(row[2], period))
        merged.setdefault(key, []).append(row)
    return [_cell(cx, cy, start, parts, origin, width, period, low, high) for (cx, cy, start), parts in merged.items()]


def _cell(cx: int, cy: int, start: date, parts, origin, width: float, period: str, low, high) -> Cell:
    """One cell from its rows (cx, cy, period, categories, counts, n, lon, lat, first, last)."""
    if len(parts) == 1:
        _, _, _, categories, numbers, _, lon, lat, first, last = parts[0]
        counts = tuple(zip(categories, numbers, strict=True))
    else:
        totals: dict[str, int] = {}
        for row in parts:
            for category, n in zip(row[3], row[4], strict=True):
                totals[category] = totals.get(category, 0) + n
        counts = tuple(sorted(totals.items(), key=lambda c: (-c[1], c[0])))
        n = sum(row[5] for row in parts)
        lon, lat = sum(row[6] * row[5] for row in parts) / n, sum(row[7] * row[5] for row in parts) / n
        first, last = min(row[8] for row in parts), max(row[9] for row in parts)
    end = _period_end(start, period)
    x0, y0 = origin[0] + cx * width, origin[1] + cy * width
    return _CELL(float(lon), float(lat), max(start, low) if low else start, min(end, high) if high else end, first,
                 last, counts, (x0, y0, x0 + width, y0 + width))


# Cell's fields in order, filled without its frozen __init__'s setattr per field (geomap.analysis.
# frozen): a counted map makes ~3,000 of them per request, 1.6 against 0.5 us each.
_CELL = filler(Cell)
