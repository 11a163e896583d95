"""Lengths, distances and day ranges as words, the same in every rendering of a report
(Markdown, HTML, PDF): a radius of 305 m reads "305 m", never "0 km"."""
from __future__ import annotations

from typing import TYPE_CHECKING

from geomap.analysis.duplicates import DuplicateRule, Possible
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


def duplicates_lead(rule: DuplicateRule = DuplicateRule()) -> str:
    """What the listed likely duplicates are, in the words of `rule` (the context report's: the
    default rule).

    >>> lead = duplicates_lead(DuplicateRule(metres=500.0, days=2))
    >>> "at most 2 days apart" in lead, "within 500 m disc to disc, through discs of at most 2.5 km" in lead
    (True, True)
    """
    days = "a day" if rule.days == 1 else f"{rule.days} days"
    return (f"Other records that are likely this same event (docs/io.md's rule: the same event type, dates at most "
            f"{days} apart, claims naming a common group or none, locations or target sites within "
            f"{length(rule.metres)} disc to disc, through discs of at most {length(rule.precise_m)}), wherever their "
            "own points are (a record coded at its target site meets through it); flagged, not merged, and still "
            "counted above where they are nearby.")


def possible_text(possible: Possible, precise_m: float | None = None) -> str:
    """Possible duplicates in words: how many, and by the precision class of the wider disc
    (`precise_m`: the rule's bound; by default the default rule's, as the context report uses).

    >>> from geomap.analysis.duplicates import Possible, PrecisionCount
    >>> possible_text(Possible(3, (PrecisionCount(10000.0, 2), PrecisionCount(50000.0, 1))))
    'Possible duplicates (their discs meet only through one wider than 5 km, too coarse to tell by place): 3 pair(s); the wider disc up to 10 km: 2, up to 50 km: 1'
    """
    bound = DuplicateRule().precise_m if precise_m is None else precise_m
    classes = ", ".join(f"up to {length(c.up_to_m)}: {c.pairs}" for c in possible.by_precision)
    return (f"Possible duplicates (their discs meet only through one wider than {length(bound)}, too coarse to "
            f"tell by place): {possible.total} pair(s)" + (f"; the wider disc {classes}" if classes else ""))


def duplicate_text(focus_id: str, d: dict) -> str:
    """A likely duplicate of the report's incident in words, from `geomap.analysis.duplicates`' row.

    >>> duplicate_text("a", {"a": "a", "b": "b", "group": None, "metres": 7612.3, "b_date": "2019-12-28",
    ...                      "basis": "b at the target of a", "wider_m": 3000.0})
    'b (2019-12-28): 7.6 km from this one; met: the other at the target of this one (wider disc ± 3 km); no common group (one names none)'
    """
    other, date = (d["b"], d["b_date"]) if d["a"] == focus_id else (d["a"], d["a_date"])
    basis = {"locations": "locations", "targets": "target sites",
             "a at the target of b": "this one at the target of the other" if d["a"] == focus_id else
             "the other at the target of this one",
             "b at the target of a": "the other at the target of this one" if d["a"] == focus_id else
             "this one at the target of the other"}[d["basis"]]
    group = f"both name {d['group']}" if d["group"] else "no common group (one names none)"
    return f"{other} ({date}): {length(d['metres'])} from this one; met: {basis} (wider disc ± {length(d['wider_m'])}); {group}"
