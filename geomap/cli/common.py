"""What the commands share: the settings, the database engine and the embedded cluster, and their
outputs (JSON, a progress bar, comma-separated values)."""
from __future__ import annotations

import sys
from pathlib import Path

import click


def load_settings():
    """The settings from the environment, checked."""
    from geomap.config import Settings

    return Settings.load()


def open_engine():
    """The command's engine, disposed when the command ends (its pooled connections closed)."""
    from geomap.db.engine import database_url, make_engine

    engine = make_engine(database_url(load_settings()))
    click.get_current_context().call_on_close(engine.dispose)
    return engine


def embedded_cluster():
    """The embedded cluster of GEOMAP_HOME; a usage error when DATABASE_URL names another server."""
    from geomap.db.cluster import Cluster

    settings = load_settings()
    if settings.database_url:
        raise click.UsageError("DATABASE_URL is set, so geomap uses that server, not its embedded one")
    return Cluster(settings.home, port=settings.db_port)


def echo_json(data) -> None:
    """Print an analysis result as indented JSON."""
    import msgspec

    from geomap.analysis.serialise import to_data

    click.echo(msgspec.json.format(msgspec.json.encode(to_data(data)), indent=2).decode())


ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


def progress(path: Path):
    """A progress bar on a terminal (bytes of the file read), or nothing."""
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False)

    def update(position: int) -> None:
        bar.update(position - bar.n)
    return bar, update


def split_values(given: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated and comma-separated option values as one tuple."""
    return tuple(v.strip() for item in given for v in item.split(",") if v.strip())
