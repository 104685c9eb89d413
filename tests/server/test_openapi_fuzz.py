"""Schemathesis drives every operation of the OpenAPI description: no input gives a 5xx.

It runs against a server of its own (real HTTP on loopback), because random logins trip the
per-address login throttle. Each operation gets its own Hypothesis run.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support import Client, LiveServer

EXAMPLES_PER_OPERATION = 60


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield srv
    srv.stop()


def test_no_operation_answers_5xx(fuzz_server):
    schema = schemathesis.openapi.from_url(fuzz_server.url + "/api/v1/openapi.json")
    admin = Client(fuzz_server.url, "esx.admin")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:
        label = operation.label

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case):
            # logout would end the admin session the other operations use
            headers = {} if case.path == "/api/v1/auth/logout" else admin.headers()
            response = case.call(base_url=fuzz_server.url, headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                content_type = {k.lower(): v for k, v in response.headers.items()}["content-type"]
                content_type = content_type[0] if isinstance(content_type, list) else content_type
                assert content_type.startswith("application/problem+json"), (
                    label, response.status_code, response.text)  # noqa: B023 - run() is called in this iteration

        run()
