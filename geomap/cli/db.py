"""`geomap db`: the embedded cluster (when DATABASE_URL is unset) and migrations."""
from __future__ import annotations

import sys

import click

from geomap.cli.common import embedded_cluster, load_settings, open_engine


@click.group()
def db() -> None:
    """The database: the embedded cluster (when DATABASE_URL is unset) and migrations."""


@db.command()
def start() -> None:
    """Start the embedded PostgreSQL/PostGIS cluster (initialising it the first time)."""
    status = embedded_cluster().start()
    click.echo(f"running (pid {status.pid}, port {status.port}, data {status.pgdata})")


@db.command()
def stop() -> None:
    """Stop the embedded cluster."""
    click.echo("stopped" if embedded_cluster().stop() else "not running")


@db.command()
def status() -> None:
    """Say whether the embedded cluster runs; exit status 3 when it does not."""
    state = embedded_cluster().status()
    if not state.running:
        click.echo(f"not running (data {state.pgdata})")
        sys.exit(3)
    click.echo(f"running (pid {state.pid}, port {state.port}, data {state.pgdata})")


@db.command()
def url() -> None:
    """Print the database URL (it contains the password: keep it out of logs)."""
    settings = load_settings()
    click.echo(settings.database_url or embedded_cluster().url(driver="postgresql"))


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    from geomap.db import migrate

    engine = open_engine()
    migrate.upgrade(engine, revision)
    click.echo(f"schema at {migrate.current(engine)}")


@db.command()
@click.argument("revision", default="base")
def downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (default: base, which drops every table)."""
    from geomap.db import migrate

    engine = open_engine()
    migrate.downgrade(engine, revision)
    click.echo(f"schema at {migrate.current(engine) or 'base'}")
