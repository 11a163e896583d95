"""Index incidents' date_end, so that a collection's temporal extent
(max) and open-ended date windows (date_end >= X) are read from an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("incidents_date_end", "incidents", ["date_end"])


def downgrade() -> None:
    op.drop_index("incidents_date_end", table_name="incidents")
