"""The root `geomap` group: logging, and geomap's typed errors and a lost connection turned into a
clear message and exit status 1, never a traceback."""
from __future__ import annotations

import logging
import sys

import click

from geomap.errors import GeomapError


class GeomapGroup(click.Group):
    """Turns geomap's typed errors into a clear message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        from geomap.db.engine import lost

        try:
            return super().invoke(ctx)
        except GeomapError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            if not lost(exc):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]  # died at COMMIT, or before
            click.echo(f"error: {LOST_CONNECTION}\n  ({reason})", err=True)
            sys.exit(1)


LOST_CONNECTION = ("the connection to the database was lost or refused before the command finished. If it was "
                   "lost while committing, the database may or may not hold the command's writes: check with "
                   "`geomap data-version`; an import is all or nothing and can be run again safely.")


@click.group(cls=GeomapGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """geomap: conflict incidents, sites and control zones in PostGIS."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
