"""The whole data set as one package: `geomap export --all` and `geomap import PACKAGE`.

Export reads every table in one snapshot (REPEATABLE READ), in batches, and writes the package
(`geomap.io.package`) as it goes: memory stays flat however large the data set.

Import checks the package first (manifest, every resource's SHA-256, the records' content hash,
the schema revision), extracting its resources to a temporary directory, then writes them in ONE
transaction through the write paths every other import uses: `geomap load` for the groups and
`geomap import` for sites, control zones and incidents (its direct first-import path when the
collection is empty, its staged upsert otherwise). Any problem rolls the whole transaction
back: the database is exactly as it was.

- Relations (`relations.geojsonseq`) come last, validated and written as `geomap load` writes
  them (they are few; the features they name must be written first).
- Into an empty database, the result is the package's records id for id; the import reads them
  back in the same transaction and compares their data version with the manifest's before it
  commits. With `history`, the package's history rows replace the `create` rows the import
  wrote, and every record gets back its version and timestamps.
- Into a database that holds data, a package is merged as `geomap load` merges files: new
  records are created, changed ones updated (version + 1, previous version in history),
  unchanged ones left alone, records the package does not hold are kept. Importing the same
  package twice changes nothing the second time. History cannot be merged (it would interleave
  two databases' versions), so `history` needs an empty database.
"""
from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import shapely
from shapely.geometry import mapping
from sqlalchemy import Connection
from sqlalchemy.engine import Engine

import geomap
from geomap.db import dump, write
from geomap.errors import InvalidInput, Problem
from geomap.importer import import_file
from geomap.ingest import load
from geomap.io import package
from geomap.io.geojson import read_feature
from geomap.model.dataversion import DataVersion, canonical

FEATURES = ("sites", "control_zones", "incidents")
POINT_WKB = b"\x01\x01\x00\x00\x00"  # little-endian, type 1 (Point), as PostGIS writes it
_DECODER = msgspec.json.Decoder()


# -- the records, as a package holds them ---------------------------------------------------------

def records(conn: Connection) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource, record) of the whole data set, in the data version's order."""
    yield from (("groups", row) for row in dump.group_rows(conn))
    for collection in (*FEATURES, "relations"):
        for text, wkb in dump.feature_rows(conn, collection):
            yield collection, _exact(_DECODER.decode(text), wkb)


def _exact(feature: dict[str, Any], wkb: bytes | None) -> dict[str, Any]:
    """The feature with its coordinates from the stored doubles (shortest exact form), not
    rounded as ST_AsGeoJSON writes them."""
    if wkb is None:  # a relation without a polygon
        feature["geometry"] = None
    elif len(wkb) == 21 and wkb[:5] == POINT_WKB:  # most records: unpacked directly, 8 s less for 200,000
        feature["geometry"] = {"type": "Point", "coordinates": struct.unpack_from("<dd", wkb, 5)}
    else:
        feature["geometry"] = mapping(shapely.from_wkb(wkb))
    return feature


def data_version(engine: Engine) -> str:
    """The data version of everything in the database (what a package made now would carry)."""
    with _snapshot(engine) as conn:
        return _version(conn).short


def _version(conn: Connection) -> DataVersion:
    version = DataVersion()
    for name, record in records(conn):
        version.add(name, canonical(record))
    return version


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Connection]:
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        yield conn


# -- export ---------------------------------------------------------------------------------------

@dataclass
class ExportResult:
    """What `geomap export --all` wrote: the package's path, its data version and the records of each table."""

    path: Path
    data_version: str
    records: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        counts = ", ".join(f"{n} {name}" for name, n in self.records.items())
        return [f"wrote {counts} to {self.path} (data package, data version {self.data_version})"]


def export_all(engine: Engine, path: Path, history: bool = False) -> ExportResult:
    """Write the whole data set (with `history`: history and bookkeeping too) to a package."""
    with _snapshot(engine) as conn:
        about = {"software": f"geomap {geomap.__version__}", "schema_revision": dump.schema_revision(conn),
                 "history": history}
        with package.PackageWriter(Path(path), about) as writer:
            _write_records(conn, writer)
            if history:
                _write_rows(writer, "history", dump.history_rows(conn))
                _write_rows(writer, "bookkeeping", dump.bookkeeping_rows(conn))
    return ExportResult(Path(path), writer.version.short, {w.name: w.records for w in writer.written})


def _write_records(conn: Connection, writer: package.PackageWriter) -> None:
    stream = records(conn)
    pending = next(stream, None)
    for name in package.VERSIONED:
        with writer.resource(name) as resource:
            while pending is not None and pending[0] == name:
                resource.add(pending[1])
                pending = next(stream, None)


def _write_rows(writer: package.PackageWriter, name: str, rows: Iterator[dict[str, Any]]) -> None:
    with writer.resource(name) as resource:
        for row in rows:
            resource.add(row)


# -- import ---------------------------------------------------------------------------------------

@dataclass
class PackageImport:
    """What `geomap import PACKAGE` did: per table the records created, updated, unchanged; history rows restored."""

    path: Path
    data_version: str
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # created, updated, unchanged
    history: int | None = None

    def lines(self) -> list[str]:
        out = [f"{name}: {c} created, {u} updated, {n} unchanged" for name, (c, u, n) in self.counts.items()]
        if self.history is not None:
            out.append(f"history: {self.history} row(s) restored")
        return out + [f"imported {self.path} (data package, data version {self.data_version})"]


class _Savepoints:
    """An Engine as the import entry points use it (`begin()`, once each), opening a savepoint
    of the package's one transaction instead of a transaction of its own."""

    def __init__(self, conn: Connection):
        self.conn = conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.conn.begin_nested():
            yield self.conn


def import_package(engine: Engine, path: Path, history: bool = False) -> PackageImport:
    """Import a package in one transaction; InvalidInput (changing nothing) on any problem."""
    path = Path(path)
    with package.Package(path) as pkg, tempfile.TemporaryDirectory(prefix="geomap-package-") as tmp:
        directory = Path(tmp) / path.name  # messages then name "PACKAGE/incidents.geojsonseq: line 3"
        directory.mkdir()
        files = pkg.extract(directory)
        if history and "history" not in files:
            raise InvalidInput(f"{path}: the package holds no history (export it with --history); nothing was imported")
        try:
            return _write(engine, pkg, files, history)
        except InvalidInput as exc:
            raise _renamed(exc, f"{tmp}/") from None


def _write(engine: Engine, pkg: package.Package, files: dict[str, Path], history: bool) -> PackageImport:
    result = PackageImport(pkg.path, pkg.data_version)
    actor = f"geomap import {pkg.path}"
    with engine.begin() as conn:
        _check_revision(conn, pkg)
        empty = dump.is_empty(conn)
        if history and not empty:
            raise InvalidInput(f"{pkg.path}: --history restores a package into an empty database only (two "
                               "databases' histories cannot be merged); import without it to merge the records")
        report = load(_Savepoints(conn), [files["groups"]], actor)
        result.counts["groups"] = (report.created["groups"], report.updated["groups"], report.unchanged["groups"])
        for collection in FEATURES:
            done = import_file(_Savepoints(conn), files[collection], "geojsonseq", collection, duplicates=None,
                               actor=actor)
            dump.end_import(conn)
            result.counts[collection] = (done.created, done.updated, done.unchanged)
        if "relations" in files:
            result.counts["relations"] = _write_relations(conn, files["relations"], actor)
        if empty:
            _check_round_trip(conn, pkg)
        if history:
            result.history = dump.restore_history(conn, package.read_lines(files["history"]),
                                                  package.read_lines(files["bookkeeping"]))
    return result


def _write_relations(conn: Connection, path: Path, actor: str) -> tuple[int, int, int]:
    """Validate the relations resource (every problem of every line) and write it through the
    one write path, as `geomap load` writes a relations file."""
    problems: list[Problem] = []
    records = []
    for line, text in package.relation_lines(path):
        where = f"{path}: line {line}"
        try:
            feature = _DECODER.decode(text)
        except msgspec.DecodeError as exc:
            problems.append(Problem(where, "feature", f"not valid JSON: {exc}"))
            continue
        record = read_feature(feature, "relations", where, problems)
        if record is not None:
            records.append(record)
    if problems:
        raise InvalidInput(f"{path}: {len(problems)} problem(s) in the relations; nothing was imported", problems)
    write.check_references(conn, records)
    done = write.write(conn, "relations", records, actor, refused="the database refused a relation; nothing was imported")
    return done.created, done.updated, done.unchanged


def _check_revision(conn: Connection, pkg: package.Package) -> None:
    revision = pkg.manifest["geomap"].get("schema_revision")
    if revision not in dump.known_revisions():
        raise InvalidInput(f"{pkg.path}: made from a database at schema revision {revision!r}, which this geomap "
                           f"does not know (it knows up to {dump.schema_revision(conn)}); upgrade geomap to "
                           "import it; nothing was imported")


def _check_round_trip(conn: Connection, pkg: package.Package) -> None:
    """The imported records, read back, are the package's (a guard on the whole path)."""
    got = _version(conn).hexdigest
    if f"sha256:{got}" != pkg.manifest["geomap"]["content_hash"]:
        raise InvalidInput(f"{pkg.path}: the imported records would differ from the package's (content hash "
                           f"sha256:{got}, manifest {pkg.manifest['geomap']['content_hash']}); nothing was imported")


def _renamed(exc: InvalidInput, prefix: str) -> InvalidInput:
    """The error with the temporary directory dropped from the places it names."""
    problems = [Problem(p.where.replace(prefix, ""), p.field, p.reason.replace(prefix, "")) for p in exc.problems]
    return InvalidInput(exc.detail.replace(prefix, ""), problems)
