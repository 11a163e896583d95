"""schemathesis over every operation the OpenAPI document (/api) describes, writes included with
an editor's token (issue 14): no answer is a server error. A bounded number of examples per
operation here (GEOMAP_FUZZ_EXAMPLES, default 8); bench/fuzz.py runs many more."""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from geomap.db import tokens

EXAMPLES = int(os.environ.get("GEOMAP_FUZZ_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def fuzzed(cluster):
    from conftest import app_with_seed

    with app_with_seed(cluster) as app:
        with app.extensions["geomap.engine"].begin() as conn:
            token = tokens.create(conn, "fuzz", "editor")
        yield app, token


def _operations() -> list[str]:
    """Every operation of /api as schemathesis names it (read from the document itself, no database),
    but GET /api: schemathesis leaves out the path it loads the schema from (tests/api/test_openapi.py
    checks that document)."""
    from geomap.api.openapi import document

    schema = schemathesis.openapi.from_dict(document("http://localhost"))
    return [result.ok().label for result in schema.get_all_operations() if result.ok().label != "GET /api"]


@pytest.fixture(scope="module")
def operations(fuzzed):
    schema = schemathesis.openapi.from_wsgi("/api", fuzzed[0])
    return {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


# Hypothesis drives each operation's cases; schemathesis's own pytest plugin does not run under
# pytest 9 (it reads a private attribute pytest no longer has), so the loop over operations is ours.
@pytest.mark.parametrize("name", _operations())
def test_no_operation_answers_a_server_error(operations, fuzzed, name):
    app, token = fuzzed
    operation = operations[name]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def no_server_error(case):
        response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=[not_a_server_error])

    no_server_error()
