"""Base rates: is a group's recent count near an incident more than its activity in the wider
region would lead one to expect?

The comparison (`Comparison`) is stated with the answer: the group's incidents whose recorded
point lies within `local_m` of the focus and whose start date falls in the `window_days` before
it (the focus's own day included, the focus itself not) are the **observed** count; its incidents
within `region_m` over the `baseline_days` before that window are the **baseline** count. The
count **expected** locally is the baseline count scaled by area and time:
`baseline * (local area / region area) * (window days / baseline days)`, and the **rate ratio** is
observed / expected.

Its 95 % interval is the Poisson-Gamma one: each rate gets the Gamma posterior of a Poisson
count under Jeffreys' prior (shape count + 1/2), and the ratio of two Gamma variables, scaled,
is F-distributed, so the interval's ends are F quantiles (`scipy.special.fdtri`). Unlike the
exact conditional (Clopper-Pearson) interval it is defined for a count of 0 on either side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from scipy.special import fdtri

from geomap.errors import InvalidInput

EARTH_M = 6_371_008.8  # the mean Earth radius; the area ratio of two caps barely depends on it
JEFFREYS = 0.5
LEVEL = 0.95


@dataclass(frozen=True)
class Comparison:
    """The stated comparison: the local disc and window against the region over the baseline.

    `window_from`..`window_to` and `baseline_from`..`baseline_to` are inclusive date ranges
    of the incidents' start dates (`periods`).
    """

    local_m: float
    region_m: float
    window_days: int
    baseline_days: int
    window_from: date
    window_to: date
    baseline_from: date
    baseline_to: date

    @classmethod
    def before(cls, focus_start: date, local_m: float, region_m: float, window_days: int,
               baseline_days: int = 365) -> Comparison:
        """The comparison for an incident that started on `focus_start`: the window is the
        `window_days` before it and its own day; the baseline the `baseline_days` before that."""
        if not 0 < local_m <= region_m:
            raise InvalidInput(f"base rate: the local radius ({local_m} m) must be > 0 and at most the region's "
                               f"({region_m} m)")
        if window_days < 0 or baseline_days < 1:
            raise InvalidInput("base rate: the window must be >= 0 days and the baseline >= 1 day")
        window_from = focus_start - timedelta(days=window_days)
        baseline_to = window_from - timedelta(days=1)
        return cls(local_m, region_m, window_days, baseline_days, window_from, focus_start,
                   baseline_to - timedelta(days=baseline_days - 1), baseline_to)

    @property
    def exposure_ratio(self) -> float:
        """(local area x window length) / (region area x baseline length), lengths in days."""
        return cap_area(self.local_m) / cap_area(self.region_m) * (self.window_days + 1) / self.baseline_days


@dataclass(frozen=True)
class BaseRate:
    """A group's observed count against the count expected from its baseline, with the rate ratio
    and its 95 % interval. `expected` and `ratio` are None when the baseline count is 0 (the
    interval is then still given: its upper end says how large a ratio the counts allow)."""

    group: str
    observed: int
    baseline: int
    expected: float | None
    ratio: float | None
    low: float
    high: float
    comparison: Comparison


def cap_area(radius_m: float) -> float:
    """The area in m² of a spherical cap of geodesic radius `radius_m` on the mean Earth sphere.

    >>> round(cap_area(1000.0) / (math.pi * 1000.0 ** 2), 6)
    1.0
    """
    return 2 * math.pi * EARTH_M ** 2 * (1 - math.cos(radius_m / EARTH_M))


def rate_ratio_interval(observed: int, baseline: int, exposure_ratio: float, level: float = LEVEL
                        ) -> tuple[float, float]:
    """The Poisson-Gamma (Jeffreys) interval of the rate ratio of `observed` over an exposure
    against `baseline` over an exposure `1 / exposure_ratio` times as large.

    With a = 1/2 and exposures t1 (local) and t0 (baseline), the posteriors are
    λ1 ~ Gamma(o + a, t1) and λ0 ~ Gamma(b + a, t0), so (t1 λ1 / (o + a)) / (t0 λ0 / (b + a)) is
    F(2(o + a), 2(b + a)), and λ1 / λ0 is that F times ((o + a) / (b + a)) / (t1 / t0).

    >>> low, high = rate_ratio_interval(10, 100, 0.1)
    >>> round(low, 2), round(high, 2)
    (0.5, 1.84)
    """
    if observed < 0 or baseline < 0 or not exposure_ratio > 0:
        raise InvalidInput("base rate: counts must be >= 0 and the exposure ratio > 0")
    o, b = observed + JEFFREYS, baseline + JEFFREYS
    scale = (o / b) / exposure_ratio
    tail = (1 - level) / 2
    return float(scale * fdtri(2 * o, 2 * b, tail)), float(scale * fdtri(2 * o, 2 * b, 1 - tail))


def base_rate(group: str, observed: int, baseline: int, comparison: Comparison) -> BaseRate:
    """The base rate of one group from its two counts under the stated comparison."""
    exposure = comparison.exposure_ratio
    expected = baseline * exposure if baseline else None
    ratio = observed / expected if expected else None
    return BaseRate(group, observed, baseline, expected, ratio, *rate_ratio_interval(observed, baseline, exposure),
                    comparison)
