"""The HTTP surface: thin Flask blueprints over plain functions."""
from flask import current_app
from sqlalchemy.engine import Engine


def engine() -> Engine:
    """The application's database engine (made once by create_app)."""
    return current_app.extensions["geomap.engine"]
