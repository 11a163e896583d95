"""Per-process caches of scenes (a selection's, an incident's focus map) and of the pages drawn
from them.

A scene is keyed on its request and on the change stamps of the tables it reads (`READS`,
`geomap.db.map_queries.change_stamps`), so a cached scene is never older than the data, and a
repeated request (or the PNG after its page) skips the counting and the context report. Each
worker keeps its own.

The least-recently-used bookkeeping is cachetools' `LRUCache` (not thread-safe by itself, so
behind one lock), replacing a hand-written OrderedDict class. `bench/scene_cache.py` times both
with a scene's real key: a hit 2.3 us against 2.2 us, a miss with eviction 9 us against 3 us.
What they serve dwarfs either: on the seed data a cached request takes 0.74 ms (0.47 ms of it
the stamps query) and a scene's build 16 ms, so the library's bookkeeping is 0.3 % of a hit and
0.06 % of a miss, and someone else keeps it. `functools.lru_cache` cannot serve: the key needs
the tables' stamps, read on the connection that then builds the scene.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from cachetools import LRUCache

T = TypeVar("T")
SIZE = 16  # entries per cache, per worker
# The tables a scene reads: their change stamps are part of its cache key.
READS = ("groups", "sites", "incidents", "attributions", "control_zones", "relations")

SCENES: LRUCache = LRUCache(SIZE)  # scenes, keyed by request and change stamps
PAGES: LRUCache = LRUCache(SIZE)  # a cached scene's page body (geomap.api.map_pages)
_lock = threading.Lock()


def recall(cache: LRUCache, key, make: Callable[[], T]) -> T:
    """`cache[key]`, else `make()` stored under `key`. `make` runs outside the lock: two threads
    missing the same key both build it, rather than one request waiting on another's."""
    found = peek(cache, key)
    return found if found is not None else keep(cache, key, make())


def peek(cache: LRUCache, key):
    """`cache[key]`, or None."""
    with _lock:
        return cache.get(key)


def keep(cache: LRUCache, key, value: T) -> T:
    """`value`, stored under `key`."""
    with _lock:
        try:
            cache[key] = value
        except ValueError:  # larger than the cache (a size of 0 turns caching off, as in bench/)
            pass
    return value
