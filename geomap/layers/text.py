"""Text on maps: popups, tooltips and labels, with every user-supplied string escaped.

Titles, descriptions, names, claimants, source titles, publishers and URLs come from users, so
they pass through `markupsafe.escape` before they reach HTML, and through `mpl_text` before
they reach matplotlib (where `$` starts mathtext). URLs become links only when they are http(s).
JSON embedded in a `<script>` escapes `<`, `>` and `&`, so no string can close the script.
"""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

import msgspec
from markupsafe import Markup, escape

from geomap.analysis.geodesy import Distance


def script_json(data) -> str:
    """JSON safe to place inside a `<script>` element (no `</script>`, no `<!--`)."""
    text = msgspec.json.encode(data, enc_hook=str).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def script_parse(json_text: str) -> str:
    """`JSON.parse('...')` of JSON from `script_json`: V8 parses a string and then JSON faster
    than the same data as a JavaScript literal (about 1.7x, V8's own figure: JSON is a smaller
    grammar), which counts for a map's 400 KB of inline cells and zones. Only backslashes and
    quotes need escaping: `script_json` already wrote `<`, `>`, `&`, U+2028 and U+2029 as
    escapes, and JSON text holds no raw line break."""
    return "JSON.parse('" + json_text.replace("\\", "\\\\").replace("'", "\\'") + "')"


def mpl_text(text: object) -> str:
    """A string matplotlib draws literally (a `$` would otherwise start mathtext)."""
    return str(text).replace("\\", "\\\\").replace("$", r"\$")


def km(metres: float) -> str:
    """Metres as kilometres for labels: whole km from 100 km, else one decimal."""
    value = metres / 1000
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def distance_text(d: Distance) -> str:
    """`7.6 km (0.0-18.6 km)`: the best estimate, then the range the precision radii allow."""
    return f"{km(d.best)} km ({km(d.min)}\u2013{km(d.max)} km)"


def precision_text(metres: float) -> str:
    """A precision radius in words: "exact", "± 250 m" or "± 2.5 km"."""
    return "exact" if metres == 0 else f"\u00b1 {km(metres)} km" if metres >= 1000 else f"\u00b1 {metres:.0f} m"


def date_range(start: date, end: date | None) -> str:
    """A date interval as text: one date, `start → end`, or `start → open` when it has no end."""
    if end is None:
        return f"{start.isoformat()} \u2192 open"
    return start.isoformat() if start == end else f"{start.isoformat()} \u2192 {end.isoformat()}"


# The helpers below run for every popup of a map (hundreds per page), so they join escaped
# parts with f-strings: Markup.format escapes the same way but costs ten times more.

def link(url: str | None, text: str) -> Markup:
    """An escaped link that opens in a new tab, or plain escaped text when the URL is not http(s)."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return Markup(f'<a href="{escape(url)}" target="_blank" rel="noopener noreferrer">{escape(text)}</a>')
    return escape(text)


def source_item(source: dict) -> Markup:
    """A source as an HTML list item: its title linked to its URL, with publisher and date."""
    title = source.get("title") or source.get("url") or "source"
    extra = ", ".join(str(v) for v in (source.get("publisher"), source.get("date")) if v)
    muted = f" <span class=gm-muted>({escape(extra)})</span>" if extra else ""
    return Markup(f"<li>{link(source.get('url'), title)}{muted}</li>")


def source_list(sources, limit: int = 8) -> Markup:
    """The sources as an HTML list, at most `limit` shown and the rest counted."""
    items = "".join(source_item(s) for s in sources[:limit])
    more = len(sources) - limit
    tail = f"<li class=gm-muted>and {more:d} more</li>" if more > 0 else ""
    return Markup(f"<ul class=gm-sources>{items}{tail}</ul>")


def row(label: str, value) -> Markup:
    """A table row of a popup: the label and the value, both escaped."""
    return Markup(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>")


def incident_popup(incident, group_name, focus: bool = False) -> str:
    """The popup of an incident: title, dates, precision, status, claims and sources."""
    kind = " / ".join(v for v in (incident.event_type, incident.sub_event_type) if v)
    place = f" \u2014 {incident.location_name}" if incident.location_name else ""
    rows = [row("Dates", date_range(incident.date_start, incident.date_end)),
            row("Location", Markup("{}{}").format(precision_text(incident.precision_m), place)),
            row("Status", incident.status), row("Type", kind)]
    if incident.derived_from:
        rows.append(row("Location derived from", ", ".join(incident.derived_from)))
    if incident.fatalities_best is not None:
        rows.append(row("Fatalities", incident.fatalities_best))
    claims = [Markup("<li><b>{}</b> {} by {}</li>").format(c.stance, group_name(c.group), c.claimant)
              for c in incident.claims]
    return str(Markup(
        "<div class=gm-popup>{}<h3>{}</h3><table>{}</table>{}<h4>Attribution claims</h4><ul>{}</ul>"
        "<h4>Sources</h4>{}<p class=gm-muted>id {}</p></div>").format(
        Markup("<p class=gm-focus>Focus incident</p>") if focus else "", incident.title, Markup("").join(rows),
        Markup("<p>{}</p>").format(_short(incident.description)) if incident.description else "",
        Markup("").join(claims) or Markup("<li class=gm-muted>none recorded</li>"),
        source_list(incident.sources), incident.id))


def incident_tooltip(incident) -> str:
    """An incident's tooltip: its title, dates and status."""
    return str(Markup("<b>{}</b><br>{} \u00b7 {}").format(
        incident.title, date_range(incident.date_start, incident.date_end), incident.status))


def site_popup(site) -> str:
    """A site's popup: its name, kind, location precision, status and sources."""
    return str(Markup("<div class=gm-popup><h3>{}</h3><table>{}{}{}</table><h4>Sources</h4>{}</div>").format(
        site.name, row("Kind", site.kind.replace("_", " ")), row("Location", precision_text(site.precision_m)),
        row("Status", site.status), source_list(site.sources)))


def zone_tooltip(zone, group_name: str) -> str:
    """A zone's tooltip: its name, group, kind, validity, confidence and boundary precision."""
    return (f"<b>{escape(zone.name)}</b><br>{escape(group_name)} \u00b7 {escape(zone.kind)}<br>"
            f"valid {escape(date_range(zone.valid_from, zone.valid_to))}<br>confidence {escape(zone.confidence)}"
            f" \u00b7 boundary {escape(precision_text(zone.precision_m))} ({escape(zone.status)})")


def zone_popup(zone, group_name: str) -> str:
    """A zone's popup: its group, kind, validity, confidence, boundary precision, notes and sources."""
    rows = (row("Group", group_name), row("Kind", zone.kind), row("In force", date_range(zone.valid_from, zone.valid_to)),
            row("Confidence", zone.confidence), row("Boundary", f"{precision_text(zone.precision_m)} ({zone.status})"))
    notes = f"<p>{escape(_short(zone.notes))}</p>" if zone.notes else ""
    return (f"<div class=gm-popup><h3>{escape(zone.name)}</h3><table>{''.join(rows)}</table>{notes}"
            f"<h4>Sources</h4>{source_list(zone.sources)}</div>")


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"
