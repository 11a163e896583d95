"""The `geomap` command."""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from geomap.errors import GeomapError


class GeomapGroup(click.Group):
    """Turns geomap's typed errors into a clear message and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.exc import InterfaceError, OperationalError

        try:
            return super().invoke(ctx)
        except GeomapError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (OperationalError, InterfaceError) as exc:  # the connection died: at COMMIT, or before
            click.echo(f"error: {LOST_CONNECTION}\n  ({str(exc.orig or exc).strip().splitlines()[0]})", err=True)
            sys.exit(1)


LOST_CONNECTION = ("the connection to the database was lost or refused before the command finished. If it was "
                   "lost while committing, the database may or may not hold the command's writes: check with "
                   "`geomap data-version`; an import is all or nothing and can be run again safely.")


def _settings():
    from geomap.config import Settings

    return Settings.load()


def _engine():
    """The command's engine, disposed when the command ends (its pooled connections closed)."""
    from geomap.db.engine import database_url, make_engine

    engine = make_engine(database_url(_settings()))
    click.get_current_context().call_on_close(engine.dispose)
    return engine


def _cluster():
    from geomap.db.cluster import Cluster

    settings = _settings()
    if settings.database_url:
        raise click.UsageError("DATABASE_URL is set, so geomap uses that server, not its embedded one")
    return Cluster(settings.home, port=settings.db_port)


@click.group(cls=GeomapGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
def main(verbose: bool) -> None:
    """geomap: conflict incidents, sites and control zones in PostGIS."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")


@main.group()
def db() -> None:
    """The database: the embedded cluster (when DATABASE_URL is unset) and migrations."""


@db.command()
def start() -> None:
    """Start the embedded PostgreSQL/PostGIS cluster (initialising it the first time)."""
    status = _cluster().start()
    click.echo(f"running (pid {status.pid}, port {status.port}, data {status.pgdata})")


@db.command()
def stop() -> None:
    """Stop the embedded cluster."""
    click.echo("stopped" if _cluster().stop() else "not running")


@db.command()
def status() -> None:
    """Say whether the embedded cluster runs; exit status 3 when it does not."""
    state = _cluster().status()
    if not state.running:
        click.echo(f"not running (data {state.pgdata})")
        sys.exit(3)
    click.echo(f"running (pid {state.pid}, port {state.port}, data {state.pgdata})")


@db.command()
def url() -> None:
    """Print the database URL (it contains the password: keep it out of logs)."""
    settings = _settings()
    click.echo(settings.database_url or _cluster().url(driver="postgresql"))


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the schema up to REVISION (default: head)."""
    from geomap.db import migrate

    engine = _engine()
    migrate.upgrade(engine, revision)
    click.echo(f"schema at {migrate.current(engine)}")


@db.command()
@click.argument("revision", default="base")
def downgrade(revision: str) -> None:
    """Migrate the schema down to REVISION (default: base, which drops every table)."""
    from geomap.db import migrate

    engine = _engine()
    migrate.downgrade(engine, revision)
    click.echo(f"schema at {migrate.current(engine) or 'base'}")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def load(files: tuple[Path, ...]) -> None:
    """Validate FILES (default: the seed data) and load them in one transaction."""
    from geomap.ingest import load as load_files

    report = load_files(_engine(), list(files) or None)
    for line in report.lines():
        click.echo(line)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="front workers (gevent): every request but maps and reports")
@click.option("--render-workers", default=2, show_default=True, type=click.IntRange(0, 64),
              help="render workers (sync, lower CPU priority) for maps, graphics and reports; 0: in the front workers")
def serve(host: str, port: int, workers: int, render_workers: int) -> None:
    """Serve the app with gunicorn (starting the embedded database when needed)."""
    from geomap.server import serve as run_server

    run_server(host, port, workers, render_workers=render_workers)


def _echo_json(data) -> None:
    import msgspec

    from geomap.analysis.serialise import to_data

    click.echo(msgspec.json.format(msgspec.json.encode(to_data(data)), indent=2).decode())


ISO_DATE = click.DateTime(formats=["%Y-%m-%d"])


@main.command()
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True)
@click.option("--radius", "radii", multiple=True, type=click.FloatRange(min=0, max=100, min_open=True),
              help="Radius in km for the counts, up to 100 (repeatable; default 5, 10, 25).")
@click.option("--window", "windows", multiple=True, type=click.IntRange(min=0, max=3650),
              help="Window in days before the incident, up to 3650 (repeatable; default 10, 30, 90).")
def report(incident_id: str, fmt: str, radii: tuple[float, ...], windows: tuple[int, ...]) -> None:
    """The context report of an incident: claims, zones, prior incidents, counts, sources."""
    from geomap import inquiry
    from geomap.analysis.markdown import render
    from geomap.analysis.report import DEFAULT_RADII_M, DEFAULT_WINDOWS_DAYS

    result = inquiry.context_report(_engine(), incident_id, tuple(r * 1000 for r in radii) or DEFAULT_RADII_M,
                                    windows or DEFAULT_WINDOWS_DAYS)
    click.echo(render(result), nl=False) if fmt == "md" else _echo_json(result)


@main.command()
@click.argument("origin")
@click.option("--radius", type=click.FloatRange(min=0), default=25.0, show_default=True, help="Radius in km.")
@click.option("--from", "date_from", type=ISO_DATE, help="Only incidents on or after this date.")
@click.option("--to", "date_to", type=ISO_DATE, help="Only incidents on or before this date.")
@click.option("--event-type", "event_types", multiple=True, help="ACLED event type (repeatable).")
@click.option("--group", "group_ids", multiple=True, help="Attributed group id (repeatable).")
def nearby(origin: str, radius: float, date_from, date_to, event_types, group_ids) -> None:
    """Incidents within a radius of ORIGIN (incidents/ID, sites/ID or lon,lat), nearest first."""
    from geomap import inquiry

    _echo_json(inquiry.nearby(_engine(), origin, radius * 1000, date_from=date_from and date_from.date(),
                              date_to=date_to and date_to.date(), event_types=event_types, group_ids=group_ids))


@main.command()
@click.argument("a")
@click.argument("b")
@click.option("--within", "within_km", type=click.FloatRange(min=0, max=20_004), default=None,
              help="Also answer 'within this many km?' (yes / possibly / no) with its probability.")
def distance(a: str, b: str, within_km: float | None) -> None:
    """Geodesic distance {best, min, max} between two features or lon,lat points (between their
    feasible regions when location constraints relate them)."""
    from geomap import inquiry

    _echo_json(inquiry.distance(_engine(), a, b, None if within_km is None else within_km * 1000))


@main.command("zones-at")
@click.argument("location")
@click.option("--date", "on", type=ISO_DATE, required=True, help="The date the zones must be in force.")
def zones_at(location: str, on) -> None:
    """Zones in force on a date related to LOCATION (lon,lat[,precision_m])."""
    from geomap import inquiry

    relations, nearest = inquiry.zones_at(_engine(), inquiry.parse_location(location), on.date())
    _echo_json({"zones": relations, "nearest_by_group": nearest})


@main.command()
@click.option("--date", "on", type=ISO_DATE, required=True, help="The date the zones must be in force.")
def overlaps(on) -> None:
    """Pairs of zones of different groups that overlap on a date, with the area in km²."""
    from geomap import inquiry

    _echo_json(inquiry.zone_overlaps(_engine(), on.date()))


@main.group()
def token() -> None:
    """API tokens for writes (stored hashed; a token is shown once, when created)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token.")
@click.option("--role", type=click.Choice(["viewer", "editor", "admin"]), default="editor", show_default=True)
def token_create(name: str, role: str) -> None:
    """Create a token and print it (only this once)."""
    from geomap.db import tokens

    with _engine().begin() as conn:
        click.echo(tokens.create(conn, name, role))


@token.command("list")
def token_list() -> None:
    """List tokens: name, role, created, last used, revoked (never the token)."""
    from geomap.db import tokens

    with _engine().connect() as conn:
        for t in tokens.listing(conn):
            click.echo(f"{t['name']}\t{t['role']}\tcreated {t['created_at']:%Y-%m-%d}\t"
                       f"last used {t['last_used_at'] or 'never'}\t{'revoked' if t['revoked_at'] else 'live'}")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token called NAME."""
    from geomap.db import tokens

    with _engine().begin() as conn:
        if not tokens.revoke(conn, name):
            raise click.ClickException(f"no live token named {name!r}")
    click.echo("revoked")


# -- maps -------------------------------------------------------------------------------------

MAP_FORMATS = {".html": "html", ".htm": "html", ".png": "png", ".svg": "svg", ".pdf": "pdf"}


@main.command("map")
@click.option("--incident", "incident_id", help="Map this incident in its context (rings, distances, zones).")
@click.option("--bbox", help="Selection: minlon,minlat,maxlon,maxlat.")
@click.option("--datetime", "datetime_", help="Selection: a date or interval, e.g. 2019-12-01/2019-12-31.")
@click.option("--group", help="Selection: attributed group id(s), comma-separated.")
@click.option("--event-type", help="Selection: ACLED event type(s), comma-separated.")
@click.option("--layers", help="Layers to draw, comma-separated (default: all that apply).")
@click.option("--date", help="The time slider's starting date; zones in force on it are shown.")
@click.option("--color-by", type=click.Choice(["group", "event_type"]), default="group", show_default=True)
@click.option("--title", help="Title of the map (default: the incident's or the selection's).")
@click.option("--rings", help="Focus maps: ring distances in km, comma-separated (default 1,5,10,25).")
@click.option("--width", help="Graphics: width in pixels.")
@click.option("--height", help="Graphics: height in pixels.")
@click.option("--dpi", help="Graphics: resolution, 50 to 300.")
@click.option("--preset", type=click.Choice(["a4", "a4-portrait", "social", "social-square"]),
              help="Graphics: a page or card size (A4 at the dpi, social cards in pixels).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="out.html (self-contained, opens offline), out.png, out.svg or out.pdf.")
def map_command(incident_id, datetime_, output: Path, **given) -> None:
    """Write a map of an incident or a selection as HTML, PNG or SVG."""
    from geomap import maps
    from geomap.config import public_url

    fmt = MAP_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.UsageError(f"--output must end in {', '.join(MAP_FORMATS)}")
    args = {k: str(v) for k, v in {**given, "datetime": datetime_}.items() if v is not None}
    req = maps.map_request(args, focus=incident_id is not None, image=fmt != "html")
    links = maps.public_links(public_url(os.environ.get("GEOMAP_PUBLIC_URL")), incident_id, args)
    req = replace(req, options=replace(req.options, links=links))
    engine = _engine()
    scene = (maps.focus_scene(engine, incident_id, req.options) if incident_id
             else maps.selection_scene(engine, req.selection, req.options))
    if fmt == "html":
        output.write_text(maps.interactive(scene, embed=True).document(scene.title), encoding="utf-8")
    else:
        output.write_bytes(maps.graphic(scene, fmt, req.size))
    click.echo(f"wrote {output} ({fmt}, data version {scene.data_version})")


# -- data in and out ------------------------------------------------------------------------------

def _progress(path: Path):
    """A progress bar on a terminal (bytes of the file read), or nothing."""
    if not sys.stderr.isatty():
        return None, None
    from tqdm import tqdm

    bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, leave=False)

    def update(position: int) -> None:
        bar.update(position - bar.n)
    return bar, update


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["geojson", "geojsonseq", "acled-csv", "kml", "package"]),
              help="The file's format (default: a data package by its content, else from its extension: "
                   ".geojson, .geojsonseq, .csv, .kml).")
@click.option("--collection", type=click.Choice(["incidents", "sites", "control_zones"]),
              help="The collection the features go to (default: named in the file, or by the file name).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every problem to this CSV file (where, field, reason).")
@click.option("--skip-invalid", is_flag=True, help="Import the valid features and report the others.")
@click.option("--duplicate-distance", type=click.FloatRange(min=0), default=1000.0, show_default=True,
              help="Likely duplicates: at most this many metres apart.")
@click.option("--duplicate-days", type=click.IntRange(min=0), default=1, show_default=True,
              help="Likely duplicates: date intervals at most this many days apart.")
@click.option("--duplicates-report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every likely duplicate pair to this CSV file.")
@click.option("--no-duplicates", is_flag=True, help="Do not look for likely duplicates.")
@click.option("--history", is_flag=True, help="Data package into an empty database: restore its history too.")
@click.option("--exclusive", is_flag=True, help="A large import drops and rebuilds the indexes: faster, but readers "
                                                "wait until it ends (for a first load before serving).")
def import_command(file: Path, fmt, collection, report, skip_invalid, duplicate_distance, duplicate_days,
                   duplicates_report, no_duplicates, history, exclusive) -> None:
    """Import FILE (GeoJSON, GeoJSON text sequence, ACLED CSV, KML or a data package) in one transaction."""
    from geomap.io.package import is_package

    if fmt == "package" or (fmt is None and is_package(file)):
        from geomap.dataset import import_package

        for line in import_package(_engine(), file, history=history).lines():
            click.echo(line)
        return
    from geomap.db.duplicates import DuplicateRule
    from geomap.importer import import_file

    bar, update = _progress(file)
    try:
        result = import_file(_engine(), file, fmt, collection, skip_invalid=skip_invalid, report=report,
                             duplicates=None if no_duplicates else DuplicateRule(duplicate_distance, duplicate_days),
                             duplicates_report=duplicates_report, progress=update, exclusive=exclusive)
    finally:
        if bar is not None:
            bar.close()
    for line in result.lines():
        click.echo(line)


def _values(given: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for item in given for v in item.split(",") if v.strip())


@main.command("export")
@click.option("--all", "all_", is_flag=True, help="The whole data set as one data package (a zip; see docs/io.md).")
@click.option("--history", is_flag=True, help="With --all: include the history and each record's version.")
@click.option("--collection", type=click.Choice(["incidents", "sites", "control_zones", "relations"]))
@click.option("--format", "fmt", type=click.Choice(["geojson", "geojsonseq", "csv", "kml", "gpkg", "fgb"]),
              help="Default: from the output's extension.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bbox", help="minlon,minlat,maxlon,maxlat: features that intersect it.")
@click.option("--datetime", "datetime_", help="A date or interval (2019-12-01/2019-12-31, .. for open).")
@click.option("--group", "groups", multiple=True, help="Group id (repeatable or comma-separated).")
@click.option("--event-type", "event_types", multiple=True, help="ACLED event type (repeatable or comma-separated).")
def export_command(all_: bool, history: bool, collection: str, fmt, output: Path, bbox, datetime_, groups,
                   event_types) -> None:
    """Export a collection's features (filtered like the items endpoint), or --all, to a file."""
    if all_:
        _export_all(output, history, collection or fmt or bbox or datetime_ or groups or event_types)
        return
    if collection is None or history:
        raise click.UsageError("pass --collection (one collection) or --all (the whole data set, with --history)")
    from geomap.db import features
    from geomap.io import params
    from geomap.io.export import Filters, query, write
    from geomap.io.writers import EXTENSIONS

    fmt = fmt or next((f for f, ext in EXTENSIONS.items() if output.suffix.lower() == ext), None)
    if fmt is None:
        raise click.UsageError(f"pass --format, or end --output in one of {', '.join(EXTENSIONS.values())}")
    filters = Filters(params.bbox(bbox) if bbox else None, params.interval(datetime_) if datetime_ else None,
                      _values(groups), _values(event_types))
    q = query(collection, filters)
    with _engine().connect() as conn:
        count = write(features.stream(conn, q), collection, fmt, output)
    click.echo(f"wrote {count} feature(s) of {collection} to {output} ({fmt})")


def _export_all(output: Path, history: bool, selection) -> None:
    from geomap.dataset import export_all

    if selection:
        raise click.UsageError("--all exports the whole data set: drop --collection, --format and the filters")
    for line in export_all(_engine(), output, history).lines():
        click.echo(line)


@main.command("data-version")
def data_version() -> None:
    """Print the data version of the whole data set (as `export --all` would stamp its package)."""
    from geomap.dataset import data_version as version

    click.echo(version(_engine()))


@main.command("synth")
@click.option("--incidents", "count", type=click.IntRange(min=0), default=10_000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), default=Path("synth"),
              show_default=True, help="Directory for groups.json, sites.geojson, control_zones.geojson and "
                                      "incidents.geojsonseq.")
@click.option("--load", "load_", is_flag=True, help="Also load the files into the database.")
def synth(count: int, seed: int, output: Path, load_: bool) -> None:
    """Write a realistic synthetic data set (Iraq and Syria, 2012-2021), and load it if asked."""
    from geomap.io.synth_files import write_files

    paths = write_files(output, count, seed)
    click.echo(f"wrote {', '.join(str(p) for p in paths)}")
    if load_:
        from geomap.importer import import_file
        from geomap.ingest import load as load_files

        engine = _engine()
        for line in load_files(engine, paths[:3]).lines():
            click.echo(line)
        bar, update = _progress(paths[3])
        result = import_file(engine, paths[3], duplicates=None, progress=update, exclusive=True)
        if bar is not None:
            bar.close()
        click.echo(result.lines()[0])
