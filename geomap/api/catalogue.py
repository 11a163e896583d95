"""The collection catalogue's wire vocabulary: each collection's title and description as the
API shows them (the JSON Schema of the queryables and features is `geomap.api.schemas`).

The collections themselves (ids, geometry types, queryables) are defined once, in
`geomap.model.query`; where they are stored is `geomap.db.features`'s business.
"""
from __future__ import annotations

from dataclasses import dataclass

from geomap.model.query import Collection


@dataclass(frozen=True)
class Described:
    """How the API names a collection to people."""

    title: str
    description: str


DESCRIBED: dict[str, Described] = {
    "incidents": Described("Incidents", "Conflict incidents (ACLED vocabulary) with attribution claims, dated as "
                           "intervals and located with a precision radius."),
    "sites": Described("Sites", "Reference places that incidents target."),
    "control_zones": Described("Control zones", "Areas of control, presence or activity of armed groups, each "
                               "valid from one date to another."),
    "relations": Described("Relations", "Sourced relations between two features (subject, object as "
                           "collection/id): location constraints (within, beyond, bearing, inside), derived "
                           "locations (derived_from) and links between events (precedes, response_to, part_of)."),
}


def title(c: Collection) -> str:
    """The collection's title as the wire documents show it."""
    return DESCRIBED[c.id].title


def description(c: Collection) -> str:
    """The collection's description as the wire documents show it."""
    return DESCRIBED[c.id].description

