"""`geomap token`: API tokens for writes."""
from __future__ import annotations

import click

from geomap.cli.common import open_engine


@click.group()
def token() -> None:
    """API tokens for writes (stored hashed; a token is shown once, when created)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="editor", show_default=True)
def token_create(name: str, role: str) -> None:
    """Create a token and print it (only this once)."""
    from geomap.db import tokens

    with open_engine().begin() as conn:
        click.echo(tokens.create(conn, name, role))


@token.command("list")
def token_list() -> None:
    """List tokens: name, role, created, last used, revoked (never the token)."""
    from geomap.db import tokens

    with open_engine().connect() as conn:
        for t in tokens.listing(conn):
            click.echo(f"{t['name']}\t{t['role']}\tcreated {t['created_at']:%Y-%m-%d}\t"
                       f"last used {t['last_used_at'] or 'never'}\t{'revoked' if t['revoked_at'] else 'live'}")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token called NAME."""
    from geomap.db import tokens

    with open_engine().begin() as conn:
        if not tokens.revoke(conn, name):
            raise click.ClickException(f"no live token named {name!r}")
    click.echo("revoked")
