"""Across a server kill: ``caseflow serve`` (with its push worker) is SIGKILLed while a push is in
flight, restarted, and every alert reaches every expected device; nothing recorded as sent is sent
again, and whatever is re-sent is the same message (same Topic and tag)."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from store import open_store
from tests.push.pushservice import FakePushService
from tests.push.test_http import SUBSCRIBERS, _referral
from tests.support import Client, LiveServer

ENV = {"CASEFLOW_PUSH_ALLOW_HTTP_LOOPBACK": "1", "CASEFLOW_PUSH_SUBJECT": "mailto:ops@example.org",
       "CASEFLOW_PUSH_TIMEOUT_SECONDS": "5", "CASEFLOW_PUSH_INTERVAL_SECONDS": "0.1",
       "CASEFLOW_REMINDER_FROM_HOUR": "24"}  # no deadline alerts here: this test is about the kill


def _durable(data_dir):
    store = open_store(data_dir / "store")
    try:
        alerts = [d.data for d in store.scan("alerts")]
        deliveries = {(d.data["sub_id"], d.data["alert_id"]): d.data["state"] for d in store.scan("push_deliveries")}
        subs = {d.id: d.data for d in store.scan("push_subscriptions")}
        return alerts, deliveries, subs
    finally:
        store.close()


def test_server_killed_mid_push_loses_and_doubles_nothing(tmp_path):
    data = tmp_path / "data"
    srv = LiveServer(data, env=ENV).start()
    fake = None
    try:
        r = requests.get(srv.url + "/api/v1/push/vapid-public-key", timeout=5)
        assert r.status_code == 200, r.text
        fake = FakePushService(r.json()["public_key"]).start()
        clients = {}
        for name in SUBSCRIBERS:
            c = Client(srv.url, name)
            sub = fake.subscription()
            assert c.post("/api/v1/push/subscriptions", json=sub).status_code == 201
            c.path = sub["endpoint"][len(fake.origin):]
            clients[name] = c
        fake.script(clients["esx.business"].path, "hold")
        fake.script(clients["esx.crg"].path, "hold")
        r = clients["esx.school-dsl"].post("/api/v1/cases", json={"case_type": "serious_incident",
                                                                  "referral": _referral()})
        assert r.status_code in (200, 201), r.text
        if not fake.held.wait(20):
            pytest.fail("no push reached the push service: is start_push_worker wired into caseflow serve?")
        srv.kill()
        fake.release.set()
        fake.settle()
        first_run = Counter((r.path, r.payload["alert_id"]) for r in fake.accepted())
        alerts, durable, subs = _durable(data)
        path_of = {c.user["user_id"]: c.path for c in clients.values()}
        expected = {(path_of[u], a["alert_id"]) for a in alerts for u in a["recipients"] if u in path_of}
        state_of = {(path_of[subs[s]["user_id"]], a): st for (s, a), st in durable.items()}
        assert expected, "the case wrote no alerts"

        srv.start()
        fake.wait_for(len(expected), timeout=30)
        import time

        time.sleep(0.5)
        fake.settle()
        accepted = Counter((r.path, r.payload["alert_id"]) for r in fake.accepted())
        assert set(accepted) == expected  # nothing lost, nobody unexpected
        for key, n in accepted.items():
            state = state_of.get(key, "pending")
            if state == "sent":
                assert n == 1
            elif state == "pending":
                assert first_run[key] == 0 and n == 1
            else:
                assert state == "sending" and n == first_run[key] + 1 <= 2
                copies = [r for r in fake.accepted(key[0]) if r.payload["alert_id"] == key[1]]
                assert len({r.headers["topic"] for r in copies}) == len({r.payload["tag"] for r in copies}) == 1
        held = [k for k in expected if k[0] in (clients["esx.business"].path, clients["esx.crg"].path)]
        assert all(accepted[k] == 1 for k in held)  # never acknowledged before the kill: sent once
        assert fake.errors == []
    finally:
        srv.stop()
        if fake:
            fake.stop()
