"""An index on each incident's span (date_end - date_start, in days), so that the longest is read
from it.

Incidents are listed in date order (issue 16). A page with a date window walks the start-date
B-tree from the window's start less the longest span (`geomap.db.features`), and checks in the
same statement that no longer span has been written since (one row of this index).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX incidents_span ON incidents ((date_end - date_start))")


def downgrade() -> None:
    op.execute("DROP INDEX incidents_span")
