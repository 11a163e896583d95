"""Engines: the configured DATABASE_URL, or the embedded cluster started on demand."""
from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from geomap.config import Settings
from geomap.db.cluster import Cluster


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's, starting it if needed."""
    if settings.database_url:
        return settings.database_url
    cluster = Cluster(settings.home)
    cluster.start()
    return cluster.url()


def make_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, future=True)
