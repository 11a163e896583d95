"""ACLED CSV exports as geomap incidents (`geomap import FILE --format acled-csv`).

The mapping (docs/io.md has the reasons):

- `event_id_cnty` -> id `acled-<event_id_cnty in lower case>` (stable: ACLED keeps an event's
  id when it revises the event, so re-importing a newer export updates it);
- `event_date` + `time_precision` -> `date_start`..`date_end`: 1 the day itself; 2 the week
  around it (ACLED codes a week to its middle day: date - 3 .. date + 3); 3 the calendar month
  (ACLED codes a month to its middle);
- `latitude`/`longitude` -> the point; `geo_precision` -> `precision_m`: 1 (the town itself)
  2 km, 2 (near a town, or a small part of a region) 10 km, 3 (a larger region, coded to a
  natural feature or the provincial capital) 50 km;
- `event_type`, `sub_event_type`, `country`, `admin1`, `admin2` as they are; `location` ->
  `location_name`; `notes` -> `description`; `fatalities` -> `fatalities_best`;
- `actor1` and each `assoc_actor_1` -> a group, matched by name or alias (case-insensitive, then
  without a trailing parenthesis such as "(Iraq)" or "(2018-)"), or created (slug id, kind from
  `inter1`, a colour from a fixed palette); each becomes an attribution claim: claimant "ACLED",
  stance "assessed" (ACLED's coding is its own judgement from the reports);
- `source` (publishers separated by ";") -> sources, one per publisher, linked to ACLED's data
  export tool (ACLED publishes no per-event page); `tags` -> tags, plus "acled";
- `actor2`, `assoc_actor_2` and `admin3` go into `notes` (actor 2 is a party to the event, not
  a perpetrator: ACLED says actor order implies no direction); status is "reported".
"""
from __future__ import annotations

import csv
import io
import re
import threading
import zlib
from calendar import monthrange
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from geomap.errors import InvalidInput, Problem
from geomap.io.readers import Item, Reader

REQUIRED = ("event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "actor1",
            "latitude", "longitude", "geo_precision", "source", "fatalities")
GEO_PRECISION_M = {"1": 2_000.0, "2": 10_000.0, "3": 50_000.0}
WEEK_HALF = 3
DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d/%m/%Y", "%d-%m-%Y", "%d-%b-%Y", "%d %b %Y")
ACLED_URL = "https://acleddata.com/data-export-tool/"
CLAIMANT = "ACLED"
STANCE = "assessed"
# inter1 codes (older numeric scheme) and labels (newer exports) -> geomap group kinds.
INTER_KINDS = {
    "1": "state_force", "state forces": "state_force",
    "2": "insurgent", "rebel group": "insurgent", "rebel groups": "insurgent",
    "3": "militia", "political militia": "militia", "political militias": "militia",
    "4": "militia", "identity militia": "militia", "identity militias": "militia",
    "5": "civilian", "rioters": "civilian", "6": "civilian", "protesters": "civilian",
    "7": "civilian", "civilians": "civilian", "8": "other", "external/other forces": "other",
}
# Okabe-Ito and Tol's colour-blind-safe sets: a new group's colour is picked by its id's CRC32.
PALETTE = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#332288",
           "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255", "#aa4499")
# geomap fields -> the ACLED columns they come from, for problem reports.
COLUMNS = {"id": "event_id_cnty", "properties.date_start": "event_date", "properties.date_end": "event_date",
           "properties.event_type": "event_type", "properties.sub_event_type": "sub_event_type",
           "geometry.coordinates": "latitude/longitude", "properties.precision_m": "geo_precision",
           "properties.fatalities_best": "fatalities", "properties.sources": "source",
           "properties.title": "sub_event_type", "properties.location_name": "location"}


def normalise(name: str) -> str:
    """An actor's name as names are matched: case folded, runs of white space as one space."""
    return " ".join(name.casefold().split())


def without_qualifier(name: str) -> str:
    """'Islamic State (Iraq)' -> 'Islamic State'; ACLED qualifies names by country or period."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", name).strip()


def slugify(name: str) -> str:
    """A group id made from an actor's name: lower-case ASCII words joined by hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return slug or "group"


class GroupIndex:
    """Groups by normalised name and alias; ACLED actors that match none become new groups,
    which the importer takes (`take_new`) and stores (`geomap.db.groups.create`) before the
    incidents that name them. Built from the stored groups (`geomap.db.groups.names`)."""

    def __init__(self, rows: list[dict]):
        self.by_name: dict[str, str] = {}
        self.ids: set[str] = set()
        self.pending: list[dict] = []
        self._lock = threading.Lock()
        for row in rows:
            self.ids.add(row["id"])
            for name in [row["name"], *row["aliases"]]:
                self.by_name.setdefault(normalise(name), row["id"])

    def resolve(self, actor: str, inter: str | None) -> str:
        """The id of the group an ACLED actor names, creating the group when there is none."""
        key = normalise(actor)
        with self._lock:
            found = self.by_name.get(key) or self.by_name.get(normalise(without_qualifier(actor)))
            if found is None:
                found = self._new(actor, inter)
            self.by_name[key] = found
            return found

    def _new(self, actor: str, inter: str | None) -> str:
        base = slugify(actor)
        gid, n = base, 1
        while gid in self.ids:
            n += 1
            gid = f"{base}-{n}"
        self.ids.add(gid)
        self.pending.append({"id": gid, "name": actor, "aliases": [], "color": PALETTE[zlib.crc32(gid.encode()) % 16],
                             "kind": INTER_KINDS.get(normalise(inter or ""), "other"),
                             "notes": f"Created from the ACLED actor {actor!r} by geomap import."})
        return gid

    def take_new(self) -> list[dict]:
        """The groups created since the last call (rows of the groups table), to be stored."""
        with self._lock:
            new, self.pending = self.pending, []
        return new


class ACLEDReader(Reader):
    """Rows of an ACLED CSV export as incidents; `where` is the file and the row's first line."""

    def __init__(self, stream, path, collection, groups: GroupIndex | None = None, **_):
        super().__init__(stream, path, collection)
        self.groups = groups or GroupIndex([])

    def items(self) -> Iterator[Item]:
        if self.collection not in (None, "incidents"):
            raise InvalidInput(f"{self.path}: an ACLED export holds incidents, not {self.collection}")
        self.collection = "incidents"
        text = io.TextIOWrapper(self.stream, encoding="utf-8-sig", newline="")
        rows = csv.DictReader(text)
        try:
            self._check_header(rows.fieldnames)
            line = 2
            for row in rows:
                where = f"{self.path}: line {line}" + (f" (event {row.get('event_id_cnty')})" if row.get("event_id_cnty") else "")
                line = rows.line_num + 1
                yield self._item(row, where)
        except UnicodeDecodeError:
            raise InvalidInput(f"{self.path}: not UTF-8 text; save the export as UTF-8 CSV") from None
        except csv.Error as exc:
            raise InvalidInput(f"{self.path}: not a readable CSV file near line {rows.line_num}: {exc}") from None
        finally:
            text.detach()  # the caller owns the file: do not close it with the wrapper

    def _check_header(self, fieldnames: list[str] | None) -> None:
        missing = [c for c in REQUIRED if c not in (fieldnames or [])]
        if missing:
            raise InvalidInput(f"{self.path}: not an ACLED export: missing column(s) {', '.join(missing)} "
                               f"(the header must name ACLED's columns, e.g. {', '.join(REQUIRED[:4])}, ...)")

    def _item(self, row: dict[str, str | None], where: str) -> Item:
        problems: list[Problem] = []
        feature = to_feature(row, self.groups, where, problems)
        if problems:
            return Item(where, None, tuple(problems))
        item = self.validate(feature, where)
        if item.record is None:
            return Item(item.where, None, tuple(Problem(p.where, COLUMNS.get(p.field, p.field), p.reason)
                                                for p in item.problems))
        return item


def _cell(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def to_feature(row: dict, groups: GroupIndex, where: str, problems: list[Problem]) -> dict[str, Any]:
    """One ACLED row as a GeoJSON Feature of geomap's model; ACLED-level problems (unreadable
    dates, numbers, codes) are appended to `problems` under ACLED's column names."""
    event = _cell(row, "event_id_cnty")
    if not event:
        problems.append(Problem(where, "event_id_cnty", "missing (required): ACLED's event id"))
    start, end = _dates(row, where, problems)
    lon, lat = _number(row, "longitude", float, where, problems), _number(row, "latitude", float, where, problems)
    precision = GEO_PRECISION_M.get(_cell(row, "geo_precision"))
    if precision is None:
        problems.append(Problem(where, "geo_precision", f"must be 1, 2 or 3; got {_cell(row, 'geo_precision')!r}"))
    fatalities = _number(row, "fatalities", int, where, problems) if _cell(row, "fatalities") else None
    if problems:
        return {}
    properties = _properties(row, event, groups) | {"date_start": start, "date_end": end, "precision_m": precision,
                                                     "fatalities_best": fatalities}
    return {"type": "Feature", "id": "acled-" + slugify(event),
            "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _properties(row: dict, event: str, groups: GroupIndex) -> dict[str, Any]:
    """The properties that need no parsing: text columns, claims, sources, tags, notes."""
    sources = _sources(row, event)
    place = _cell(row, "location")
    return {
        "title": f"{_cell(row, 'sub_event_type') or _cell(row, 'event_type')}: {place or 'unknown place'}",
        "description": _cell(row, "notes") or None,
        "event_type": _cell(row, "event_type"), "sub_event_type": _cell(row, "sub_event_type") or None,
        "location_name": place or None, "country": _cell(row, "country") or None,
        "admin1": _cell(row, "admin1") or None, "admin2": _cell(row, "admin2") or None, "status": "reported",
        "attributions": _claims(row, groups, sources), "sources": sources,
        "tags": ["acled", *_split(_cell(row, "tags"))], "notes": _notes(row, event),
    }


def _dates(row: dict, where: str, problems: list[Problem]) -> tuple[str | None, str | None]:
    text = _cell(row, "event_date")
    day = next((d for d in (_parse(text, f) for f in DATE_FORMATS) if d is not None), None)
    if day is None:
        problems.append(Problem(where, "event_date", f"must be a date such as 2019-12-27 or 27 December 2019; "
                                f"got {text!r}"))
        return None, None
    precision = _cell(row, "time_precision")
    if precision == "1":
        return day.isoformat(), day.isoformat()
    if precision == "2":
        return (day - timedelta(days=WEEK_HALF)).isoformat(), (day + timedelta(days=WEEK_HALF)).isoformat()
    if precision == "3":
        return day.replace(day=1).isoformat(), day.replace(day=monthrange(day.year, day.month)[1]).isoformat()
    problems.append(Problem(where, "time_precision", f"must be 1, 2 or 3; got {precision!r}"))
    return None, None


def _parse(text: str, fmt: str) -> date | None:
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None


def _number(row: dict, column: str, kind: type, where: str, problems: list[Problem]):
    text = _cell(row, column)
    try:
        return kind(text)
    except ValueError:
        problems.append(Problem(where, column, f"must be {'an integer' if kind is int else 'a number'}; got {text!r}"))
        return None


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _sources(row: dict, event: str) -> list[dict]:
    publishers = _split(_cell(row, "source")) or [CLAIMANT]
    return [{"title": f"{publisher}, as coded by ACLED (event {event})", "publisher": publisher,
             "url": ACLED_URL, "date": None} for publisher in publishers]


def _claims(row: dict, groups: GroupIndex, sources: list[dict]) -> list[dict]:
    actors = [(_cell(row, "actor1"), "actor1")] + [(a, "assoc_actor_1") for a in _split(_cell(row, "assoc_actor_1"))]
    claims, seen = [], set()
    for actor, column in actors:
        if not actor:
            continue
        gid = groups.resolve(actor, _cell(row, "inter1"))
        if gid in seen:
            continue
        seen.add(gid)
        claims.append({"group": gid, "claimant": CLAIMANT, "stance": STANCE, "sources": sources,
                       "notes": f"ACLED {column}: {actor}"})
    return claims


def _notes(row: dict, event: str) -> str:
    parts = [f"ACLED event {event} (geo_precision {_cell(row, 'geo_precision')}, "
             f"time_precision {_cell(row, 'time_precision')})."]
    for column, label in (("actor2", "Actor 2"), ("assoc_actor_2", "Associated with actor 2"), ("admin3", "Admin3")):
        if _cell(row, column):
            parts.append(f"{label}: {_cell(row, column)}.")
    return " ".join(parts)
