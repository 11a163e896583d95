"""The duplicate search's candidates (`geomap.analysis.duplicates`): each spot (an incident's
location disc, or its target site's) filed in the grid of its level, and the spot pairs that may
be within reach found by binary search in the sorted keys (pure: numpy). How the grid works is
told in `geomap.analysis.duplicates`' module text; the exact tests are there too.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from geomap.analysis.duplicates import DuplicateRule, Incidents

DEGREE_M = 110_000.0  # a degree of latitude is at least 110.57 km
KEY_BITS = 62
CANDIDATES = 1 << 19  # candidate spot pairs tested at a time: bounds the candidate arrays' memory


@dataclass(frozen=True)
class Spots:
    """Every spot of the incidents searched: whose it is, which kind, its disc, and its grid level."""

    incident: np.ndarray
    kind: np.ndarray  # 0: the incident's location, 1: its target site
    lon: np.ndarray
    lat: np.ndarray
    radius: np.ndarray
    level: np.ndarray


def spots_of(incidents: Incidents, rule: DuplicateRule) -> Spots:
    """Each incident's location disc, then the target site's disc of each incident that names one,
    with the level whose cells hold its radius plus half the rule's distance."""
    n = len(incidents.day_start)
    targeted = np.flatnonzero(np.isfinite(incidents.target_lon))
    radius = np.concatenate([incidents.radius, incidents.target_radius[targeted]]).astype(float)
    half = max(rule.metres / 2, 1.0)
    level = np.ceil(np.log2(np.maximum(radius + rule.metres / 2, half) / half)).astype(np.int64)
    return Spots(np.concatenate([np.arange(n), targeted]), np.concatenate([np.zeros(n, int), np.ones(len(targeted), int)]),
                 np.concatenate([incidents.lon, incidents.target_lon[targeted]]).astype(float),
                 np.concatenate([incidents.lat, incidents.target_lat[targeted]]).astype(float), radius, level)


class Grid:
    """The spots filed by (event type, level, cell, start day) as one sorted int64 key each."""

    def __init__(self, incidents: Incidents, spots: Spots, rule: DuplicateRule) -> None:
        self.rule, self.spots = rule, spots
        inc = spots.incident
        self.start = incidents.day_start[inc].astype(np.int64)
        self.end = incidents.day_end[inc].astype(np.int64)
        self.first_day = int(self.start.min())
        self.day_span = int(self.end.max()) - self.first_day + rule.days + 2
        self.levels = np.unique(spots.level)
        self.longest = {int(lv): int((self.end - self.start)[spots.level == lv].max()) for lv in self.levels}
        highest = float(np.abs(spots.lat).max())
        half = max(rule.metres / 2, 1.0)
        while True:  # cells as small as the rule allows, as long as the keys fit in 62 bits
            self.cells = {int(lv): _cell(half * 2 ** int(lv), highest) for lv in self.levels}
            if self._fits(incidents):
                break
            if half > 1e8:
                raise ValueError("too many event types or days to key the duplicate search")
            half *= 2  # wider cells are still correct: only more candidates to test exactly
        self.type = incidents.event_type[inc].astype(np.int64)
        own = self._code(self.type, spots.level, *self._cell_of(spots.level, slice(None)))
        self.key = own * self.day_span + (self.start - self.first_day)
        self.order = np.argsort(self.key, kind="stable")
        self.key = self.key[self.order]

    def _fits(self, incidents: Incidents) -> bool:
        self.cy0, self.ny, self.cx0, self.nx = {}, 1, {}, 1
        for lv, (cell_lat, cell_lon) in self.cells.items():
            cy = np.floor(self.spots.lat / cell_lat).astype(np.int64)
            cx = np.floor(self.spots.lon / cell_lon).astype(np.int64)
            self.cy0[lv], self.cx0[lv] = int(cy.min()) - 1, int(cx.min()) - 1
            self.ny = max(self.ny, int(cy.max()) - self.cy0[lv] + 2)
            self.nx = max(self.nx, int(cx.max()) - self.cx0[lv] + 2)
        self.nl = int(self.levels.max()) + 1
        types = int(incidents.event_type.max(initial=0)) + 1
        bits = sum(math.log2(v) for v in (types, self.nl, self.ny, self.nx, self.day_span))
        return bits <= KEY_BITS

    def _cell_of(self, level, rows) -> tuple[np.ndarray, np.ndarray]:
        """The cells (cy, cx) of the spots `rows` in the grids `level` (an array, or one level)."""
        lat, lon = self.spots.lat[rows], self.spots.lon[rows]
        levels = np.broadcast_to(level, np.shape(lat))
        cy, cx = np.empty(np.shape(lat), np.int64), np.empty(np.shape(lat), np.int64)
        for lv in np.unique(levels):
            at = levels == lv
            cell_lat, cell_lon = self.cells[int(lv)]
            cy[at] = np.floor(lat[at] / cell_lat).astype(np.int64) - self.cy0[int(lv)]
            cx[at] = np.floor(lon[at] / cell_lon).astype(np.int64) - self.cx0[int(lv)]
        return cy, cx

    def _code(self, etype, level, cy, cx) -> np.ndarray:
        return ((etype * self.nl + level) * self.ny + cy) * self.nx + cx

    def probe(self, rows: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Blocks of candidate spot pairs (probing, found) for the probing spots `rows`: same event
        type, neighbouring cells, dates close enough in the probe's direction; a pair of spots
        of one level that start on the same day is kept from the spot of the smaller incident."""
        own = self.spots.level[rows]
        d = self.rule.days
        for lv in (int(v) for v in self.levels):
            for backward in (False, True):
                use = rows[own < lv] if backward else rows[own <= lv]
                if not len(use):
                    continue
                cy, cx = self._cell_of(lv, use)
                s, e = self.start[use] - self.first_day, self.end[use] - self.first_day
                low, high = (np.maximum(s - d - self.longest[lv], 0), s - 1) if backward else (s, e + d)
                for dy, dx in itertools.product((-1, 0, 1), repeat=2):
                    base = self._code(self.type[use], lv, cy + dy, cx + dx) * self.day_span
                    for p, q in _expand(use, np.searchsorted(self.key, base + low, "left"),
                                        np.searchsorted(self.key, base + high, "right")):
                        q = self.order[q]
                        if backward:  # started before: it must end at most `days` before the probe starts
                            keep = self.end[q] + d >= self.start[p]
                        else:  # found from both sides: keep one
                            keep = ((self.spots.level[p] < lv) | (self.start[q] > self.start[p])
                                    | (self.spots.incident[p] < self.spots.incident[q]))
                        yield p[keep], q[keep]


def _cell(half_m: float, highest: float) -> tuple[float, float]:
    """(cell height, cell width) in degrees: at least 2 * half_m metres on the ground up to the
    data's highest latitude (plus a cell)."""
    cell_lat = 2 * half_m / DEGREE_M
    widest = min(highest + cell_lat, 89.9)
    return cell_lat, min(cell_lat / math.cos(math.radians(widest)), 360.0)


def _expand(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(row, position) for every position in lo[i]..hi[i] - 1 of each row, in batches of about
    `CANDIDATES` (a row's whole range at least): coarse discs on busy days make tens of millions
    of candidates for one chunk of probing spots, and the exact tests hold several arrays of each."""
    counts = np.maximum(hi - lo, 0)
    ends = np.cumsum(counts)
    first = 0
    while first < len(rows) and ends[-1] > (ends[first - 1] if first else 0):
        done = int(ends[first - 1]) if first else 0
        last = max(int(np.searchsorted(ends, done + CANDIDATES, "right")), first + 1)
        c = counts[first:last]
        total = int(ends[last - 1]) - done
        p = np.repeat(rows[first:last], c)
        starts = np.repeat(lo[first:last] - (np.cumsum(c) - c), c)
        yield p, starts + np.arange(total)
        first = last
