"""The bottom line of a context report: the groups the claims name, and the other groups with
recorded activity near the incident, side by side, one row per fact; every other group in one line.

No verdict: each cell states a fact with its uncertainty, and `unknowns` says what the data
cannot tell. The rows are words (`geomap.analysis.wording`), built once here, so the Markdown,
the HTML page, its PDF and the JSON say the same thing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geomap.analysis.wording import days_before, distance, length, noted, precision

if TYPE_CHECKING:  # the report module builds the bottom line: no import cycle at run time
    from geomap.analysis.baserate import BaseRate
    from geomap.analysis.report import ContextReport, Count, GroupContext


@dataclass(frozen=True)
class Row:
    """One fact for every group side by side: a label, and one cell per group, in `BottomLine.groups` order."""

    label: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class BottomLine:
    """The groups side by side (ids and names): those the incident's claims name, in the order of
    their first claim, then those no claim names but with recorded activity near the incident (a
    zone within the widest radius, a prior incident within the search horizon, or a count); the
    facts, a row each; one line on every other group; and what the data cannot tell."""

    groups: tuple[str, ...]
    names: tuple[str, ...]
    rows: tuple[Row, ...]
    others: tuple[str, ...]
    unknowns: tuple[str, ...]
    lead: str = ("The groups the claims name, and the others with recorded activity near the incident, side by side: "
                 "facts and their uncertainty, no verdict.")


def bottom_line(report: ContextReport) -> BottomLine:
    """The side-by-side comparison of the groups named in the report's claims."""
    order = list(dict.fromkeys(c["group"] for c in report.claims))
    by_id = {g.id: g for g in report.groups}
    named = [by_id[g] for g in order if g in by_id]
    named += [g for g in report.groups if g.id not in order and _active(report, g)]
    rows = [_claims_row(report, named), _zones_row(report, named), _prior_row(named),
            *_count_rows(report, named), _base_rate_row(named)]
    return BottomLine(tuple(g.id for g in named), tuple(g.name for g in named), tuple(rows),
                      _others(report, [g for g in report.groups if g not in named]), _unknowns(report, named))


def _claims_row(report: ContextReport, named: Sequence[GroupContext]) -> Row:
    def cell(group: GroupContext) -> str:
        return "; ".join(f"{c['stance']} by {c['claimant']} (sources: {_publishers(c['sources'])})"
                         for c in report.claims if c["group"] == group.id) or "named in no claim"
    return Row("Claims, and who made them", tuple(cell(g) for g in named))


def _publishers(sources: Sequence[dict]) -> str:
    return ", ".join(dict.fromkeys(s.get("publisher") or s["title"] for s in sources))


def _zones_row(report: ContextReport, named: Sequence[GroupContext]) -> Row:
    def cell(group: GroupContext) -> str:
        return "; ".join(f"{r.zone.name} ({r.zone.kind}, {r.zone.confidence} confidence, {r.zone.status}): "
                         f"inside: {r.contains}; {distance(r.distance)} away" for r in group.zones) or "none in force"
    return Row(f"The group's zones in force on {report.incident.date_start}", tuple(cell(g) for g in named))


def _prior_row(named: Sequence[GroupContext]) -> Row:
    from geomap.analysis.report import PRIOR_SEARCH_DAYS, PRIOR_SEARCH_KM

    def cell(group: GroupContext) -> str:
        p = group.nearest_prior
        if p is None:
            return f"none within {PRIOR_SEARCH_KM} km and {PRIOR_SEARCH_DAYS} days before"
        return (f"{p.incident.title} ({p.incident.id}): {distance(p.distance)}, {days_before(p.days_before)}; "
                f"location {precision(p.incident.location.precision_m, p.incident.status)}{noted(p)}")
    return Row("Nearest prior incident attributed to the group", tuple(cell(g) for g in named))


def _count_rows(report: ContextReport, named: Sequence[GroupContext]) -> list[Row]:
    """A row per count at the widest radius (each window) and at the widest window (each radius)."""
    wide_r, wide_w = max(report.radii_m), max(report.windows_days)
    wanted = [(r, wide_w) for r in sorted(report.radii_m)] + [(wide_r, w) for w in sorted(report.windows_days)]
    rows = []
    for radius, window in dict.fromkeys(wanted):
        cells = tuple(_count_text(next(c for c in g.counts if c.radius_m == radius and c.window_days == window))
                      for g in named)
        rows.append(Row(f"Incidents within {length(radius)} in the {window} days before", cells))
    return rows


def _count_text(count: Count) -> str:
    more = f"; {count.coarse} more could be, located too coarsely to tell" if count.coarse else ""
    return f"{count.yes} certainly, {count.possibly} possibly within{more}"


def _base_rate_row(named: Sequence[GroupContext]) -> Row:
    return Row("Base rate: observed against expected from the group's activity in the wider region",
               tuple(base_rate_text(g.base_rate) for g in named))


def base_rate_text(rate: BaseRate | None) -> str:
    """A base rate in words, with its stated comparison."""
    if rate is None:
        return "not computed"
    c = rate.comparison
    observed = (f"{rate.observed} observed within {length(c.local_m)} from {c.window_from} to {c.window_to}; "
                f"baseline {rate.baseline} within {length(c.region_m)} from {c.baseline_from} to {c.baseline_to}")
    if rate.expected is None:
        return f"{observed}: no baseline activity, so no expected count (95 % interval of the ratio 0 to {_figure(rate.high)})"
    return (f"{observed}, so {_figure(rate.expected)} expected; rate ratio {_figure(rate.ratio)} "
            f"(95 % interval {_figure(rate.low)} to {_figure(rate.high)})")


def _figure(x: float) -> str:
    """Three significant digits, without an exponent: 0.0312, 96.3, 616, 41,600 ("less than
    0.001" below that).

    >>> _figure(0.031234), _figure(96.26), _figure(615.7), _figure(41612.0)
    ('0.0312', '96.3', '616', '41,600')
    """
    if x >= 1000:
        return f"{float(f'{x:.3g}'):,.0f}"
    if x == 0:
        return "0"
    return f"{x:.3g}" if x >= 0.001 else "less than 0.001"


def _active(report: ContextReport, group: GroupContext) -> bool:
    return bool(group.nearest_prior or any(c.yes + c.possibly + c.coarse for c in group.counts)
                or any(r.distance.min <= max(report.radii_m) for r in group.zones))


def _others(report: ContextReport, quiet: Sequence[GroupContext]) -> tuple[str, ...]:
    """One line for the groups that no claim names and that have no recorded activity nearby."""
    if not quiet:
        return ()
    return (f"Named in no claim, with no zone within {length(max(report.radii_m))}, no prior incident within "
            f"the search horizon and no incident counted: {', '.join(g.name for g in quiet)}.",)


def _unknowns(report: ContextReport, named: Sequence[GroupContext]) -> tuple[str, ...]:
    """What the data cannot tell, from the report's own facts."""
    focus, lines = report.incident, []
    if focus.location.precision_m > 0:
        lines.append(f"The incident's location ({focus.status}) is known only to within {length(focus.location.precision_m)}: "
                     "every distance is a range over that radius, and no count within a smaller radius can be certain.")
    wide_r, wide_w = max(report.radii_m), max(report.windows_days)
    for g in named:
        coarse = next(c.coarse for c in g.counts if c.radius_m == wide_r and c.window_days == wide_w)
        if coarse:
            lines.append(f"{coarse} incident(s) of {g.name} are located too coarsely (precision wider than "
                         f"{length(wide_r)}) to tell whether they were within {length(wide_r)} in the {wide_w} days before.")
    lines += [reported_text(r) for r in (report.facts.reported_events if report.facts else ())]
    if not any(c["stance"] == "claimed" for c in report.claims):
        lines.append("No group's own claim of responsibility is recorded.")
    lines.append("Counts, distances and base rates describe recorded activity near the incident, not who carried "
                  "it out; an incident that no source reported, or that the data lack, is not counted. Base rates "
                  "count incidents by their recorded point and start date, whatever their precision.")
    return tuple(lines)


def reported_text(reported: dict) -> str:
    """A reported but unplaced set of events in words, with its sources."""
    when = f" in the {reported['days_before']} days before" if reported.get("days_before") is not None else ""
    known = reported.get("identified") or []
    placed = f"the data may hold {len(known)} of them ({', '.join(known)})" if known else "the data hold none of them"
    rest = reported["count"] - len(known)
    return (f"Reported but not identified: {reported['count']} {reported['description']}{when} "
            f"(sources: {_publishers(reported['sources'])}); {placed}; {rest} cannot be identified or placed.")
