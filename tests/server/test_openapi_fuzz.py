"""Schemathesis drives every operation of the OpenAPI description against a real server (HTTP on
loopback), as several demo users: no answer is a 5xx, and every answer matches its documented
status, media type and response schema (errors: the Problem schema as problem+json).

A second test runs schemathesis's state machine over the links it infers from the document (a
created case's ``case_id`` feeds the case operations), so calls reach real cases, not only 404s.

Budget: EXAMPLES_PER_OPERATION examples per operation and a few short stateful scenarios, about
half a minute on a quiet 2-core machine. The server is the test's own: random logins trip the
per-address login throttle, and random admin calls must not disturb other tests.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import Client, LiveServer

EXAMPLES_PER_OPERATION = 12
STATEFUL_SCENARIOS = 8
SESSION_EXAMPLES = 6  # per session operation: each example logs in afresh (a password hash)
USERS = ("esx.admin", "esx.business", "esx.school-dsl", "esx.crg", "esx.reviewer", "wsx.business")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# calls that would end or change the sessions the other calls use: fuzzed apart, each example with a
# session of its own (test_session_operations_...)
SESSION_OPS = {"/api/v1/auth/logout": "access", "/api/v1/auth/password": "access", "/api/v1/auth/refresh": "refresh"}
SKIP = set(SESSION_OPS)
SESSION_USER = "esx.social-worker"  # not among USERS: its sessions may end


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    srv = LiveServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tokens(fuzz_server):
    return [Client(fuzz_server.url, u).headers() for u in USERS]


def _schema(server):
    return schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")


def test_every_operation_as_several_users_no_5xx_and_every_answer_as_documented(fuzz_server, tokens):
    schema = _schema(fuzz_server)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        if operation.path in SKIP:
            continue

        @given(case=operation.as_strategy(), headers=st.sampled_from(tokens))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case, headers):
            response = case.call(base_url=fuzz_server.url, headers=headers)
            case.validate_response(response, checks=CHECKS)

        run()


def test_session_operations_each_with_a_disposable_session_no_5xx_and_every_answer_as_documented(fuzz_server):
    """Logout, password change and refresh end or change the session they are called with, so each
    example gets a fresh login of its own (the same device, so the device cap is never reached)."""
    schema = _schema(fuzz_server)
    operations = [op for op in (r.ok() for r in schema.get_all_operations()) if op.path in SESSION_OPS]
    assert sorted(op.path for op in operations) == sorted(SESSION_OPS)
    for operation in operations:
        @given(case=operation.as_strategy(), token_kind=st.just(SESSION_OPS[operation.path]))
        @settings(max_examples=SESSION_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def run(case, token_kind):
            session = Client(fuzz_server.url, SESSION_USER, device_id="fuzz-session-device")
            token = session.access if token_kind == "access" else session.refresh
            response = case.call(base_url=fuzz_server.url, headers=session.headers(token))
            case.validate_response(response, checks=CHECKS)

        run()


def test_stateful_links_no_5xx_and_every_answer_as_documented(fuzz_server, tokens):
    schema = _schema(fuzz_server).exclude(path=list(SKIP))
    rotation = itertools.cycle(tokens)

    class Machine(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": fuzz_server.url, "headers": next(rotation)}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Machine.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=6, deadline=None,
                                  suppress_health_check=list(HealthCheck), database=None))
