"""Likely and possible duplicate incidents: the rule, and its search over arrays (pure: numpy and pyproj).

Sources often code one event at different points: ACLED puts a rocket attack at the base it hit,
another source at the launch site kilometres away, each with its own precision. So the rule
compares *spots*, not points: every incident has the disc of its own location (its point and
precision radius) and, when it names a target site, the disc of that site. Two incidents are
duplicates when (`DuplicateRule`):

- they have the same event type;
- their date intervals are at most `days` apart;
- their claims do not tell them apart: a group is named by claims of both (whatever the stance:
  a source that disputes a group's part still speaks of the same event), or one names none;
- a spot of one comes within `metres` of a spot of the other, disc to disc (geodesic distance
  at most `metres` plus both radii): their locations, one's location and the other's target,
  or their two targets (`BASES`).

A pair is graded by what its places can tell (`GRADES`): *likely* when two discs that meet are
both precise (radius at most `precise` times the distance), *possible* when every meeting
depends on a coarser disc. Coarse discs (a district, a province) on neighbouring days meet by
the million without saying anything about the event, so possible pairs are counted by precision
class (`Possible`), and listed only when asked.

The search (`find`) never compares all pairs. Every spot is filed in a grid of its *level*: the
smallest whose cells (2 h 2^level metres, h = metres / 2) hold its radius plus half the
distance, so that a pair of spots within reach lies in neighbouring cells of the grid of the
higher of their two levels. The spots of each grid are sorted by (event type, cell, start day),
so that the spots of one cell and one date range are one slice, found by binary search: every
spot looks in the 3 x 3 cells around it in each grid of its level and above, for the spots that
start on its own start day up to `days` after its end (forward), and in the grids above its
level for those that started before it and end at most `days` before its start (backward).
Each pair is found from its lower-level spot, or at equal levels from its earlier one; the
exact tests (geodesic distance, claims) follow, on arrays. Cells do not wrap around the
antimeridian. The grid and its candidates are `geomap.analysis.duplicate_grid`. The search runs a block of start days at a time (`blocks`), so that its memory
follows the block, not the data; `graded` keeps only the likely pairs of each block and counts
the possible ones.
"""
from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
from pyproj import Geod

from geomap.analysis.duplicate_grid import Grid, Spots, spots_of

BASES = ("locations", "a at the target of b", "b at the target of a", "targets")
GRADES = ("likely", "possible")
GEOD = Geod(ellps="WGS84")
SPHERE_M = 6_371_008.8
SPHERE_MARGIN = 0.006  # the sphere's distance is within 0.6 % of WGS84's geodesic: outside it, no need to ask
CHUNK = 1 << 15  # probing spots at a time
DIRECT_PAIRS = 1 << 22  # with fewer (mine x all) spot pairs than this, compare them directly, not through the grid
BLOCK = 1 << 15  # incidents starting in one date block's core: bounds the search's memory (`blocks`)


@dataclass(frozen=True)
class DuplicateRule:
    """Two incidents are duplicates when they have the same event type, their date intervals are
    at most `days` apart, their claims name a common group (any stance) or one names none, and a
    spot of each (its location's precision disc, or its target site's) comes within `metres` of a
    spot of the other. The pair is a *likely* duplicate when two discs that meet both have a
    radius of at most `precise` times `metres` (`precise_m`), else a *possible* one.

    Why 5 times the distance (5 km for the default 1 km). Two discs meet when their centres are
    within `metres` plus both radii, so precise discs keep a pair's reach within 11 times the
    distance (about one order of magnitude), while a district-level disc (10 km: ACLED's
    geo_precision 2) stretches the default rule's 1 km to at least 21 km, and a province (50 km)
    to 101 km: at that scale any two events of one type on neighbouring days meet, and the place
    says nothing. At the default distance the bound sits midway, on a log scale, between ACLED's
    finest level (2 km, the town itself) and its district level (10 km), so it keeps the case the
    rule was made for with room to spare: a record coded at the base (2 km) against the
    launch-site record's target, the base (K-1: 3 km). It scales with the distance: a tighter
    rule asks for tighter places.
    """

    metres: float = 1000.0
    days: int = 1
    precise: float = 5.0

    @property
    def precise_m(self) -> float:
        """The widest radius, in metres, of a disc that can make a pair likely."""
        return self.precise * self.metres


@dataclass(frozen=True)
class Incidents:
    """The incidents to compare, one row each: start and end day numbers (inclusive), an event
    type code, the location and its precision radius in metres, the target site's (NaN: none),
    and the codes of the groups any claim names, padded with -1 (`groups_of`)."""

    day_start: np.ndarray
    day_end: np.ndarray
    event_type: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    radius: np.ndarray
    target_lon: np.ndarray
    target_lat: np.ndarray
    target_radius: np.ndarray
    groups: np.ndarray  # (n, k) int, -1 padded


def groups_of(n: int, incident: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The (n, k) padded array of group codes from (incident, group) claim rows, k the most
    groups any incident names (at least 1); each group once per incident."""
    pairs = np.unique(np.stack([incident, group], axis=1), axis=0) if len(incident) else np.zeros((0, 2), int)
    counts = np.bincount(pairs[:, 0], minlength=n) if len(pairs) else np.zeros(n, int)
    out = np.full((n, max(1, int(counts.max(initial=0)))), -1, dtype=np.int64)
    if len(pairs):
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        out[pairs[:, 0], np.arange(len(pairs)) - first[pairs[:, 0]]] = pairs[:, 1]
    return out


@dataclass(frozen=True)
class Pairs:
    """Duplicate pairs as index arrays, a < b, sorted: the basis of each (index into `BASES`),
    a group both name (-1: one names none), the radius of the wider of the basis's two discs
    (metres, float32: 29 million pairs over a million incidents) and whether the pair is likely
    (else possible: decided on the float64 radii). The basis is the first in `BASES`
    order whose discs are precise; for a possible pair, the one whose wider disc is narrowest."""

    a: np.ndarray
    b: np.ndarray
    basis: np.ndarray
    group: np.ndarray
    wider: np.ndarray
    likely: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    def where(self, keep: np.ndarray) -> Pairs:
        """The pairs `keep` (a mask or indices) selects."""
        return Pairs(*(getattr(self, f.name)[keep] for f in fields(self)))


@dataclass(frozen=True)
class PrecisionCount:
    """Possible pairs whose wider disc's radius is in the class that ends at `up_to_m` metres."""

    up_to_m: float
    pairs: int


@dataclass(frozen=True)
class Possible:
    """Possible duplicate pairs, counted by precision class (`precision_class`), narrowest first."""

    total: int = 0
    by_precision: tuple[PrecisionCount, ...] = ()

    @classmethod
    def of(cls, pairs: Pairs) -> Possible:
        return cls.counted(*np.unique(pairs.wider[~pairs.likely], return_counts=True))  # a few radii, millions of pairs

    @classmethod
    def counted(cls, radii: np.ndarray, counts: np.ndarray) -> Possible:
        """From the counts of possible pairs by the wider disc's radius (a radius may repeat)."""
        up_to, where = np.unique(precision_class(radii.astype(float)), return_inverse=True)
        by_class = np.bincount(where, weights=counts, minlength=len(up_to)).astype(np.int64)
        return cls(int(counts.sum()), tuple(PrecisionCount(float(u), int(c)) for u, c in zip(up_to, by_class, strict=True)))


def precision_class(radius: np.ndarray) -> np.ndarray:
    """The upper end of each radius's class (metres) on the 1-2-5 series, 1 m at least: ACLED's
    geo_precision levels as geomap reads them (2, 10 and 50 km) are classes of their own.

    >>> precision_class(np.array([0.0, 2000.0, 3000.0, 10000.0, 10000.5, 50000.0])).tolist()
    [1.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0]
    """
    decade = 10.0 ** np.floor(np.log10(np.maximum(radius, 1.0)))
    ratio = radius / decade
    return decade * np.select([ratio <= 1, ratio <= 2, ratio <= 5], [1.0, 2.0, 5.0], 10.0)


def find(incidents: Incidents, rule: DuplicateRule, mine: np.ndarray | None = None, budget: int = BLOCK) -> Pairs:
    """Every duplicate pair among the incidents, likely or possible (with `mine`, a boolean mask,
    only the pairs with at least one of them mine), searched in date blocks (`blocks`)."""
    return _joined(list(blocks(incidents, rule, mine, budget)))


def graded(incidents: Incidents, rule: DuplicateRule, mine: np.ndarray | None = None, list_possible: bool = False,
           budget: int = BLOCK) -> tuple[Pairs, Possible]:
    """The pairs `find` finds, but only the likely ones kept as pairs (and the possible ones too
    when `list_possible`), the possible ones counted by precision class: over a million incidents
    of coarse data the possible pairs are tens of millions, and each block's are let go."""
    kept, radii, counts = [], [], []
    for pairs in blocks(incidents, rule, mine, budget):
        radius, count = np.unique(pairs.wider[~pairs.likely], return_counts=True)
        radii.append(radius)
        counts.append(count)
        kept.append(pairs if list_possible else pairs.where(pairs.likely))
        del pairs
    return _joined(kept), Possible.counted(np.concatenate([np.zeros(0, np.float32), *radii]),
                                           np.concatenate([np.zeros(0, np.int64), *counts]))


def blocks(incidents: Incidents, rule: DuplicateRule, mine: np.ndarray | None = None,
           budget: int = BLOCK) -> Iterator[Pairs]:
    """Every duplicate pair once, a block of consecutive start days at a time, so that the
    search's memory follows the block, not the data: the core days [t0, t1) of a block hold about
    `budget` incidents (a single denser day is a block of its own).

    Why each pair is found, and once. A pair (i, j) is *owned* by the one that starts first, say
    i (s_i <= s_j; on a tie either: both start on the same day). The rule's date test is
    s_j <= e_i + days and s_i <= e_j + days, so the partner starts in [s_i, e_i + days]. The block
    whose core holds s_i therefore searches the incidents that start in [t0, max e_i + days], the
    maximum over its core's incidents: both of every pair it owns are among them, and the rule
    is a test of two incidents alone, so the search of that subset finds the pair with the same
    basis, group, radius and grade as the search of the whole. It keeps a pair only when
    min(s_a, s_b) < t1 (every incident it searched starts at t0 or later): the pairs it owns.
    The cores split the days, so every pair is owned by exactly one block."""
    if rule.metres < 0 or rule.days < 0 or rule.precise < 0:
        raise ValueError("the duplicate rule's distance, days and precise bound must be >= 0")
    order = np.argsort(incidents.day_start, kind="stable")
    start = incidents.day_start[order]
    for first, last in _cores(start, budget):
        t1 = start[last - 1] + 1
        upto = np.searchsorted(start, incidents.day_end[order[first:last]].max() + rule.days, "right")
        rows = np.sort(order[first:upto]).astype(np.int32)  # index order kept: a < b holds in the block as in the whole
        block = Incidents(*(getattr(incidents, f.name)[rows] for f in fields(incidents)))
        pairs = _search(block, rule, None if mine is None else mine[rows])
        owned = np.minimum(block.day_start[pairs.a], block.day_start[pairs.b]) < t1
        columns = [getattr(pairs, f.name) for f in fields(pairs)]
        del block, pairs
        a, b, *rest = _taken(columns, owned)
        yield Pairs(rows[a], rows[b], *rest)
        del a, b, rest


def _cores(start: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """(first, last) positions in the sorted start days of each block's core: whole days, about
    `budget` incidents each, at least one day."""
    days_end = np.flatnonzero(np.diff(start)) + 1  # where each day's incidents end, but the last
    ends = np.concatenate([days_end, [len(start)]]) if len(start) else np.zeros(0, np.int64)
    cores, first = [], 0
    while first < len(start):
        k = max(int(np.searchsorted(ends, first + budget, "right")) - 1, int(np.searchsorted(ends, first, "right")))
        cores.append((first, int(ends[k])))
        first = int(ends[k])
    return cores


def _joined(parts: list[Pairs]) -> Pairs:
    """The blocks' pairs as one, sorted by (a, b), letting each block go as it is joined."""
    if not parts:
        return _none()
    columns = _columns([tuple(getattr(p, f.name) for f in fields(p)) for p in parts])
    parts.clear()
    pairs = Pairs(*columns)
    return pairs.where(np.lexsort((pairs.b, pairs.a)))


def _search(incidents: Incidents, rule: DuplicateRule, mine: np.ndarray | None) -> Pairs:
    """Every duplicate pair among the incidents, searched as one."""
    spots = spots_of(incidents, rule)
    if not len(spots.incident):
        return _none()
    if mine is not None and mine.sum() * len(spots.incident) <= DIRECT_PAIRS:  # a few incidents: each against all
        found = [_exact(incidents, spots, rule, *_against_all(incidents, spots, rule, p))
                 for p in np.flatnonzero(mine[spots.incident])]
    else:
        grid = Grid(incidents, spots, rule)
        found = [_exact(incidents, spots, rule, p, q)
                 for chunk in np.array_split(np.arange(len(spots.incident)), max(1, -(-len(spots.incident) // CHUNK)))
                 for p, q in grid.probe(chunk)]
    if not found:
        return _none()
    columns = _columns(found)
    _release()
    pairs = _best_basis(columns)
    return pairs if mine is None else pairs.where(mine[pairs.a] | mine[pairs.b])


def _none() -> Pairs:
    return Pairs(*(np.zeros(0, np.int64) for _ in range(4)), np.zeros(0, np.float32), np.zeros(0, bool))


def _release() -> None:
    """Give the heap's freed memory back to the system (glibc's `malloc_trim`; a no-op elsewhere).
    The found candidates come in arrays of a few MB, below glibc's mmap threshold, so once joined
    and let go they stay in the process's heap: in the densest date block of the 1,000,000-incident
    benchmark (68,611 incidents, 10,246,909 pairs) 200 MB of resident memory beside the joined
    columns. Released there, the search over the million peaked at 778 MB instead of 889 MB."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


_PROCESS = ctypes.CDLL(None)  # the process's own symbols, its C library's among them
_LIBC = _PROCESS if hasattr(_PROCESS, "malloc_trim") else None


def _columns(found: list[tuple]) -> list[np.ndarray]:
    """The found blocks' columns, each as one array, letting the blocks go column by column: over
    a million incidents they hold tens of millions of spot pairs, and holding both doubled the peak."""
    blocks = [list(f) for f in found]
    found.clear()
    out = []
    for i in range(len(blocks[0])):
        out.append(np.concatenate([block[i] for block in blocks]))
        for block in blocks:
            block[i] = None
    return out


def _against_all(incidents: Incidents, spots: Spots, rule: DuplicateRule, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate spot pairs (p, every spot of the same event type with dates close enough)."""
    x, inc = spots.incident[p], spots.incident
    q = np.flatnonzero((incidents.event_type[inc] == incidents.event_type[x])
                       & (incidents.day_start[inc] <= incidents.day_end[x] + rule.days)
                       & (incidents.day_start[x] <= incidents.day_end[inc] + rule.days))
    return np.full(len(q), p), q


def _exact(incidents: Incidents, spots: Spots, rule: DuplicateRule, p: np.ndarray, q: np.ndarray) -> tuple:
    """The candidate spot pairs that meet the rule exactly, as incident pairs (a, b, basis, group,
    the wider disc's radius in float32, whether both discs are precise), a < b."""
    ia, ib = spots.incident[p], spots.incident[q]
    keep = ia != ib
    p, q, ia, ib = p[keep], q[keep], ia[keep], ib[keep]
    reach = rule.metres + spots.radius[p] + spots.radius[q]
    close = _within(spots.lon[p], spots.lat[p], spots.lon[q], spots.lat[q], reach)
    p, q, ia, ib = p[close], q[close], ia[close], ib[close]
    group = _shared_group(incidents.groups, ia, ib)
    kept = group != -2  # -2: their claims tell them apart
    p, q, ia, ib, group = p[kept], q[kept], ia[kept], ib[kept], group[kept]
    swap = ia > ib
    ka, kb = np.where(swap, spots.kind[q], spots.kind[p]), np.where(swap, spots.kind[p], spots.kind[q])
    wider = np.maximum(spots.radius[p], spots.radius[q])  # precise or not decided in float64, kept in float32
    return (np.where(swap, ib, ia).astype(np.int32), np.where(swap, ia, ib).astype(np.int32),
            (2 * ka + kb).astype(np.int8), group.astype(np.int32), wider.astype(np.float32), wider <= rule.precise_m)


def _best_basis(columns: list[np.ndarray]) -> Pairs:
    """Each incident pair once, sorted, with the best basis that met: the first in `BASES` order
    whose two discs are precise (a likely pair), else the one whose wider disc is narrowest, from
    the found columns (a, b, basis, group, wider, precise), which are let go as the pairs are
    built: over a million incidents one date block finds ten million (10,246,909 in the densest
    of the benchmark's), and holding them beside the pairs was the search's peak (+449 MB)."""
    a, b, basis, _, wider, precise = columns
    order = np.lexsort((basis, np.where(precise, np.float32(0), wider), b, a))
    del a, b, basis, wider, precise
    sa, sb = columns[0][order], columns[1][order]
    first = np.ones(len(order), bool)
    first[1:] = (sa[1:] != sa[:-1]) | (sb[1:] != sb[:-1])
    del sa, sb
    keep = order[first]
    del order, first
    return Pairs(*_taken(columns, keep))


def _taken(columns: list[np.ndarray], keep) -> list[np.ndarray]:
    """`keep` (a mask or indices) of each column, each let go of as soon as it is taken."""
    out = []
    for i in range(len(columns)):
        out.append(columns[i][keep])
        columns[i] = None
    return out


def _within(lon1, lat1, lon2, lat2, reach) -> np.ndarray:
    """Geodesic distance (WGS84) <= reach, asking pyproj only where the sphere cannot tell."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((phi2 - phi1) / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    sphere = 2 * SPHERE_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
    out = sphere <= reach * (1 - SPHERE_MARGIN)
    unsure = np.flatnonzero(~out & (sphere <= reach * (1 + SPHERE_MARGIN)))
    if len(unsure):
        metres = GEOD.inv(lon1[unsure], lat1[unsure], lon2[unsure], lat2[unsure])[2]
        out[unsure] = metres <= reach[unsure]
    return out


def _shared_group(groups: np.ndarray, ia: np.ndarray, ib: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """Per pair: the smallest group code both name, -1 when one names none, -2 when their claims
    name groups and none in common (told apart)."""
    out = np.empty(len(ia), np.int64)
    for start in range(0, len(ia), block):
        ga, gb = groups[ia[start:start + block]], groups[ib[start:start + block]]
        same = (ga[:, :, None] == gb[:, None, :]) & (ga[:, :, None] >= 0)
        common = np.where(same, ga[:, :, None], np.iinfo(np.int64).max).min(axis=(1, 2))
        unnamed = (ga[:, 0] < 0) | (gb[:, 0] < 0)
        out[start:start + block] = np.where(unnamed, -1, np.where(same.any(axis=(1, 2)), common, -2))
    return out
