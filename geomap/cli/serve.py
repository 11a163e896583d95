"""`geomap serve`: the app under gunicorn."""
from __future__ import annotations

import click


@click.command()
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
