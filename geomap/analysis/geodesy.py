"""Geodesic distance and bearing on WGS84, and distances that carry their uncertainty.

Distances are measured along the WGS84 ellipsoid with Karney's algorithm (pyproj.Geod, the
same algorithm as GeographicLib and PostGIS `geography`), in metres. Every location has a
precision radius in metres, so a distance between two uncertain things is a triple
`{best, min, max}`, and "within R?" is answered "yes", "possibly" or "no" (DESIGN.md
decision 4).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pyproj

from geomap.analysis.frozen import filler
from geomap.errors import InvalidInput

GEOD = pyproj.Geod(ellps="WGS84")

Answer = Literal["yes", "possibly", "no"]


def check_radius(value: float, name: str = "precision_m") -> float:
    """Return `value` as a float if it is a usable radius in metres (finite, >= 0).

    Raises
    ------
    InvalidInput
        When the radius is negative, infinite or not a number.
    """
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{name} must be a finite number of metres >= 0; got {value!r}")
    return value


LON_LIMIT, LAT_LIMIT = 180.0, 90.0  # |lon| and |lat| at most: Location's checks and Location.check_all's


@dataclass(frozen=True)
class Location:
    """A point in WGS84 lon/lat with its precision radius in metres (0 = exact).

    Examples
    --------
    >>> Location(44.28417, 35.5125, precision_m=100).lat
    35.5125
    """

    lon: float
    lat: float
    precision_m: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lon) and -LON_LIMIT <= self.lon <= LON_LIMIT):
            raise InvalidInput(f"longitude must be in [-180, 180]; got {self.lon!r}")
        if not (math.isfinite(self.lat) and -LAT_LIMIT <= self.lat <= LAT_LIMIT):
            raise InvalidInput(f"latitude must be in [-90, 90]; got {self.lat!r}")
        check_radius(self.precision_m)

    @staticmethod
    def check_all(lon: np.ndarray, lat: np.ndarray, precision_m: np.ndarray) -> None:
        """`Location`'s checks over arrays of float values at once: the InvalidInput that the first
        location that fails them would raise (`UNCHECKED_LOCATION` builds the others)."""
        ok = np.isfinite(lon) & (np.abs(lon) <= LON_LIMIT) & np.isfinite(lat) & (np.abs(lat) <= LAT_LIMIT)
        ok &= np.isfinite(precision_m) & (precision_m >= 0)
        if not ok.all():
            first = int(np.flatnonzero(~ok)[0])
            Location(float(lon[first]), float(lat[first]), float(precision_m[first]))  # raises its error
            raise AssertionError(f"Location.check_all refused a valid location: {first}")  # pragma: no cover


UNCHECKED_LOCATION = filler(Location, checked_by=Location.check_all)  # for values Location.check_all passed


@dataclass(frozen=True)
class Distance:
    """A distance in metres with the range its inputs' precision allows.

    `best` is the distance between the best-estimate geometries; `min` and `max` are the
    smallest and largest distances consistent with every precision radius.

    Examples
    --------
    >>> Distance.from_best(1000.0, 300.0, 200.0)
    Distance(best=1000.0, min=500.0, max=1500.0)
    >>> Distance.from_best(100.0, 5000.0).min
    0.0
    """

    best: float
    min: float
    max: float

    @classmethod
    def from_best(cls, best: float, *radii: float) -> Distance:
        """Widen `best` by every precision radius; `min` never goes below 0."""
        spread = sum(check_radius(r) for r in radii)
        return cls(best=best, min=max(0.0, best - spread), max=best + spread)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def point_distance(lon1: float, lat1: float, lon2: float, lat2: float) -> tuple[float, float]:
    """Geodesic distance in metres and initial bearing in degrees [0, 360) from 1 to 2.

    Examples
    --------
    >>> metres, bearing = point_distance(44.21, 35.48, 44.28417, 35.5125)
    >>> round(metres), round(bearing)
    (7635, 62)
    """
    azimuth, _, metres = GEOD.inv(lon1, lat1, lon2, lat2)
    return metres, normalise_bearing(azimuth)


def normalise_bearing(azimuth: float) -> float:
    """Map an azimuth in degrees (pyproj gives (-180, 180]) to [0, 360)."""
    bearing = azimuth % 360.0
    # A tiny negative azimuth rounds to exactly 360.0 under %, which is outside the range.
    return 0.0 if bearing >= 360.0 else bearing


def distance(a: Location, b: Location) -> Distance:
    """The distance triple between two uncertain locations.

    Examples
    --------
    >>> launch = Location(44.21, 35.48, precision_m=8000)
    >>> base = Location(44.28417, 35.5125, precision_m=500)
    >>> round(distance(launch, base).max)
    16135
    """
    metres, _ = point_distance(a.lon, a.lat, b.lon, b.lat)
    return Distance.from_best(metres, a.precision_m, b.precision_m)


def within(distance: Distance, radius_m: float) -> Answer:
    """Answer "is it within `radius_m`?" for an uncertain distance.

    "yes" when even the largest possible distance is within the radius, "no" when even the
    smallest is beyond it, and "possibly" otherwise.

    Examples
    --------
    >>> d = Distance(best=9000.0, min=6000.0, max=12000.0)
    >>> within(d, 15000), within(d, 10000), within(d, 5000)
    ('yes', 'possibly', 'no')
    """
    radius_m = check_radius(radius_m, "radius_m")
    if distance.max <= radius_m:
        return "yes"
    if distance.min > radius_m:
        return "no"
    return "possibly"
