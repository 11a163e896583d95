"""Run the app under gunicorn. The app is built once in the master (which also starts the
embedded database and validates the settings) and forked into the workers."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):
    def __init__(self, options: dict[str, object]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from geomap import create_app

        return create_app()


THREADS = 4  # requests each worker serves at once


def serve(host: str, port: int, workers: int) -> None:
    """Serve the app on `host`:`port` with `workers` gunicorn workers, logging requests to stdout.

    The workers are threaded (gthread): a worker's main thread keeps telling the master it is
    alive while its threads serve, so a download of a whole collection, which may stream for
    many minutes, is not killed at `timeout` as a sync worker's long request would be (the
    timeout then only catches a worker that hangs)."""
    options = {"bind": f"{host}:{port}", "workers": workers, "preload_app": True, "worker_class": "gthread",
               "threads": THREADS, "accesslog": "-", "errorlog": "-", "timeout": 120}
    _Server(options).run()
