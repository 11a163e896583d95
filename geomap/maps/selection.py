"""The map of any selection (bbox, datetime, group, event type): its incidents one by one, or
counted per area on the server when it holds more than `SERVER_AGGREGATION_ABOVE` of them."""
from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from geomap.analysis.model import ControlZone
from geomap.db import map_queries
from geomap.errors import BadRequest
from geomap.layers.geo import padded, union
from geomap.layers.scene import ALL_DATES, Bbox, Group, Scene
from geomap.maps import cache, cells, rows
from geomap.maps.request import MapOptions, Selection, layer_names

BASEMAP_EXTENT: Bbox = (34.0, 28.0, 54.0, 40.0)  # the offline basemap's coverage
SERVER_AGGREGATION_ABOVE = 1000  # more incidents than this are counted per area on the server


def selection_scene(engine: Engine, selection: Selection, options: MapOptions = MapOptions()) -> Scene:
    """The map of a selection; above `SERVER_AGGREGATION_ABOVE` incidents, counted per area.

    Scenes are cached per process (`geomap.maps.cache`), keyed on the request and on the change
    stamps of the tables the scene reads, which move with every write to them and with nothing
    else: a cached scene is never older than the data, and a repeated request (or a PNG after its
    page) skips the counting."""
    *_, scene = selection_steps(engine, selection, options)
    return scene


def selection_steps(engine: Engine, selection: Selection, options: MapOptions = MapOptions()) -> Iterator[Scene]:
    """`selection_scene` in the steps a page can send: when its incidents are to be counted per
    area (and the scene is not cached), first the scene without its cells (`Scene.pending`:
    everything else, which the browser draws while the server counts), then the whole scene;
    otherwise the whole scene alone. The last scene is the one `selection_scene` returns."""
    check_selection(options)
    with engine.connect() as conn:
        key = (str(engine.url), selection, options.key(), SERVER_AGGREGATION_ABOVE,
               map_queries.change_stamps(conn, cache.READS))
        cached = cache.peek(cache.SCENES, key)
        if cached is not None:
            yield cached
            return
        frame, clauses, bounds = _frame(conn, selection, options)
        if frame.pending:
            counting = _counting(os.getpid()).submit(_count, engine, clauses, selection, bounds, options.color_by)
            yield frame
            frame = replace(frame, cells=tuple(counting.result()), pending=False)
        yield cache.keep(cache.SCENES, key, replace(frame, data_version=frame.version()))


# The cells are counted on a connection of their own while the map without them is rendered and
# sent (the database counts while Python renders: a cold 100,000-incident page 192 -> 175 ms on the
# server, bench/README.md maps "Session 14"). Each statement of the page already read its own
# snapshot (READ COMMITTED), so the cells are as consistent with the rest as before.
@functools.cache
def _counting(pid: int) -> ThreadPoolExecutor:
    """The counting threads of process `pid` (this one's, `os.getpid()`): a pool made before a
    fork (gunicorn's workers) has no threads in the child, and would be waited on for ever."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="geomap-cells")


def _count(engine: Engine, clauses, selection: Selection, bounds: dict, color_by: str) -> list:
    with engine.connect() as conn:
        return cells.counted(conn, clauses, selection, bounds, color_by)


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
        return _selection_title(selection, rows.groups(conn))


def _frame(conn: Connection, selection: Selection, options: MapOptions) -> tuple[Scene, list, dict | None]:
    """The scene of a selection without its data version, and, when it is to be counted per area,
    without its cells (`Scene.pending`); with the selection's filters and bounds, which the
    counting needs."""
    start, end = selection.interval or (None, None)
    clauses = map_queries.map_incident_filters(selection.bbox, start, end, selection.event_types, selection.groups)
    bounds = map_queries.incident_bounds(conn, clauses)
    total = bounds["n"] if bounds else 0
    groups = rows.groups(conn)
    aggregated = total > SERVER_AGGREGATION_ABOVE
    incidents = [] if aggregated else rows.incidents(conn, clauses)
    sites = [rows.site(r) for r in map_queries.map_sites(conn, selection.bbox)]
    zones = [ControlZone.from_row(r) for r in map_queries.map_zones(conn, selection.bbox, start, end,
                                                                   selection.groups)]
    first, last = _selection_dates(selection, bounds, zones)
    on = options.on or last
    extent = selection.bbox or padded(union([cells.bounds_box(bounds), *(z.geometry.bounds for z in zones),
                                             *((s.lon, s.lat, s.lon, s.lat) for s in sites)]) or BASEMAP_EXTENT)
    scene = Scene(title=options.title or _selection_title(selection, groups), extent=extent, on=on, window=ALL_DATES,
                  time_range=(first, last), color_by=options.color_by, layers=layer_names(options), groups=groups,
                  incidents=tuple(incidents), pending=aggregated, total_incidents=total, sites=tuple(sites),
                  zones=tuple(zones), subtitle=_selection_subtitle(total, selection, on, aggregated),
                  links=options.links)
    return scene, clauses, bounds


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
