"""The app skeleton: create_app, start-up validation of settings, /health, the error shape."""
from __future__ import annotations

import subprocess
import sys

import pytest

from geomap import create_app
from geomap.db import migrate
from geomap.errors import ConfigError
from geomap.ingest import load

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def test_importing_geomap_does_no_work():
    code = "import sys, geomap; print('sqlalchemy' in sys.modules, 'psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


@pytest.mark.parametrize("config, message", [
    ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL must be a PostgreSQL URL"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_MAX_CONTENT_LENGTH": "big"}, "GEOMAP_MAX_CONTENT_LENGTH must be a whole number"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_MAX_CONTENT_LENGTH": "0"}, "GEOMAP_MAX_CONTENT_LENGTH must be positive"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_DB_PORT": "5432x"}, "GEOMAP_DB_PORT must be a TCP port number"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_DB_PORT": "80"}, r"GEOMAP_DB_PORT must be a TCP port number \(1024..65535\); got 80"),
    ({"GEOMAP_HOME": __file__}, "is not a directory"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_PUBLIC_URL": "ftp://maps.example"}, "GEOMAP_PUBLIC_URL must be an http"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_PUBLIC_URL": "https://"}, "GEOMAP_PUBLIC_URL must be an http"),
    ({"DATABASE_URL": "postgresql://u@h/db", "GEOMAP_PUBLIC_URL": "https://m.example/?x=1"}, "no query or fragment"),
])
def test_bad_settings_fail_at_start_up_naming_the_setting(config, message):
    with pytest.raises(ConfigError, match=message):
        create_app(config)


def test_health_reports_versions_schema_and_counts(app, client):
    load(app.extensions["geomap.engine"])
    response = client.get("/health")
    body = response.get_json()
    assert response.status_code == 200
    assert body["status"] == "ok" and body["schema"] == migrate.head()
    assert body["database"]["postgresql"].split(".")[0].isdigit()
    assert body["database"]["postgis"].startswith("3.")
    assert body["counts"]["incidents"] > 0 and body["counts"]["sites"] > 0 and body["counts"]["control_zones"] > 0


def test_health_is_503_problem_when_schema_is_not_migrated(app, client):
    migrate.downgrade(app.extensions["geomap.engine"], "base")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert "geomap db upgrade" in response.get_json()["detail"]


@pytest.mark.parametrize("method, path, status", [("GET", "/no/such/page", 404), ("POST", "/health", 405)])
def test_errors_are_problem_json(client, method, path, status):
    response = client.open(path, method=method)
    body = response.get_json()
    assert response.status_code == status and response.mimetype == "application/problem+json"
    assert PROBLEM_KEYS <= set(body) and body["status"] == status and body["instance"] == path
