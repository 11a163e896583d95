"""Relations between features as the analysis uses them: location constraints (read into
`geomap.analysis.feasible.Constraint`), derived locations, and the sentences that outputs print
about them (a distance, the context report's facts, map popups).

For the context report: `location_facts(ref, constraints, derivations)` gives the sentences to
print under an incident's location (what bounds it, where it was copied from), and
`derived_note(ref, derivations)` the one-line warning to put beside any figure that uses it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely

from geomap.analysis.feasible import Constraint


@dataclass(frozen=True)
class Derivation:
    """A `derived_from` relation: `subject`'s point was copied or reasoned from `object`'s."""

    id: str
    subject: str
    object: str
    notes: str | None
    sources: tuple[dict, ...] = ()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Derivation:
        return cls(row["id"], row["subject"], row["object"], row.get("notes"), tuple(row.get("sources") or ()))


def constraint_from_row(row: Mapping[str, Any], zones: Mapping[str, tuple[bytes, float]]) -> Constraint:
    """A location relation row (`geomap.db.relations`) as a Constraint; an `inside` relation
    takes its object zone's geometry and precision from `zones` (by zone id), or its own polygon."""
    zone, precision = None, 0.0
    if row["kind"] == "inside":
        if row["object"]:
            wkb, precision = zones[row["object"].partition("/")[2]]
        else:
            wkb = row["wkb"]
        zone = shapely.from_wkb(bytes(wkb))
    return Constraint(row["id"], row["kind"], row["subject"], row["object"], row["distance_min_m"],
                      row["distance_max_m"], row["bearing_from"], row["bearing_to"], zone, precision)


def _metres(value: float) -> str:
    return f"{value / 1000:.1f} km" if value >= 10_000 else f"{value:,.0f} m"


def constraint_sentence(c: Constraint) -> str:
    """What a constraint says, in words, naming it.

    >>> constraint_sentence(Constraint("r", "within", "incidents/a", "incidents/b", distance_max_m=304.8))
    'incidents/a lies at most 305 m from incidents/b (relation r)'
    """
    if c.kind == "within":
        said = f"at most {_metres(c.distance_max_m)} from {c.object}"
    elif c.kind == "beyond":
        said = f"at least {_metres(c.distance_min_m)} from {c.object}"
    elif c.kind == "bearing":
        said = f"at a bearing of {c.bearing_from:g} to {c.bearing_to:g} degrees from {c.object}"
        if c.distance_min_m is not None or c.distance_max_m is not None:
            said += f", {_metres(c.distance_min_m or 0)} to " + \
                (_metres(c.distance_max_m) if c.distance_max_m is not None else "any distance")
    else:
        said = f"inside {c.object or 'the polygon the relation carries'}"
    return f"{c.subject} lies {said} (relation {c.id})"


def derived_note(ref: str, derivations: Iterable[Derivation]) -> str | None:
    """The warning to print beside any figure that uses `ref`'s location, or None.

    >>> derived_note("incidents/a", [Derivation("d", "incidents/a", "sites/s", None)])
    'the location of incidents/a is derived from sites/s (relation d), not observed'
    """
    sources = [d for d in derivations if d.subject == ref]
    if not sources:
        return None
    named = ", ".join(f"{d.object} (relation {d.id})" for d in sources)
    return f"the location of {ref} is derived from {named}, not observed"


def location_facts(ref: str, constraints: Sequence[Constraint], derivations: Iterable[Derivation]) -> list[str]:
    """The sentences about `ref`'s location: each constraint on it (either end), where it was
    derived from, and which locations were derived from it, with the relations' notes.

    >>> location_facts("incidents/b", [], [Derivation("d", "incidents/b", "incidents/a", "copied")])
    ['the location of incidents/b is derived from incidents/a (relation d), not observed: copied']
    """
    facts = [constraint_sentence(c) for c in constraints if ref in c.ends()]
    facts += [f"{derived_note(d.subject, [d])}" + (f": {d.notes}" if d.notes else "") for d in derivations
              if ref in (d.subject, d.object)]
    return facts
