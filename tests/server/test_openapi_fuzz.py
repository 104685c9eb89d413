"""Schemathesis drives every operation of the OpenAPI description: no input gives a 5xx.

It runs against a server of its own (real HTTP on loopback), because random logins trip the
per-address login throttle.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.support import Client, LiveServer


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    return schemathesis.openapi.from_url(fuzz_server.url + "/api/v1/openapi.json")


@pytest.fixture(scope="module")
def admin_headers(fuzz_server):
    return Client(fuzz_server.url, "esx.admin").headers()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx(case, fuzz_server, admin_headers):
    headers = dict(admin_headers) if case.path != "/api/v1/auth/logout" else {}
    response = case.call(base_url=fuzz_server.url, headers=headers)
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
