"""Single-feature writes (the API's create, replace, update and delete), each with its history
row, each in the caller's transaction. Concurrency is optimistic: a write names the version it
read, and loses (PreconditionFailed) if another write got there first; nothing is lost."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from geomap.db import store
from geomap.errors import Conflict, InvalidInput, NotFound, PreconditionFailed, Problem
from geomap.io.geojson import Record, to_feature
from geomap.io.load import check_references, to_row


def create(conn: Connection, record: Record, actor: str) -> int:
    if store.current_rows(conn, record.collection, [record.id]):
        raise Conflict(f"{record.collection}/{record.id} already exists; PUT or PATCH it instead")
    check_references(conn, [record])
    row = to_row(record)
    _guarded(lambda: store.insert_feature(conn, record.collection, row), record)
    store.append_history(conn, record.collection, record.id, "create", 1, actor, sorted(row), None)
    return 1


def replace(conn: Connection, record: Record, expected_version: int, actor: str) -> int:
    """Write `record` over the stored feature of version `expected_version`; the new version."""
    current = _current(conn, record.collection, record.id, expected_version)
    check_references(conn, [record])
    row = to_row(record)
    changes = sorted(k for k in row if row[k] != current.get(k))
    version = expected_version + 1
    if not _guarded(lambda: store.update_feature(conn, record.collection, row, version), record):
        raise _lost_race(record.collection, record.id)
    store.append_history(conn, record.collection, record.id, "update", version, actor, changes,
                         to_feature(record.collection, current))
    return version


def delete(conn: Connection, collection: str, feature_id: str, expected_version: int, actor: str) -> None:
    current = _current(conn, collection, feature_id, expected_version)
    try:
        deleted = store.delete_feature(conn, collection, feature_id, expected_version)
    except IntegrityError:
        raise Conflict(f"{collection}/{feature_id} is still referenced (e.g. an incident's target_site); "
                       "change those first") from None
    if not deleted:
        raise _lost_race(collection, feature_id)
    store.append_history(conn, collection, feature_id, "delete", expected_version + 1, actor, [],
                         to_feature(collection, current))


def current_feature(conn: Connection, collection: str, feature_id: str) -> tuple[dict[str, Any], int]:
    """The stored feature as GeoJSON and its version (for PATCH)."""
    row = store.current_rows(conn, collection, [feature_id]).get(feature_id)
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection}")
    return to_feature(collection, row), row["version"]


def _current(conn: Connection, collection: str, feature_id: str, expected_version: int) -> dict[str, Any]:
    row = store.current_rows(conn, collection, [feature_id]).get(feature_id)
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection}")
    if row["version"] != expected_version:
        raise _lost_race(collection, feature_id)
    return row


def _lost_race(collection: str, feature_id: str) -> PreconditionFailed:
    return PreconditionFailed(f"{collection}/{feature_id} changed since you read it (If-Match no longer matches); "
                              "GET it again, re-apply your change, and retry with the new ETag")


def _guarded(write, record: Record):
    try:
        return write()
    except DBAPIError as exc:
        reason = getattr(getattr(exc.orig, "diag", None), "message_primary", None) or "refused"
        raise InvalidInput("the database refused the feature; nothing was written",
                           [Problem(record.where, "feature", reason)]) from None
