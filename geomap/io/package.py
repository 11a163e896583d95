"""A whole data set as one file: a zipped data package (Frictionless Data Package v1).

Layout of the zip::

    datapackage.json          the manifest (below)
    groups.json               {"collection": "groups", "groups": [...]}, as `geomap load` reads it
    sites.geojsonseq          RFC 8142 GeoJSON text sequences, as `geomap import` reads them,
    control_zones.geojsonseq  one record a line, ordered by id (byte order), each in its
    incidents.geojsonseq      canonical JSON (`geomap.model.dataversion.canonical`); an incident
                              carries its claims (attributions) and every record its sources
    history.jsonl             only with --history: the history rows, oldest first, and
                              bookkeeping.jsonl the version and timestamps of each record

The manifest follows the Frictionless Data Package spec (name, created, resources with name,
path, format, mediatype, encoding, bytes and `hash` "sha256:..." of the file's bytes, so generic
tools can list and check it) and adds a `geomap` member: the data version (`data_version`, as
maps print it, and `content_hash`, the full SHA-256), geomap's version, the schema revision
(Alembic) of the database it came from, and the record count of each resource.

Why a zipped data package and not GeoPackage: (1) it streams both ways in flat memory, each
resource a zip member written while its rows stream from the database and read back as a
stream, while a GeoPackage would be a second store to fill and query; (2) the records keep their
shape: claims (a list per incident, each with its own sources), sources and tags are nested,
which a GeoPackage feature table holds only as opaque JSON text, and the relations between
features to come fit no feature table; (3) the import is the one `geomap import` already has:
a resource is exactly a file it reads (same validation, same direct first-import path, reader
processes for large files); (4) the content hash is of the records, which are canonical text,
not of the container's bytes (zip entries carry timestamps; a GeoPackage carries SQLite pages).

The content hash is the data version (`geomap.model.dataversion`): the records of groups, sites,
control_zones and incidents, in that order (`VERSIONED`), each ordered by id. History and
bookkeeping are not data (two databases with the same records have different histories) and
are covered by their resource hashes only.

Relations: the relations between features (`geomap.model.records.RelationProperties`) are one
more resource, `relations.geojsonseq`, after incidents in `VERSIONED` (a relation names two
features, which must exist first). A resource without records adds nothing to the version, so a
data set without relations keeps its version; a package made before relations existed (no such
resource) is read as one without relations. A geomap that does not know a resource a package
holds refuses the package (`UNKNOWN_RESOURCE`) rather than drop its records silently.

Nothing here touches the database: `geomap.dataset` reads and writes the tables.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import msgspec

from geomap.errors import InvalidInput, Problem
from geomap.io.streams import text_sequence
from geomap.model.dataversion import DataVersion, canonical

MANIFEST = "datapackage.json"
PROFILE = "data-package"
NAME = "geomap-data-set"
VERSIONED = ("groups", "sites", "control_zones", "incidents", "relations")  # in the data version's order
LATER = ("relations",)  # versioned resources that packages made before them lack
OPTIONAL = ("history", "bookkeeping")  # --history; not part of the data version
FILES = {"groups": "groups.json", "sites": "sites.geojsonseq", "control_zones": "control_zones.geojsonseq",
         "incidents": "incidents.geojsonseq", "relations": "relations.geojsonseq", "history": "history.jsonl",
         "bookkeeping": "bookkeeping.jsonl"}
FORMATS = {"json": ("json", "application/json"), "geojsonseq": ("geojsonseq", "application/geo+json-seq"),
           "jsonl": ("jsonl", "application/jsonl")}
ZIP_MAGIC = b"PK\x03\x04"
COPY_BYTES = 1 << 20
UNKNOWN_RESOURCE = ("{path}: the package holds a resource {name!r} that this geomap does not know (made by a "
                    "newer geomap?); upgrade geomap to import it")
_DECODER = msgspec.json.Decoder()


def is_package(path: Path) -> bool:
    """Whether the file is a zip holding a `datapackage.json` (a package, whatever its name)."""
    try:
        with open(path, "rb") as stream:
            if stream.read(4) != ZIP_MAGIC:
                return False
        with zipfile.ZipFile(path) as archive:
            return MANIFEST in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


# -- writing ------------------------------------------------------------------------------------

@dataclass
class Written:
    """What a resource holds, for its manifest entry."""

    name: str
    records: int = 0
    bytes: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)

    def entry(self) -> dict[str, Any]:
        path = FILES[self.name]
        fmt, mediatype = FORMATS[path.rsplit(".", 1)[1]]
        return {"name": self.name, "path": path, "profile": "data-resource", "format": fmt, "mediatype": mediatype,
                "encoding": "utf-8", "bytes": self.bytes, "hash": f"sha256:{self.sha256.hexdigest()}",
                "geomap:records": self.records}


class PackageWriter:
    """Writes a package: `resource(name)` for each resource in turn, records one at a time.
    The zip is written next to `path` and renamed onto it when complete, so a failed export
    leaves no half-written package behind."""

    def __init__(self, path: Path, about: dict[str, Any]):
        self.path = Path(path)
        self.about = about  # geomap's version, the schema revision, whether history is included
        self.version = DataVersion()
        self.written: list[Written] = []
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> PackageWriter:
        self._zip = zipfile.ZipFile(self._partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        return self

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self._zip.writestr(MANIFEST, json.dumps(self.manifest(), indent=2) + "\n")
            self._zip.close()
            if kind is None:
                os.replace(self._partial, self.path)
        finally:
            self._partial.unlink(missing_ok=True)

    @contextmanager
    def resource(self, name: str) -> Iterator[_ResourceWriter]:
        written = Written(name)
        with self._zip.open(FILES[name], "w", force_zip64=True) as member:
            writer = _ResourceWriter(member, written, self.version if name in VERSIONED else None)
            writer.begin()
            yield writer
            writer.end()
        self.written.append(written)

    def manifest(self) -> dict[str, Any]:
        return {"profile": PROFILE, "name": NAME, "title": "A geomap data set",
                "created": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "geomap": {"data_version": self.version.short, "content_hash": f"sha256:{self.version.hexdigest}",
                           **self.about},
                "resources": [w.entry() for w in self.written]}


class _ResourceWriter:
    """One resource: groups as a groups.json document, the rest one record a line."""

    def __init__(self, member: IO[bytes], written: Written, version: DataVersion | None):
        self.member, self.written, self.version = member, written, version
        self.groups = written.name == "groups"
        self.prefix = b"\x1e" if FILES[written.name].endswith(".geojsonseq") else b""

    def _put(self, data: bytes) -> None:
        self.member.write(data)
        self.written.bytes += len(data)
        self.written.sha256.update(data)

    def begin(self) -> None:
        if self.groups:
            self._put(b'{"collection": "groups", "groups": [\n')

    def end(self) -> None:
        if self.groups:
            self._put(b"\n]}\n")

    def add(self, record: Any) -> None:
        line = canonical(record)
        if self.version is not None:
            self.version.add(self.written.name, line)
        self._put((b",\n" if self.groups and self.written.records else self.prefix) + line
                  + (b"" if self.groups else b"\n"))
        self.written.records += 1


# -- reading ------------------------------------------------------------------------------------

class Package:
    """An opened package: its manifest, checked; `extract` writes its resources to a directory,
    checking each resource's bytes and the data version against the manifest."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.archive = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise InvalidInput(f"{self.path}: not a readable zip file ({exc}); a data package is a zip "
                               f"with {MANIFEST}") from None
        self.manifest = self._manifest()
        self.resources = self._resources()

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *_) -> None:
        self.archive.close()

    def _refuse(self, reason: str) -> InvalidInput:
        return InvalidInput(f"{self.path}: {reason}; nothing was imported")

    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads(self.archive.read(MANIFEST))
        except KeyError:
            raise self._refuse(f"no {MANIFEST} in the zip: not a geomap data package") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._refuse(f"{MANIFEST} is not valid JSON ({exc})") from None
        about = manifest.get("geomap") if isinstance(manifest, dict) else None
        if not isinstance(about, dict) or not isinstance(manifest.get("resources"), list):
            raise self._refuse(f'{MANIFEST} lacks "resources" or the "geomap" member (data_version, content_hash)')
        if not str(about.get("content_hash", "")).startswith("sha256:"):
            raise self._refuse(f'{MANIFEST}: geomap.content_hash must be "sha256:" and 64 hex digits')
        return manifest

    def _resources(self) -> dict[str, dict[str, Any]]:
        resources = {r.get("name"): r for r in self.manifest["resources"] if isinstance(r, dict)}
        for name in resources:
            if name not in FILES:
                raise InvalidInput(UNKNOWN_RESOURCE.format(path=self.path, name=name))
        missing = [n for n in VERSIONED if n not in resources and n not in LATER]
        if missing:
            raise self._refuse(f"the manifest lists no {', '.join(missing)} resource (a package holds "
                               f"{', '.join(n for n in VERSIONED if n not in LATER)})")
        members = set(self.archive.namelist())
        absent = [r["path"] for r in resources.values() if r.get("path") not in members]
        if absent:
            raise self._refuse(f"resource file(s) {', '.join(map(str, absent))} named in the manifest are missing "
                               "from the zip")
        return resources

    @property
    def data_version(self) -> str:
        return str(self.manifest["geomap"].get("data_version", ""))

    def extract(self, directory: Path) -> dict[str, Path]:
        """Write every resource into `directory` (streamed), check its bytes and records against
        the manifest, and the records' data version; InvalidInput names the first mismatch."""
        files, version = {}, DataVersion()
        for name in (n for n in (*VERSIONED, *OPTIONAL) if n in self.resources):
            files[name] = self._extract(name, Path(directory))
            if name in VERSIONED:
                self._add_records(name, files[name], version)
        expected = self.manifest["geomap"]["content_hash"]
        if f"sha256:{version.hexdigest}" != expected:
            raise self._refuse(f"the records' content hash is sha256:{version.hexdigest}, but the manifest says "
                               f"{expected}: the records were changed after the package was made")
        return files

    def _extract(self, name: str, directory: Path) -> Path:
        resource = self.resources[name]
        target = directory / FILES[name]
        sha, size = hashlib.sha256(), 0
        with self.archive.open(resource["path"]) as member, open(target, "wb") as out:
            try:
                while chunk := member.read(COPY_BYTES):
                    sha.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise self._refuse(f"resource {name} ({resource['path']}) is damaged: {exc}") from None
        if f"sha256:{sha.hexdigest()}" != resource.get("hash") or size != resource.get("bytes"):
            raise self._refuse(f"resource {name} ({resource['path']}) has sha256:{sha.hexdigest()} ({size} bytes), "
                               f"but the manifest says {resource.get('hash')} ({resource.get('bytes')} bytes): "
                               "the file is damaged or was changed")
        return target

    def _add_records(self, name: str, path: Path, version: DataVersion) -> None:
        where = f"{self.path.name}/{FILES[name]}"
        for line, record in _records(name, path, where):
            try:
                version.add(name, canonical(_DECODER.decode(record)))
            except msgspec.DecodeError as exc:
                raise InvalidInput(f"{self.path}: a record is not valid JSON; nothing was imported",
                                   [Problem(f"{where}: line {line}", "feature", str(exc))]) from None


def _records(name: str, path: Path, where: str) -> Iterator[tuple[int, bytes]]:
    """(line, JSON text) of each record of an extracted resource."""
    if name == "groups":  # small: ACLED has a few thousand actors
        try:
            document = json.loads(path.read_bytes())
            groups = document["groups"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{where}: not a groups document ({exc}); nothing was imported") from None
        yield from ((i, json.dumps(g).encode()) for i, g in enumerate(groups, start=1))
        return
    with open(path, "rb") as stream:
        yield from text_sequence(stream)


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The records of an extracted JSON-lines resource (history, bookkeeping)."""
    with open(path, "rb") as stream:
        for line in stream:
            if line.strip():
                yield _DECODER.decode(line)


def relation_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line, JSON text) of each record of an extracted relations resource."""
    yield from _records("relations", path, str(path))
