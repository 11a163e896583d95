"""The duplicate search (`geomap.analysis.duplicates.find`) against a brute force over every
pair, on hand-built worlds dense enough that every basis, both grades, every grid level and both
date directions occur: precisions from 0 to 20 km, three target sites, long date intervals, two
event types, claims of three groups or none."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from pyproj import Geod

from geomap.analysis.duplicates import BASES, DuplicateRule, Incidents, Possible, blocks, find, graded, groups_of

GEOD = Geod(ellps="WGS84")
SITES = np.array([[44.28417, 35.5125, 1000.0], [44.15, 35.55, 2500.0], [44.3, 35.4, 0.0]])


def world(n: int, seed: int, days: int = 25) -> Incidents:
    rng = np.random.default_rng(seed)
    lon, lat = 44.2 + rng.normal(0, 0.08, n), 35.5 + rng.normal(0, 0.08, n)
    start = rng.integers(0, days, n)
    target = rng.choice([-1, -1, -1, 0, 1, 2], n)
    site = np.where(target[:, None] >= 0, SITES[target], np.nan)
    claims = [(i, g) for i in range(n) for g in set(rng.choice([0, 1, 2], rng.integers(0, 3)).tolist())]
    incident, group = (np.array(c, dtype=np.int64) for c in zip(*claims, strict=True))
    return Incidents(start, start + rng.choice([0, 0, 0, 1, 6, 20], n), rng.integers(0, 2, n), lon, lat,
                     rng.choice([0.0, 0.0, 300.0, 2000.0, 20000.0], n), site[:, 0], site[:, 1], site[:, 2],
                     groups_of(n, incident, group))


def brute_force(x: Incidents, rule: DuplicateRule) -> dict[tuple[int, int], tuple[int, bool, float]]:
    """Every pair, every spot: {(a, b): (basis, likely, the wider disc's radius)}, from the rule's
    text: likely when two meeting discs both have a radius of at most `precise` x `metres` (the
    first such basis), else possible (the basis whose wider disc is narrowest, then the first)."""
    named = [set(row[row >= 0].tolist()) for row in x.groups]
    found = {}
    for a, b in itertools.combinations(range(len(x.day_start)), 2):
        if x.event_type[a] != x.event_type[b] or named[a] and named[b] and not named[a] & named[b]:
            continue
        if not (x.day_start[b] <= x.day_end[a] + rule.days and x.day_start[a] <= x.day_end[b] + rule.days):
            continue
        spots = [[(x.lon[i], x.lat[i], x.radius[i]), (x.target_lon[i], x.target_lat[i], x.target_radius[i])]
                 for i in (a, b)]
        met = [(basis, max(sa[2], sb[2])) for basis, (sa, sb) in enumerate(itertools.product(*spots))
               if not (np.isnan(sa[0]) or np.isnan(sb[0]))
               and GEOD.inv(sa[0], sa[1], sb[0], sb[1])[2] <= rule.metres + sa[2] + sb[2]]
        precise = [(basis, wider) for basis, wider in met if wider <= rule.precise * rule.metres]
        if precise:
            found[a, b] = (precise[0][0], True, precise[0][1])
        elif met:
            basis, wider = min(met, key=lambda m: (m[1], m[0]))
            found[a, b] = (basis, False, wider)
    return found


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("rule", [DuplicateRule(700, 1), DuplicateRule(0, 0), DuplicateRule(3000, 3),
                                  DuplicateRule(700, 1, precise=2.0)])
def test_the_search_finds_what_brute_force_finds(seed, rule):
    x = world(300, seed)
    pairs = find(x, rule)
    expected = brute_force(x, rule)
    found = {(int(a), int(b)): (int(k), bool(likely), float(w))
             for a, b, k, likely, w in zip(pairs.a, pairs.b, pairs.basis, pairs.likely, pairs.wider, strict=True)}
    assert found == expected
    assert len(expected) > 500 and {k for k, _, _ in expected.values()} == set(range(len(BASES)))
    named = [set(row[row >= 0].tolist()) for row in x.groups]
    for a, b, g in zip(pairs.a, pairs.b, pairs.group, strict=True):  # a group both name, or -1: one names none
        assert (g in named[a] & named[b] and g == min(named[a] & named[b])) if g >= 0 else not (named[a] and named[b])


@pytest.mark.parametrize("seed", [0, 1])
def test_both_grades_occur_through_every_basis(seed):
    """The worlds above test both grades: likely and possible pairs, each through every basis
    (with a bound of 1.4 km, 2 and 20 km locations and the 2.5 km site are coarse)."""
    expected = brute_force(world(300, seed), DuplicateRule(700, 1, precise=2.0))
    for likely in (True, False):
        assert {k for k, grade, _ in expected.values() if grade == likely} == set(range(len(BASES))), likely


def test_possible_pairs_are_counted_by_the_class_of_their_wider_disc():
    """Counted by hand from the brute force: the wider radius rounded up to 1, 2 or 5 x a power of 10."""
    x = world(300, 0)
    rule = DuplicateRule(700, 1, precise=2.0)  # coarse: the 2 and 20 km locations, the 2.5 km site
    expected = brute_force(x, rule)
    by_class: dict[float, int] = {}
    for _, likely, wider in expected.values():
        if not likely:
            up_to = next(c * 10.0 ** e for e in range(0, 8) for c in (1, 2, 5) if wider <= c * 10.0 ** e)
            by_class[up_to] = by_class.get(up_to, 0) + 1
    possible = Possible.of(find(x, rule))
    assert {c.up_to_m: c.pairs for c in possible.by_precision} == by_class
    assert possible.total == sum(by_class.values()) > 100 and set(by_class) == {2000.0, 5000.0, 20000.0}


@pytest.mark.parametrize("direct", [True, False])
def test_mine_keeps_the_pairs_that_touch_it(direct, monkeypatch):
    """A few incidents of one's own are compared with all directly; more go through the grid."""
    monkeypatch.setattr("geomap.analysis.duplicates.DIRECT_PAIRS", 1 << 30 if direct else 0)
    x = world(200, 3)
    everything = find(x, DuplicateRule())
    mine = np.zeros(200, bool)
    mine[[5, 17, 100]] = True
    some = find(x, DuplicateRule(), mine)
    columns = (everything.a, everything.b, everything.basis, everything.group, everything.wider, everything.likely)
    expected = [row for row in zip(*columns, strict=True) if mine[row[0]] or mine[row[1]]]
    assert len(expected) > 20
    assert list(zip(some.a, some.b, some.basis, some.group, some.wider, some.likely, strict=True)) == expected


def test_far_apart_the_grid_keys_still_fit():
    """Two incidents half a world apart with a 1 m rule: the cells widen until the keys fit."""
    x = Incidents(np.array([0, 40000]), np.array([0, 40000]), np.array([0, 0]), np.array([-179.0, 179.0]),
                  np.array([-80.0, 80.0]), np.zeros(2), np.full(2, np.nan), np.full(2, np.nan), np.full(2, np.nan),
                  groups_of(2, np.zeros(0, np.int64), np.zeros(0, np.int64)))
    assert len(find(x, DuplicateRule(1.0, 0))) == 0


def test_a_negative_rule_is_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        find(world(3, 0), DuplicateRule(-1.0, 1))
    with pytest.raises(ValueError, match="must be >= 0"):
        find(world(3, 0), DuplicateRule(precise=-1.0))


def spanning_world() -> Incidents:
    """The random world over 60 days, with ties (ten incidents starting on day 30 at one spot)
    and long intervals: one from day 0 to day 45 and one from day 2 to day 59 at that spot, one
    starting on day 46 (a day after the first ends: within `days`), one on day 47 (too late for
    it with a one-day rule) and one on day 60, a day after the longest ends."""
    x = world(300, 5, days=60)
    lon, lat = 44.21, 35.49
    extra = [(30, 30)] * 10 + [(0, 45), (2, 59), (46, 46), (47, 47), (60, 60)]
    k = len(extra)
    start, end = (np.array(v) for v in zip(*extra, strict=True))
    groups = np.full((k, x.groups.shape[1]), -1)
    return Incidents(np.concatenate([x.day_start, start]), np.concatenate([x.day_end, end]),
                     np.concatenate([x.event_type, np.zeros(k, int)]), np.concatenate([x.lon, np.full(k, lon)]),
                     np.concatenate([x.lat, np.full(k, lat)]), np.concatenate([x.radius, np.zeros(k)]),
                     *(np.concatenate([c, np.full(k, np.nan)]) for c in (x.target_lon, x.target_lat, x.target_radius)),
                     np.concatenate([x.groups, groups]))


def as_dict(pairs) -> dict:
    return {(int(a), int(b)): (int(k), bool(likely), float(w), int(g)) for a, b, k, likely, w, g
            in zip(pairs.a, pairs.b, pairs.basis, pairs.likely, pairs.wider, pairs.group, strict=True)}


@pytest.mark.parametrize("budget", [1, 7, 40])
@pytest.mark.parametrize("rule", [DuplicateRule(700, 1), DuplicateRule(3000, 3, precise=2.0)])
def test_the_search_in_date_blocks_finds_each_pair_once(budget, rule):
    """With a budget of a few incidents the 315 incidents are searched in 5 to 61 date blocks:
    pairs across block borders, over the long intervals and among the tied start days are found
    once each, as the search in one block finds them (same order, grades, bases, groups, radii)
    and as brute force finds them."""
    x = spanning_world()
    whole, blocked = find(x, rule, budget=len(x.day_start)), find(x, rule, budget=budget)
    assert len(list(blocks(x, rule, budget=budget))) >= 5
    for name in ("a", "b", "basis", "group", "wider", "likely"):
        assert np.array_equal(getattr(blocked, name), getattr(whole, name)), name
    expected = brute_force(x, rule)
    assert {pair: found[:3] for pair, found in as_dict(blocked).items()} == expected
    n = 300  # the hand-built incidents: 300-309 tied on day 30, 310 from day 0 to 45, 311 from 2 to 59, ...
    assert all((a, b) in expected for a, b in itertools.combinations(range(n, n + 10), 2))
    assert {(n + 10, n + 11), (n + 10, n + 12), (n + 11, n + 12), (n + 11, n + 13), (n + 11, n + 14)} <= set(expected)
    assert ((n + 10, n + 13) in expected) == (rule.days >= 2) and (n + 10, n + 14) not in expected


@pytest.mark.parametrize("list_possible", [False, True])
def test_graded_keeps_the_likely_pairs_and_counts_the_possible_ones(list_possible):
    """Over date blocks: the likely pairs kept (and the possible ones when listed), the possible
    ones counted by precision class as the whole search's pairs are."""
    x, rule = spanning_world(), DuplicateRule(700, 1, precise=2.0)
    whole = find(x, rule, budget=len(x.day_start))
    pairs, possible = graded(x, rule, list_possible=list_possible, budget=7)
    kept = whole if list_possible else whole.where(whole.likely)
    assert as_dict(pairs) == as_dict(kept) and 0 < kept.likely.sum() < len(whole)
    assert possible == Possible.of(whole) and possible.total == (~whole.likely).sum() > 100
