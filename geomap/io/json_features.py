"""The fast path of bulk reading: a whole point Feature decoded and validated from its JSON
bytes in one pass by msgspec (C), about five times faster than decoding then validating.

The pydantic models in `records` stay the rule book (the structs declare the same fields in
the same order, so both write the same JSON): every message comes from them. These
structs mirror them field by field and never accept more: patterns are ASCII-only and anchored
at the true end of the text, numbers must be finite, and the cross-field rules are the same.
A feature these structs reject is read again by `geojson.read_feature`, which accepts it or
says why not; so a file is accepted or refused, with the same words, whichever path read it.
`tests/io/test_json_features.py` holds the two paths to that on valid and broken features, and
`tests/model/test_model_records.py` checks these structs against the records field by field
(names, order, required, defaults, kinds, allowed values, bounds): the one repeated block of
declarations in the package, kept because decoding is five times faster this way.
"""
from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from geomap import vocabulary as v
from geomap.io.geojson import Record

Text = Annotated[str, Meta(min_length=1)]
Slug = Annotated[str, Meta(pattern=v.ID_PATTERN.removesuffix("$") + r"\Z")]  # \Z: no trailing newline
Url = Annotated[str, Meta(pattern=r"^https?://[!-~]+\Z")]
Count = Annotated[int, Meta(ge=0)]
Metres = Annotated[float, Meta(ge=0, le=v.MAX_PRECISION_M)]


class _Strict(Struct, forbid_unknown_fields=True, frozen=True):
    pass


class Source(_Strict, kw_only=True):
    """A source as the fast path reads it (mirrors `records.Source`)."""

    title: Text
    publisher: str | None = None
    url: Url
    date: date | None = None
    primary: bool = False
    copy_of: Text | None = None

    def __post_init__(self) -> None:
        if self.copy_of is not None and self.primary:
            raise ValueError("a copy is not original reporting: give primary or copy_of, not both")


class Attribution(_Strict, kw_only=True):
    """An attribution claim as the fast path reads it (mirrors `records.Attribution`)."""

    group: Slug
    claimant: Text
    stance: Literal[v.STANCES]
    sources: Annotated[list[Source], Meta(min_length=1)]
    notes: str | None = None


class ReportedEvents(_Strict, kw_only=True):
    """Reported events as the fast path reads them (mirrors `records.ReportedEvents`)."""

    count: Annotated[int, Meta(ge=1)]
    group: Slug | None = None
    days_before: Count | None = None
    description: Text
    identified: list[Slug] = []
    sources: Annotated[list[Source], Meta(min_length=1)]
    notes: str | None = None


class IncidentProperties(_Strict, kw_only=True):
    """An incident's properties as the fast path reads them (mirrors `records.IncidentProperties`,
    checked against it by tests/model)."""

    title: Text
    description: str | None = None
    date_start: date
    date_end: date
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
    sources: Annotated[list[Source], Meta(min_length=1)]
    tags: list[Text] = []
    notes: str | None = None
    reported_events: list[ReportedEvents] = []

    def __post_init__(self):
        fatalities = [x for x in (self.fatalities_low, self.fatalities_best, self.fatalities_high) if x is not None]
        if (self.date_end < self.date_start or not math.isfinite(self.precision_m) or fatalities != sorted(fatalities)
                or (self.sub_event_type is not None
                    and self.sub_event_type not in v.ACLED_EVENT_TYPES[self.event_type])):
            raise ValueError("invalid")


class SiteProperties(_Strict, kw_only=True):
    """A site's properties as the fast path reads them (mirrors `records.SiteProperties`)."""

    name: Text
    kind: Literal[v.SITE_KINDS]
    precision_m: Metres
    status: Literal[v.STATUSES]
    country: str | None = None
    admin1: str | None = None
    sources: Annotated[list[Source], Meta(min_length=1)]
    notes: str | None = None

    def __post_init__(self):
        if not math.isfinite(self.precision_m):
            raise ValueError("invalid")


class Point(Struct, frozen=True):
    """A GeoJSON Point in WGS84 lon/lat: longitude in [-180, 180], latitude in [-90, 90], an optional finite height."""

    type: Literal["Point"]
    coordinates: Annotated[list[float], Meta(min_length=2, max_length=3)]

    def __post_init__(self):
        # The range tests are false for NaN and infinities too (which JSON cannot spell anyway).
        coordinates = self.coordinates
        if not (-180 <= coordinates[0] <= 180 and -90 <= coordinates[1] <= 90
                and (len(coordinates) == 2 or math.isfinite(coordinates[2]))):
            raise ValueError("invalid")


class IncidentFeature(Struct, frozen=True):
    """A whole incident Feature: id, point geometry and properties."""

    type: Literal["Feature"]
    id: Slug
    geometry: Point
    properties: IncidentProperties


class SiteFeature(Struct, frozen=True):
    """A whole site Feature: id, point geometry and properties."""

    type: Literal["Feature"]
    id: Slug
    geometry: Point
    properties: SiteProperties


DECODERS = {"incidents": msgspec.json.Decoder(IncidentFeature), "sites": msgspec.json.Decoder(SiteFeature)}


class LonLat(tuple):
    """A point read on the fast path: (x, y), without building a Shapely geometry."""

    __slots__ = ()

    @property
    def x(self) -> float:
        return self[0]

    @property
    def y(self) -> float:
        return self[1]


def read_point_feature(text: bytes, collection: str, where: str) -> Record | None:
    """The Record of a valid point feature, or None: then `read_feature` must say why.
    The record's geometry is a LonLat and its properties a struct, read like the models."""
    decoder = DECODERS.get(collection)
    if decoder is None:
        return None
    try:
        feature = decoder.decode(text)
    except (msgspec.DecodeError, ValueError):
        return None
    coordinates = feature.geometry.coordinates
    return Record(collection, feature.id, feature.properties, LonLat((float(coordinates[0]), float(coordinates[1]))),
                  f"{where} (id {feature.id!r})")
