"""The story map: one self-contained HTML page (every script, style and the basemap inlined) that
opens offline with no request beyond itself. A timeline of the steps' dates, a map that moves to
each step, and each step's text with its sources. Usable at 375 px; `embed` for an iframe.

The text is written here, escaped (`markupsafe`); the page's script (`geomap/static/stories/`)
only moves the map and switches steps, and reads the points from JSON (`script_json`).
"""
from __future__ import annotations

from collections.abc import Sequence

import folium
from markupsafe import Markup, escape

from geomap.layers.assets import BASEMAP_JS, INLINE, RUNTIME_CSS, RUNTIME_JS, asset, tags
from geomap.layers.basemap import ATTRIBUTION
from geomap.layers.credit import BASEMAP_CREDIT, public_page
from geomap.layers.story import Step, Story, StoryLink, short_date
from geomap.layers.text import date_range, link, precision_text, script_json, source_list
from geomap.layers.webmap import credit as sources_credit

STORY_JS = "geomap-static:stories/story.js"
STORY_CSS = "geomap-static:stories/story.css"
LINK_WORDS = {"response_to": "In response to", "precedes": "After", "part_of": "Part of"}


def _assets() -> list[tuple[str, object]]:
    leaflet_js, leaflet_css = dict(folium.Map.default_js)["leaflet"], dict(folium.Map.default_css)["leaflet_css"]
    return [("css", asset(leaflet_css)), ("css", asset(RUNTIME_CSS)), ("css", asset(STORY_CSS)),
            ("js", asset(leaflet_js)), ("js", asset(RUNTIME_JS)), ("js", asset(BASEMAP_JS)), ("js", asset(STORY_JS))]


def document(story: Story, embed: bool = False) -> str:
    """The story map as one HTML document."""
    titles = {i.id: i.title for i in story.incidents}
    page = story.links.get("page") if public_page(story.scene()) else None
    head = Markup(
        '<header class="gs-head"><h1>{}</h1><p class="gs-sub">{}</p></header>').format(story.title, story.subtitle)
    timeline = Markup('<nav class="gs-timeline" aria-label="Timeline">{}</nav>').format(
        Markup("").join(_tick(step) for step in story.steps))
    steps = Markup("").join(_step(step, titles, len(story.steps)) for step in story.steps)
    credit = Markup('<footer class="gs-credit">{} \u00b7 Data version {} \u00b7 {}{}</footer>').format(
        sources_credit(story.scene()), story.data_version, BASEMAP_CREDIT,
        Markup(" \u00b7 {}").format(link(page, "Open the full story")) if page and embed else "")
    return str(Markup(
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="data:,">\n'
        "<title>{title}</title>\n{assets}\n</head>\n<body class=\"{cls}\">\n{head}{timeline}"
        '<div class="gs-body"><div id="gs-map" class="gs-map" role="region" aria-label="Map"></div>'
        '<section class="gs-steps" aria-live="polite">{steps}</section></div>\n{credit}\n'
        '<script type="application/json" id="gs-data">{data}</script>\n'
        "<script>window.geomapStory.start();</script>\n</body>\n</html>\n").format(
        title=story.title, assets=Markup(tags(_assets(), INLINE)), cls="gs-page gs-embed" if embed else "gs-page",
        head=head, timeline=timeline, steps=steps, credit=credit, data=Markup(script_json(map_data(story)))))


def _tick(step: Step) -> Markup:
    return Markup('<button type="button" class="gs-tick" data-step="{n}" aria-label="Step {n}: {t}">'
                  '<b>{n}</b> <span>{d}</span></button>').format(n=step.number, t=step.title,
                                                                  d=short_date(step.start))


def _step(step: Step, titles: dict[str, str], total: int) -> Markup:
    dates = date_range(step.start, step.end)
    single = len(step.incidents) == 1  # its title is the step's
    incidents = Markup("").join(Markup(
        '<div class="gs-incident" id="gs-incident-{id}">{title}<p class="gs-meta">{dates} \u00b7 {place}'
        " \u00b7 location {precision} ({status})</p>{description}<h4>Sources</h4>{sources}</div>").format(
        id=i.id, title="" if single else Markup("<h3>{}</h3>").format(i.title), dates=date_range(i.date_start, i.date_end), place=i.location_name or "",
        precision=precision_text(i.precision_m), status=i.status,
        description=Markup("<p>{}</p>").format(i.description) if i.description else "",
        sources=source_list(i.sources, limit=20)) for i in step.incidents)
    return Markup(
        '<article class="gs-step" id="gs-step-{n}" data-step="{n}"><p class="gs-count">Step {n} of {total} \u00b7 {dates}'
        "</p><h2>{title}</h2>{why}{incidents}"
        '<p class="gs-nav"><button type="button" class="gs-prev">\u2190 Previous</button>'
        '<button type="button" class="gs-next">Next \u2192</button></p></article>').format(
        n=step.number, total=total, dates=dates, title=step.title, why=_why(step.links, titles), incidents=incidents)


def _why(links: Sequence[StoryLink], titles: dict[str, str]) -> Markup:
    """The links into a step, those of one kind and note told once, naming every incident they link."""
    told: dict[tuple, list[StoryLink]] = {}
    for k in links:
        told.setdefault((k.kind, k.notes), []).append(k)
    parts = []
    for (kind, notes), same in told.items():
        others = sorted({titles[k.subject if k.kind == "precedes" else k.object] for k in same})
        sources = list({s.get("url"): s for k in same for s in k.sources}.values())
        parts.append(Markup('<div class="gs-link gs-{kind}"><p><b>{words}</b> {others}</p>{notes}{sources}'
                            '<p class="gs-ids">{ids}</p></div>').format(
            kind=kind.replace("_", "-"), words=LINK_WORDS.get(kind, kind), others="; ".join(others),
            notes=Markup("<p>{}</p>").format(notes) if notes else "", sources=source_list(sources, limit=20),
            ids="link " + ", ".join(k.id for k in same)))
    return Markup("").join(parts)


def map_data(story: Story) -> dict:
    """What the page's script draws: each step's bounds and points, and the links as lines."""
    points = {i.id: [round(i.lat, 5), round(i.lon, 5)] for i in story.incidents}
    steps = []
    for step in story.steps:
        w, s, e, n = step.extent
        steps.append({"bounds": [[s, w], [n, e]], "points": [
            {"id": i.id, "at": points[i.id], "radius": i.precision_m, "title": i.title} for i in step.incidents]})
    w, s, e, n = story.extent
    lines = [{"from": points[k.object], "to": points[k.subject], "kind": k.kind} if k.kind != "precedes" else
             {"from": points[k.subject], "to": points[k.object], "kind": k.kind}
             for step in story.steps for k in step.links if k.kind != "part_of"]
    return {"id": story.id, "bounds": [[s, w], [n, e]], "steps": steps, "lines": lines,
            "attribution": str(escape(ATTRIBUTION))}
