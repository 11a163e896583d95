"""Small files and database helpers for the import/export tests."""
from __future__ import annotations

import copy
import json
from pathlib import Path

from sqlalchemy import text

from geomap.db import features, store
from geomap.io.export import Filters, query, write

SOURCE = {"title": "A report", "publisher": "A publisher", "url": "https://example.org/r", "date": "2019-12-28"}
GROUPS = {"collection": "groups", "groups": [
    {"id": "alpha", "name": "Alpha Front", "aliases": ["AF", "Alpha"], "kind": "insurgent", "color": "#0072b2"},
    {"id": "beta", "name": "Beta Brigade", "aliases": [], "kind": "militia", "color": "#e69f00"},
]}


def site(sid: str = "base-1", lon: float = 44.28417, lat: float = 35.5125, **props) -> dict:
    return {"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"name": "Base One", "kind": "air_base", "precision_m": 1000.0, "status": "confirmed",
                           "country": "Iraq", "sources": [SOURCE]} | props}


def zone(zid: str = "zone-1", group: str = "alpha", **props) -> dict:
    ring = [[43.3, 35.05], [44.1, 35.05], [44.1, 35.75], [43.3, 35.75], [43.3, 35.05]]
    return {"type": "Feature", "id": zid, "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {"name": "Pocket", "group": group, "kind": "activity", "valid_from": "2018-01-01",
                           "valid_to": "2020-03-29", "confidence": "low", "status": "estimate",
                           "precision_m": 10000.0, "sources": [SOURCE]} | props}


def incident(iid: str = "attack-1", lon: float = 44.21, lat: float = 35.48, day: str = "2019-12-27",
             group: str | None = "alpha", **props) -> dict:
    claims = [{"group": group, "claimant": "Officials", "stance": "accused", "sources": [SOURCE]}] if group else []
    return {"type": "Feature", "id": iid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"title": "Rocket attack", "date_start": day, "date_end": day,
                           "event_type": "Explosions/Remote violence",
                           "sub_event_type": "Shelling/artillery/missile attack", "precision_m": 8000.0,
                           "status": "estimate", "target_site": "base-1", "fatalities_low": 1,
                           "fatalities_best": 1, "fatalities_high": 1, "attributions": claims,
                           "sources": [SOURCE], "tags": ["rockets"]} | props}


def collection(name: str, features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "collection": name, "features": copy.deepcopy(features)}


def write_collection(path: Path, name: str, features: list[dict]) -> Path:
    path.write_text(json.dumps(collection(name, features)))
    return path


def write_sequence(path: Path, features: list[dict], separator: str = "\x1e") -> Path:
    path.write_text("".join(separator + json.dumps(f) + "\n" for f in features))
    return path


def load_references(engine, tmp_path: Path) -> None:
    """The groups and the one site the test features refer to."""
    from geomap.ingest import load

    (tmp_path / "groups.json").write_text(json.dumps(GROUPS))
    load(engine, [tmp_path / "groups.json", write_collection(tmp_path / "sites.geojson", "sites", [site()])])


def contents(engine, collection: str) -> dict[str, dict]:
    """The stored content of every feature of a collection (no bookkeeping), by id."""
    with engine.connect() as conn:
        ids = store.existing_ids(conn, collection)
        return store.current_rows(conn, collection, ids)


def history(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT collection, feature_id, action, version, changes, previous FROM history "
            "ORDER BY collection, feature_id, version"))]


def empty_database(cluster, like_url: str) -> str:
    """The URL of another fresh, migrated database beside the test's own; the caller drops it
    with `drop_database`."""
    from conftest import TEMPLATE, _admin

    name = like_url.rsplit("/", 1)[1] + "_other"
    with _admin(cluster) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return cluster.url(name)


def drop_database(cluster, url: str) -> None:
    from conftest import _admin

    with _admin(cluster) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def export(engine, collection: str, fmt: str, path: Path, filters: Filters = Filters()) -> int:
    """What `geomap export` does: the filters as a query, run, written."""
    with engine.connect() as conn:
        return write(features.stream(conn, query(collection, filters)), collection, fmt, path)
