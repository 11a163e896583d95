"""An index on incidents' target site (with the last day), for the incidents that target a site.

The context report's likely duplicates (issue 12) include records coded at the site the focus
targets, or targeting a site next to the focus's location, wherever their own point is: these
are found by their target site and dates, not by their location. (It also serves the foreign
key's check when a site is deleted.) Partial: most incidents name no target.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX incidents_target_site ON incidents (target_site, date_end) WHERE target_site IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP INDEX incidents_target_site")
