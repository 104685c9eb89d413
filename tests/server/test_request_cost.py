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
    switches = logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing
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
        logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = switches
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {"at": first["at"], "level": "INFO", "logger": "caseflow.test", "msg": "push",
                     "device_id": "dev-1", "event": "push", "counts": {"a:applied": 1}, "pid": 7}
    assert set(second) == {"at", "level", "logger", "msg"}
    for line in (first, second):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["at"])
        at = dt.datetime.fromisoformat(line["at"].replace("Z", "+00:00"))
        assert before - dt.timedelta(milliseconds=1) <= at <= after


def _channel(requests: list, queued: int, watermark: int = 1 << 24):
    import threading
    from types import SimpleNamespace

    from server.httpserver import GuardedChannel

    channel = GuardedChannel.__new__(GuardedChannel)  # the state writable() reads, no socket
    channel.requests, channel.total_outbufs_len = requests, queued
    channel.will_close = channel.close_when_flushed = False
    channel.adj = SimpleNamespace(outbuf_high_watermark=watermark)
    channel.outbuf_lock = threading.Condition()
    return channel


def _held_elsewhere(lock, then):
    """``then()`` while another thread holds ``lock`` (as a task thread in write_soon does)."""
    import threading

    taken, done = threading.Event(), threading.Event()

    def hold():
        with lock:
            taken.set()
            done.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(10)
    try:
        return then()
    finally:
        done.set()
        thread.join(10)


def test_the_loop_does_not_poll_for_writing_while_the_task_is_sending_its_own_output():
    busy = _channel(["a request"], queued=100)
    assert busy.writable()  # the lock is free: the loop may send
    assert _held_elsewhere(busy.outbuf_lock, busy.writable) is False  # the task is sending: do not spin
    # above the high-water mark the task waits for the loop to drain: always writable
    full = _channel(["a request"], queued=200, watermark=100)
    assert _held_elsewhere(full.outbuf_lock, full.writable)
    # no task running: output left over is the loop's to send, lock or not
    idle = _channel([], queued=100)
    assert _held_elsewhere(idle.outbuf_lock, idle.writable)
    closing = _channel(["a request"], queued=100)
    closing.will_close = True
    assert _held_elsewhere(closing.outbuf_lock, closing.writable)
    assert not _channel(["a request"], queued=0).writable()


def test_a_large_response_to_a_slow_reader_arrives_whole_over_waitress():
    import hashlib
    import socket
    import threading
    import time

    from server.httpserver import make_server

    chunk = bytes(range(256)) * 256  # 64 KiB
    chunks = 96  # 6 MiB: far more than the socket buffers, so the task's own sends stop short

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(len(chunk) * chunks))])
        for i in range(chunks):
            if i == chunks // 2:
                time.sleep(0.2)  # a pause mid-response with output still queued
            yield chunk

    server = make_server(app, host="127.0.0.1", port=0, threads=2, max_body_bytes=1024)
    threading.Thread(target=server.run, daemon=True).start()
    try:
        for _ in range(2):  # twice: the second on a server that has served one already
            with socket.create_connection(("127.0.0.1", server.effective_port), timeout=30) as conn:
                conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                received = b""
                while b"\r\n\r\n" not in received:
                    received += conn.recv(65536)
                head, body = received.split(b"\r\n\r\n", 1)
                assert head.startswith(b"HTTP/1.1 200")
                while len(body) < len(chunk) * chunks:
                    time.sleep(0.001)  # a slow reader
                    data = conn.recv(16384)
                    assert data, "the connection closed before the whole body"
                    body += data
                assert hashlib.sha256(body).digest() == hashlib.sha256(chunk * chunks).digest()
    finally:
        server.close()
