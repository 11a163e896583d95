"""Sources say whether they are original reporting (`primary`) and what a copy copies (`copy_of`).

Sources are JSON arrays in the `sources` column of groups' neighbours (sites, incidents,
attributions, control zones), stored with every field of `geomap.model.records.Source`, nulls
included. This adds the two new fields to every stored source, `primary: false` and
`copy_of: null`, keeping each source's other fields and the array's order; a source that has
them already keeps its values. Downgrade removes them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("sites", "incidents", "attributions", "control_zones", "relations")  # frozen here, as a migration must be

ADD = """
UPDATE {table} SET sources = (
    SELECT jsonb_agg(jsonb_build_object('primary', false, 'copy_of', null) || s ORDER BY i)
    FROM jsonb_array_elements(sources) WITH ORDINALITY AS e(s, i))
WHERE jsonb_typeof(sources) = 'array' AND jsonb_array_length(sources) > 0
"""
REMOVE = """
UPDATE {table} SET sources = (
    SELECT jsonb_agg(s - 'primary' - 'copy_of' ORDER BY i)
    FROM jsonb_array_elements(sources) WITH ORDINALITY AS e(s, i))
WHERE jsonb_typeof(sources) = 'array' AND jsonb_array_length(sources) > 0
"""


def upgrade() -> None:
    for table in TABLES:
        op.execute(ADD.format(table=table))


def downgrade() -> None:
    for table in TABLES:
        op.execute(REMOVE.format(table=table))
