"""The scene cache's bookkeeping: cachetools' LRUCache behind a lock (geomap.maps.cache) against
the hand-written OrderedDict class it replaced (kept here as the peer), per call, with a
selection scene's real cache key. No database: the figure to compare with is a scene's build
(tens of milliseconds and more), which a hit saves and a miss pays anyway.

    .venv/bin/python bench/scene_cache.py
"""
from __future__ import annotations

import threading
import timeit
from collections import OrderedDict
from datetime import date

from cachetools import LRUCache

from geomap.maps import cache
from geomap.maps.request import MapOptions, Selection

CALLS, ROUNDS = 200_000, 5


class OrderedDictLru:
    """The class geomap.maps had before (an OrderedDict behind a lock)."""

    def __init__(self, size: int) -> None:
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def keys(n: int) -> list[tuple]:
    """Keys shaped as geomap.maps.selection builds them: url, selection, options, threshold, stamps."""
    stamps = (("attributions", 812), ("control_zones", 790), ("groups", 790), ("incidents", 812), ("sites", 790))
    return [("postgresql+psycopg://geomap@127.0.0.1:5432/geomap",
             Selection(bbox=(40.0 + i, 32.0, 46.0, 37.0), interval=(date(2019, 12, 1), date(2020, 1, 31))),
             MapOptions().key(), 1000, stamps) for i in range(n)]


def per_call_ns(call) -> float:
    return min(timeit.repeat(call, number=CALLS, repeat=ROUNDS)) / CALLS * 1e9


def main() -> None:
    many, turn = keys(2 * cache.SIZE), [0]
    ours, peer = LRUCache(cache.SIZE), OrderedDictLru(cache.SIZE)

    def ours_hit():
        cache.recall(ours, many[3], lambda: 1)

    def peer_hit():
        peer.get(many[3]) or peer.put(many[3], 1)

    def ours_miss():  # cycling through twice the cache's size: every call misses and evicts
        turn[0] += 1
        cache.recall(ours, many[turn[0] % len(many)], lambda: 1)

    def peer_miss():
        turn[0] += 1
        key = many[turn[0] % len(many)]
        peer.get(key) or peer.put(key, 1)

    for what, mine, theirs in (("hit", ours_hit, peer_hit), ("miss and evict", ours_miss, peer_miss)):
        a, b = per_call_ns(mine), per_call_ns(theirs)
        print(f"{what:15s} cachetools {a / 1000:6.2f} us   OrderedDict class {b / 1000:6.2f} us   ratio {a / b:5.2f}")


if __name__ == "__main__":
    main()
