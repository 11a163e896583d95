"""A story: the chain of events that the links between incidents make, as plain data that the
story map (`geomap.layers.storymap`) and its print strip (`geomap.layers.storystrip`) draw.

What a story is (nothing is stored for it): the incidents that event links (`precedes`,
`response_to`, `part_of`) connect, one connected component of the graph they make, named by its
first incident (earliest start date, then id). A link added to a chain extends its story; a link
joining two chains makes one story of them, named by the earlier first incident.

A step is one event: an incident with the incidents that are `part_of` it, and the incidents
that start on the same day and follow the same steps (the five targets of the 29 December
strikes, each answering the K-1 attack). Steps go in date order, and on one day in the order the
links give (the missile strikes before the shoot-down they precede).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from geomap.layers.geo import padded
from geomap.layers.scene import Bbox, Group, MapIncident, Scene
from geomap.model.records import time_edges

PARTS = "part_of"


@dataclass(frozen=True)
class StoryLink:
    """One sourced link between two incidents of a story (ids without `incidents/`)."""

    id: str
    kind: str
    subject: str
    object: str
    sources: tuple[dict, ...] = ()
    notes: str | None = None

    @classmethod
    def from_row(cls, row: dict) -> StoryLink:
        """A link from a relations row (`geomap.db.relations.event_links`)."""
        return cls(row["id"], row["kind"], row["subject"].partition("/")[2], row["object"].partition("/")[2],
                   tuple(row["sources"]), row["notes"])


@dataclass(frozen=True)
class Step:
    """One event of a story: its incidents (earliest first) and the links that lead into it."""

    number: int
    incidents: tuple[MapIncident, ...]
    links: tuple[StoryLink, ...] = ()

    @property
    def start(self) -> date:
        return min(i.date_start for i in self.incidents)

    @property
    def end(self) -> date:
        return max(i.date_end for i in self.incidents)

    @property
    def title(self) -> str:
        """The first incident's title, and how many more the step holds."""
        more = len(self.incidents) - 1
        return self.incidents[0].title + (f" (and {more} more)" if more else "")

    @property
    def extent(self) -> Bbox:
        """The step's incidents with their precision discs, padded for the map to fly to."""
        return padded(incident_extent(self.incidents), 0.25, 0.3)


@dataclass(frozen=True)
class Story:
    """A chain of events, step by step, with its links (page, embed, graphics) and data version."""

    id: str
    title: str
    steps: tuple[Step, ...]
    links: dict[str, str] = field(default_factory=dict)
    data_version: str = ""
    groups: dict[str, Group] = field(default_factory=dict)

    @property
    def incidents(self) -> tuple[MapIncident, ...]:
        return tuple(i for step in self.steps for i in step.incidents)

    @property
    def extent(self) -> Bbox:
        return padded(incident_extent(self.incidents), 0.08, 0.5)

    @property
    def subtitle(self) -> str:
        first, last = self.steps[0].start, self.steps[-1].end
        return f"{len(self.steps)} steps, {first.isoformat()} to {last.isoformat()}"

    def scene(self) -> Scene:
        """The story as one map scene (every incident): for the credit line and the graphics' layers."""
        return Scene(title=self.title, extent=self.extent, on=self.steps[-1].end, incidents=self.incidents,
                     groups=self.groups, subtitle=self.subtitle, links=self.links, data_version=self.data_version)


def short_date(day: date) -> str:
    """A step's date as the timeline and the strip print it: `27 Dec 2019`."""
    return f"{day.day} {day.strftime('%b %Y')}"


def incident_extent(incidents: Iterable[MapIncident]) -> Bbox:
    """West, south, east, north of the incidents' points, widened by their precision (1 degree ~ 111 km)."""
    boxes = [(i.lon - i.precision_m / 90_000, i.lat - i.precision_m / 111_000,
              i.lon + i.precision_m / 90_000, i.lat + i.precision_m / 111_000) for i in incidents]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


class _Sets:
    """Union-find over string ids."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent = {i: i for i in ids}

    def find(self, item: str) -> str:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def join(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[str]]:
        found: dict[str, list[str]] = {}
        for item in self.parent:
            found.setdefault(self.find(item), []).append(item)
        return list(found.values())


def chains(links: Sequence[StoryLink], starts: dict[str, date]) -> dict[str, list[str]]:
    """The incidents of each chain (connected by any event link), keyed by the story id: its
    first incident by (`starts`, id). Incidents missing from `starts` are left out."""
    sets = _Sets(i for link in links for i in (link.subject, link.object) if i in starts)
    for link in links:
        if link.subject in starts and link.object in starts:
            sets.join(link.subject, link.object)
    out = {}
    for members in sets.groups():
        members.sort(key=lambda i: (starts[i], i))
        out[members[0]] = members
    return dict(sorted(out.items(), key=lambda item: (starts[item[0]], item[0])))


def steps(incidents: Sequence[MapIncident], links: Sequence[StoryLink]) -> tuple[Step, ...]:
    """The chain's incidents as numbered steps (see the module's docstring)."""
    by_id = {i.id: i for i in incidents}
    links = [link for link in links if link.subject in by_id and link.object in by_id]
    parts = _Sets(by_id)
    for link in links:
        if link.kind == PARTS:
            parts.join(link.subject, link.object)
    edges = time_edges([(k.id, k.kind, k.subject, k.object) for k in links])
    before: dict[str, set[str]] = {}
    for _, earlier, later in edges:
        if parts.find(earlier) != parts.find(later):
            before.setdefault(parts.find(later), set()).add(parts.find(earlier))
    events = _Sets(parts.find(i) for i in by_id)
    keys: dict[tuple, str] = {}
    for root in sorted(events.parent):
        key = (min(by_id[i].date_start for i in by_id if parts.find(i) == root), frozenset(before.get(root, ())))
        if key[1] and key in keys:  # same day, same steps before: one event
            events.join(root, keys[key])
        keys.setdefault(key, root)
    rank = _ranks(edges)
    roots = {events.find(parts.find(i)) for i in by_id}
    is_part = {k.subject for k in links if k.kind == PARTS}  # a part after its whole
    grouped = [sorted((by_id[i] for i in by_id if events.find(parts.find(i)) == root),
                      key=lambda i: (i.date_start, i.id in is_part, rank.get(i.id, 0), i.id)) for root in roots]
    grouped.sort(key=lambda g: (min(i.date_start for i in g), max(rank.get(i.id, 0) for i in g), g[0].id))
    return tuple(Step(n, tuple(group), _into(group, links)) for n, group in enumerate(grouped, 1))


def _into(group: Sequence[MapIncident], links: Sequence[StoryLink]) -> tuple[StoryLink, ...]:
    """The links that lead into a step: those ending at one of its incidents (for `precedes`, the
    object; for `response_to` and `part_of`, the subject), by id."""
    ids = {i.id for i in group}
    return tuple(sorted((k for k in links if (k.object if k.kind == "precedes" else k.subject) in ids),
                        key=lambda k: k.id))


def _ranks(edges: Sequence[tuple[str, str, str]]) -> dict[str, int]:
    """Each event's longest path from a first event in time (the links are checked acyclic on write)."""
    rank: dict[str, int] = {}
    nodes = {n for _, a, b in edges for n in (a, b)}
    for _ in range(len(nodes)):
        changed = False
        for _, earlier, later in edges:
            if rank.get(later, 0) < rank.get(earlier, 0) + 1:
                rank[later] = rank.get(earlier, 0) + 1
                changed = True
        if not changed:
            break
    return rank
