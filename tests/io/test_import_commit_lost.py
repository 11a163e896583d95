"""Issue 14 item 10: the import CLI says clearly, without a traceback, that the connection died
at COMMIT (the server side of the connection is really terminated as the commit is sent)."""
from __future__ import annotations

import psycopg
from click.testing import CliRunner
from conftest import snapshot
from io_helpers import incident, write_sequence
from sqlalchemy import event
from sqlalchemy.engine import Engine

from geomap.cli import main


def test_a_connection_lost_at_commit_is_a_clear_error(cluster, seeded, database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    path = write_sequence(tmp_path / "incidents.geojsonseq", [incident("lost-at-commit", group="kataib-hezbollah", target_site="k1-air-base")])
    before = snapshot(seeded)

    def terminate(conn) -> None:  # "commit" fires just before the driver sends COMMIT
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(cluster.url("postgres", driver="postgresql"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    event.listen(Engine, "commit", terminate)
    try:
        result = CliRunner().invoke(main, ["import", str(path), "--no-duplicates"])
    finally:
        event.remove(Engine, "commit", terminate)
    assert result.exit_code == 1, result.output
    assert "connection to the database was lost" in result.output and "Traceback" not in result.output
    assert "geomap data-version" in result.output
    assert snapshot(seeded) == before
