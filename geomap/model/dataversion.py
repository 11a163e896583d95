"""The data version: one hash of data records, printed on maps and carried by data packages.

One definition serves both. A record is hashed in its canonical form: JSON with every object's
keys sorted, floats in their shortest exact form, dates as ISO 8601 text, bytes as base64
(msgspec's encoder), preceded by the name of the resource it belongs to and a tab, followed by a
line feed. The records go in in the caller's order, which is part of the definition:

- a map (`geomap.layers.scene.Scene.version`) hashes what it draws: its incidents (or cells),
  sites, zones, distance lines, groups and its initial state;
- a data package (`geomap.io.package`) hashes the whole data set: groups, sites, control_zones,
  incidents (with their claims), each ordered by id, exactly the records its resources hold.

So two databases holding the same records give packages of the same version, and draw every map
with the same version; and a data set imported from a package is the package's version again
(`geomap data-version`). A resource with no records adds nothing, so a kind of record added later
(relations between features) leaves the version of a data set without any unchanged.

>>> v = DataVersion()
>>> v.add_record("groups", {"name": "Alpha", "id": "alpha"})
>>> v.short == data_version([("groups", {"id": "alpha", "name": "Alpha"})])
True
>>> len(v.short), len(v.hexdigest)
(12, 64)
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

SHORT = 12  # hex digits printed on maps: 48 bits, ample to tell data sets apart
_ENCODER = msgspec.json.Encoder(order="sorted")


def canonical(record: Any) -> bytes:
    """The canonical JSON of a record (keys sorted, shortest exact floats, no spaces)."""
    return _ENCODER.encode(record)


class DataVersion:
    """A running data version: add records in order, then read `short` or `hexdigest`."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def add(self, resource: str, line: bytes) -> None:
        """Add one record already in canonical form (`canonical`)."""
        self._sha.update(resource.encode())
        self._sha.update(b"\t")
        self._sha.update(line)
        self._sha.update(b"\n")

    def add_record(self, resource: str, record: Any) -> None:
        self.add(resource, canonical(record))

    @property
    def hexdigest(self) -> str:
        """The full SHA-256, as packages carry it."""
        return self._sha.hexdigest()

    @property
    def short(self) -> str:
        """The data version as maps print it: the first 12 hex digits of the SHA-256."""
        return self.hexdigest[:SHORT]


def data_version(records: Iterable[tuple[str, Any]]) -> str:
    """The short data version of (resource, record) pairs, in order."""
    version = DataVersion()
    for resource, record in records:
        version.add_record(resource, record)
    return version.short
