"""change_stamps: one row per table, whose stamp changes with every write to that table.

Caches of what is read from a table (the selection maps' scenes, `geomap.maps.cache`) are keyed
on the stamps of the tables they read, not on the cluster's write-ahead-log position: the WAL
also moves with autovacuum, with writes to unrelated tables (tokens, history) and with other
databases of the cluster, each of which emptied the cache for nothing.

A statement-level trigger after INSERT, UPDATE, DELETE and TRUNCATE sets the table's stamp to
the writing transaction's id (`pg_current_xact_id`, 64 bits, never reused in the cluster), so
every write path bumps it: the API, `geomap load`, the import's upsert and its first-import
COPY (COPY FROM fires INSERT triggers), the triggers of 0005 (which update incidents). A
statement writing no rows bumps it too (cheaper than a transition table of every row). A
stamp is set in the writing transaction and seen only once it commits; a transaction id
belongs to one transaction, so a stamp value names one committed state of its table. Writers
of one table queue on its stamp row from their first write to their commit (an import already
locks the whole table against other writers; API writes are short).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The tables whose contents the maps read (frozen here as a migration must be).
TABLES = ("groups", "sites", "incidents", "attributions", "control_zones")

BUMP = """
CREATE FUNCTION change_stamps_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_stamps (table_name, stamp) VALUES (TG_TABLE_NAME, pg_current_xact_id()::text::bigint)
    ON CONFLICT (table_name) DO UPDATE SET stamp = excluded.stamp
    WHERE change_stamps.stamp IS DISTINCT FROM excluded.stamp;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.execute("CREATE TABLE change_stamps (table_name text PRIMARY KEY, stamp bigint NOT NULL)")
    op.execute(BUMP)
    for name in TABLES:
        op.execute(f"CREATE TRIGGER {name}_change_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {name} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION change_stamps_bump()")
        op.execute(f"INSERT INTO change_stamps VALUES ('{name}', pg_current_xact_id()::text::bigint)")


def downgrade() -> None:
    for name in TABLES:
        op.execute(f"DROP TRIGGER {name}_change_stamp ON {name}")
    op.execute("DROP FUNCTION change_stamps_bump()")
    op.execute("DROP TABLE change_stamps")
