"""The synthetic data set (`geomap.synth.generate`) as geomap files: groups.json,
sites.geojson, control_zones.geojson and incidents.geojsonseq (an RFC 8142 GeoJSON text
sequence), which `geomap load` and `geomap import` accept (`geomap synth`, the import benchmark
and tests). The same seed gives the same bytes.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np

from geomap.synth import CLAIMANTS, EPOCH, GROUPS, HOTSPOTS, PAIRS, SITES, STATUS_P, Data, generate, incident_id, zones
from geomap.vocabulary import STANCES

PUBLISHER = "geomap synth"
FILES = ("groups.json", "sites.geojson", "control_zones.geojson", "incidents.geojsonseq")


def dates(days: np.ndarray) -> list[str]:
    """Day numbers since EPOCH as ISO dates."""
    return (EPOCH + days.astype("timedelta64[D]")).astype(str).tolist()


def source(kind: str, ident: str, date: str | None = None) -> dict:
    """A citation of a made-up report, its URL under example.org so it never points at real news."""
    return {"title": f"Synthetic {kind} report {ident}", "publisher": PUBLISHER,
            "url": f"https://example.org/synth/{kind}/{ident}", "date": date}


def group_objects() -> list[dict]:
    """The synthetic groups as the records of groups.json."""
    return [{"id": gid, "name": name, "aliases": [], "kind": kind, "color": color,
             "notes": "Synthetic group (geomap synth)"} for gid, name, kind, color, *_ in GROUPS]


def site_features() -> list[dict]:
    """The synthetic sites as GeoJSON Features, each located to within 500 m."""
    return [{"type": "Feature", "id": sid, "geometry": {"type": "Point", "coordinates": [lon, lat]},
             "properties": {"name": name, "kind": kind, "precision_m": 500.0, "status": "confirmed",
                            "sources": [source("sites", sid)]}} for sid, name, kind, lon, lat in SITES]


def zone_features(seed: int) -> list[dict]:
    """The zones of `geomap.synth.zones` as GeoJSON Features."""
    return [{"type": "Feature", "id": z.id, "geometry": {"type": "Polygon", "coordinates": [z.ring]},
             "properties": {"name": z.name, "group": z.group, "kind": z.kind, "valid_from": z.valid_from,
                            "valid_to": z.valid_to, "confidence": "medium", "status": "estimate",
                            "precision_m": 5000.0, "sources": [source("zones", z.id)]}} for z in zones(seed)]


def incident_features(data: Data, start: int = 0, stop: int | None = None) -> Iterator[dict]:
    """The incidents as GeoJSON Features, in id order."""
    stop = len(data.lon) if stop is None else stop
    sl = slice(start, stop)
    starts, ends = dates(data.day_start[sl]), dates(data.day_end[sl])
    statuses = list(STATUS_P)
    claim = int(np.searchsorted(data.claim_incident, start))
    columns = zip(data.lon[sl].tolist(), data.lat[sl].tolist(), data.hotspot[sl].tolist(), data.pair[sl].tolist(),
                  data.precision[sl].tolist(), data.status[sl].tolist(), data.fat_low[sl].tolist(),
                  data.fat_best[sl].tolist(), data.fat_high[sl].tolist(), data.injured[sl].tolist(),
                  data.target[sl].tolist(), strict=True)
    for k, (lon, lat, h, p, prec, st, low, best, high, inj, tgt) in enumerate(columns):
        i = start + k
        ident = incident_id(i)
        claims = []
        while claim < len(data.claim_incident) and data.claim_incident[claim] == i:
            claims.append({"group": GROUPS[data.claim_group[claim]][0],
                           "claimant": CLAIMANTS[data.claim_claimant[claim]],
                           "stance": STANCES[data.claim_stance[claim]], "notes": None,
                           "sources": [source("attributions", f"{ident}-{data.claim_position[claim]}")]})
            claim += 1
        name, _, _, country, admin1, _ = HOTSPOTS[h]
        event_type, sub = PAIRS[p]
        yield {"type": "Feature", "id": ident,
               "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
               "properties": {"title": f"{sub} near {name}", "date_start": starts[k], "date_end": ends[k],
                              "event_type": event_type, "sub_event_type": sub, "location_name": f"{name} area",
                              "country": country, "admin1": admin1, "precision_m": prec, "fatalities_low": low,
                              "fatalities_best": best, "fatalities_high": high, "injured": None if inj < 0 else inj,
                              "status": statuses[st], "target_site": SITES[tgt][0] if tgt >= 0 else None,
                              "attributions": claims, "sources": [source("incidents", ident, starts[k])]}}


def write_sequence(features, path: Path, chunk: int = 10_000) -> None:
    """Features as a GeoJSON text sequence (RFC 8142: RS, JSON text, LF)."""
    with open(path, "wb") as out:
        batch = []
        for feature in features:
            batch.append(b"\x1e" + msgspec.json.encode(feature) + b"\n")
            if len(batch) >= chunk:
                out.write(b"".join(batch))
                batch.clear()
        out.write(b"".join(batch))


def write_files(directory: Path, n: int, seed: int) -> list[Path]:
    """Write the four files of a synthetic data set into `directory`; returns their paths in
    load order (groups, sites, zones, incidents)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in FILES]
    paths[0].write_bytes(msgspec.json.format(msgspec.json.encode({"collection": "groups", "groups": group_objects()}),
                                           indent=1))
    for path, collection, features in ((paths[1], "sites", site_features()),
                                       (paths[2], "control_zones", zone_features(seed))):
        path.write_bytes(msgspec.json.encode({"type": "FeatureCollection", "collection": collection, "features": features}))
    data = generate(n, seed)
    write_sequence(incident_features(data), paths[3])
    return paths
