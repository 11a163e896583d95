"""The tables, as SQLAlchemy Core metadata. Alembic migrations own the DDL (with the check
constraints); this module mirrors them for queries, and a test keeps the two in step."""
from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP

metadata = MetaData()


def _point() -> Column:
    return Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False)


def _sources() -> Column:
    return Column("sources", JSONB, nullable=False)


def _bookkeeping() -> list[Column]:
    return [
        Column("version", Integer, nullable=False, server_default=text("1")),
        Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
    ]


groups = Table(
    "groups", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("aliases", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("kind", Text, nullable=False),
    Column("color", Text, nullable=False),
    Column("notes", Text),
    *_bookkeeping(),
)

sites = Table(
    "sites", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    _point(),
    Column("precision_m", Double, nullable=False),
    Column("status", Text, nullable=False),
    Column("country", Text),
    Column("admin1", Text),
    _sources(),
    Column("notes", Text),
    *_bookkeeping(),
    Index("sites_geom_gist", "geom", postgresql_using="gist"),
)

incidents = Table(
    "incidents", metadata,
    Column("id", Text, primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text),
    Column("date_start", Date, nullable=False),
    Column("date_end", Date, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("sub_event_type", Text),
    Column("location_name", Text),
    Column("country", Text),
    Column("admin1", Text),
    Column("admin2", Text),
    _point(),
    Column("precision_m", Double, nullable=False),
    Column("fatalities_low", Integer),
    Column("fatalities_best", Integer),
    Column("fatalities_high", Integer),
    Column("injured", Integer),
    Column("status", Text, nullable=False),
    Column("target_site", Text, ForeignKey("sites.id", ondelete="RESTRICT")),
    _sources(),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    Column("notes", Text),
    Column("reported_events", JSONB, nullable=False, server_default=text("'[]'")),
    # Derived, never written by geomap: the distinct group ids (byte order) of the incident's
    # affirmative claims (vocabulary.AFFIRMATIVE_STANCES), kept by triggers on attributions (0005).
    Column("attributed_groups", ARRAY(Text), nullable=False, server_default=text("'{}'")),
    *_bookkeeping(),
    Index("incidents_geom_gist", "geom", postgresql_using="gist"),
    Index("incidents_dates", "date_start", "date_end"),
    Index("incidents_event_type", "event_type"),
    Index("incidents_precision", "precision_m"),
    Index("incidents_date_end", "date_end"),
    Index("incidents_geom_dates_gist", "geom", text("daterange(date_start, date_end, '[]')"), postgresql_using="gist"),
    Index("incidents_target_site", "target_site", "date_end", postgresql_where=text("target_site IS NOT NULL")),
    Index("incidents_span", text("(date_end - date_start)")),
)

attributions = Table(
    "attributions", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("incident_id", Text, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("group_id", Text, ForeignKey("groups.id", ondelete="RESTRICT"), nullable=False),
    Column("claimant", Text, nullable=False),
    Column("stance", Text, nullable=False),
    _sources(),
    Column("notes", Text),
    UniqueConstraint("incident_id", "position", name="attributions_incident_position"),
    Index("attributions_group", "group_id"),
)

control_zones = Table(
    "control_zones", metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("group_id", Text, ForeignKey("groups.id", ondelete="RESTRICT"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
    Column("confidence", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("precision_m", Double, nullable=False),
    _sources(),
    Column("notes", Text),
    *_bookkeeping(),
    Index("control_zones_geom_gist", "geom", postgresql_using="gist"),
    Index("control_zones_geog_gist", text("(geom::geography)"), postgresql_using="gist"),
    Index("control_zones_validity", "valid_from", "valid_to"),
    Index("control_zones_geom_validity_gist", "geom", text("daterange(valid_from, valid_to, '[]')"),
          postgresql_using="gist"),
)

# Relations between two features, each named `collection/id` (migration 0008: the triggers that
# keep both ends existing, and the check constraints).
relations = Table(
    "relations", metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("object", Text),
    Column("distance_min_m", Double),
    Column("distance_max_m", Double),
    Column("bearing_from", Double),
    Column("bearing_to", Double),
    Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
    _sources(),
    Column("notes", Text),
    *_bookkeeping(),
    Index("relations_subject", "subject"),
    Index("relations_object", "object"),
)

history = Table(
    "history", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("collection", Text, nullable=False),
    Column("feature_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
    Column("changes", JSONB, nullable=False, server_default=text("'[]'")),
    Column("previous", JSONB),
    Index("history_feature", "collection", "feature_id", "at"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=func.now()),
    Column("last_used_at", TIMESTAMP(timezone=True)),
    Column("revoked_at", TIMESTAMP(timezone=True)),
)

# Per table, the id of the last transaction that wrote it (set by triggers, migration 0007):
# the key of caches of what is read from it (geomap.maps.cache).
change_stamps = Table(
    "change_stamps", metadata,
    Column("table_name", Text, primary_key=True),
    Column("stamp", BigInteger, nullable=False),
)

DERIVED_COLUMNS = ("attributed_groups",)  # kept by the database itself; writers leave them out
