"""Drop the GiST index on incidents' `geom::geography`.

Every incident query now finds its candidates through the geometry GiST indexes: lon/lat boxes
around the circle (`geomap.db.candidates.in_envelope`), with the dates in the (geom, daterange)
index where the query has some, then the exact geodesic test. The geography index served only
the undated distance filters, as fast as the boxes, and cost the most of a large import's index
rebuild: it cannot be built sorted (geography's operator class has no sortsupport in PostGIS
3.3), measured 10 s of the 24 s rebuild after a 1,000,000-incident import.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("incidents_geog_gist", table_name="incidents")


def downgrade() -> None:
    op.execute("CREATE INDEX incidents_geog_gist ON incidents USING gist ((geom::geography))")
