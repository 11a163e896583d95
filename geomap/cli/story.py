"""`geomap story ID -o story.html|png|svg|pdf`: a story map (self-contained, opens offline) or its
print strip. Registered in `geomap.cli`."""
from __future__ import annotations

import os
from pathlib import Path

import click

FORMATS = {".html": "html", ".png": "png", ".svg": "svg", ".pdf": "pdf"}


@click.command("story")
@click.argument("story_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="story.html (the story map, self-contained), or story.png, .svg or .pdf (the print strip).")
@click.option("--embed", is_flag=True, help="HTML: the compact page for an iframe.")
@click.option("--width", help="Print strip: width in pixels.")
@click.option("--height", help="Print strip: height in pixels.")
@click.option("--dpi", help="Print strip: resolution, 50 to 300.")
@click.option("--preset", type=click.Choice(["a4", "a4-portrait", "social", "social-square"]),
              help="Print strip: a page or card size.")
def story(story_id: str, output: Path, embed: bool, **size) -> None:
    """Write the story that starts at incident STORY_ID (see `GET /stories`)."""
    from geomap.cli.common import open_engine
    from geomap.config import public_url
    from geomap.layers.storymap import document
    from geomap.layers.storystrip import render_strip
    from geomap.maps.request import image_size
    from geomap.maps.stories import load_story, story_links

    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise click.UsageError(f"--output must end in {', '.join(FORMATS)}")
    given = {k: str(v) for k, v in size.items() if v is not None}
    if fmt == "html" and given:
        raise click.UsageError("--width, --height, --dpi and --preset are for the print strip (.png, .svg, .pdf)")
    dims = image_size(given) if fmt != "html" else None
    links = story_links(public_url(os.environ.get("GEOMAP_PUBLIC_URL")), story_id)
    loaded = load_story(open_engine(), story_id, links)
    if fmt == "html":
        output.write_text(document(loaded, embed=embed), encoding="utf-8")
    else:
        output.write_bytes(render_strip(loaded, fmt, dims))
    click.echo(f"wrote {output} ({fmt}, {len(loaded.steps)} steps, data version {loaded.data_version})")
