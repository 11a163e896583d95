"""relations: sourced relations between two features (location constraints, derived locations,
links between events), one row each (DESIGN.md decision 10).

`subject` and `object` name features as `collection/id` (incidents, sites, control_zones), so
one table relates any two kinds; the foreign keys that a column per kind would give are kept by
triggers instead: a relation must name stored features (checked when it is written), and a
feature that a relation names cannot be deleted (SQLSTATE 23503, as a foreign key would refuse).
`geom` is null but for an `inside` relation that carries its own polygon.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen here as a migration must be (geomap.vocabulary.RELATION_KINDS when written).
KINDS = ("within", "beyond", "bearing", "inside", "derived_from", "precedes", "response_to", "part_of")
FEATURE_REF = "^(incidents|sites|control_zones)/[a-z0-9][a-z0-9._-]*$"
FEATURES = ("incidents", "sites", "control_zones")
HISTORY_COLLECTIONS = "'groups', 'sites', 'incidents', 'control_zones', 'relations'"

CHECK_ENDS = """
CREATE FUNCTION relations_check_ends() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ref text; found boolean;
BEGIN
    FOREACH ref IN ARRAY ARRAY[NEW.subject, NEW.object] LOOP
        CONTINUE WHEN ref IS NULL;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE id = $1)', split_part(ref, '/', 1))
            INTO found USING substr(ref, strpos(ref, '/') + 1);
        IF NOT found THEN
            RAISE EXCEPTION 'relation % names %, which does not exist', NEW.id, ref
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END LOOP;
    RETURN NEW;
END
$$
"""

KEEP_NAMED = """
CREATE FUNCTION relations_keep_named() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ref text := TG_TABLE_NAME || '/' || OLD.id;
BEGIN
    IF EXISTS (SELECT 1 FROM relations WHERE subject = ref OR object = ref) THEN
        RAISE EXCEPTION '% is named by a relation; delete the relation first', ref
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END
$$
"""


def upgrade() -> None:
    quoted = ", ".join(f"'{k}'" for k in KINDS)
    op.create_table(
        "relations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("object", sa.Text),
        sa.Column("distance_min_m", sa.Double),
        sa.Column("distance_max_m", sa.Double),
        sa.Column("bearing_from", sa.Double),
        sa.Column("bearing_to", sa.Double),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=4326, spatial_index=False)),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("notes", sa.Text),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        sa.Column("created_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TIMESTAMP(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("id ~ '^[a-z0-9][a-z0-9._-]*$'", name="relations_id_slug"),
        sa.CheckConstraint(f"kind IN ({quoted})", name="relations_kind"),
        sa.CheckConstraint(f"subject ~ '{FEATURE_REF}' AND (object IS NULL OR object ~ '{FEATURE_REF}')",
                           name="relations_feature_refs"),
        sa.CheckConstraint("object IS DISTINCT FROM subject", name="relations_not_to_itself"),
        sa.CheckConstraint("object IS NOT NULL OR (kind = 'inside' AND geom IS NOT NULL)", name="relations_object"),
        sa.CheckConstraint("distance_min_m >= 0 AND distance_max_m >= 0 AND distance_min_m <= distance_max_m",
                           name="relations_distances"),
        sa.CheckConstraint("bearing_from >= 0 AND bearing_from < 360 AND bearing_to >= 0 AND bearing_to < 360",
                           name="relations_bearings"),
        sa.CheckConstraint("jsonb_typeof(sources) = 'array' AND jsonb_array_length(sources) >= 1",
                           name="relations_sources_nonempty"),
        sa.CheckConstraint("version >= 1", name="relations_version_positive"),
    )
    op.create_index("relations_subject", "relations", ["subject"])
    op.create_index("relations_object", "relations", ["object"])
    op.execute(CHECK_ENDS)
    op.execute("CREATE TRIGGER relations_check_ends BEFORE INSERT OR UPDATE OF subject, object ON relations "
               "FOR EACH ROW EXECUTE FUNCTION relations_check_ends()")
    op.execute(KEEP_NAMED)
    for name in FEATURES:
        op.execute(f"CREATE TRIGGER {name}_keep_named BEFORE DELETE ON {name} "
                   "FOR EACH ROW EXECUTE FUNCTION relations_keep_named()")
    op.execute("CREATE TRIGGER relations_change_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON relations "
               "FOR EACH STATEMENT EXECUTE FUNCTION change_stamps_bump()")
    op.execute("INSERT INTO change_stamps VALUES ('relations', pg_current_xact_id()::text::bigint)")
    op.drop_constraint("history_collection", "history")
    op.create_check_constraint("history_collection", "history", f"collection IN ({HISTORY_COLLECTIONS})")


def downgrade() -> None:
    op.execute("DELETE FROM history WHERE collection = 'relations'")
    op.drop_constraint("history_collection", "history")
    op.create_check_constraint("history_collection", "history",
                               "collection IN ('groups', 'sites', 'incidents', 'control_zones')")
    for name in FEATURES:
        op.execute(f"DROP TRIGGER {name}_keep_named ON {name}")
    op.execute("DROP TABLE relations")
    op.execute("DROP FUNCTION relations_keep_named()")
    op.execute("DROP FUNCTION relations_check_ends()")
    op.execute("DELETE FROM change_stamps WHERE table_name = 'relations'")
