"""Initial schema: groups, sites, incidents with attributions, control zones, history, tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

The vocabularies are written out here, not imported, so that this migration stays what it
was when later ones change them.
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID_PATTERN = "^[a-z0-9][a-z0-9._-]*$"
EVENT_TYPES = ("Battles", "Explosions/Remote violence", "Violence against civilians", "Protests",
               "Riots", "Strategic developments")
SUB_EVENT_TYPES = (
    "Armed clash", "Government regains territory", "Non-state actor overtakes territory",
    "Chemical weapon", "Air/drone strike", "Suicide bomb", "Shelling/artillery/missile attack",
    "Remote explosive/landmine/IED", "Grenade", "Sexual violence", "Attack",
    "Abduction/forced disappearance", "Peaceful protest", "Protest with intervention",
    "Excessive force against protesters", "Violent demonstration", "Mob violence", "Agreement",
    "Arrests", "Change to group/activity", "Disrupted weapons use",
    "Headquarters or base established", "Looting/property destruction",
    "Non-violent transfer of territory", "Other",
)
STATUSES = ("confirmed", "reported", "estimate")
FATALITIES = ("fatalities_low", "fatalities_best", "fatalities_high")
FATALITY_ORDER = (("fatalities_low", "fatalities_best"), ("fatalities_best", "fatalities_high"),
                  ("fatalities_low", "fatalities_high"))


def one_of(column, values):
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return f"{column} IN ({quoted})"


def check(name, condition):
    return sa.CheckConstraint(condition, name=name)


def id_column():
    return sa.Column("id", sa.Text, primary_key=True)


def bookkeeping():
    return [
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def feature_checks(table):
    return [
        check(f"{table}_id_slug", f"id ~ '{ID_PATTERN}'"),
        check(f"{table}_precision_nonnegative", "precision_m >= 0"),
        check(f"{table}_status", one_of("status", STATUSES)),
        check(f"{table}_sources_nonempty", "jsonb_typeof(sources) = 'array' AND jsonb_array_length(sources) >= 1"),
        check(f"{table}_version_positive", "version >= 1"),
    ]


def point_checks(table):
    return [
        check(f"{table}_lon_range", "ST_X(geom) BETWEEN -180 AND 180"),
        check(f"{table}_lat_range", "ST_Y(geom) BETWEEN -90 AND 90"),
        check(f"{table}_geom_valid", "NOT ST_IsEmpty(geom) AND ST_IsValid(geom)"),
    ]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "groups",
        id_column(),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("aliases", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("color", sa.Text, nullable=False),
        sa.Column("notes", sa.Text),
        *bookkeeping(),
        check("groups_id_slug", f"id ~ '{ID_PATTERN}'"),
        check("groups_kind", one_of("kind", ("state_force", "militia", "insurgent", "civilian", "other"))),
        check("groups_color", "color ~ '^#[0-9a-f]{6}$'"),
    )
    op.create_table(
        "sites",
        id_column(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("precision_m", sa.Double, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("country", sa.Text),
        sa.Column("admin1", sa.Text),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("notes", sa.Text),
        *bookkeeping(),
        check("sites_kind", one_of("kind", ("air_base", "airport", "embassy", "city", "other"))),
        *feature_checks("sites"),
        *point_checks("sites"),
    )
    op.create_index("sites_geom_gist", "sites", ["geom"], postgresql_using="gist")
    op.create_table(
        "incidents",
        id_column(),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("date_start", sa.Date, nullable=False),
        sa.Column("date_end", sa.Date, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("sub_event_type", sa.Text),
        sa.Column("location_name", sa.Text),
        sa.Column("country", sa.Text),
        sa.Column("admin1", sa.Text),
        sa.Column("admin2", sa.Text),
        sa.Column("geom", Geometry("POINT", srid=4326, spatial_index=False), nullable=False),
        sa.Column("precision_m", sa.Double, nullable=False),
        sa.Column("fatalities_low", sa.Integer),
        sa.Column("fatalities_best", sa.Integer),
        sa.Column("fatalities_high", sa.Integer),
        sa.Column("injured", sa.Integer),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("target_site", sa.Text, sa.ForeignKey("sites.id", ondelete="RESTRICT")),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("tags", ARRAY(sa.Text), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("notes", sa.Text),
        *bookkeeping(),
        check("incidents_dates_ordered", "date_start <= date_end"),
        check("incidents_event_type", one_of("event_type", EVENT_TYPES)),
        check("incidents_sub_event_type", "sub_event_type IS NULL OR " + one_of("sub_event_type", SUB_EVENT_TYPES)),
        check("incidents_counts_nonnegative",
              " AND ".join(f"coalesce({c}, 0) >= 0" for c in (*FATALITIES, "injured"))),
        check("incidents_fatalities_ordered",
              " AND ".join(f"({a} IS NULL OR {b} IS NULL OR {a} <= {b})" for a, b in FATALITY_ORDER)),
        *feature_checks("incidents"),
        *point_checks("incidents"),
    )
    op.create_index("incidents_geom_gist", "incidents", ["geom"], postgresql_using="gist")
    op.create_index("incidents_geog_gist", "incidents", [sa.text("(geom::geography)")], postgresql_using="gist")
    op.create_index("incidents_dates", "incidents", ["date_start", "date_end"])
    op.create_index("incidents_event_type", "incidents", ["event_type"])
    op.create_table(
        "attributions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Text, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("group_id", sa.Text, sa.ForeignKey("groups.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("claimant", sa.Text, nullable=False),
        sa.Column("stance", sa.Text, nullable=False),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("notes", sa.Text),
        sa.UniqueConstraint("incident_id", "position", name="attributions_incident_position"),
        check("attributions_stance", one_of("stance", ("claimed", "accused", "assessed", "disputed", "denied"))),
        check("attributions_sources_nonempty", "jsonb_typeof(sources) = 'array' AND jsonb_array_length(sources) >= 1"),
    )
    op.create_index("attributions_group", "attributions", ["group_id"])
    op.create_table(
        "control_zones",
        id_column(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("group_id", sa.Text, sa.ForeignKey("groups.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False), nullable=False),
        sa.Column("confidence", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("precision_m", sa.Double, nullable=False),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("notes", sa.Text),
        *bookkeeping(),
        check("control_zones_validity_ordered", "valid_to IS NULL OR valid_from <= valid_to"),
        check("control_zones_kind", one_of("kind", ("control", "presence", "activity"))),
        check("control_zones_confidence", one_of("confidence", ("low", "medium", "high"))),
        check("control_zones_lon_range", "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180"),
        check("control_zones_lat_range", "ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90"),
        check("control_zones_geom_valid", "NOT ST_IsEmpty(geom) AND ST_IsValid(geom)"),
        *feature_checks("control_zones"),
    )
    op.create_index("control_zones_geom_gist", "control_zones", ["geom"], postgresql_using="gist")
    op.create_index("control_zones_geog_gist", "control_zones", [sa.text("(geom::geography)")], postgresql_using="gist")
    op.create_index("control_zones_validity", "control_zones", ["valid_from", "valid_to"])
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("collection", sa.Text, nullable=False),
        sa.Column("feature_id", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("changes", JSONB, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("previous", JSONB),
        check("history_action", one_of("action", ("create", "update", "delete"))),
        check("history_collection", one_of("collection", ("groups", "sites", "incidents", "control_zones"))),
    )
    op.create_index("history_feature", "history", ["collection", "feature_id", "at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", TIMESTAMP(timezone=True)),
        sa.Column("revoked_at", TIMESTAMP(timezone=True)),
        check("api_tokens_role", one_of("role", ("viewer", "editor", "admin"))),
        check("api_tokens_hash_sha256", "token_hash ~ '^[0-9a-f]{64}$'"),
    )


def downgrade() -> None:
    # PostGIS stays: the extension may serve other schemas, and dropping it is not ours to do.
    for table in ("api_tokens", "history", "control_zones", "attributions", "incidents", "sites", "groups"):
        op.drop_table(table)
