"""The context report as Markdown, for reading and for pasting into notes."""
from __future__ import annotations

from geomap.analysis.geodesy import Distance
from geomap.analysis.proximity import NearbyIncident
from geomap.analysis.report import PRIOR_SEARCH_DAYS, PRIOR_SEARCH_KM, ContextReport, GroupContext


def km(d: Distance) -> str:
    """'7.6 km (0–23.6 km)': the best estimate, then the range the precision allows."""
    return f"{d.best / 1000:.1f} km ({d.min / 1000:.1f}–{d.max / 1000:.1f} km)"


def days(n: NearbyIncident) -> str:
    """How many days before the focus incident a neighbour happened, as words ("" if unknown)."""
    d = n.days_before
    if d is None:
        return ""
    return f"{d.min} days before" if d.min == d.max else f"{d.min} to {d.max} days before"


def render(report: ContextReport) -> str:
    """The whole context report as one Markdown document."""
    i = report.incident
    dates = str(i.date_start) if i.date_start == i.date_end else f"{i.date_start} to {i.date_end}"
    lines = [f"# Context: {i.title}", "",
             f"- id: `{i.id}`; {i.event_type}" + (f" / {i.sub_event_type}" if i.sub_event_type else ""),
             f"- date: {dates}; status: {i.status}",
             f"- location: {i.location.lat:.5f} N, {i.location.lon:.5f} E, ± {i.location.precision_m / 1000:.1f} km"]
    lines += [f"  - {fact}" for fact in report.location_facts]
    if report.target:
        t = report.target
        lines.append(f"- target: {t.site.name}, {km(t.distance)} at bearing {t.bearing:.0f}°")
    lines += ["", "## Attribution claims", ""]
    lines += [f"- {c['claimant']}: **{c['stance']}** {c['group']}" for c in report.claims] or ["- none recorded"]
    for group in report.groups:
        lines += ["", *_group(group, report)]
    lines += ["", f"## Nearby incidents (within {max(report.radii_m) / 1000:.0f} km, "
                  f"{max(report.windows_days)} days either side; the nearest {len(report.nearby_incidents)} "
                  f"of {report.nearby_total})", ""]
    lines += [f"- {n.incident.title} (`{n.incident.id}`): {km(n.distance)}, {days(n)}"
              for n in report.nearby_incidents] or ["- none"]
    lines += ["", "## Nearby sites", ""]
    lines += [f"- {s.site.name}: {km(s.distance)}" for s in report.nearby_sites] or ["- none"]
    lines += ["", "## Sources", ""]
    lines += [f"- {s['title']} ({s.get('publisher') or 'n.p.'}, {s.get('date') or 'n.d.'}) <{s['url']}>"
              for s in report.sources]
    return "\n".join(lines) + "\n"


def _group(group: GroupContext, report: ContextReport) -> list[str]:
    lines = [f"## {group.name}" + (f" (named in claims: {', '.join(group.claims)})" if group.claims else ""), ""]
    for r in group.zones:
        lines.append(f"- zone {r.zone.name} ({r.zone.kind}, confidence {r.zone.confidence}, "
                     f"{r.zone.valid_from} to {r.zone.valid_to or 'open'}): inside? {r.contains}; {km(r.distance)}")
    if not group.zones:
        lines.append("- no zone in force on the incident's date")
    if group.nearest_prior:
        p = group.nearest_prior
        lines.append(f"- nearest prior incident: {p.incident.title} (`{p.incident.id}`), {km(p.distance)}, {days(p)}")
    else:
        lines.append(f"- no prior incident within {PRIOR_SEARCH_KM:.0f} km and {PRIOR_SEARCH_DAYS} days before")
    header = " | ".join(f"{w} d" for w in report.windows_days)
    lines += ["", f"| radius | {header} |", "|---|" + "---|" * len(report.windows_days)]
    for radius in report.radii_m:
        cells = [c for c in group.counts if c.radius_m == radius]
        lines.append(f"| {radius / 1000:.0f} km | " + " | ".join(f"{c.yes} (+{c.possibly}?)" for c in cells) + " |")
    return lines
