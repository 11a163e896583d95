"""Feasible regions and distances for a feature with 10 location constraints (issue 12: at most
200 ms), pure analysis (no database).

    .venv/bin/python bench/feasible.py [--runs R] [--seed S]

Each run builds a seeded random scene around Kirkuk: a focus incident (precision 8 km) and 10
other features (precision 0.5-10 km) a few kilometres away, each related to the focus by one
constraint (within, beyond, bearing with distance bounds, and inside a zone polygon, in turn),
with bounds drawn to hold for the features' points so that the set is feasible. It times
(1) the feasible regions of all 11 features (`feasible_regions`, propagation to a fixed point)
and (2) the distance triple and P(distance <= 5 km) from the focus to its first neighbour
(`region_distance`, 20,000 pairs), and prints the median, p90 and max of each and of their sum,
with the load average before and after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from shapely.geometry import Polygon

from geomap.analysis.chance import region_distance
from geomap.analysis.feasible import Constraint, constraints_between, feasible_regions
from geomap.analysis.geodesy import GEOD, Location

FOCUS = "incidents/focus"
TARGET_MS = 200.0


def scene(rng: np.random.Generator) -> tuple[dict[str, Location], list[Constraint]]:
    """The focus and 10 related features, with constraints that their points satisfy."""
    focus = Location(44.21, 35.48, 8000.0)
    locations, constraints = {FOCUS: focus}, []
    for k in range(10):
        azimuth, metres = rng.uniform(0, 360), rng.uniform(2000, 12000)
        lon, lat, _ = GEOD.fwd(focus.lon, focus.lat, azimuth, metres)
        ref = f"sites/s{k}"
        locations[ref] = Location(float(lon), float(lat), float(rng.uniform(500, 10000)))
        constraints.append(_constraint(k, ref, azimuth, metres, focus))
    return locations, constraints


def _constraint(k: int, ref: str, azimuth: float, metres: float, focus: Location) -> Constraint:
    kind = ("within", "beyond", "bearing", "inside")[k % 4]
    rid = f"c{k}-{kind}"
    if kind == "within":
        return Constraint(rid, kind, FOCUS, ref, distance_max_m=metres + 3000)
    if kind == "beyond":
        return Constraint(rid, kind, FOCUS, ref, distance_min_m=max(0.0, metres - 6000))
    if kind == "bearing":  # the focus seen from the feature: the back azimuth, +- 40 degrees
        back = (azimuth + 180.0) % 360.0
        return Constraint(rid, kind, FOCUS, ref, 0.0, metres + 8000, (back - 40) % 360, (back + 40) % 360)
    d = 0.08  # a zone polygon about the focus's point, offset a little
    zone = Polygon([(focus.lon - d, focus.lat - d), (focus.lon + d + 0.02 * k, focus.lat - d),
                    (focus.lon + d, focus.lat + d), (focus.lon - d, focus.lat + d)])
    return Constraint(rid, kind, FOCUS, None, zone=zone)


def run_once(rng: np.random.Generator) -> tuple[float, float]:
    locations, constraints = scene(rng)
    start = time.perf_counter()
    frame, regions = feasible_regions(locations, constraints)
    middle = time.perf_counter()
    other = "sites/s0"
    region_distance(frame, regions[FOCUS], regions[other], FOCUS, other,
                    constraints_between(FOCUS, other, constraints), radius_m=5000)
    end = time.perf_counter()
    return (middle - start) * 1000, (end - middle) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    load_before = os.getloadavg()
    run_once(np.random.default_rng(0))  # warm-up: projections, GEOS
    timings = [run_once(rng) for _ in range(args.runs)]
    load_after = os.getloadavg()
    regions, distances = zip(*timings, strict=True)
    totals = [r + d for r, d in timings]
    print(f"feasible regions and distance, focus with 10 constraints, {args.runs} runs (seed {args.seed})")
    for name, values in (("regions (11 features)", regions), ("distance + P(<= 5 km)", distances),
                         ("total", totals)):
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        print(f"  {name:24s} median {statistics.median(values):7.1f} ms   p90 {p90:7.1f} ms   "
              f"max {max(values):7.1f} ms")
    verdict = "meets" if statistics.median(totals) <= TARGET_MS else "MISSES"
    print(f"  target: total at most {TARGET_MS:.0f} ms; median {verdict} it")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)} (2 cores shared)")


if __name__ == "__main__":
    main()
