"""The focus map of one incident: its context report drawn (rings, distances to its target, the
nearest prior incidents and nearby sites, zones as of its date)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy.engine import Engine

from geomap import inquiry
from geomap.analysis.model import ControlZone
from geomap.db import map_queries
from geomap.layers.geo import padded, point_box, union
from geomap.layers.scene import UP_TO_DATE, Bbox, DistanceLine, Group, MapIncident, Scene, ZoneReach
from geomap.layers.text import date_range, precision_text
from geomap.maps import cache, rows
from geomap.maps.request import MapOptions, layer_names

FOCUS_CONTEXT_KM = 60.0  # prior incidents closer than this widen the focus map to include them


def focus_scene(engine: Engine, incident_id: str, options: MapOptions = MapOptions()) -> Scene:
    """The map of one incident: its context report drawn (NotFound when there is no such id).

    Cached per process like a selection's (`geomap.maps.cache`): keyed on the request and on the
    change stamps of the tables the report and the scene read, so a cached scene is never older
    than the data, and a repeated request (the PNG after its page, another size) skips the report."""
    with engine.connect() as conn:
        key = ("focus", str(engine.url), incident_id, options.key(), map_queries.change_stamps(conn, cache.READS))
    return cache.recall(cache.SCENES, key, lambda: _focus_scene(engine, incident_id, options))


def _focus_scene(engine: Engine, incident_id: str, options: MapOptions) -> Scene:
    report = inquiry.context_report(engine, incident_id)
    priors = [g for g in report.groups if g.nearest_prior is not None]
    ids = {report.incident.id, *(n.incident.id for n in report.nearby_incidents),
           *(g.nearest_prior.incident.id for g in priors)}
    with engine.connect() as conn:
        groups = rows.groups(conn)
        incidents = rows.incidents(conn, map_queries.map_incident_filters(ids=ids))
        focus = next(i for i in incidents if i.id == report.incident.id)
        distances = _distances(report, priors, groups)
        extent = _focus_extent(focus, options.rings_m, distances, report)
        start, end = _time_range(incidents, focus)
        sites = [rows.site(r) for r in map_queries.map_sites(conn, padded(extent, 0.2))]
        zones = [ControlZone.from_row(r) for r in map_queries.map_zones(conn, padded(extent, 0.5), start, end)]
    on = options.on or focus.date_start
    subtitle = (f"{date_range(focus.date_start, focus.date_end)} \u00b7 location {precision_text(focus.precision_m)}"
                f" ({focus.status}) \u00b7 incidents up to {on.isoformat()} \u00b7 zones in force on {on.isoformat()}")
    scene = Scene(title=options.title or focus.title, extent=extent, on=on, window=UP_TO_DATE, time_range=(start, end),
                  color_by=options.color_by, layers=layer_names(options), groups=groups, incidents=tuple(incidents),
                  total_incidents=len(incidents), sites=tuple(sites), zones=tuple(zones), focus=focus,
                  distances=tuple(distances), rings_m=tuple(options.rings_m), subtitle=subtitle, links=options.links,
                  claimed_zones=_claimed_zones(report, focus))
    return replace(scene, data_version=scene.version())


def _claimed_zones(report, focus: MapIncident) -> tuple[ZoneReach, ...]:
    """The nearest zone (in force on the incident's date) of each group the incident is attributed to."""
    by_group = {g.id: g.nearest_zone for g in report.groups if g.nearest_zone is not None}
    return tuple(ZoneReach(gid, by_group[gid].zone, by_group[gid].distance) for gid in focus.groups
                 if gid in by_group)


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
