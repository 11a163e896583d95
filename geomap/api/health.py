"""GET /health: is the database reachable and migrated, which versions, how much data."""
from __future__ import annotations

from flask import Blueprint, request

import geomap
from geomap.api import engine, params
from geomap.api.formats import json_response
from geomap.db import migrate, queries
from geomap.errors import DatabaseUnavailable

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    """An outage is a 503 (geomap.api.problems), as on every route."""
    params.check_known(request.args, ())
    schema = migrate.current(engine())
    if schema != migrate.head():
        raise DatabaseUnavailable(f"the database schema is at {schema or 'no revision'}, not "
                                  f"{migrate.head()}; run `geomap db upgrade`")
    with engine().connect() as conn:
        versions = queries.server_versions(conn)
        counts = queries.counts(conn)
    return json_response({"status": "ok", "version": geomap.__version__, "database": versions, "schema": schema,
                          "counts": counts})
