"""Data in and out: load the seed or given files, import, export, the data version, synthetic data."""
from __future__ import annotations

from pathlib import Path

import click

from geomap.cli.common import open_engine, progress, split_values


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def load(files: tuple[Path, ...]) -> None:
    """Validate FILES (default: the seed data) and load them in one transaction."""
    from geomap.ingest import load as load_files

    report = load_files(open_engine(), list(files) or None)
    for line in report.lines():
        click.echo(line)


@click.command("import")
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
              help="Duplicates: locations or target sites at most this many metres apart, disc to disc.")
@click.option("--duplicate-days", type=click.IntRange(min=0), default=1, show_default=True,
              help="Duplicates: date intervals at most this many days apart.")
@click.option("--duplicate-precise", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Likely (not only possible) duplicates: discs that meet of radius at most this many times "
                   "the distance.")
@click.option("--duplicates-report", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every likely duplicate pair to this CSV file.")
@click.option("--possible-duplicates", is_flag=True,
              help="With --duplicates-report: write the possible duplicates too (pairs whose discs meet only "
                   "through a coarser one), after the likely ones.")
@click.option("--no-duplicates", is_flag=True, help="Do not look for likely duplicates.")
@click.option("--history", is_flag=True, help="Data package into an empty database: restore its history too.")
@click.option("--exclusive", is_flag=True, help="A large import drops and rebuilds the indexes: faster, but readers "
                                                "wait until it ends (for a first load before serving).")
def import_command(file: Path, fmt, collection, report, skip_invalid, duplicate_distance, duplicate_days,
                   duplicate_precise, duplicates_report, possible_duplicates, no_duplicates, history,
                   exclusive) -> None:
    """Import FILE (GeoJSON, GeoJSON text sequence, ACLED CSV, KML or a data package) in one transaction."""
    from geomap.io.package import is_package

    if fmt == "package" or (fmt is None and is_package(file)):
        from geomap.dataset import import_package

        for line in import_package(open_engine(), file, history=history).lines():
            click.echo(line)
        return
    from geomap.analysis.duplicates import DuplicateRule
    from geomap.importer import import_file

    if possible_duplicates and not duplicates_report:
        raise click.UsageError("--possible-duplicates lists pairs in the --duplicates-report FILE: give one")

    bar, update = progress(file)
    try:
        result = import_file(open_engine(), file, fmt, collection, skip_invalid=skip_invalid, report=report,
                             duplicates=None if no_duplicates else DuplicateRule(duplicate_distance, duplicate_days,
                                                                                 duplicate_precise),
                             duplicates_report=duplicates_report, possible_duplicates=possible_duplicates,
                             progress=update, exclusive=exclusive)
    finally:
        if bar is not None:
            bar.close()
    for line in result.lines():
        click.echo(line)


@click.command("export")
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
                      split_values(groups), split_values(event_types))
    q = query(collection, filters)
    with open_engine().connect() as conn:
        count = write(features.stream(conn, q), collection, fmt, output)
    click.echo(f"wrote {count} feature(s) of {collection} to {output} ({fmt})")


def _export_all(output: Path, history: bool, selection) -> None:
    from geomap.dataset import export_all

    if selection:
        raise click.UsageError("--all exports the whole data set: drop --collection, --format and the filters")
    for line in export_all(open_engine(), output, history).lines():
        click.echo(line)


@click.command("data-version")
def data_version() -> None:
    """Print the data version of the whole data set (as `export --all` would stamp its package)."""
    from geomap.dataset import data_version as version

    click.echo(version(open_engine()))


@click.command("synth")
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

        engine = open_engine()
        for line in load_files(engine, paths[:3]).lines():
            click.echo(line)
        bar, update = progress(paths[3])
        result = import_file(engine, paths[3], duplicates=None, progress=update, exclusive=True)
        if bar is not None:
            bar.close()
        click.echo(result.lines()[0])
