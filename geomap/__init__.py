"""geomap: conflict incidents, reference sites and control zones in PostGIS, with proximity
analysis and maps. `create_app` is the one place where the pieces are wired together."""
from __future__ import annotations

from collections.abc import Mapping

from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, object] | None = None) -> Flask:
    """Build the Flask app. `config` maps setting names (as in the environment, e.g.
    DATABASE_URL, GEOMAP_HOME) to values; without it the environment is read. Settings are
    validated here, so a bad setting fails at start-up with a message naming it."""
    from geomap.api import health, problems
    from geomap.config import Settings
    from geomap.db.engine import database_url, make_engine

    settings = Settings.load(config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    app.extensions["geomap.settings"] = settings
    app.extensions["geomap.engine"] = make_engine(database_url(settings))
    problems.init_app(app)
    app.register_blueprint(health.blueprint)
    return app
