"""Stories from the database: the chains of events that event links make (`geomap.layers.story`
says what a story and a step are). The links are few beside the incidents, so they are read
whole and the chains computed here; the incidents are read by id. No Flask.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import quote

from sqlalchemy import Connection
from sqlalchemy.engine import Engine

from geomap.db import map_queries, relations
from geomap.errors import NotFound
from geomap.layers.story import Story, StoryLink, chains, steps
from geomap.maps import rows
from geomap.model.dataversion import data_version


@dataclass(frozen=True)
class StorySummary:
    """A story as a list shows it: its id (first incident), title, dates and size."""

    id: str
    title: str
    start: date
    end: date
    incidents: int


def _links(conn: Connection) -> list[StoryLink]:
    return [StoryLink.from_row(row) for row in relations.event_links(conn)]


def _starts(conn: Connection, links: list[StoryLink]) -> dict[str, date]:
    ids = {i for link in links for i in (link.subject, link.object)}
    return relations.incident_starts(conn, ids)


def story_list(engine: Engine) -> list[StorySummary]:
    """Every story, earliest first."""
    with engine.connect() as conn:
        links = _links(conn)
        found = chains(links, _starts(conn, links))
        incidents = {i.id: i for i in rows.incidents(conn, map_queries.map_incident_filters(
            ids={i for members in found.values() for i in members}))}
    out = []
    for sid, members in found.items():
        chain = [incidents[i] for i in members]
        out.append(StorySummary(sid, story_title(incidents[sid].title), min(i.date_start for i in chain),
                                max(i.date_end for i in chain), len(chain)))
    return out


def story_title(first: str) -> str:
    """A story's title: its first incident's, as the start of a chain."""
    return f"The chain of events after: {first}"


def load_story(engine: Engine, story_id: str, links: dict[str, str] | None = None) -> Story:
    """The story named `story_id` (its first incident's id); NotFound naming the story an
    incident belongs to when it is not the first of its chain, or when it is in none."""
    with engine.connect() as conn:
        all_links = _links(conn)
        found = chains(all_links, _starts(conn, all_links))
        if story_id not in found:
            raise NotFound(_not_a_story(story_id, found))
        members = set(found[story_id])
        incidents = rows.incidents(conn, map_queries.map_incident_filters(ids=members))
        groups = rows.groups(conn)
    chain_links = [k for k in all_links if k.subject in members]
    story = Story(story_id, story_title(next(i.title for i in incidents if i.id == story_id)),
                  steps(incidents, chain_links), links or {}, groups=groups)
    return replace(story, data_version=data_version(_records(story, chain_links)))


def _not_a_story(story_id: str, found: dict[str, list[str]]) -> str:
    owner = next((sid for sid, members in found.items() if story_id in members), None)
    if owner:
        return f"no story starts at {story_id!r}; it is a step of the story {owner!r} (/stories/{quote(owner)})"
    return f"no story {story_id!r}: a story is named by the first incident of a chain of event links; see /stories"


def _records(story: Story, links: list[StoryLink]):
    """What a story shows, for its data version: its incidents (with claims) and its links."""
    for incident in story.incidents:
        yield "incidents", dict(vars(incident))
    for link in sorted(links, key=lambda k: k.id):
        yield "relations", vars(link)


def as_json(story: Story) -> dict:
    """A story as data: each step's dates, incidents (with their sources) and the links into it."""
    def incident(i) -> dict:
        return {"id": i.id, "title": i.title, "date_start": i.date_start.isoformat(), "date_end": i.date_end.isoformat(),
                "lon": i.lon, "lat": i.lat, "precision_m": i.precision_m, "location_name": i.location_name,
                "description": i.description, "status": i.status, "sources": list(i.sources)}

    def link(k) -> dict:
        return {"id": k.id, "kind": k.kind, "subject": k.subject, "object": k.object, "notes": k.notes,
                "sources": list(k.sources)}
    return {"id": story.id, "title": story.title, "subtitle": story.subtitle, "data_version": story.data_version,
            "steps": [{"number": s.number, "start": s.start.isoformat(), "end": s.end.isoformat(), "title": s.title,
                       "bbox": list(s.extent), "incidents": [incident(i) for i in s.incidents],
                       "links": [link(k) for k in s.links]} for s in story.steps],
            "links": [{"href": href, "rel": rel} for rel, href in story.links.items()]}


def story_links(base: str | None, story_id: str) -> dict[str, str]:
    """The links a story made outside a request names (`geomap story`): its page at the public
    URL `base`; none without one.

    >>> story_links("https://geomap.example", "k1")
    {'page': 'https://geomap.example/stories/k1', 'embed': 'https://geomap.example/stories/k1?embed=1'}
    """
    if not base:
        return {}
    page = f"{base}/stories/{quote(story_id, safe='')}"
    return {"page": page, "embed": f"{page}?embed=1"}
