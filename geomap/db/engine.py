"""Engines: the configured DATABASE_URL, or the embedded cluster started on demand."""
from __future__ import annotations

import msgspec
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from geomap.config import Settings
from geomap.db.cluster import Cluster


def database_url(settings: Settings) -> str:
    """DATABASE_URL when set; otherwise the embedded cluster's, starting it if needed."""
    if settings.database_url:
        return settings.database_url
    cluster = Cluster(settings.home, port=settings.db_port)
    cluster.start()
    return cluster.url()


# geomap's queries are short and indexed. PostGIS costs ST_DWithin high, which pushes their
# estimates past the JIT and parallel-query thresholds: measured on 1M incidents, the nearby
# query took 147 ms with both and 46 ms without. Set per connection, so DATABASE_URL servers too.
SESSION_OPTIONS = "-c jit=off -c max_parallel_workers_per_gather=0"


def _json_text(value) -> str:
    return msgspec.json.encode(value).decode()


def make_engine(url: str) -> Engine:
    # prepare_threshold=None: no server-side prepared statements, whose generic plans were
    # measured 4-5x slower than custom plans on dense bbox queries. json and jsonb values are
    # decoded by msgspec (the same Python values as the json module's, about three times as
    # fast: a tenth of a nearby query with hundreds of rows went to decoding their sources), and
    # encoded by it too (one JSON library throughout).
    """An engine on `url`, its connections set up the way geomap's queries were measured to need."""
    return create_engine(url, pool_pre_ping=True, json_deserializer=msgspec.json.decode, json_serializer=_json_text,
                         connect_args={"options": SESSION_OPTIONS, "prepare_threshold": None})
