"""Small valid features for tests, loaded through the real loader."""
from __future__ import annotations

import itertools
import json
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from geographiclib.geodesic import Geodesic

from geomap.db.engine import make_engine
from geomap.ingest import load

SOURCE = {"title": "A report", "publisher": "A publisher", "url": "https://example.org/r", "date": "2019-12-28"}


# The resident memory of this process and its children (the import's reader processes), in MB:
# source text for the memory tests' subprocess scripts. A thread or child may end between being
# listed and being read; it then counts for nothing.
RSS_MB = """
def rss_mb():
    pids = [os.getpid()]
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as children:
                pids += [int(pid) for pid in children.read().split()]
        except OSError:
            continue
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total / 1024
"""
# The focus of the hand-built worlds (`world`): the K-1 attack's launch area and day.
FOCUS, ON = (44.21, 35.48), date(2019, 12, 27)


def offset(lon: float, lat: float, bearing: float, metres: float) -> tuple[float, float]:
    """The point `metres` from (lon, lat) along `bearing`, by GeographicLib (an independent reference)."""
    g = Geodesic.WGS84.Direct(lat, lon, bearing, metres)
    return g["lon2"], g["lat2"]


def group(gid: str, color: str = "#0072b2") -> dict:
    return {"id": gid, "name": gid.replace("-", " ").title(), "kind": "militia", "color": color}


def incident(iid: str, lon: float, lat: float, day: str, end: str | None = None, precision: float = 0.0,
             claims: tuple[tuple[str, str], ...] = (), event_type: str = "Battles", source_url: str | None = None,
             target: str | None = None) -> dict:
    return {"type": "Feature", "id": iid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"title": iid, "date_start": day, "date_end": end or day, "event_type": event_type,
                           "precision_m": precision, "status": "reported", "target_site": target,
                           "attributions": [{"group": g, "claimant": "someone", "stance": s, "sources": [SOURCE]}
                                            for g, s in claims],
                           "sources": [dict(SOURCE, url=source_url or f"https://example.org/{iid}")]}}


def site(sid: str, lon: float, lat: float, precision: float = 0.0) -> dict:
    return {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": sid, "kind": "other", "precision_m": precision, "status": "confirmed",
                           "sources": [SOURCE]}}


def zone(zid: str, gid: str, ring: list[tuple[float, float]], valid_from: str, valid_to: str | None,
         precision: float = 0.0, holes: tuple[list[tuple[float, float]], ...] = ()) -> dict:
    coordinates = [[list(p) for p in r + [r[0]]] for r in [ring, *holes]]
    return {"type": "Feature", "id": zid, "geometry": {"type": "Polygon", "coordinates": coordinates},
            "properties": {"name": zid, "group": gid, "kind": "control", "valid_from": valid_from,
                           "valid_to": valid_to, "confidence": "medium", "status": "estimate",
                           "precision_m": precision, "sources": [SOURCE], "notes": "test zone"}}


def load_features(engine, directory: Path, groups=(), sites=(), zones=(), incidents=()) -> None:
    paths = []
    for name, items in (("groups", groups), ("sites", sites), ("control_zones", zones), ("incidents", incidents)):
        path = Path(directory) / f"{name}.json"
        doc = {"collection": name, "groups": list(items)} if name == "groups" else \
            {"type": "FeatureCollection", "collection": name, "features": list(items)}
        path.write_text(json.dumps(doc))
        paths.append(path)
    load(engine, paths)


def near_focus(iid: str, bearing: float, metres: float, start: date, end: date, precision: float, claims=()) -> dict:
    """An incident `metres` from FOCUS along `bearing` (GeographicLib), from `start` to `end`."""
    lon, lat = offset(*FOCUS, bearing, metres)
    return incident(iid, lon, lat, start.isoformat(), end.isoformat(), precision=precision, claims=claims)


@contextmanager
def loaded_world(cluster, directory: Path, groups: tuple[str, ...], incidents: list[dict]):
    """An engine on a new database holding the groups and incidents of a hand-built world (a
    focus incident at FOCUS on ON among others placed by `near_focus`), dropped afterwards."""
    from conftest import fresh_database

    with fresh_database(cluster) as url:
        engine = make_engine(url)
        try:
            load_features(engine, directory, groups=[group(g) for g in groups], incidents=incidents)
            yield engine
        finally:
            engine.dispose()


def assert_texts_fit(figure, renderer, texts) -> None:
    """Every text inside the figure's canvas (half a pixel of slack) and off every other, and the
    title and the credit among them (never dropped)."""
    canvas = figure.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    for text, box in boxes:
        assert canvas.x0 - 0.5 <= box.x0 and box.x1 <= canvas.x1 + 0.5, text
        assert canvas.y0 - 0.5 <= box.y0 and box.y1 <= canvas.y1 + 0.5, text
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), (a, b)
    assert {t.get_gid() for t in texts} >= {"title", "credit"}
