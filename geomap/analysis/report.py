"""The context report of an incident: the analyst's question, answered for every group.

How close was the incident to each group's zones and prior incidents, on its date and given
how uncertain every location is; what else happened nearby; and which sources say so.
`build_report` is pure: the caller fetches the candidates (see `geomap.inquiry`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from geomap.analysis.baserate import BaseRate, Comparison, base_rate
from geomap.analysis.bottomline import BottomLine, bottom_line
from geomap.analysis.duplicates import Possible
from geomap.analysis.geodesy import Distance, point_distance, within
from geomap.analysis.model import ControlZone, Facts, Incident, Site
from geomap.analysis.proximity import NearbyIncident, Neighbours, rank_nearby
from geomap.analysis.zones import ZoneRelation, nearest_by_group, relate

DEFAULT_RADII_M = (5000.0, 10000.0, 25000.0)
DEFAULT_WINDOWS_DAYS = (10, 30, 90)
NEARBY_LISTED = 50  # the counts use every neighbour; the list shows the nearest
DUPLICATES_LISTED = 20  # likely duplicates listed, the nearest first
PRIOR_SEARCH_KM, PRIOR_SEARCH_DAYS = 100, 365  # the horizon of each group's nearest prior incident
BASELINE_REGION_M, BASELINE_DAYS = PRIOR_SEARCH_KM * 1000.0, 365  # the base rates' wider region and baseline


@dataclass(frozen=True)
class SiteDistance:
    """A site with its distance from the focus incident and the bearing to it in degrees [0, 360)."""

    site: Site
    distance: Distance
    bearing: float


@dataclass(frozen=True)
class Count:
    """Incidents of a group within `radius_m` and `window_days` before the focus incident, split by
    location quality. `yes` and `possibly` count the incidents precise enough to be placed inside
    the radius at all (precision radius <= `radius_m`): certainly, or possibly, within it and the
    window. `coarse` counts the others (precision wider than the radius) that could fall inside:
    the data cannot place them, so they are never certain."""

    radius_m: float
    window_days: int
    yes: int
    possibly: int
    coarse: int = 0


@dataclass(frozen=True)
class GroupContext:
    """What the report says about one group: its claims, its zones, its nearest prior incident and counts."""

    id: str
    name: str
    claims: tuple[str, ...]  # the stances of the focus incident's claims naming this group
    zones: tuple[ZoneRelation, ...]
    nearest_zone: ZoneRelation | None
    nearest_prior: NearbyIncident | None
    counts: tuple[Count, ...]
    base_rate: BaseRate | None = None


@dataclass(frozen=True)
class ContextReport:
    """The context of one incident: its claims, target, each group's context and what lies nearby.

    `radii_m` (metres) and `windows_days` are the radii and time windows the counts were made for.
    """

    incident: Incident
    claims: tuple[dict, ...]
    target: SiteDistance | None
    groups: tuple[GroupContext, ...]
    nearby_incidents: tuple[NearbyIncident, ...]
    nearby_sites: tuple[SiteDistance, ...]
    sources: tuple[dict, ...]
    nearby_total: int = 0  # neighbours within the widest radius and window; the list is capped
    radii_m: tuple[float, ...] = DEFAULT_RADII_M
    windows_days: tuple[int, ...] = DEFAULT_WINDOWS_DAYS
    facts: Facts | None = None
    comparison: Comparison | None = None  # the base rates' stated comparison
    bottom_line: BottomLine | None = None  # the groups the claims name, side by side
    # What relations say about the incident's location (`geomap.analysis.relations.location_facts`):
    # the constraints on it and where it, or a location copied from it, was derived from.
    location_facts: tuple[str, ...] = ()
    # Likely duplicates of the incident among its neighbours (`geomap.analysis.duplicates`, docs/io.md's
    # rule): dicts of a, b, group, event_type, metres, a_date, b_date, basis, grade, wider_m; the
    # DUPLICATES_LISTED nearest, of `duplicates_total`. The possible ones (their discs meet only
    # through a coarse one) are counted by precision class, not listed.
    duplicates: tuple[dict, ...] = ()
    duplicates_total: int = 0
    possible_duplicates: Possible = Possible()


@dataclass(frozen=True)
class Evidence:
    """What `build_report` needs, fetched by index from the database."""

    incident: Incident
    claims: Sequence[dict]
    groups: Sequence[dict]  # id, name
    target: Site | None
    zones: Sequence[ControlZone]  # in force on the incident's start date
    neighbours: Neighbours  # within the widest radius and window, either side: counted
    listed: Sequence[Incident]  # the NEARBY_LISTED nearest of them, in full: listed
    prior_candidates: dict[str, Sequence[Incident]] = field(default_factory=dict)  # by group
    sites: Sequence[Site] = ()
    facts: Facts | None = None
    comparison: Comparison | None = None
    base_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # (observed, baseline) by group
    # Incidents whose distance from the focus is not that of their points, by id: the distance
    # between feasible regions (location constraints relate them) and the note that says so.
    measured: dict[str, tuple[Distance | None, str]] = field(default_factory=dict)  # None: the points' distance


def build_report(evidence: Evidence, radii_m: Sequence[float] = DEFAULT_RADII_M,
                 windows_days: Sequence[int] = DEFAULT_WINDOWS_DAYS) -> ContextReport:
    """Answer the analyst's question for every group from the evidence gathered about one incident."""
    focus = evidence.incident
    on = focus.date_start
    relations = relate(focus.location, evidence.zones, on)
    spread = evidence.neighbours.measure(focus.location)
    near = _Near(spread.low, spread.high, *evidence.neighbours.days_before(focus.dates),
                 evidence.neighbours.precision_m)
    members = evidence.neighbours.members()
    nearest_zones = nearest_by_group(relations)
    groups = tuple(_group_context(g, evidence, relations, nearest_zones.get(g["id"]), near.take(members.get(g["id"])),
                                  radii_m, windows_days) for g in evidence.groups)
    target = _site_distance(focus, evidence.target) if evidence.target else None
    sites = tuple(sorted((_site_distance(focus, s) for s in evidence.sites), key=lambda s: s.distance.best))
    listed = [_measured(n, evidence.measured, max(radii_m))
              for n in rank_nearby(focus.location, evidence.listed, max(radii_m), focus.dates)[:NEARBY_LISTED]]
    report = ContextReport(focus, tuple(evidence.claims), target, groups, tuple(listed),
                           tuple(s for s in sites if s.distance.min <= max(radii_m)), (),
                           int((spread.low <= max(radii_m)).sum()), tuple(radii_m), tuple(windows_days),
                           evidence.facts, evidence.comparison)
    report = _with_sources(report)
    return ContextReport(**{**report.__dict__, "bottom_line": bottom_line(report)})


@dataclass(frozen=True)
class _Near:
    """Neighbours' distance ranges (low, high), days-before ranges (first, last) and precision radii, as arrays."""

    low: np.ndarray
    high: np.ndarray
    first: np.ndarray
    last: np.ndarray
    precision_m: np.ndarray

    def take(self, rows: np.ndarray | None) -> _Near:
        rows = np.array([], dtype=int) if rows is None else rows
        return _Near(self.low[rows], self.high[rows], self.first[rows], self.last[rows], self.precision_m[rows])


def _group_context(group: dict, evidence: Evidence, relations: list[ZoneRelation], nearest_zone: ZoneRelation | None,
                   own: _Near, radii_m: Sequence[float], windows_days: Sequence[int]) -> GroupContext:
    gid = group["id"]
    counted = evidence.base_counts.get(gid)
    return GroupContext(
        gid, group["name"], tuple(c["stance"] for c in evidence.claims if c["group"] == gid),
        tuple(r for r in relations if r.zone.group == gid), nearest_zone,
        _nearest_prior(evidence.incident, evidence.prior_candidates.get(gid, ()), evidence.measured),
        _counts(own, radii_m, windows_days),
        base_rate(gid, *counted, evidence.comparison) if counted and evidence.comparison else None,
    )


def _counts(own: _Near, radii_m: Sequence[float], windows_days: Sequence[int]) -> tuple[Count, ...]:
    """Certain, possible and coarse counts per radius and window: `geodesy.within` and the window
    test, on arrays. Certain: the whole precision circle is within the radius and the whole date
    interval within the window before the focus; possible: some of each may be; coarse: possible,
    but the incident's own precision radius is wider than the radius (it cannot be certain)."""
    counts = []
    for radius in radii_m:
        placeable = own.precision_m <= radius
        for window in windows_days:
            certain = (own.high <= radius) & (own.first >= 0) & (own.last <= window)
            possible = (own.low <= radius) & (own.last >= 0) & (own.first <= window) & ~certain
            counts.append(Count(radius, window, int(certain.sum()), int((possible & placeable).sum()),
                                int((possible & ~placeable).sum())))
    return tuple(counts)


def _nearest_prior(focus: Incident, candidates: Sequence[Incident],
                   measured: dict[str, tuple[Distance | None, str]]) -> NearbyIncident | None:
    prior = [c for c in candidates if c.date_end < focus.date_start and c.id != focus.id]
    ranked = sorted((_measured(n, measured, None) for n in rank_nearby(focus.location, prior, None, focus.dates)),
                    key=lambda n: (n.distance.best, n.incident.id))
    return ranked[0] if ranked else None


def _measured(n: NearbyIncident, measured: dict[str, tuple[Distance | None, str]],
              radius_m: float | None) -> NearbyIncident:
    """The incident with the distance its location constraints give (if any), and the note that says so."""
    if n.incident.id not in measured:
        return n
    d, note = measured[n.incident.id]
    if d is None:
        return replace(n, note=note)
    return replace(n, distance=d, note=note, within=None if radius_m is None else within(d, radius_m))


def _site_distance(focus: Incident, site: Site) -> SiteDistance:
    metres, bearing = point_distance(focus.location.lon, focus.location.lat, site.location.lon, site.location.lat)
    return SiteDistance(site, Distance.from_best(metres, focus.location.precision_m, site.location.precision_m), bearing)


def _with_sources(report: ContextReport) -> ContextReport:
    """Collect every source behind a fact in the report, once each, with what it supports."""
    used: dict[str, dict] = {}

    def cite(sources, ref: str) -> None:
        for source in sources:
            entry = used.setdefault(source["url"], {**source, "used_for": []})
            if ref not in entry["used_for"]:
                entry["used_for"].append(ref)

    cite(report.incident.sources, f"incidents/{report.incident.id}")
    for i, claim in enumerate(report.claims):
        cite(claim["sources"], f"incidents/{report.incident.id}#attributions[{i}]")
    for i, reported in enumerate(report.facts.reported_events if report.facts else ()):
        cite(reported["sources"], f"incidents/{report.incident.id}#reported_events[{i}]")
    for site in ([report.target] if report.target else []) + list(report.nearby_sites):
        cite(site.site.sources, f"sites/{site.site.id}")
    for group in report.groups:
        for relation in group.zones:
            cite(relation.zone.sources, f"control_zones/{relation.zone.id}")
        if group.nearest_prior:
            cite(group.nearest_prior.incident.sources, f"incidents/{group.nearest_prior.incident.id}")
    for n in report.nearby_incidents:
        cite(n.incident.sources, f"incidents/{n.incident.id}")
    return ContextReport(**{**report.__dict__, "sources": tuple(used.values())})
