"""Lengths, distances and day ranges as words, the same in every rendering of a report
(Markdown, HTML, PDF): a radius of 305 m reads "305 m", never "0 km"."""
from __future__ import annotations

from typing import TYPE_CHECKING

from geomap.analysis.geodesy import Distance
from geomap.analysis.model import DayRange

if TYPE_CHECKING:
    from geomap.analysis.proximity import NearbyIncident


def length(metres: float) -> str:
    """A length with its real unit: metres below 1 km, else km to 0.1 km (whole km without ".0").

    >>> length(304.8), length(5000), length(7635.2), length(0)
    ('305 m', '5 km', '7.6 km', '0 m')
    """
    if metres < 999.5:
        return f"{metres:.0f} m"
    km = f"{metres / 1000:.1f}"
    return (km[:-2] if km.endswith(".0") else km) + " km"


def distance(d: Distance) -> str:
    """'7.6 km (0 m to 23.6 km)': the best estimate, then the range the precision allows.

    >>> distance(Distance(7635.0, 0.0, 23635.0))
    '7.6 km (0 m to 23.6 km)'
    """
    return f"{length(d.best)} ({length(d.min)} to {length(d.max)})"


def days_before(d: DayRange | None) -> str:
    """How many days before the focus incident another happened ("" if unknown).

    >>> days_before(DayRange(3, 3)), days_before(DayRange(80, 117))
    ('3 days before', '80 to 117 days before')
    """
    if d is None:
        return ""
    if d.min == d.max:
        return f"{d.min} day before" if d.min == 1 else f"{d.min} days before"
    return f"{d.min} to {d.max} days before"


def precision(metres: float, status: str) -> str:
    """A location's quality: '± 45 km, estimate'."""
    return f"± {length(metres)}, {status}"


def noted(n: NearbyIncident) -> str:
    """'; ' and how the distance was measured or where a location came from, when it is not
    the two points' ("" otherwise)."""
    return f"; {n.note}" if n.note else ""


DUPLICATES_LEAD = ("Other records that may be this same event (docs/io.md's rule: the same event type, dates at most "
                   "a day apart, claims naming a common group or none, locations or target sites within 1 km disc to "
                   "disc), wherever their own points are (a record coded at its target site meets through it); flagged, "
                   "not merged, and still counted above where they are nearby.")


def duplicate_text(focus_id: str, d: dict) -> str:
    """A likely duplicate of the report's incident in words, from `geomap.analysis.duplicates`' row.

    >>> duplicate_text("a", {"a": "a", "b": "b", "group": None, "metres": 7612.3, "b_date": "2019-12-28",
    ...                      "basis": "b at the target of a"})
    'b (2019-12-28): 7.6 km from this one; met: the other at the target of this one; no common group (one names none)'
    """
    other, date = (d["b"], d["b_date"]) if d["a"] == focus_id else (d["a"], d["a_date"])
    basis = {"locations": "locations", "targets": "target sites",
             "a at the target of b": "this one at the target of the other" if d["a"] == focus_id else
             "the other at the target of this one",
             "b at the target of a": "the other at the target of this one" if d["a"] == focus_id else
             "this one at the target of the other"}[d["basis"]]
    group = f"both name {d['group']}" if d["group"] else "no common group (one names none)"
    return f"{other} ({date}): {length(d['metres'])} from this one; met: {basis}; {group}"
