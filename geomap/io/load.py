"""`geomap load`: validate files, then upsert everything in one transaction, or nothing.

Idempotent: a feature whose content equals the stored one is left alone (no new version, no
history row); a new feature is created, a changed one updated (version + 1) with its previous
version kept in history.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import Connection
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from geomap.db import store
from geomap.errors import InvalidInput, Problem
from geomap.io.geojson import COLLECTIONS, Record, read_file, to_feature

SEED_DIR = Path(__file__).resolve().parents[2] / "data"
SEED_FILES = tuple(SEED_DIR / name for name in
                   ("groups.json", "sites.geojson", "control_zones.geojson", "incidents.geojson"))


@dataclass
class LoadReport:
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    unchanged: Counter = field(default_factory=Counter)

    def lines(self) -> list[str]:
        return [f"{c}: {self.created[c]} created, {self.updated[c]} updated, {self.unchanged[c]} unchanged"
                for c in COLLECTIONS if c in self.created | self.updated | self.unchanged]


def load(engine: Engine, paths: list[Path] | None = None, actor: str = "geomap load") -> LoadReport:
    """Load the files (default: the seed files). Raises InvalidInput, changing nothing, on any problem."""
    records = read_all(paths or list(SEED_FILES))
    report = LoadReport()
    with engine.begin() as conn:
        check_references(conn, records)
        for collection in COLLECTIONS:
            for record in (r for r in records if r.collection == collection):
                _upsert(conn, record, actor, report)
    return report


def read_all(paths: list[Path]) -> list[Record]:
    """Read every file, collecting the problems of all of them before refusing."""
    records: list[Record] = []
    problems: list[Problem] = []
    failed: list[str] = []
    for path in paths:
        try:
            records += read_file(Path(path))
        except InvalidInput as exc:
            failed.append(exc.detail)
            problems += exc.problems
    problems += _duplicates_across_files(records)
    if failed or problems:
        raise InvalidInput("; ".join(failed) or "duplicate ids across files; nothing was loaded", problems)
    return records


def _duplicates_across_files(records: list[Record]) -> list[Problem]:
    first: dict[tuple[str, str], Record] = {}
    problems = []
    for record in records:
        key = (record.collection, record.id)
        if key in first and first[key].where.split(":")[0] != record.where.split(":")[0]:
            problems.append(Problem(record.where, "id", f"duplicate id, already used at {first[key].where}"))
        first.setdefault(key, record)
    return problems


def check_references(conn: Connection, records: list[Record]) -> None:
    """Every group and site a record names exists, in the database or among `records`."""
    known = {c: store.existing_ids(conn, c) | {r.id for r in records if r.collection == c}
             for c in ("groups", "sites")}
    problems = [p for r in records for p in unknown_references(r, known)]
    if problems:
        raise InvalidInput(f"{len(problems)} reference(s) to unknown groups or sites; nothing was loaded", problems)


def unknown_references(record: Record, known: dict[str, set[str]]) -> list[Problem]:
    """The record's references to groups and sites that are not among `known` ids (keyed by
    "groups" and "sites"), one problem each."""
    return [Problem(record.where, name, f"unknown {kind[:-1]} {ref!r}; define it in {kind} first")
            for name, kind, ref in references(record) if ref not in known[kind]]


def references(record: Record) -> list[tuple[str, str, str]]:
    """The groups and sites a record names, as (field, "groups" or "sites", id)."""
    props = record.properties
    if record.collection == "control_zones":
        return [("properties.group", "groups", props.group)]
    if record.collection != "incidents":
        return []
    refs = [(f"properties.attributions[{i}].group", "groups", a.group) for i, a in enumerate(props.attributions)]
    return refs + ([("properties.target_site", "sites", props.target_site)] if props.target_site else [])


def _upsert(conn: Connection, record: Record, actor: str, report: LoadReport) -> None:
    row = to_row(record)
    current = store.current_rows(conn, record.collection, [record.id]).get(record.id)
    try:
        if current is None:
            store.insert_feature(conn, record.collection, row)
            store.append_history(conn, record.collection, record.id, "create", 1, actor, sorted(row), None)
            report.created[record.collection] += 1
            return
        changes = sorted(k for k in row if row[k] != current.get(k))
        if not changes:
            report.unchanged[record.collection] += 1
            return
        version = current["version"] + 1
        store.update_feature(conn, record.collection, row, version)
        store.append_history(conn, record.collection, record.id, "update", version, actor, changes,
                             to_feature(record.collection, current))
        report.updated[record.collection] += 1
    except DBAPIError as exc:
        reason = getattr(getattr(exc.orig, "diag", None), "message_primary", None) or str(exc.orig)
        raise InvalidInput("the database refused a feature; nothing was loaded",
                           [Problem(record.where, "feature", reason)]) from None


def to_row(record: Record) -> dict[str, Any]:
    """Column values for a record; geometry as ISO WKB (little-endian), as PostGIS returns it."""
    values = record.properties.model_dump(mode="json" if record.collection == "groups" else "python")
    row: dict[str, Any] = {"id": record.id, **values}
    if record.geometry is not None:
        row["geom"] = shapely.to_wkb(record.geometry, byte_order=1, include_srid=False)
    if record.collection == "control_zones":
        row["group_id"] = row.pop("group")
    if record.collection == "incidents":
        row["attributions"] = [_claim_row(claim) for claim in record.properties.attributions]
    if "sources" in row:
        row["sources"] = [source.model_dump(mode="json") for source in record.properties.sources]
    return row


def _claim_row(claim) -> dict[str, Any]:
    values = claim.model_dump(mode="json")
    values["group_id"] = values.pop("group")
    return values
