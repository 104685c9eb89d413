"""Issue #10 item 5: push endpoints reach public addresses only, checked when subscribing and
again at every send, and the send connects to the address that passed."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from server.push.addresses import Blocked, checked_address
from server.push.config import PushConfig
from server.push.subscriptions import subscribe
from server.push.vapid import load_or_create_vapid
from server.push.worker import Job, Sender
from store import open_store
from tests.push.pushservice import Browser
from tests.support import Client, assert_problem

DISGUISED = [
    "https://127.1/push", "https://0177.0.0.1/push", "https://0x7f.1/push", "https://2130706433/push",
    "https://169.254.169.254./latest", "https://[::ffff:127.0.0.1]/push", "https://[::ffff:a9fe:a9fe]/push",
    "https://[64:ff9b::7f00:1]/push", "https://[2002:a00:1::]/push", "https://localhost./push",
    "https://0/push", "https://10.1/push",
]


def test_disguised_private_endpoints_are_refused_when_subscribing(server):
    c = Client(server.url, "esx.crg")
    for endpoint in DISGUISED:
        r = c.post("/api/v1/push/subscriptions", {"endpoint": endpoint, "keys": Browser().keys()})
        problem = assert_problem(r, 422, "validation-error")
        assert [e["path"] for e in problem["errors"]] == ["/endpoint"], (endpoint, problem)
        assert endpoint.split("/")[2] not in r.text  # the refusal never repeats the value


def _addrinfo(*ips: str):
    def resolver(host, port, type=0, **_):  # noqa: A002 - getaddrinfo's own keyword
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in ips]
    return resolver


def test_every_resolved_address_is_checked():
    assert str(checked_address("push.example.org", 443, resolver=_addrinfo("93.184.216.34"))) == "93.184.216.34"
    for mixed in (("93.184.216.34", "10.0.0.7"), ("2606:4700::1", "::1"), ("169.254.169.254",), ("100.64.0.1",)):
        with pytest.raises(Blocked):
            checked_address("push.example.org", 443, resolver=_addrinfo(*mixed))


class _Recorder:
    """A push service on loopback that records the Host header of each request."""

    def __init__(self):
        self.hosts: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.hosts.append(self.headers["Host"])
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def _job(endpoint: str) -> Job:
    alert = {"alert_id": "a1", "kind": "state_entered", "case_id": "c1", "reference": "ESX-2026-0001",
             "state": "sin_consideration"}
    return Job("d1", alert, {"endpoint": endpoint, "keys": Browser().keys()}, 1, time.time() + 3600, 3600)


def test_sends_are_rechecked_and_pinned_to_the_checked_address(tmp_path):
    recorder = _Recorder()
    keys = load_or_create_vapid(tmp_path)
    config = PushConfig(timeout=5, concurrency=1)
    endpoint = f"http://push.example.test:{recorder.port}/send/1"  # a name no real resolver knows
    try:
        # the name resolves to the (loopback, tests-only allowed) service: the request reaches it by the
        # checked address, and still carries the name in Host
        pinned = Sender(keys, config, "https://caseflow.example", allow_loopback=True,
                        resolver=_addrinfo("127.0.0.1"))
        outcome = pinned.send(_job(endpoint))
        assert outcome.kind == "sent", outcome
        assert recorder.hosts == [f"push.example.test:{recorder.port}"]
        pinned.close()
        # DNS rebinding: a name that passed at subscribe time now points inside; nothing is sent
        rebound = Sender(keys, config, "https://caseflow.example", resolver=_addrinfo("127.0.0.1"))
        outcome = rebound.send(_job(endpoint))
        assert (outcome.kind, outcome.error) == ("failed", "BlockedAddress")
        assert len(recorder.hosts) == 1
        rebound.close()
    finally:
        recorder.http.shutdown()


def test_push_subscriptions_per_user_are_capped(tmp_path):
    store = open_store(tmp_path / "store")
    try:
        def sub(device: str):
            return subscribe(store, user_id="u1", device_id=device, partnership="east-sussex",
                             endpoint=f"https://fcm.googleapis.com/fcm/send/{device}", keys=Browser().keys(),
                             at="2026-03-02T10:00:00Z", max_per_user=2)

        first, _ = sub("device-0001")
        sub("device-0002")
        sub("device-0002")  # a re-subscribe replaces the device's own: still two
        with pytest.raises(Exception, match="most allowed") as refused:
            sub("device-0003")
        assert refused.value.status == 409 and refused.value.to_dict()["limit"] == 2
        from server.push.subscriptions import unsubscribe

        assert unsubscribe(store, first["sub_id"], "u1")
        sub("device-0003")
    finally:
        store.close()
