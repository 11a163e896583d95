"""Maps: what to show, fetched from the database as a `Scene`, then drawn by the layers.

`focus_scene` is the map of one incident in its context (rings, distances to its target, the
nearest prior incidents and nearby sites, zones as of its date); `selection_scene` the map of any
selection (bbox, datetime, group, event type), counted per area on the server when it holds
more than `SERVER_AGGREGATION_ABOVE` incidents. `interactive` renders a scene as an HTML map
with offline assets; `graphic` as a PNG or SVG for print.
"""
from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from geomap import inquiry
from geomap.analysis.model import ControlZone
from geomap.db import candidates, map_queries, store
from geomap.errors import BadRequest
from geomap.layers import LAYERS, load
from geomap.layers.assets import INLINE
from geomap.layers.geo import padded, point_box, union
from geomap.layers.graphic import Size, render
from geomap.layers.rings import DEFAULT_RINGS_M
from geomap.layers.scene import (
    ALL_DATES, UP_TO_DATE, Bbox, Cell, Claim, DistanceLine, Group, MapIncident, MapSite, Scene, period_end,
)
from geomap.layers.text import date_range, precision_text
from geomap.layers.webmap import Rendered, build, render as render_html

BASEMAP_EXTENT: Bbox = (34.0, 28.0, 54.0, 40.0)  # the offline basemap's coverage
SERVER_AGGREGATION_ABOVE = 1000  # more incidents than this are counted per area on the server
MAX_CELLS = 20_000  # cells x periods sent to the browser at most (about 40 bytes each)
COLOR_BY = ("group", "event_type")
FOCUS_CONTEXT_KM = 60.0  # prior incidents closer than this widen the focus map to include them
ALWAYS = ("basemap",)  # the offline basemap is always drawn


@dataclass(frozen=True)
class Selection:
    """Which incidents, sites and zones a selection map shows (the items endpoint's filters)."""

    bbox: Bbox | None = None
    interval: tuple[date | None, date | None] | None = None
    groups: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class MapOptions:
    """How a map looks: its layers, colours, starting date and title."""

    layers: tuple[str, ...] | None = None  # None: every registered layer that has something to draw
    color_by: str = "group"
    on: date | None = None  # the time slider's starting date (zones in force on it)
    title: str | None = None
    rings_m: tuple[float, ...] = DEFAULT_RINGS_M
    links: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.color_by not in COLOR_BY:
            raise BadRequest(f"color_by: must be one of {', '.join(COLOR_BY)}; got {self.color_by!r}")
        if self.layers is not None:
            unknown = [name for name in self.layers if name not in LAYERS]
            if unknown:
                raise BadRequest(f"layers: unknown layer(s) {', '.join(unknown)}; known: {', '.join(LAYERS)}")


def layer_names(options: MapOptions) -> tuple[str, ...]:
    """The layers to draw, in drawing order; the offline basemap is always among them."""
    wanted = set(options.layers if options.layers is not None else LAYERS) | set(ALWAYS)
    return tuple(name for name in LAYERS if name in wanted)


# -- scenes from the database -----------------------------------------------------------------

def focus_scene(engine: Engine, incident_id: str, options: MapOptions = MapOptions()) -> Scene:
    """The map of one incident: its context report drawn (NotFound when there is no such id)."""
    report = inquiry.context_report(engine, incident_id)
    priors = [g for g in report.groups if g.nearest_prior is not None]
    ids = {report.incident.id, *(n.incident.id for n in report.nearby_incidents),
           *(g.nearest_prior.incident.id for g in priors)}
    with engine.connect() as conn:
        groups = _groups(conn)
        incidents = _incidents(conn, map_queries.map_incident_filters(ids=ids))
        focus = next(i for i in incidents if i.id == report.incident.id)
        distances = _distances(report, priors, groups)
        extent = _focus_extent(focus, options.rings_m, distances, report)
        start, end = _time_range(incidents, focus)
        sites = [_site(r) for r in map_queries.map_sites(conn, padded(extent, 0.2))]
        zones = [ControlZone.from_row(r) for r in map_queries.map_zones(conn, padded(extent, 0.5), start, end)]
    on = options.on or focus.date_start
    subtitle = (f"{date_range(focus.date_start, focus.date_end)} \u00b7 location {precision_text(focus.precision_m)}"
                f" ({focus.status}) \u00b7 incidents up to {on.isoformat()} \u00b7 zones in force on {on.isoformat()}")
    scene = Scene(title=options.title or focus.title, extent=extent, on=on, window=UP_TO_DATE, time_range=(start, end),
                  color_by=options.color_by, layers=layer_names(options), groups=groups, incidents=tuple(incidents),
                  total_incidents=len(incidents), sites=tuple(sites), zones=tuple(zones), focus=focus,
                  distances=tuple(distances), rings_m=tuple(options.rings_m), subtitle=subtitle, links=options.links)
    return replace(scene, data_version=scene.version())


def selection_scene(engine: Engine, selection: Selection, options: MapOptions = MapOptions()) -> Scene:
    """The map of a selection; above `SERVER_AGGREGATION_ABOVE` incidents, counted per area.

    Scenes are cached per process, keyed on the request and on the database's write-ahead-log
    position (`map_queries.change_stamp`), which moves with every commit: a cached scene is never
    older than the data, and a repeated request (or a PNG after its page) skips the counting."""
    check_selection(options)
    with engine.connect() as conn:
        key = (str(engine.url), selection, _options_key(options), SERVER_AGGREGATION_ABOVE,
               map_queries.change_stamp(conn))
        if (scene := SCENES.get(key)) is None:
            scene = SCENES.put(key, _selection_scene(conn, selection, options))
    return scene


def check_selection(options: MapOptions) -> None:
    """BadRequest when the options cannot make a selection map (before any query)."""
    if options.layers is not None and {"rings", "distances"} & set(options.layers):
        raise BadRequest("layers: rings and distances need a focus incident; use /maps/incidents/{id}")


def selection_title(engine: Engine, selection: Selection, options: MapOptions = MapOptions()) -> str:
    """The title `selection_scene` gives the map (one small query: the groups' names), known
    before its incidents are counted, so that a page can send its head first."""
    if options.title:
        return options.title
    with engine.connect() as conn:
        return _selection_title(selection, _groups(conn))


def _options_key(options: MapOptions) -> tuple:
    return (options.layers, options.color_by, options.on, options.title, options.rings_m,
            tuple(sorted(options.links.items())))


class LruCache:
    """A small least-recently-used cache, safe across threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SCENES = LruCache(16)  # selection scenes, keyed by request and change stamp


def _selection_scene(conn: Connection, selection: Selection, options: MapOptions) -> Scene:
    start, end = selection.interval or (None, None)
    clauses = map_queries.map_incident_filters(selection.bbox, start, end, selection.event_types, selection.groups)
    total = map_queries.count_incidents(conn, clauses, SERVER_AGGREGATION_ABOVE + 1)
    bounds = map_queries.incident_bounds(conn, clauses) if total else None
    groups = _groups(conn)
    incidents, cells = [], []
    if total > SERVER_AGGREGATION_ABOVE:
        cells = _cells(conn, clauses, selection, bounds, options.color_by)
        total = sum(c.count for c in cells)
    else:
        incidents = _incidents(conn, clauses)
    sites = [_site(r) for r in map_queries.map_sites(conn, selection.bbox)]
    zones = [ControlZone.from_row(r) for r in map_queries.map_zones(conn, selection.bbox, start, end,
                                                                   selection.groups)]
    first, last = _selection_dates(selection, bounds, zones)
    on = options.on or last
    extent = selection.bbox or padded(union([_bounds_box(bounds), *(z.geometry.bounds for z in zones),
                                             *((s.lon, s.lat, s.lon, s.lat) for s in sites)]) or BASEMAP_EXTENT)
    scene = Scene(title=options.title or _selection_title(selection, groups), extent=extent, on=on, window=ALL_DATES,
                  time_range=(first, last), color_by=options.color_by, layers=layer_names(options), groups=groups,
                  incidents=tuple(incidents), cells=tuple(cells), total_incidents=total, sites=tuple(sites),
                  zones=tuple(zones), subtitle=_selection_subtitle(total, selection, on, bool(cells)),
                  links=options.links)
    return replace(scene, data_version=scene.version())


def _groups(conn: Connection) -> dict[str, Group]:
    return {g["id"]: Group(g["id"], g["name"], g["color"]) for g in candidates.all_groups(conn)}


def _incidents(conn: Connection, clauses) -> list[MapIncident]:
    rows = map_queries.map_incidents(conn, clauses)
    claims = store.current_attributions(conn, [r["id"] for r in rows]) if rows else {}
    return [MapIncident(
        id=r["id"], title=r["title"], lon=r["lon"], lat=r["lat"], precision_m=r["precision_m"],
        date_start=r["date_start"], date_end=r["date_end"], event_type=r["event_type"], status=r["status"],
        sub_event_type=r["sub_event_type"], description=r["description"], location_name=r["location_name"],
        fatalities_best=r["fatalities_best"], sources=tuple(r["sources"]),
        claims=tuple(Claim(c["group_id"], c["claimant"], c["stance"], tuple(c["sources"] or ()), c["notes"])
                     for c in claims.get(r["id"], ()))) for r in rows]


def _site(row: dict) -> MapSite:
    return MapSite(row["id"], row["name"], row["kind"], row["lon"], row["lat"], row["precision_m"], row["status"],
                   tuple(row["sources"]))




def _distances(report, priors, groups: dict[str, Group]) -> list[DistanceLine]:
    lines = []
    if report.target is not None:
        site = report.target.site
        lines.append(DistanceLine("target", site.name, site.location.lon, site.location.lat, report.target.distance))
    by_incident: dict[str, list] = {}
    for g in priors:
        by_incident.setdefault(g.nearest_prior.incident.id, []).append(g)
    for named in by_incident.values():
        prior = named[0].nearest_prior
        who = ", ".join(groups[g.id].name if g.id in groups else g.id for g in named)
        days = prior.days_before
        when = f", {days.min} to {days.max} days before" if days else ""
        where = prior.incident.location
        lines.append(DistanceLine("prior", prior.incident.title, where.lon, where.lat, prior.distance,
                                  f"nearest prior incident of {who}{when}"))
    target_id = report.target.site.id if report.target else None
    for s in report.nearby_sites:
        if s.site.id != target_id:
            lines.append(DistanceLine("site", s.site.name, s.site.location.lon, s.site.location.lat, s.distance))
    return lines


def _focus_extent(focus: MapIncident, rings_m: Sequence[float], distances: Iterable[DistanceLine], report) -> Bbox:
    reach = max([*rings_m, focus.precision_m, 5000.0])
    boxes = [point_box(focus.lon, focus.lat, reach)]
    boxes += [(d.lon, d.lat, d.lon, d.lat) for d in distances if d.distance.best <= FOCUS_CONTEXT_KM * 1000]
    boxes += [(n.incident.location.lon, n.incident.location.lat) * 2 for n in report.nearby_incidents]
    return padded(union(boxes), 0.06)


def _time_range(incidents: Sequence[MapIncident], focus: MapIncident) -> tuple[date, date]:
    start = min([i.date_start for i in incidents] + [focus.date_start - timedelta(days=7)])
    end = max([i.date_end for i in incidents] + [focus.date_end + timedelta(days=7)])
    return start, end


# -- selections counted on the server -------------------------------------------------------

GRID_ACROSS = 32  # cells across the longer side of a counted selection, before coarsening
PERIODS = ("month", "quarter", "year")


def _cells(conn: Connection, clauses, selection: Selection, bounds: dict, color_by: str) -> list[Cell]:
    """Incidents per grid cell and period (one query), coarsened in Python until at most
    MAX_CELLS remain: first to longer periods, then to cells twice as wide."""
    west, south, east, north = selection.bbox or _bounds_box(bounds)
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
    return Cell(lon=float(lon), lat=float(lat), period_start=max(start, low) if low else start,
                period_end=min(end, high) if high else end, first=first, last=last, counts=counts,
                bbox=(x0, y0, x0 + width, y0 + width))


def _bounds_box(bounds: dict | None) -> Bbox | None:
    return None if bounds is None else (bounds["west"], bounds["south"], bounds["east"], bounds["north"])


def _selection_dates(selection: Selection, bounds: dict | None, zones: Sequence[ControlZone]) -> tuple[date, date]:
    low, high = selection.interval or (None, None)
    days = [d for d in ((bounds or {}).get("first"), (bounds or {}).get("last")) if d is not None]
    days += [z.valid_from for z in zones] if not days else []
    first = low or (min(days) if days else date.today())
    last = high or (max(days) if days else date.today())
    return first, max(first, last)


def _selection_title(selection: Selection, groups: dict[str, Group]) -> str:
    named = ", ".join(groups[g].name if g in groups else g for g in selection.groups)
    what = f"Incidents attributed to {named}" if named else "Incidents"
    return what + (f": {', '.join(selection.event_types)}" if selection.event_types else "")


def _selection_subtitle(total: int, selection: Selection, on: date, aggregated: bool) -> str:
    low, high = selection.interval or (None, None)
    when = f", {low or '..'} to {high or '..'}" if selection.interval else ""
    counted = " (counted per area)" if aggregated else ""
    return f"{total:,} incidents{when}{counted} \u00b7 zones in force on {on.isoformat()}"


# -- drawing ------------------------------------------------------------------------------------

def layers_of(scene: Scene) -> list:
    return [load(name) for name in scene.layers]


def interactive(scene: Scene, assets: str = INLINE, embed: bool = False, sent: frozenset[str] = frozenset()
                ) -> Rendered:
    """The interactive map's HTML parts; `assets` is INLINE or a base URL such as /maps/assets
    (leaving out the assets named in `sent`, which the page has linked already).
    An embedded (or standalone) map carries its title and a source credit inside the map."""
    rendered = render_html(build(scene, layers_of(scene), embed), assets, sent)
    _settle()
    return rendered


_settled = threading.Lock()
_SETTLED: list[bool] = []


def _settle() -> None:
    """Once per process, after its first map: move every object alive (modules, the basemap's
    shapes and payloads, Folium's templates: some 190,000) out of the garbage collector's sight
    (`gc.freeze`). Otherwise a full collection walks them all every few requests; with a counted
    map's rows and cells it was a 150 ms pause in most cold requests of a 100,000-incident map
    (half the server's time). Reference counting still frees frozen objects; only a cycle among
    them would stay (what is alive after the first map is nearly all there for good)."""
    if _SETTLED:
        return
    with _settled:
        if not _SETTLED:
            gc.collect()
            gc.freeze()
            _SETTLED.append(True)


def graphic(scene: Scene, fmt: str, size: Size) -> bytes:
    """The static graphic as PNG or SVG bytes (matplotlib only: no browser, no network): the
    interactive map's starting state, i.e. what its time slider shows on the scene's date."""
    return render(scene.at_start(), layers_of(scene), fmt, size)
