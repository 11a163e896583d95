"""What a map shows, as plain data: every layer draws from one `Scene`, in either renderer.

A scene is built once (by `geomap.maps` from the database, or by hand in tests) and is then
drawn by each layer's `to_folium` and `to_axes`, so the interactive map and the static graphic
show the same features in the same initial state. Nothing here touches the database or Flask.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from functools import cache

import msgspec

from geomap.analysis.geodesy import Distance
from geomap.analysis.model import ControlZone
from geomap.model.attribution import attributed_groups
from geomap.model.dataversion import data_version

Bbox = tuple[float, float, float, float]  # west, south, east, north in degrees (WGS84)
CONTESTED = "+"  # category of an incident attributed to two or more groups
UNATTRIBUTED = ""  # category of an incident attributed to none
ALL_DATES = "all"  # incident window: every incident, whatever the slider's date
UP_TO_DATE = "before"  # incident window: incidents that started on or before the slider's date


@dataclass(frozen=True)
class Group:
    """An armed group as a map shows it: its name and its colour (#rrggbb)."""

    id: str
    name: str
    color: str


@dataclass(frozen=True)
class Claim:
    """One attribution claim on a map: the group, who claims it and with what stance, and its sources."""

    group: str
    claimant: str
    stance: str
    sources: tuple[dict, ...] = ()
    notes: str | None = None


@dataclass(frozen=True)
class MapIncident:
    """An incident as a map draws it: WGS84 lon/lat, the precision radius in metres, the dates it is
    known to lie within (inclusive), its claims and sources.
    """

    id: str
    title: str
    lon: float
    lat: float
    precision_m: float
    date_start: date
    date_end: date
    event_type: str
    status: str
    sub_event_type: str | None = None
    description: str | None = None
    location_name: str | None = None
    fatalities_best: int | None = None
    claims: tuple[Claim, ...] = ()
    sources: tuple[dict, ...] = ()
    derived_from: tuple[str, ...] = ()  # the features its point was copied or reasoned from (relations)

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups the incident is attributed to (claimed, accused or assessed)."""
        return attributed_groups(self.claims)

    @property
    def group_category(self) -> str:
        named = self.groups
        return UNATTRIBUTED if not named else named[0] if len(named) == 1 else CONTESTED


@dataclass(frozen=True)
class MapSite:
    """A site as a map draws it: WGS84 lon/lat with its precision radius in metres."""

    id: str
    name: str
    kind: str
    lon: float
    lat: float
    precision_m: float
    status: str
    sources: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Cell:
    """Incidents aggregated on the server: one grid cell and period, counted by category."""

    lon: float
    lat: float
    period_start: date
    period_end: date
    first: date
    last: date
    counts: tuple[tuple[str, int], ...]  # (category, count), largest first
    bbox: Bbox

    @property
    def count(self) -> int:
        # Summed on each read, not a cached_property: Python 3.11's takes a lock on its first read
        # (about 2.7 us, against 0.3 to sum a cell's few counts), and a counted map's payload reads
        # the count of each of its ~3,000 cells once (bench/README.md, maps "Session 18").
        return sum(n for _, n in self.counts)

    @property
    def category(self) -> str:
        return self.counts[0][0]


@dataclass(frozen=True)
class DistanceLine:
    """A measured distance from the focus incident to something, drawn as a labelled line."""

    kind: str  # "target", "prior" or "site"
    name: str
    lon: float
    lat: float
    distance: Distance
    note: str = ""  # e.g. "80 to 117 days before"


@dataclass(frozen=True)
class ZoneReach:
    """The nearest zone of a group the focus incident is attributed to, in force on its date, and how far it is."""

    group: str
    zone: ControlZone
    distance: Distance


@dataclass(frozen=True)
class Scene:
    """Everything one map shows, and its initial time state (the slider's start)."""

    title: str
    extent: Bbox
    on: date  # the slider's date: zones in force on it are shown
    window: str = ALL_DATES  # which incidents the slider's date shows: ALL_DATES or UP_TO_DATE
    time_range: tuple[date, date] | None = None
    color_by: str = "group"
    layers: tuple[str, ...] = ()
    groups: dict[str, Group] = field(default_factory=dict)
    incidents: tuple[MapIncident, ...] = ()
    cells: tuple[Cell, ...] = ()  # set instead of `incidents` when the selection is too large
    pending: bool = False  # cells still to count: a page draws the rest first (maps.selection_steps)
    total_incidents: int = 0
    sites: tuple[MapSite, ...] = ()
    zones: tuple[ControlZone, ...] = ()
    focus: MapIncident | None = None
    distances: tuple[DistanceLine, ...] = ()
    rings_m: tuple[float, ...] = ()
    claimed_zones: tuple[ZoneReach, ...] = ()  # the nearest zone of each group the focus is attributed to
    subtitle: str = ""
    links: dict[str, str] = field(default_factory=dict)  # page, png, svg, drill (a /maps URL without bbox)
    data_version: str = ""  # `version()` of the selected data, set by whoever builds the scene

    @property
    def aggregated(self) -> bool:
        return bool(self.cells) or self.pending

    @property
    def timed(self) -> bool:
        """Whether the interactive map has a time slider (which then decides what is shown)."""
        return self.time_range is not None and "time" in self.layers

    def incident_shown(self, start: date, end: date) -> bool:
        """Whether an incident (or cell) dated start..end shows in the initial state."""
        return self.window == ALL_DATES or start <= self.on

    def shown_incidents(self) -> tuple[MapIncident, ...]:
        return tuple(i for i in self.incidents if self.incident_shown(i.date_start, i.date_end))

    def shown_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if self.incident_shown(c.period_start, c.period_end))

    def shown_zones(self) -> tuple[ControlZone, ...]:
        return tuple(z for z in self.zones if z.in_force(self.on))

    def at_start(self) -> Scene:
        """The scene as the time slider starts: only what is shown on `on` (for static graphics)."""
        keep = {i.id for i in self.shown_incidents()} | ({self.focus.id} if self.focus else set())
        return replace(self, incidents=tuple(i for i in self.incidents if i.id in keep), cells=self.shown_cells(),
                       zones=self.shown_zones())

    def group_name(self, gid: str) -> str:
        return self.groups[gid].name if gid in self.groups else gid

    def sources(self) -> list[dict]:
        """Every source behind what the map shows, once each (by URL), in order of first use."""
        seen: dict[str, dict] = {}
        for item in (*self.incidents, *self.sites, *self.zones):
            for source in item.sources:
                seen.setdefault(source.get("url") or msgspec.json.encode(source, order="sorted").decode(), source)
            for claim in getattr(item, "claims", ()):
                for source in claim.sources:
                    seen.setdefault(source.get("url") or msgspec.json.encode(source, order="sorted").decode(), source)
        return list(seen.values())

    def publishers(self) -> list[str]:
        """The publishers of the scene's sources, most cited first."""
        counts = Counter((s.get("publisher") or s.get("title") or "unknown") for s in self.sources())
        return [name for name, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]

    def version(self) -> str:
        """The data version of what the map shows (`geomap.model.dataversion`): the same data always
        gives the same version, and the same definition gives a data package its version."""
        return data_version(_records(self))


def _records(scene: Scene) -> Iterator[tuple[str, object]]:
    """Everything drawn, as (resource, plain record) pairs in drawing order."""
    # A dataclass goes to the encoder as it is: msgspec writes its fields (not its cached
    # properties) as an object, the same bytes as the dict of `_fields`, in half the time
    # (`tests/layers/test_scene_version.py` holds it to json's encoding of the fields).
    yield from (("incidents", i) for i in scene.incidents)
    yield from (("cells", c) for c in scene.cells)
    yield from (("sites", s) for s in scene.sites)
    yield from (("control_zones", _fields(z) | {"geometry": z.geometry.wkb}) for z in scene.zones)
    yield from (("distances", d) for d in scene.distances)
    yield from (("claimed_zones", {"group": r.group, "zone": r.zone.id, "distance": r.distance})
                for r in scene.claimed_zones)
    yield from (("groups", g) for g in sorted(scene.groups.values(), key=lambda g: g.id))
    yield "scene", {"on": scene.on, "extent": scene.extent}


def _fields(record) -> dict:
    """A dataclass's fields (not its cached properties) by name."""
    return {name: getattr(record, name) for name in _field_names(type(record))}


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    # dataclasses.fields() builds its tuple on every call: half the data version's time on 3,000 cells
    return tuple(f.name for f in fields(kind))


def period_end(start: date, period: str) -> date:
    """The last day of the month, quarter or year that begins on `start`."""
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
