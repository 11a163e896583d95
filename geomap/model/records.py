"""The one definition of each record: a group, a site, a control zone, an incident and its
claims (attributions), with their sources. Fields, types, bounds and vocabulary are declared
here once, as pydantic models (strict: no silent casts), and these models validate every
input (files, imports, request bodies).

The other forms of a record are derived from these models (`kinds`: the KML and GeoPackage
type tables, the API's queryables and feature properties) or checked against them by
`tests/model/test_records.py` where a second form is kept for speed or storage: the msgspec
decoder of `geomap.io.json_features`, the tables of `geomap.db.schema`, and the rows of the
analysis (`geomap.analysis.model`) and of the map (`geomap.layers.scene`).

Field names follow DESIGN.md's data model and ACLED where ACLED has a name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from geomap import vocabulary as v
from geomap.errors import Problem

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not DATE_RE.match(value):
        raise ValueError(f"must be a date written YYYY-MM-DD; got {value!r}")
    return date.fromisoformat(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Text = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0)]
Metres = Annotated[float, Field(ge=0, le=v.MAX_PRECISION_M, allow_inf_nan=False)]
Slug = Annotated[str, Field(pattern=v.ID_PATTERN)]


class Model(BaseModel):
    """The base of every record: strict types, no unknown fields, immutable once made."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Source(Model):
    """A document a record rests on: its title, publisher, URL (http or https) and date; whether
    it is original reporting (`primary`), or a reprint, mirror or copy of another publisher's work
    (`copy_of` names that original, e.g. "The New York Times"). Credits name originals first."""

    title: Text
    publisher: str | None = None
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    date: IsoDate | None = None
    primary: bool = False
    copy_of: Text | None = None

    @field_validator("copy_of")
    @classmethod
    def _copy_is_not_primary(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("primary"):
            raise ValueError("a copy is not original reporting: give primary or copy_of, not both")
        return value


Sources = Annotated[list[Source], Field(min_length=1)]


class Attribution(Model):
    """A claim about who did an incident: the group, who says so (claimant), their stance, and its sources."""

    group: Slug
    claimant: Text
    stance: Literal[v.STANCES]
    sources: Sources
    notes: str | None = None


class ReportedEvents(Model):
    """Events a source reports that the data cannot place one by one: how many (`count`), of which
    group if the source says, within how many days before the incident if it says, what the source
    says of them (`description`, its own words where possible), which stored incidents may be
    among them (`identified`, ids), and the sources. Nothing is placed on the map: this records
    what is reported, not where it happened."""

    count: Annotated[int, Field(ge=1)]
    group: Slug | None = None
    days_before: Count | None = None
    description: Text
    identified: list[Slug] = []
    sources: Sources
    notes: str | None = None


class GroupRecord(Model):
    """An armed group: its id, name and aliases, its kind, and its colour on maps (#rrggbb)."""

    id: Slug
    name: Text
    aliases: list[Text] = []
    kind: Literal[v.GROUP_KINDS]
    color: Annotated[str, Field(pattern=v.COLOR_PATTERN)]
    notes: str | None = None


class SiteProperties(Model):
    """The properties of a site: a named place incidents may target, located to within `precision_m` metres."""

    name: Text
    kind: Literal[v.SITE_KINDS]
    precision_m: Metres
    status: Literal[v.STATUSES]
    country: str | None = None
    admin1: str | None = None
    sources: Sources
    notes: str | None = None


class ZoneProperties(Model):
    """The properties of a control zone: an area of one group from `valid_from` to `valid_to` (None:
    still), both inclusive, its boundary good to within `precision_m` metres.
    """

    name: Text
    group: Slug
    kind: Literal[v.ZONE_KINDS]
    valid_from: IsoDate
    valid_to: IsoDate | None = None
    confidence: Literal[v.CONFIDENCES]
    status: Literal[v.STATUSES]
    precision_m: Metres
    sources: Sources
    notes: str | None = None

    @field_validator("valid_to")
    @classmethod
    def _after_valid_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("valid_from")
        if value is not None and start is not None and value < start:
            raise ValueError(f"must not be before valid_from ({start})")
        return value


class IncidentProperties(Model):
    """The properties of an incident in ACLED's vocabulary: dated within `date_start` to `date_end`
    (both inclusive), located to within `precision_m` metres, with its attribution claims.
    """

    title: Text
    description: str | None = None
    date_start: IsoDate
    date_end: IsoDate
    event_type: Literal[tuple(v.ACLED_EVENT_TYPES)]
    sub_event_type: Literal[v.SUB_EVENT_TYPES] | None = None
    location_name: str | None = None
    country: str | None = None
    admin1: str | None = None
    admin2: str | None = None
    precision_m: Metres
    fatalities_low: Count | None = None
    fatalities_best: Count | None = None
    fatalities_high: Count | None = None
    injured: Count | None = None
    status: Literal[v.STATUSES]
    target_site: Slug | None = None
    attributions: list[Attribution] = []
    sources: Sources
    tags: list[Text] = []
    notes: str | None = None
    reported_events: list[ReportedEvents] = []

    @field_validator("date_end")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("date_start")
        if start is not None and value < start:
            raise ValueError(f"must not be before date_start ({start})")
        return value

    @field_validator("sub_event_type")
    @classmethod
    def _belongs_to_event_type(cls, value: str | None, info: ValidationInfo) -> str | None:
        event_type = info.data.get("event_type")
        if value is not None and event_type is not None and value not in v.ACLED_EVENT_TYPES[event_type]:
            raise ValueError(f"{value!r} is not a sub-event type of {event_type!r} in ACLED's codebook")
        return value

    @field_validator("fatalities_high")
    @classmethod
    def _ordered(cls, high: int | None, info: ValidationInfo) -> int | None:
        values = [info.data.get("fatalities_low"), info.data.get("fatalities_best"), high]
        known = [x for x in values if x is not None]
        if known != sorted(known):
            raise ValueError("fatalities must satisfy fatalities_low <= fatalities_best <= fatalities_high")
        return high


FEATURE_REF = r"^(incidents|sites|control_zones)/[a-z0-9][a-z0-9._-]{0,199}$"
FeatureRef = Annotated[str, Field(pattern=FEATURE_REF)]
Distance = Annotated[float, Field(ge=0, le=v.MAX_DISTANCE_M, allow_inf_nan=False)]
Bearing = Annotated[float, Field(ge=0, lt=360, allow_inf_nan=False)]
# The fields each kind of relation uses (others must be left out); "within" needs its maximum,
# "beyond" its minimum, "bearing" its sector (and may bound the distance).
_RELATION_FIELDS = {"within": ({"distance_max_m"}, set()), "beyond": ({"distance_min_m"}, set()),
                    "bearing": ({"bearing_from", "bearing_to"}, {"distance_min_m", "distance_max_m"})}
_MEASURES = ("distance_min_m", "distance_max_m", "bearing_from", "bearing_to")


class RelationProperties(Model):
    """A sourced relation from one feature (`subject`) to another (`object`), each written
    `collection/id`. Location constraints: `within` (the subject lies at most `distance_max_m`
    metres from the object), `beyond` (at least `distance_min_m`), `bearing` (the subject lies
    in the sector of bearings `bearing_from` clockwise to `bearing_to`, in degrees from true
    north, seen from the object; optionally between `distance_min_m` and `distance_max_m`),
    `inside` (the subject lies inside the object zone, or inside the relation's own polygon
    when no object is given). `derived_from`: the subject's point was copied or reasoned from
    the object's. Event links: `precedes`, `response_to`, `part_of` (incidents only).
    """

    kind: Literal[v.RELATION_KINDS]
    subject: FeatureRef
    object: FeatureRef | None = None
    distance_min_m: Distance | None = None
    distance_max_m: Distance | None = None
    bearing_from: Bearing | None = None
    bearing_to: Bearing | None = None
    sources: Sources
    notes: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> RelationProperties:
        for name, reason in relation_problems(self):
            raise ValueError(f"{name}: {reason}")
        return self


def relation_problems(props: RelationProperties) -> list[tuple[str, str]]:
    """What is wrong with a relation's fields for its kind, as (field, reason): the first
    problem only matters to pydantic, but all are listed for callers that want them."""
    problems = []
    if props.object is None and props.kind != "inside":
        problems.append(("object", f"missing: a {props.kind!r} relation names the feature it relates to"))
    if props.object is not None and props.object == props.subject:
        problems.append(("object", f"a feature cannot be related to itself ({props.subject})"))
    for end, allowed in zip(("subject", "object"), v.RELATION_ENDS[props.kind], strict=True):
        ref = getattr(props, end)
        if ref is not None and ref.partition("/")[0] not in allowed:
            problems.append((end, f"a {props.kind!r} relation takes {' or '.join(allowed)} here; got {ref!r}"))
    required, optional = _RELATION_FIELDS.get(props.kind, (set(), set()))
    for name in _MEASURES:
        given = getattr(props, name) is not None
        if name in required and not given:
            problems.append((name, f"missing: a {props.kind!r} relation needs it"))
        elif given and name not in required | optional:
            problems.append((name, f"not used by a {props.kind!r} relation; leave it out"))
    low, high = props.distance_min_m, props.distance_max_m
    if low is not None and high is not None and low > high:
        problems.append(("distance_max_m", f"must not be less than distance_min_m ({low})"))
    if props.kind == "within" and high == 0:
        problems.append(("distance_max_m", "must be greater than 0 (a feature at the same point is derived_from it)"))
    return problems


def precedes_cycle(edges: list[tuple[str, str, str]]) -> list[str] | None:
    """The ids of the relations forming a cycle among `precedes` edges (id, subject, object),
    in order along it, or None when there is none ("A precedes B" and "B precedes A" cannot both hold).

    >>> precedes_cycle([("r1", "a", "b"), ("r2", "b", "c")]) is None
    True
    >>> precedes_cycle([("r1", "a", "b"), ("r2", "b", "c"), ("r3", "c", "a")])
    ['r1', 'r2', 'r3']
    """
    out: dict[str, list[tuple[str, str]]] = {}
    for rid, subject, obj in sorted(edges):
        out.setdefault(subject, []).append((rid, obj))
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(out):
        if state.get(start):
            continue
        path: list[tuple[str, str]] = []  # (relation id, node it enters)
        stack = [(start, iter(out.get(start, [])))]
        state[start] = 1
        while stack:
            node, edges_left = stack[-1]
            step = next(edges_left, None)
            if step is None:
                state[node] = 2
                stack.pop()
                if path:
                    path.pop()
                continue
            rid, target = step
            if state.get(target) == 1:
                entered = [n for _, n in path]
                first = entered.index(target) + 1 if target in entered else 0
                return [r for r, _ in path[first:]] + [rid]
            if not state.get(target):
                state[target] = 1
                path.append((rid, target))
                stack.append((target, iter(out.get(target, []))))
    return None


def time_edges(links: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str]]:
    """The links (id, kind, subject, object) that order two events in time, as edges (id, earlier,
    later) for `precedes_cycle`: "A precedes B" runs from A to B, "A response_to B" from B to A.

    >>> time_edges([("r1", "precedes", "a", "b"), ("r2", "response_to", "a", "b"), ("r3", "part_of", "a", "b")])
    [('r1', 'a', 'b'), ('r2', 'b', 'a')]
    """
    return [(rid, subject, obj) if kind == "precedes" else (rid, obj, subject)
            for rid, kind, subject, obj in links if kind in ("precedes", "response_to")]


@dataclass(frozen=True)
class Record:
    """One validated feature (or group) and where it came from. `properties` is a model of this
    module (or the fast decoder's struct, read alike); `geometry` has `x`/`y` for points."""

    collection: str
    id: str
    properties: BaseModel
    geometry: Any
    where: str


def references(record: Record) -> list[tuple[str, str, str]]:
    """The groups, sites and (for a relation) features a record names, as (field, collection, id)."""
    props = record.properties
    if record.collection == "control_zones":
        return [("properties.group", "groups", props.group)]
    if record.collection == "relations":
        return [(f"properties.{end}", *ref.split("/", 1)) for end in ("subject", "object")
                if (ref := getattr(props, end)) is not None]
    if record.collection != "incidents":
        return []
    refs = [(f"properties.attributions[{i}].group", "groups", a.group) for i, a in enumerate(props.attributions)]
    refs += [(f"properties.reported_events[{i}].group", "groups", r.group)
             for i, r in enumerate(props.reported_events) if r.group]
    return refs + ([("properties.target_site", "sites", props.target_site)] if props.target_site else [])


def unknown_references(record: Record, known: dict[str, set[str]]) -> list[Problem]:
    """The record's references to groups and sites that are not among `known` ids (keyed by
    "groups" and "sites"), one problem each."""
    return [Problem(record.where, name, f"unknown {_SINGULAR[kind]} {ref!r}; define it in {kind} first")
            for name, kind, ref in references(record) if ref not in known[kind]]


_SINGULAR = {"groups": "group", "sites": "site", "incidents": "incident", "control_zones": "control zone"}
PROPERTIES = {"sites": SiteProperties, "control_zones": ZoneProperties, "incidents": IncidentProperties,
              "relations": RelationProperties}
# A relation's geometry is null, or for `inside` without an object the polygon the subject lies in.
GEOMETRY_TYPES = {"sites": ("Point",), "incidents": ("Point",), "control_zones": ("Polygon", "MultiPolygon"),
                  "relations": ("Polygon", "MultiPolygon")}


# -- the kinds of value, for the forms derived from the models --------------------------------

KINDS = ("text", "date", "integer", "number", "boolean", "texts", "sources", "claims", "reports")
"""What a field holds: text (free or from a vocabulary), a date, an integer, a number, a yes/no,
a list of texts (tags, aliases), a list of sources, a list of claims, a list of reported events."""


def _kind(annotation: object) -> str:
    if get_origin(annotation) is Annotated:
        return _kind(get_args(annotation)[0])
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return _kind(args[0])
    if get_origin(annotation) is list:
        item = get_args(annotation)[0]
        return {Source: "sources", Attribution: "claims", ReportedEvents: "reports"}.get(item, "texts")
    if get_origin(annotation) is Literal or annotation is str:
        return "text"
    return {date: "date", int: "integer", float: "number", bool: "boolean"}[annotation]


def kinds(model: type[BaseModel]) -> dict[str, str]:
    """Each field of a record model and its kind (`KINDS`), in the model's order.

    >>> kinds(Source)
    {'title': 'text', 'publisher': 'text', 'url': 'text', 'date': 'date', 'primary': 'boolean', 'copy_of': 'text'}
    """
    return {name: _kind(info.annotation) for name, info in model.model_fields.items()}


def fields_of_kind(*wanted: str) -> frozenset[str]:
    """The names of the feature properties (any collection) of the given kinds."""
    return frozenset(name for model in PROPERTIES.values() for name, kind in kinds(model).items() if kind in wanted)
