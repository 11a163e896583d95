"""Read queries used across the app. Every value is bound."""
from __future__ import annotations

from sqlalchemy import Connection, func, select, text

from geomap.db.schema import control_zones, groups, incidents, sites

COUNTED = {"incidents": incidents, "sites": sites, "control_zones": control_zones, "groups": groups}


def server_versions(conn: Connection) -> dict[str, str]:
    """The PostgreSQL and PostGIS versions of the server, for /health."""
    row = conn.execute(text("SELECT current_setting('server_version') AS postgresql, "
                            "postgis_lib_version() AS postgis")).mappings().one()
    return dict(row)


def counts(conn: Connection) -> dict[str, int]:
    """How many rows each counted table holds."""
    return {name: conn.execute(select(func.count()).select_from(tbl)).scalar_one()
            for name, tbl in COUNTED.items()}
