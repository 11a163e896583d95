"""The context report as Markdown, for reading and for pasting into notes.

The same sections, in the same words, as the HTML page and its PDF (`templates/context.html`):
the incident's own facts, the claims with their sources, the bottom line, the reported events
the data cannot place, each active group's details, what lies nearby, and the sources.
"""
from __future__ import annotations

from geomap.analysis.bottomline import reported_text
from geomap.analysis.model import Facts
from geomap.analysis.report import PRIOR_SEARCH_DAYS, PRIOR_SEARCH_KM, ContextReport, GroupContext
from geomap.analysis.wording import (
    days_before,
    distance,
    duplicate_text,
    duplicates_lead,
    length,
    noted,
    possible_text,
    precision,
)


def render(report: ContextReport) -> str:
    """The whole context report as one Markdown document."""
    lines = [f"# Context: {report.incident.title}", "", *_incident(report), "", "## Attribution claims", ""]
    lines += [f"- {_claim(c)}" for c in report.claims] or ["- none recorded"]
    lines += ["", *_bottom_line(report)]
    reported = report.facts.reported_events if report.facts else ()
    if reported:
        lines += ["", "## Reported but not identified", ""]
        lines += [f"- {reported_text(r)}" + (f" {r['notes']}" if r.get("notes") else "") for r in reported]
    named = set(report.bottom_line.groups) if report.bottom_line else set()
    for group in report.groups:
        if group.id in named:
            lines += ["", *_group(group, report)]
    lines += ["", f"## Nearby incidents (within {length(max(report.radii_m))}, "
                  f"{max(report.windows_days)} days either side; the nearest {len(report.nearby_incidents)} "
                  f"of {report.nearby_total})", ""]
    lines += [f"- {n.incident.title} (`{n.incident.id}`): {distance(n.distance)}, {days_before(n.days_before)}; "
              f"location {precision(n.incident.location.precision_m, n.incident.status)}{noted(n)}"
              for n in report.nearby_incidents] or ["- none"]
    lines += ["", f"## Likely duplicates (the nearest {len(report.duplicates)} of {report.duplicates_total})", "",
              duplicates_lead(), ""]
    lines += [f"- {duplicate_text(report.incident.id, d)}" for d in report.duplicates] or ["- none"]
    lines += ["", possible_text(report.possible_duplicates) + "; not listed."]
    lines += ["", "## Nearby sites", ""]
    lines += [f"- {s.site.name}: {distance(s.distance)}" for s in report.nearby_sites] or ["- none"]
    lines += ["", "## Sources", ""]
    lines += [f"- {s['title']} ({s.get('publisher') or 'n.p.'}, {s.get('date') or 'n.d.'}) <{s['url']}>"
              for s in report.sources]
    return "\n".join(lines) + "\n"


def _incident(report: ContextReport) -> list[str]:
    i = report.incident
    dates = str(i.date_start) if i.date_start == i.date_end else f"{i.date_start} to {i.date_end}"
    facts = report.facts or Facts(None, None, None, None, None, None, None)
    lines = [f"- id: `{i.id}`; {i.event_type}" + (f" / {i.sub_event_type}" if i.sub_event_type else ""),
             f"- date: {dates}; status: {i.status}",
             f"- location: {i.location.lat:.5f} N, {i.location.lon:.5f} E, ± {length(i.location.precision_m)}"
             + (f" ({facts.location_name})" if facts.location_name else "")]
    lines += [f"  - {fact}" for fact in report.location_facts]
    if report.target:
        t = report.target
        lines.append(f"- target: {t.site.name}, {distance(t.distance)} at bearing {t.bearing:.0f}°")
    lines.append(f"- {casualties(facts)}")
    if facts.description:
        lines.append(f"- description: {facts.description}")
    if facts.notes:
        lines.append(f"- notes: {facts.notes}")
    return lines


def casualties(facts: Facts) -> str:
    """'fatalities: low 1, best 1, high 1; injured: 6' (each 'not given' when no source gives it)."""
    def given(value: int | None) -> str:
        return "not given" if value is None else str(value)
    return (f"fatalities: low {given(facts.fatalities_low)}, best {given(facts.fatalities_best)}, "
            f"high {given(facts.fatalities_high)}; injured: {given(facts.injured)}")


def _claim(claim: dict) -> str:
    sources = "; ".join(f"{s['title']} ({s.get('publisher') or 'n.p.'}, {s.get('date') or 'n.d.'}) <{s['url']}>"
                        for s in claim["sources"])
    notes = f" {claim['notes']}" if claim.get("notes") else ""
    return f"{claim['claimant']}: **{claim['stance']}** {claim['group']}.{notes} Sources: {sources}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _bottom_line(report: ContextReport) -> list[str]:
    b = report.bottom_line
    lines = ["## Bottom line", ""]
    if b is None or not b.groups:
        lines.append("No claim names a group, and no group has recorded activity near the incident.")
    else:
        lines += [b.lead, "", "| fact | " + " | ".join(_cell(n) for n in b.names) + " |",
                  "|---|" + "---|" * len(b.names)]
        lines += ["| " + " | ".join(_cell(t) for t in (row.label, *row.cells)) + " |" for row in b.rows]
    if b is not None:
        lines += ["", *(f"- {line}" for line in b.others), "", "### What the data cannot tell", ""]
        lines += [f"- {line}" for line in b.unknowns]
    return lines


def _group(group: GroupContext, report: ContextReport) -> list[str]:
    lines = [f"## {group.name}" + (f" (named in claims: {', '.join(group.claims)})" if group.claims else ""), ""]
    for r in group.zones:
        lines.append(f"- zone {r.zone.name} ({r.zone.kind}, confidence {r.zone.confidence}, "
                     f"{r.zone.valid_from} to {r.zone.valid_to or 'open'}): inside? {r.contains}; {distance(r.distance)}"
                     + (f". Notes: {r.zone.notes}" if r.zone.notes else ""))
    if not group.zones:
        lines.append("- no zone in force on the incident's date")
    if group.nearest_prior:
        p = group.nearest_prior
        lines.append(f"- nearest prior incident: {p.incident.title} (`{p.incident.id}`), {distance(p.distance)}, "
                     f"{days_before(p.days_before)}; location {precision(p.incident.location.precision_m, p.incident.status)}"
                     f"{noted(p)}")
    else:
        lines.append(f"- no prior incident within {PRIOR_SEARCH_KM:.0f} km and {PRIOR_SEARCH_DAYS} days before")
    header = " | ".join(f"{w} d" for w in report.windows_days)
    lines += ["", "Counts: certainly within + possibly within (precise enough to place) + could be within "
                  "(precision wider than the radius: too coarse to place).", "",
              f"| radius | {header} |", "|---|" + "---|" * len(report.windows_days)]
    for radius in report.radii_m:
        cells = [c for c in group.counts if c.radius_m == radius]
        lines.append(f"| {length(radius)} | " + " | ".join(f"{c.yes} + {c.possibly}? + {c.coarse} coarse"
                                                           for c in cells) + " |")
    return lines
