"""geomap: conflict incidents, reference sites and control zones in PostGIS, with proximity
analysis and maps. `create_app` is the one place where the pieces are wired together."""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, object] | None = None, default_public_url: str | None = None) -> Flask:
    """Build the Flask app. `config` maps setting names (as in the environment, e.g.
    DATABASE_URL, GEOMAP_HOME, GEOMAP_PUBLIC_URL) to values; without it the environment is read.
    Settings are validated here, so a bad setting fails at start-up with a message naming it.
    The public URL (links, credits, embed snippets) is fixed here, once: GEOMAP_PUBLIC_URL, else
    `default_public_url` (`geomap serve` gives its bind address), else the address the server is
    bound to, read from each request's server socket (never its Host header)."""
    from dataclasses import replace

    from flask import Flask

    from geomap.api import analysis, downloads, health, maps, ogc, openapi, problems, security, stories, writes
    from geomap.config import Settings
    from geomap.db.engine import database_url, make_engine

    settings = Settings.load(config)
    if settings.public_url is None and default_public_url:
        settings = replace(settings, public_url=default_public_url)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.extensions["geomap.settings"] = settings
    app.extensions["geomap.engine"] = make_engine(database_url(settings))
    security.init_app(app, settings.public_url)
    problems.init_app(app)
    for module in (health, ogc, writes, downloads, analysis, openapi, maps, stories):
        app.register_blueprint(module.blueprint)
    return app
