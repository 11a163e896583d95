"""A map's data version against its definition (`geomap.model.dataversion`), computed here with the
standard library: SHA-256 over "resource<TAB>canonical JSON<LF>" per drawn record, the JSON being
the record's fields with keys sorted, shortest floats, ISO dates and base64 bytes."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import replace
from datetime import date

import pytest
from scenes import cells_scene, focus_scene

from geomap.layers.scene import Scene


def _plain(value):
    if dataclasses.is_dataclass(value):  # its fields, never its (cached) properties
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(type(value))


def _line(resource: str, record) -> bytes:
    text = json.dumps(record, default=_plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)
    return f"{resource}\t{text}\n".encode()


def reference_version(scene: Scene) -> str:
    lines = [_line("incidents", i) for i in scene.incidents]
    lines += [_line("cells", c) for c in scene.cells]
    lines += [_line("sites", s) for s in scene.sites]
    lines += [_line("control_zones", {f.name: getattr(z, f.name) for f in dataclasses.fields(z)}
                    | {"geometry": z.geometry.wkb}) for z in scene.zones]
    lines += [_line("distances", d) for d in scene.distances]
    lines += [_line("claimed_zones", {"group": r.group, "zone": r.zone.id, "distance": r.distance})
              for r in scene.claimed_zones]
    lines += [_line("groups", g) for g in sorted(scene.groups.values(), key=lambda g: g.id)]
    lines.append(_line("scene", {"on": scene.on, "extent": scene.extent}))
    return hashlib.sha256(b"".join(lines)).hexdigest()[:12]


@pytest.mark.parametrize("make", [focus_scene, cells_scene], ids=["focus", "cells"])
def test_the_data_version_is_the_hash_of_the_drawn_records_fields(make):
    scene = make()
    for cell in scene.cells:
        assert cell.count > 0  # a property: not a field, not hashed
    assert scene.incidents or scene.cells
    assert scene.version() == reference_version(scene)


def test_a_field_left_at_its_default_is_hashed_too():
    scene = focus_scene()
    incident = scene.incidents[0]
    assert incident.derived_from == ()  # a default: msgspec must not leave it out
    changed = replace(scene, incidents=(replace(incident, derived_from=("x",)), *scene.incidents[1:]))
    assert scene.version() == reference_version(scene) != changed.version() == reference_version(changed)

