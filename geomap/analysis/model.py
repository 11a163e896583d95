"""The things the analysis reasons about: plain, immutable, serialisable.

Built from database rows by `from_row` constructors; nothing here touches the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from geomap.analysis.geodesy import Location


@dataclass(frozen=True)
class DayRange:
    """Days from another event to the focus event, positive when the other came first.

    Both events are date intervals, so the gap is a range: `min` pairs the other's end with the
    focus's start, `max` the other's start with the focus's end.
    """

    min: int
    max: int

    @classmethod
    def between(cls, other: tuple[date, date], focus: tuple[date, date]) -> DayRange:
        return cls((focus[0] - other[1]).days, (focus[1] - other[0]).days)


@dataclass(frozen=True)
class Incident:
    """One incident: what happened, where (with its precision radius) and over which days.

    `date_start` to `date_end` is the interval the date is known to within (both inclusive);
    `groups` are the ids of the groups its affirmative claims name, sorted; `sources` its citations.
    """

    id: str
    title: str
    location: Location
    date_start: date
    date_end: date
    event_type: str
    sub_event_type: str | None
    status: str
    target_site: str | None
    groups: tuple[str, ...]
    sources: tuple[dict, ...]

    @property
    def dates(self) -> tuple[date, date]:
        return self.date_start, self.date_end

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        return cls(row["id"], row["title"], Location(row["lon"], row["lat"], row["precision_m"]),
                   row["date_start"], row["date_end"], row["event_type"], row["sub_event_type"], row["status"],
                   row["target_site"], tuple(sorted(row["groups"])), tuple(row["sources"]))


@dataclass(frozen=True)
class Site:
    """A named place incidents may target (`kind` says what it is), with its location and sources."""

    id: str
    name: str
    kind: str
    location: Location
    status: str
    sources: tuple[dict, ...]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Site:
        return cls(row["id"], row["name"], row["kind"], Location(row["lon"], row["lat"], row["precision_m"]),
                   row["status"], tuple(row["sources"]))


@dataclass(frozen=True)
class ControlZone:
    """An area of a group's control, presence or activity (`kind`) from `valid_from` to `valid_to` (None: still).

    `precision_m` is how far, in metres, its drawn border may lie from the real one.
    """

    id: str
    name: str
    group: str
    kind: str
    valid_from: date
    valid_to: date | None
    confidence: str
    status: str
    precision_m: float
    geometry: BaseGeometry
    sources: tuple[dict, ...]
    notes: str = ""  # shown in map popups

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ControlZone:
        """From a zone row (`wkb` for the geometry); a row without `notes` gives none."""
        return cls(row["id"], row["name"], row["group_id"], row["kind"], row["valid_from"], row["valid_to"],
                   row["confidence"], row["status"], row["precision_m"], shapely.from_wkb(row["wkb"]),
                   tuple(row["sources"]), row.get("notes") or "")


@dataclass(frozen=True)
class Facts:
    """What a report says about its own incident beyond `Incident`: the description, the place's
    name, fatalities (low / best / high, each None when no source gives it), injured, and notes."""

    description: str | None
    location_name: str | None
    fatalities_low: int | None
    fatalities_best: int | None
    fatalities_high: int | None
    injured: int | None
    notes: str | None
    reported_events: tuple[dict, ...] = ()  # events a source reports that the data cannot place

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Facts:
        return cls(*(row[k] for k in ("description", "location_name", "fatalities_low", "fatalities_best",
                                      "fatalities_high", "injured", "notes")), tuple(row["reported_events"]))
