"""Garbage-collector tuning for map-drawing processes."""
from __future__ import annotations

import gc
import threading

_settled = threading.Lock()
_SETTLED: list[bool] = []


def settle() -> None:
    """Once per process, after its first map: move every object alive (modules, the basemap's
    shapes and payloads, Folium's templates: some 190,000) out of the garbage collector's sight
    (`gc.freeze`). Otherwise a full collection walks them all every few requests; with a counted
    map's rows and cells it was a 150 ms pause in most cold requests of a 100,000-incident map
    (half the server's time). Reference counting still frees frozen objects; only a cycle among
    them would stay (what is alive after the first map is nearly all there for good)."""
    if _SETTLED:
        return
    with _settled:
        if not _SETTLED:
            gc.collect()
            gc.freeze()
            _SETTLED.append(True)
