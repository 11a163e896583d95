"""`geomap map`: a map of an incident or a selection, as HTML, PNG, SVG or PDF."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from geomap.cli.common import open_engine

MAP_FORMATS = {".html": "html", ".htm": "html", ".png": "png", ".svg": "svg", ".pdf": "pdf"}


@click.command("map")
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
    engine = open_engine()
    scene = (maps.focus_scene(engine, incident_id, req.options) if incident_id
             else maps.selection_scene(engine, req.selection, req.options))
    if fmt == "html":
        output.write_text(maps.interactive(scene, embed=True).document(scene.title), encoding="utf-8")
    else:
        output.write_bytes(maps.graphic(scene, fmt, req.size))
    click.echo(f"wrote {output} ({fmt}, data version {scene.data_version})")
