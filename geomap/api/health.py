"""GET /health: is the database reachable and migrated, which versions, how much data."""
from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import OperationalError

import geomap
from geomap.api import engine, params
from geomap.db import migrate, queries
from geomap.errors import DatabaseUnavailable

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    params.check_known(request.args, ())
    try:
        schema = migrate.current(engine())
        if schema != migrate.head():
            raise DatabaseUnavailable(f"the database schema is at {schema or 'no revision'}, not "
                                      f"{migrate.head()}; run `geomap db upgrade`")
        with engine().connect() as conn:
            versions = queries.server_versions(conn)
            counts = queries.counts(conn)
    except OperationalError:
        raise DatabaseUnavailable("the database is not reachable") from None
    return jsonify(status="ok", version=geomap.__version__, database=versions, schema=schema, counts=counts)
