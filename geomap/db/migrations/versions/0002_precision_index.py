"""Index incident precision, so that the widest radius (max) is read from the index.

The proximity prefilter widens its indexed ST_DWithin by the largest precision radius in the
table; on millions of rows that max() must not scan the table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("incidents_precision", "incidents", ["precision_m"])


def downgrade() -> None:
    op.drop_index("incidents_precision", table_name="incidents")
