"""Parameter values that the HTTP API (`geomap.api.params`) and the commands (`geomap export`,
`geomap map` through `geomap.maps.request`) both take: a number, a whole number, a bbox, a date
or an interval of dates, a comma-separated list, the set of known names. One parser for each,
so a value means the same thing and is refused with the same words on either side.

Plain functions over strings (no Flask). Every error is a BadRequest whose message starts with
the parameter's name, says what is wrong, and shows what is allowed.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime

from geomap.errors import BadRequest, Problem


def number(name: str, text: str) -> float:
    """A finite decimal number."""
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadRequest(f"{name}: must be a finite number; got {text!r}")
    return value


def bbox(text: str, antimeridian: bool = False) -> tuple[float, float, float, float]:
    """`minlon,minlat,maxlon,maxlat` (or the 6-number 3D form, whose heights are ignored); with
    `antimeridian`, a box whose minlon is greater than its maxlon crosses the antimeridian.

    >>> bbox("43,34,46,37")
    (43.0, 34.0, 46.0, 37.0)
    >>> bbox("170,-20,-170,-10", antimeridian=True)
    (170.0, -20.0, -170.0, -10.0)
    """
    parts = [number("bbox", p) for p in text.split(",")]
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4:
        raise BadRequest(f"bbox: give 4 numbers minlon,minlat,maxlon,maxlat; got {len(parts)}")
    west, south, east, north = parts
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise BadRequest("bbox: longitudes must be in -180..180, latitudes in -90..90, and minlat <= maxlat")
    if west > east and not antimeridian:
        raise BadRequest("bbox: boxes crossing the antimeridian (minlon > maxlon) are not supported; split it in two")
    return west, south, east, north


def interval(text: str) -> tuple[date | None, date | None]:
    """An RFC 3339 instant or interval (`a/b`, `../b`, `a/..`), matched at day precision.

    >>> interval("2019-12-01/..")
    (datetime.date(2019, 12, 1), None)
    """
    if "/" not in text:
        day = instant("datetime", text)
        return day, day
    start_text, _, end_text = text.partition("/")
    start = None if start_text in ("", "..") else instant("datetime", start_text)
    end = None if end_text in ("", "..") else instant("datetime", end_text)
    if start is None and end is None:
        raise BadRequest("datetime: an interval needs at least one end (e.g. 2019-12-01/..)")
    if start and end and start > end:
        raise BadRequest(f"datetime: the interval starts after it ends ({start} > {end})")
    return start, end


def instant(name: str, text: str) -> date:
    """The day of an RFC 3339 date or date-time; a date followed by a bare `T` (as GDAL writes a
    date: `2019-12-01T`) is that date.

    >>> instant("datetime", "2019-12-01T")
    datetime.date(2019, 12, 1)
    """
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]?", text):
            return date.fromisoformat(text[:10])
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise BadRequest(f"{name}: {text!r} is not an RFC 3339 date or date-time (e.g. 2019-12-27 or "
                         f"2019-12-27T19:20:00Z)") from None


def check_known(args: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    """Refuse, with a 400 naming them, any parameters not in `allowed`."""
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise parameters_error(unknown, f"unknown parameter; allowed: {', '.join(allowed) or 'none'}")


def parameter_error(name: str, reason: str) -> BadRequest:
    """The 400 for one query parameter: the detail and errors[].field name it."""
    return parameters_error([name], reason)


def parameters_error(names: list[str], reason: str) -> BadRequest:
    """A 400 that names each parameter in `names` and says why (`reason`)."""
    return BadRequest(f"{', '.join(names)}: {reason}", [Problem("query", name, reason) for name in names])


def values(name: str, text: str | None) -> tuple[str, ...]:
    """The comma-separated values of a parameter (none when it is absent); present but empty is
    an error."""
    if text is None:
        return ()
    items = tuple(v.strip() for v in text.split(",") if v.strip())
    if not items:
        raise BadRequest(f"{name}: give a value, or several separated by commas")
    return items


def integer(name: str, text: str | None, default: int, low: int, high: int | None) -> int:
    """The whole number `text` within [low, high] (no upper bound when `high` is None); `default` when absent."""
    if text is None:
        return default
    if not re.fullmatch(r"\d+", text.strip()):
        raise BadRequest(f"{name}: must be a whole number; got {text!r}")
    value = int(text)
    if value < low or (high is not None and value > high):
        raise BadRequest(f"{name}: must be between {low} and {high}; got {value}" if high is not None
                         else f"{name}: must be at least {low}; got {value}")
    return value
