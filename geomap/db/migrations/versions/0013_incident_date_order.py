"""Incidents in date order (issue 16): an index on each incident's span (date_end - date_start, in
days), so that the longest is read from it, and one on (date_start, id), the order itself.

A page with a date window walks the start-date B-tree from the window's start less the longest
span (`geomap.db.features`), and checks in the same statement that no longer span has been
written since (one row of the span index). A page reached by `offset` walks (date_start, id) in
an index-only scan: at 1,000,000 incidents the page at 990,000 took 523 ms without it (the walk
read the table for every skipped row) and 58.5 ms with it (bench/paging.py); it builds in 0.66 s.

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
    op.execute("CREATE INDEX incidents_date_order ON incidents (date_start, id)")


def downgrade() -> None:
    op.execute("DROP INDEX incidents_date_order")
    op.execute("DROP INDEX incidents_span")
