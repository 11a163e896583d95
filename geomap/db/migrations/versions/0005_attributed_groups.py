"""incidents.attributed_groups: the groups an incident's affirmative claims name (kept by triggers).

`attributed_groups` holds the distinct ids of the groups named by the incident's claims whose
stance is affirmative (claimed, accused or assessed: `geomap.vocabulary.AFFIRMATIVE_STANCES`),
in byte order (COLLATE "C", whatever the database's locale); `{}` when there are none. Queries
that group or filter incidents by attributed group read it instead of aggregating
`attributions` (the 100,000-incident map's cell counts spent a third of their time in that join).

Statement-level triggers with transition tables on `attributions` keep it right for every write
path (API writes, `geomap load`, `geomap import`'s bulk upsert, COPY): one set-based update per
statement, which rewrites only the incidents whose groups changed. Transition tables allow one
event per trigger, hence three triggers and a fourth for TRUNCATE.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Frozen here as a migration must be; tests/maps/test_attributed_groups.py checks the column
# against geomap.vocabulary.AFFIRMATIVE_STANCES on every write path.
AFFIRMATIVE = "('claimed', 'accused', 'assessed')"

REFRESH = f"""
CREATE FUNCTION incidents_refresh_attributed_groups(ids text[]) RETURNS void LANGUAGE sql AS $$
    UPDATE incidents AS i SET attributed_groups = g.groups
    FROM (SELECT c.id, coalesce(array_agg(DISTINCT a.group_id COLLATE "C" ORDER BY a.group_id COLLATE "C")
                                FILTER (WHERE a.group_id IS NOT NULL), '{{}}') AS groups
          FROM unnest(ids) AS c(id)
          LEFT JOIN attributions AS a ON a.incident_id = c.id AND a.stance IN {AFFIRMATIVE}
          GROUP BY c.id) AS g
    WHERE i.id = g.id AND i.attributed_groups IS DISTINCT FROM g.groups
$$
"""

SYNC = """
CREATE FUNCTION attributions_sync_attributed_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM incidents_refresh_attributed_groups(ARRAY(SELECT DISTINCT incident_id FROM new_claims));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM incidents_refresh_attributed_groups(ARRAY(SELECT DISTINCT incident_id FROM old_claims));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM incidents_refresh_attributed_groups(ARRAY(
            SELECT incident_id FROM new_claims UNION SELECT incident_id FROM old_claims));
    ELSE  -- TRUNCATE
        UPDATE incidents SET attributed_groups = '{}' WHERE attributed_groups <> '{}';
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = {
    "attributions_groups_insert": "AFTER INSERT ON attributions REFERENCING NEW TABLE AS new_claims",
    "attributions_groups_update": "AFTER UPDATE ON attributions REFERENCING OLD TABLE AS old_claims "
                                  "NEW TABLE AS new_claims",
    "attributions_groups_delete": "AFTER DELETE ON attributions REFERENCING OLD TABLE AS old_claims",
    "attributions_groups_truncate": "AFTER TRUNCATE ON attributions",
}


def upgrade() -> None:
    op.execute("ALTER TABLE incidents ADD COLUMN attributed_groups text[] NOT NULL DEFAULT '{}'")
    op.execute(REFRESH)
    op.execute(SYNC)
    for name, when in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
                   "EXECUTE FUNCTION attributions_sync_attributed_groups()")
    op.execute("SELECT incidents_refresh_attributed_groups(ARRAY(SELECT DISTINCT incident_id FROM attributions))")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON attributions")
    op.execute("DROP FUNCTION attributions_sync_attributed_groups()")
    op.execute("DROP FUNCTION incidents_refresh_attributed_groups(text[])")
    op.drop_column("incidents", "attributed_groups")
