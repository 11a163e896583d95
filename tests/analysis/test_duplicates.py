"""The likely-duplicate search (`geomap.analysis.duplicates.find`) against a brute force over every
pair, on hand-built worlds dense enough that every basis, every grid level and both date
directions occur: precisions from 0 to 20 km, three target sites, long date intervals, two
event types, claims of three groups or none."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from pyproj import Geod

from geomap.analysis.duplicates import BASES, DuplicateRule, Incidents, find, groups_of

GEOD = Geod(ellps="WGS84")
SITES = np.array([[44.28417, 35.5125, 1000.0], [44.15, 35.55, 2500.0], [44.3, 35.4, 0.0]])


def world(n: int, seed: int) -> Incidents:
    rng = np.random.default_rng(seed)
    lon, lat = 44.2 + rng.normal(0, 0.08, n), 35.5 + rng.normal(0, 0.08, n)
    start = rng.integers(0, 25, n)
    target = rng.choice([-1, -1, -1, 0, 1, 2], n)
    site = np.where(target[:, None] >= 0, SITES[target], np.nan)
    claims = [(i, g) for i in range(n) for g in set(rng.choice([0, 1, 2], rng.integers(0, 3)).tolist())]
    incident, group = (np.array(c, dtype=np.int64) for c in zip(*claims, strict=True))
    return Incidents(start, start + rng.choice([0, 0, 0, 1, 6, 20], n), rng.integers(0, 2, n), lon, lat,
                     rng.choice([0.0, 0.0, 300.0, 2000.0, 20000.0], n), site[:, 0], site[:, 1], site[:, 2],
                     groups_of(n, incident, group))


def brute_force(x: Incidents, rule: DuplicateRule) -> dict[tuple[int, int], int]:
    """Every pair, every spot: {(a, b): the first basis that meets}."""
    named = [set(row[row >= 0].tolist()) for row in x.groups]
    found = {}
    for a, b in itertools.combinations(range(len(x.day_start)), 2):
        if x.event_type[a] != x.event_type[b] or named[a] and named[b] and not named[a] & named[b]:
            continue
        if not (x.day_start[b] <= x.day_end[a] + rule.days and x.day_start[a] <= x.day_end[b] + rule.days):
            continue
        spots = [[(x.lon[i], x.lat[i], x.radius[i]), (x.target_lon[i], x.target_lat[i], x.target_radius[i])]
                 for i in (a, b)]
        for basis, (sa, sb) in enumerate(itertools.product(*spots)):
            if not (np.isnan(sa[0]) or np.isnan(sb[0])) and \
                    GEOD.inv(sa[0], sa[1], sb[0], sb[1])[2] <= rule.metres + sa[2] + sb[2]:
                found[a, b] = basis
                break
    return found


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("rule", [DuplicateRule(700, 1), DuplicateRule(0, 0), DuplicateRule(3000, 3)])
def test_the_search_finds_what_brute_force_finds(seed, rule):
    x = world(300, seed)
    pairs = find(x, rule)
    expected = brute_force(x, rule)
    assert {(int(a), int(b)): int(k) for a, b, k in zip(pairs.a, pairs.b, pairs.basis, strict=True)} == expected
    assert len(expected) > 500 and set(expected.values()) == set(range(len(BASES)))
    named = [set(row[row >= 0].tolist()) for row in x.groups]
    for a, b, g in zip(pairs.a, pairs.b, pairs.group, strict=True):  # a group both name, or -1: one names none
        assert (g in named[a] & named[b] and g == min(named[a] & named[b])) if g >= 0 else not (named[a] and named[b])


@pytest.mark.parametrize("direct", [True, False])
def test_mine_keeps_the_pairs_that_touch_it(direct, monkeypatch):
    """A few incidents of one's own are compared with all directly; more go through the grid."""
    monkeypatch.setattr("geomap.analysis.duplicates.DIRECT_PAIRS", 1 << 30 if direct else 0)
    x = world(200, 3)
    everything = find(x, DuplicateRule())
    mine = np.zeros(200, bool)
    mine[[5, 17, 100]] = True
    some = find(x, DuplicateRule(), mine)
    expected = [(a, b, k, g) for a, b, k, g in zip(everything.a, everything.b, everything.basis, everything.group,
                                                   strict=True) if mine[a] or mine[b]]
    assert len(expected) > 20
    assert list(zip(some.a, some.b, some.basis, some.group, strict=True)) == expected


def test_far_apart_the_grid_keys_still_fit():
    """Two incidents half a world apart with a 1 m rule: the cells widen until the keys fit."""
    x = Incidents(np.array([0, 40000]), np.array([0, 40000]), np.array([0, 0]), np.array([-179.0, 179.0]),
                  np.array([-80.0, 80.0]), np.zeros(2), np.full(2, np.nan), np.full(2, np.nan), np.full(2, np.nan),
                  groups_of(2, np.zeros(0, np.int64), np.zeros(0, np.int64)))
    assert len(find(x, DuplicateRule(1.0, 0))) == 0


def test_a_negative_rule_is_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        find(world(3, 0), DuplicateRule(-1.0, 1))
