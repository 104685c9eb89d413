"""What the cheaper request plumbing (issue #15, batch 1) must still do exactly as before: the push
body's schema check, shared schema instances, the security headers, the log line's fields and time."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import Headers

from server.edge import APP_CSP, DOCS_CSP, HSTS, security_headers
from server.jsonbody import StrictParser
from server.resources.sync import PushSchema, plainly_valid
from sync.service import MAX_MUTATIONS

_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5))
_json = st.recursive(_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=8)
_mutation = st.one_of(st.dictionaries(st.sampled_from(["mutation_id", "seq", "kind", "payload", "x"]), _json,
                                      max_size=4), _json)
_push_like = st.one_of(
    _json,
    st.fixed_dictionaries({"device_id": _json, "mutations": st.one_of(st.lists(_mutation, max_size=4), _json)}),
    st.fixed_dictionaries({"device_id": st.text(max_size=8), "mutations": st.lists(_mutation, max_size=4)},
                          optional={"extra": _json}),
)


def _marshmallow_load(body):
    """PushSchema's load as marshmallow does it (without the shortcut)."""
    try:
        return True, Schema.load(PushSchema(), body)
    except ValidationError as exc:
        return False, exc.messages


@settings(max_examples=400, deadline=None)
@given(_push_like)
def test_push_schema_refuses_exactly_what_marshmallow_refuses(body):
    ok, expected = _marshmallow_load(body)
    try:
        loaded = PushSchema().load(body)
    except ValidationError as exc:
        assert not ok and exc.messages == expected
    else:
        assert ok and loaded == expected
    if plainly_valid(body):
        assert ok, body


def test_push_schema_refuses_a_batch_over_the_limit_and_a_non_object_mutation_as_before():
    too_many = {"device_id": "d", "mutations": [{}] * (MAX_MUTATIONS + 1)}
    for body in (too_many, {"device_id": "d", "mutations": [{}, "x"]}, {"device_id": 3, "mutations": []},
                 {"device_id": "d"}, {"device_id": "d", "mutations": [], "more": 1}, ["d"]):
        assert not plainly_valid(body)
        ok, expected = _marshmallow_load(body)
        assert not ok
        try:
            PushSchema().load(body)
        except ValidationError as exc:
            assert exc.messages == expected
        else:
            raise AssertionError(f"loaded {body!r}")
    assert plainly_valid({"device_id": "d", "mutations": [{}] * MAX_MUTATIONS})


def test_the_parser_makes_one_instance_per_schema_class_and_takes_instances_as_given():
    parser = StrictParser()
    first = parser._get_schema(PushSchema, None)
    assert isinstance(first, PushSchema) and parser._get_schema(PushSchema, None) is first
    given_instance = PushSchema()
    assert parser._get_schema(given_instance, None) is given_instance


def test_security_headers_keep_what_the_response_set_and_add_the_rest_once():
    headers = Headers([("content-security-policy", "default-src 'self'"), ("X-Frame-Options", "SAMEORIGIN"),
                       ("cache-control", "max-age=60")])
    security_headers(headers, mimetype="text/html", https=True, docs_page=False, cache_control="no-store")
    assert headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert headers.getlist("Cache-Control") == ["max-age=60"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "no-referrer"
    assert headers["Strict-Transport-Security"] == HSTS

    plain = Headers()
    security_headers(plain, mimetype="application/json", https=False, docs_page=False, cache_control="no-store")
    assert [k for k, _ in plain.items()] == ["Cache-Control", "X-Content-Type-Options", "Referrer-Policy",
                                              "X-Frame-Options"]
    docs, app = Headers(), Headers()
    security_headers(docs, mimetype="text/html", https=False, docs_page=True)
    security_headers(app, mimetype="text/html", https=False, docs_page=False, app_page=True)
    assert docs["Content-Security-Policy"] == DOCS_CSP and app["Content-Security-Policy"] == APP_CSP
    assert "Cache-Control" not in docs and "Strict-Transport-Security" not in docs


def test_a_log_line_carries_its_time_to_the_millisecond_and_only_the_safe_fields():
    from server import logs

    root = logging.getLogger("caseflow")
    saved = root.handlers[:], root.level, root.propagate
    stream = io.StringIO()
    logs.configure("INFO", stream=stream)
    try:
        log = logging.getLogger("caseflow.test")
        before = dt.datetime.now(dt.UTC)
        log.info("push", extra={"device_id": "dev-1", "event": "push", "counts": {"a:applied": 1}, "pid": 7,
                                "name_of_child": "never logged"})
        log.info("second")
        after = dt.datetime.now(dt.UTC)
    finally:
        root.handlers[:], root.level, root.propagate = saved[0], saved[1], saved[2]
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {"at": first["at"], "level": "INFO", "logger": "caseflow.test", "msg": "push",
                     "device_id": "dev-1", "event": "push", "counts": {"a:applied": 1}, "pid": 7}
    assert set(second) == {"at", "level", "logger", "msg"}
    for line in (first, second):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["at"])
        at = dt.datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
        assert before - dt.timedelta(milliseconds=1) <= at <= after
