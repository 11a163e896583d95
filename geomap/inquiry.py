"""Questions asked of the data: the database narrows by index, the analysis engine answers.

This is where `geomap.db.candidates` meets `geomap.analysis`; the CLI and the HTTP API call
these functions and nothing lower.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from geomap.analysis import polygons
from geomap.analysis.baserate import BaseRate, Comparison, base_rate
from geomap.analysis.chance import Chance, disc_chance, region_distance
from geomap.analysis.duplicate_rows import Found, search
from geomap.analysis.duplicates import DuplicateRule
from geomap.analysis.feasible import Constraint, component, constraints_between, feasible_regions
from geomap.analysis.geodesy import Distance, Location, check_radius, point_distance, within
from geomap.analysis.model import ControlZone, Facts, Incident, Site
from geomap.analysis.proximity import NearbyIncident, Neighbours, rank_rows
from geomap.analysis.relations import Derivation, constraint_from_row, derived_note, location_facts
from geomap.analysis.report import (
    BASELINE_DAYS,
    BASELINE_REGION_M,
    DEFAULT_RADII_M,
    DEFAULT_WINDOWS_DAYS,
    DUPLICATES_LISTED,
    NEARBY_LISTED,
    PRIOR_SEARCH_DAYS,
    PRIOR_SEARCH_KM,
    ContextReport,
    Evidence,
    build_report,
)
from geomap.analysis.zones import Overlap, ZoneRelation, nearest_by_group, overlaps, relate
from geomap.db import base_counts, candidates, duplicates, near, prior, region, store
from geomap.db import relations as db_relations
from geomap.db.engine import read
from geomap.errors import InvalidInput, NotFound
from geomap.vocabulary import MAX_PRECISION_M

Feature = Incident | Site | ControlZone | Location
PRIOR_SEARCH_M = PRIOR_SEARCH_KM * 1000.0
MAX_REPORT_RADIUS_M = PRIOR_SEARCH_M  # a report is about an incident's surroundings
MAX_REPORT_WINDOW_DAYS = 3650
REF_KINDS = {"incidents": "incident", "sites": "site", "zones": "zone", "control_zones": "zone"}


def resolve(conn: Connection, ref: str) -> Feature:
    """A feature reference: `incidents/ID`, `sites/ID`, `zones/ID`, or `lon,lat[,precision_m]`."""
    kind = reference_kind(ref)
    if kind == "point":
        return parse_location(ref)
    fid = ref.partition("/")[2]
    row = getattr(candidates, kind)(conn, fid)
    if row is None:
        raise NotFound(f"no {kind} with id {fid!r}")
    return {"incident": Incident, "site": Site, "zone": ControlZone}[kind].from_row(row)


def reference_kind(ref: str) -> str:
    """What a reference names, checked without the database: "incident", "site", "zone" or
    "point"; InvalidInput when it is none of the forms `resolve` takes."""
    if "/" not in ref:
        parse_location(ref)
        return "point"
    kind = ref.partition("/")[0]
    if kind not in REF_KINDS:
        raise InvalidInput(f"unknown feature kind {kind!r} in {ref!r}; use incidents/ID, sites/ID or zones/ID")
    return REF_KINDS[kind]


def parse_location(text: str) -> Location:
    """A location from `lon,lat[,precision_m]` in decimal degrees and metres; InvalidInput otherwise."""
    parts = text.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3) or not all(math.isfinite(n) for n in numbers):
        raise InvalidInput(f"{text!r} is not a feature reference nor lon,lat[,precision_m] in decimal degrees")
    lon, lat, *precision = numbers
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"{text!r}: longitude must be within -180..180 and latitude within -90..90")
    if precision and not 0 <= precision[0] <= MAX_PRECISION_M:
        raise InvalidInput(f"{text!r}: precision_m must be within 0..{MAX_PRECISION_M:.0f} metres "
                           "(half the equator, the data model's bound)")
    return Location(*numbers)


@dataclass(frozen=True)
class FeatureDistance:
    """The distance between two features or points, and the initial bearing in degrees [0, 360)
    between their points when both are points. `basis` says what the distance was read from:
    "points" (the points widened by their precision) or "feasible regions" (the location
    constraints, named in `constraints`); `within` answers "within radius_m?" with its
    probability; `derived` warns where a location used was copied or reasoned from another."""

    distance: Distance
    bearing: float | None  # initial bearing from the first to the second, for two points
    basis: str = "points"
    constraints: tuple[str, ...] = ()
    within: Chance | None = None
    derived: tuple[str, ...] = ()


def distance(engine: Engine, ref_a: str, ref_b: str, radius_m: float | None = None) -> FeatureDistance:
    """The distance between two references (`incidents/ID`, `sites/ID`, `zones/ID` or a lon,lat
    point); with `radius_m`, whether (and how likely) it is within that radius. Features related
    by location constraints are measured between their feasible regions."""
    if radius_m is not None:
        radius_m = check_radius(radius_m, "within")
    with engine.connect() as conn:
        a, b = resolve(conn, ref_a), resolve(conn, ref_b)
        refs = [r for r in (_ref(a), _ref(b)) if r]
        context = related(conn, refs) if refs else None
    return measure(a, b, radius_m, context)


@dataclass(frozen=True)
class Related:
    """What the relations say about some features: the location constraints bearing on them,
    the locations those name, and the features' derivations."""

    constraints: list[Constraint]
    locations: dict[str, Location]
    derivations: list[Derivation]


def _ref(feature: Feature) -> str | None:
    kind = "incidents" if isinstance(feature, Incident) else "sites" if isinstance(feature, Site) else None
    return f"{kind}/{feature.id}" if kind else None


def related(conn: Connection, refs: list[str], either_end: bool = False) -> Related:
    """What the relations say about the features `refs` (`collection/id`): the location
    constraints bearing on them, the locations those name, and the derivations whose subject
    (with `either_end`, subject or object) is one of them."""
    rows = db_relations.constraints_around(conn, refs)
    zone_ids = {r["object"].partition("/")[2] for r in rows if r["kind"] == "inside" and r["object"]}
    zones = db_relations.zones(conn, zone_ids)
    ends = {e for r in rows for e in (r["subject"], r["object"]) if e and not e.startswith("control_zones/")}
    points = db_relations.locations(conn, ends | set(refs))
    return Related([constraint_from_row(r, zones) for r in rows],
                    {ref: Location(*p) for ref, p in points.items()},
                    [Derivation.from_row(r) for r in db_relations.derivations(conn, refs, either_end)])


def measure(a: Feature, b: Feature, radius_m: float | None = None, context: Related | None = None) -> FeatureDistance:
    """Distance triple between any two features: point-point, point-zone or zone-zone; between
    two points related by location constraints, between their feasible regions."""
    derived = tuple(n for n in (derived_note(r, context.derivations) for r in (_ref(a), _ref(b)) if r) if n) \
        if context else ()
    ra, rb = _ref(a), _ref(b)
    if context and ra and rb and ra != rb and component([ra, rb], context.constraints):
        found = _constrained(ra, rb, radius_m, context)
        if found is not None:
            return replace(found, derived=derived)
    found = _unconstrained(a, b)
    if radius_m is not None and found.bearing is not None:
        la, lb = _location(a), _location(b)
        chance = disc_chance(found.distance, _points_apart(la, lb), la.precision_m, lb.precision_m, radius_m)
        found = replace(found, within=chance)
    elif radius_m is not None:
        found = replace(found, within=Chance(radius_m, within(found.distance, radius_m), None, "not computed for zones"))
    return replace(found, derived=derived)


def _points_apart(la: Location, lb: Location) -> float:
    return point_distance(la.lon, la.lat, lb.lon, lb.lat)[0]


def _constrained(ra: str, rb: str, radius_m: float | None, context: Related) -> FeatureDistance | None:
    """The distance between the feasible regions of two related features; None when the
    constraints leave both their precision discs whole and none relates the two directly (the
    points then answer exactly, as for features without constraints)."""
    used = component([ra, rb], context.constraints)
    ends = {e for c in used for e in c.ends()} | {ra, rb}
    frame, regions = feasible_regions({e: context.locations[e] for e in sorted(ends)}, used)
    between = constraints_between(ra, rb, used)
    if not between and regions[ra].disc and regions[rb].disc:
        return None
    found, chance = region_distance(frame, regions[ra], regions[rb], ra, rb, between, radius_m)
    return FeatureDistance(found, None, "feasible regions", tuple(c.id for c in used), chance)


def _unconstrained(a: Feature, b: Feature) -> FeatureDistance:
    """Distance triple between any two features: point-point, point-zone or zone-zone."""
    if isinstance(a, ControlZone) and isinstance(b, ControlZone):
        return FeatureDistance(polygons.zone_distance(a.geometry, a.precision_m, b.geometry, b.precision_m), None)
    if isinstance(a, ControlZone) or isinstance(b, ControlZone):
        zone, point = (a, b) if isinstance(a, ControlZone) else (b, a)
        loc = _location(point)
        return FeatureDistance(polygons.distance_to_zone(loc.lon, loc.lat, loc.precision_m, zone.geometry,
                                                         zone.precision_m), None)
    la, lb = _location(a), _location(b)
    metres, bearing = point_distance(la.lon, la.lat, lb.lon, lb.lat)
    return FeatureDistance(Distance.from_best(metres, la.precision_m, lb.precision_m), bearing)


def _location(feature: Feature) -> Location:
    return feature if isinstance(feature, Location) else feature.location


def nearby(engine: Engine, origin: str | Location, radius_m: float, *, date_from: date | None = None,
           date_to: date | None = None, event_types: Sequence[str] = (), group_ids: Sequence[str] = ()
           ) -> list[NearbyIncident]:
    """Incidents (possibly) within `radius_m` of a point or feature, nearest first."""
    radius_m = check_radius(radius_m, "radius")

    def candidates_of(conn: Connection) -> tuple[Feature, list]:
        focus = resolve(conn, origin) if isinstance(origin, str) else origin
        if isinstance(focus, ControlZone):
            raise InvalidInput("nearby needs a point: an incident, a site or lon,lat")
        location = _location(focus)
        return focus, near.incident_rows(
            conn, location.lon, location.lat, radius_m + location.precision_m, date_from=date_from, date_to=date_to,
            event_types=event_types, group_ids=group_ids, exclude=[focus.id] if isinstance(focus, Incident) else [])

    focus, rows = read(engine, candidates_of)
    dates = focus.dates if isinstance(focus, Incident) else None
    return rank_rows(_location(focus), rows, near.INCIDENT_COLUMNS, radius_m, dates)


def zones_at(engine: Engine, location: Location, on: date) -> tuple[list[ZoneRelation], dict[str, ZoneRelation]]:
    """The zones in force on `on` related to the point, and each group's nearest one."""
    with engine.connect() as conn:
        zones = [ControlZone.from_row(r) for r in candidates.zones_in_force(conn, on)]
    relations = relate(location, zones, on)
    return relations, nearest_by_group(relations)


def zone_overlaps(engine: Engine, on: date) -> list[Overlap]:
    """The zones of different groups that overlap on the day `on`, with the areas they share."""
    with engine.connect() as conn:
        zones = [ControlZone.from_row(r) for r in candidates.zones_in_force(conn, on)]
    return overlaps(zones, on)


def context_report(engine: Engine, incident_id: str, radii_m: Sequence[float] = DEFAULT_RADII_M,
                   windows_days: Sequence[int] = DEFAULT_WINDOWS_DAYS) -> ContextReport:
    """The context report of one incident, for the radii in metres and the time windows in days given."""
    _check_report_parameters(radii_m, windows_days)
    ref = f"incidents/{incident_id}"

    def gather(conn: Connection):
        widest = candidates.widest_site(conn)  # read once for the report's two searches of sites
        evidence = _evidence(conn, incident_id, max(radii_m), max(windows_days), widest)
        return evidence, related(conn, [ref], either_end=True), _duplicates(conn, evidence, widest)

    evidence, relations, found = read(engine, gather)
    report = build_report(replace(evidence, measured=_measured(evidence.incident, relations)), radii_m, windows_days)
    pairs = sorted(found.likely(), key=lambda d: (d["metres"], d["a"], d["b"]))
    return replace(report, location_facts=tuple(location_facts(ref, relations.constraints, relations.derivations)),
                   duplicates=tuple(pairs[:DUPLICATES_LISTED]), duplicates_total=len(pairs),
                   possible_duplicates=found.counts)


def _duplicates(conn: Connection, evidence: Evidence, widest_site: float) -> Found:
    """The focus's duplicates, likely and possible (`geomap.analysis.duplicates`, the import's rule), among the
    incidents within a day of it that may meet it through any spot (issue 12):
    - whose location disc may come within the rule's distance of the focus's location: its
      neighbours (all such are neighbours when the widest radius is at least the rule's
      distance, 1 km, and the widest window at least its days, 1);
    - whose location disc may come that close to the focus's target site, wherever that is;
    - that target a site whose disc may come that close to the focus's location or target: a
      record coded at its target matches through that site, wherever its own point is.
    All read by id, then tested exactly by the rule."""
    rule, focus, around = DuplicateRule(), evidence.incident, evidence.neighbours
    days = timedelta(days=rule.days)
    first, last = focus.date_start - days, focus.date_end + days
    ids: set[str] = set()
    if len(around):
        close = (around.first <= last.toordinal()) & (around.last >= first.toordinal())
        ids.update(around.ids[i] for i in np.flatnonzero(close & (around.measure(focus.location).low <= rule.metres)))
    spots = [focus.location]
    if evidence.target is not None:
        spot = evidence.target.location
        spots.append(spot)
        ids.update(r["id"] for r in near.incidents_near(conn, spot.lon, spot.lat, rule.metres + spot.precision_m,
                                                          date_from=first, date_to=last))
    sites = {s["id"] for spot in spots
             for s in candidates.sites_near(conn, spot.lon, spot.lat, rule.metres + spot.precision_m, widest_site)}
    ids.update(duplicates.targeting(conn, sorted(sites), first, last))
    ids.discard(focus.id)
    return search(duplicates.of_incident(conn, focus.id, sorted(ids)) if ids else None, rule)


def _measured(focus: Incident, relations: Related) -> dict[str, tuple[Distance | None, str]]:
    """The incidents whose distance from the focus the report takes from their location
    constraints (between feasible regions, as `distance` measures them) or whose location used
    was derived from another's, by id: the distance (None: the points') and the note to print."""
    ref, found = f"incidents/{focus.id}", {}
    others = {e for c in relations.constraints for e in c.ends() if e.startswith("incidents/")}
    others |= {e for d in relations.derivations for e in (d.subject, d.object) if e.startswith("incidents/")}
    for other in sorted(others - {ref}):
        constrained = _constrained(ref, other, None, relations) if other in relations.locations and \
            component([ref, other], relations.constraints) else None
        notes = [f"measured between feasible regions ({', '.join(constrained.constraints)})"] if constrained else []
        notes += [n for n in (derived_note(r, relations.derivations) for r in (other, ref)) if n]
        if notes:
            found[other.partition("/")[2]] = (constrained.distance if constrained else None, "; ".join(notes))
    return found


def _evidence(conn: Connection, incident_id: str, radius_m: float, window_days: int, widest_site: float) -> Evidence:
    row = candidates.incident_with_facts(conn, incident_id)
    if row is None:
        raise NotFound(f"no incident with id {incident_id!r}")
    focus = Incident.from_row(row)
    loc, window = focus.location, timedelta(days=window_days)
    groups = candidates.all_groups(conn)
    comparison = Comparison.before(focus.date_start, radius_m, BASELINE_REGION_M, window_days, BASELINE_DAYS)
    c = comparison  # the neighbours, the nearest prior incidents and the base counts read one region: one scan
    ranked, counted, columns = region.read(
        conn, loc.lon, loc.lat, [g["id"] for g in groups], before=focus.date_start, within_m=PRIOR_SEARCH_M,
        days=PRIOR_SEARCH_DAYS, local_m=c.local_m, region_m=c.region_m, window=(c.window_from, c.window_to),
        baseline=(c.baseline_from, c.baseline_to), exclude=[focus.id],
        neighbours=(radius_m + loc.precision_m, focus.date_start - window, focus.date_end + window))
    neighbours = Neighbours.from_columns(columns)
    nearest = neighbours.nearest(loc, radius_m, NEARBY_LISTED)  # read by id with the prior incidents: one statement
    by_id = {r["id"]: r for r in candidates.incidents_by_id(conn, {*nearest, *(r.id for r in ranked)})}
    priors = {gid: [Incident.from_row(r) for r in rows] for gid, rows in prior.grouped(ranked, by_id).items()}
    target = candidates.site(conn, focus.target_site) if focus.target_site else None
    return Evidence(
        incident=focus, claims=_claims(conn, focus.id), groups=groups,
        target=Site.from_row(target) if target else None,
        zones=[ControlZone.from_row(r) for r in candidates.zones_in_force(conn, focus.date_start)],
        neighbours=neighbours, listed=[Incident.from_row(by_id[i]) for i in nearest if i in by_id],
        prior_candidates=priors,
        sites=[Site.from_row(r) for r in candidates.sites_near(conn, loc.lon, loc.lat, radius_m + loc.precision_m,
                                                               widest_site)],
        facts=Facts.from_row(row), comparison=comparison,
        base_counts={g["id"]: counted.get(g["id"], (0, 0)) for g in groups},
    )


def _base_counts(conn: Connection, focus: Incident, group_ids: list[str], c: Comparison) -> dict[str, tuple[int, int]]:
    """Each group's (observed, baseline) counts for the stated comparison (`geomap.analysis.baserate`)."""
    return base_counts.base_counts(conn, focus.location.lon, focus.location.lat, group_ids, local_m=c.local_m,
                                  region_m=c.region_m, window=(c.window_from, c.window_to),
                                  baseline=(c.baseline_from, c.baseline_to), exclude=[focus.id])


def group_base_rate(engine: Engine, incident_id: str, group_id: str, local_m: float, window_days: int,
                    region_m: float = BASELINE_REGION_M, baseline_days: int = BASELINE_DAYS) -> BaseRate:
    """One group's base rate around an incident (`geomap.analysis.baserate`): what the report's
    bottom line computes for every group, for a comparison of one's choosing."""
    with engine.connect() as conn:
        row = candidates.incident(conn, incident_id)
        if row is None:
            raise NotFound(f"no incident with id {incident_id!r}")
        focus = Incident.from_row(row)
        comparison = Comparison.before(focus.date_start, local_m, region_m, window_days, baseline_days)
        counts = _base_counts(conn, focus, [group_id], comparison)
    return base_rate(group_id, *counts[group_id], comparison)


def _claims(conn: Connection, incident_id: str) -> list[dict]:
    claims = store.current_attributions(conn, [incident_id])[incident_id]
    return [{"group": c["group_id"], **{k: v for k, v in c.items() if k != "group_id"}} for c in claims]


def _check_report_parameters(radii_m: Sequence[float], windows_days: Sequence[int]) -> None:
    if not radii_m or not windows_days:
        raise InvalidInput("radius, window: give at least one radius and one window")
    for radius in radii_m:
        if not 0 < check_radius(radius, "radius") <= MAX_REPORT_RADIUS_M:
            raise InvalidInput(f"radius: each must be greater than 0 and at most {MAX_REPORT_RADIUS_M:.0f} metres; "
                               f"got {radius}")
    if any(not 0 <= w <= MAX_REPORT_WINDOW_DAYS for w in windows_days):
        raise InvalidInput(f"window: each must be a whole number of days from 0 to {MAX_REPORT_WINDOW_DAYS}")
