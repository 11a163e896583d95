"""reported_events: events a source reports that the data cannot place one by one.

An incident's `reported_events` is a JSON list (`geomap.model.records.ReportedEvents`): e.g. the
NYT's "three attacks relatively close to the base in the 10 days before" the K-1 attack, of which
the data hold one. The context report prints them with their sources; nothing is placed on a map.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE incidents ADD COLUMN reported_events jsonb NOT NULL DEFAULT '[]'")


def downgrade() -> None:
    op.execute("ALTER TABLE incidents DROP COLUMN reported_events")
